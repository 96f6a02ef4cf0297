/** Human output of `sentinel netcheck` and `/netcheck`. */
import type { NetcheckReport } from '../api.js';
import { safeDetail } from '../cli/format.js';

const MAPPING_TEXT: Record<NetcheckReport['mapping'], string> = {
  'endpoint-independent': 'endpoint-independent (the same public port towards every destination)',
  'endpoint-dependent': 'endpoint-dependent (a new public port per destination)',
  unknown: 'unknown',
};
const FILTERING_TEXT: Record<NetcheckReport['filtering'], string> = {
  drop: 'drop (unsolicited inbound connections are silently dropped)',
  reset: 'reset (unsolicited inbound connections are refused)',
  open: 'open (unsolicited inbound connections reach this node)',
  unknown: 'unknown',
};
const yesNo = (v: boolean | null): string => (v === null ? 'unknown' : v ? 'yes' : 'no');

/** The report as aligned lines. */
export function formatNetcheck(r: NetcheckReport): string {
  const sig = r.signaler;
  const sigText = sig.reachable ? `reachable (${safeDetail(sig.address)}${sig.rttMs !== null ? `, RTT ${Math.round(sig.rttMs)} ms` : ''})` : `not reachable (${safeDetail(sig.address)}: ${safeDetail(sig.state)}${sig.error ? `, ${safeDetail(sig.error)}` : ''})`;
  const lines: [string, string][] = [
    ['signaler', sigText],
    ['public address', r.publicAddress ?? 'unknown'],
    ['seen from probe', r.probeAddress ?? 'none'],
    ['behind NAT', yesNo(r.behindNat)],
    ['mapping', MAPPING_TEXT[r.mapping]],
    ['port preserving', yesNo(r.portPreserving)],
    ['filtering', `${FILTERING_TEXT[r.filtering]}: ${safeDetail(r.filteringDetail)}`],
    ['punch NAT kind', r.natKind],
    ['IPv6', r.ipv6.addresses.length === 0 ? 'no global address' : `${r.ipv6.addresses.join(', ')}; signaler over IPv6: ${r.ipv6.signaler}${r.ipv6.observed ? ` (seen as ${r.ipv6.observed})` : ''}${r.ipv6.signaler === 'reachable' ? '' : ` (${safeDetail(r.ipv6.detail)})`}`],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const body = lines.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`);
  return [...body, ...r.notes.map((n) => `note: ${safeDetail(n)}`)].join('\n');
}
