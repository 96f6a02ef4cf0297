/**
 * Netcheck classification, pure: from what was observed (the signaler session, the probe
 * port's second observation, the signaler's unsolicited connect, IPv6) to RFC 4787 terms.
 *
 * - Mapping: the same local socket (our identity port) seen from two destinations (the
 *   signaler port and its probe port). Same public ip:port: endpoint-independent; another
 *   one: endpoint-dependent. With one observation only: unknown, unless the signaler sees
 *   one of our own addresses (no NAT: nothing is remapped). Both destinations share the
 *   signaler's IP, so a NAT that maps per destination *address* only (RFC 4787
 *   address-dependent, rare) looks endpoint-independent here.
 * - Port preservation: the public port is our identity port.
 * - Filtering: the signaler's connect from a port we never contacted to our public address:
 *   connected = open, a TCP reset or an ICMP error = reset, silence = drop. It comes from
 *   the signaler's IP, which we did contact: a filter that admits any port of a contacted
 *   address (RFC 4787 address-dependent filtering) shows as open.
 * - The punch planner's vocabulary (src/punch/plan.ts) maps onto these terms: public = no
 *   NAT; easy = port kept, assumed endpoint-independent; hard = port changed, assumed
 *   endpoint-dependent. Where netcheck measures something else, a note says so.
 */
import type { NatFiltering, NatMapping, NetcheckReport, PunchNatKind } from '../api.js';
import { formatHostPort } from '../core/host-port.js';
import { natKind } from '../punch/plan.js';
import { ProbeOutcome, type Endpoint, type ProbeOutcomeValue } from '../wire/index.js';

/** One attempt at an observation: the endpoint seen, or why there is none. */
export type Seen = { ok: true; at: Endpoint } | { ok: false; error: string };

export interface Observations {
  signaler: { address: string; state: string; rttMs: number | null; error: string | null } | null;
  listenPort: number;
  /** Our own addresses (what we announce), to tell "no NAT". */
  localHosts: readonly string[];
  /** What REGISTERED said (the session's public address), or null. */
  observed: Endpoint | null;
  /** The probe port's answer; null when the signaler has none (or did not answer netcheck). */
  probe: Seen | null;
  /** Whether the probe connection left from our identity port (needs the native addon). */
  probeFromIdentityPort: boolean;
  /** The filtering test's outcome; null when the signaler did not answer the request. */
  inbound: ProbeOutcomeValue | null;
  /** Why there is no NETCHECK_RESULT, when there is none. */
  requestError: string | null;
  connectTimeoutMs: number;
  /** Our global IPv6 addresses. */
  ipv6: readonly string[];
  /** The IPv6 probe; null when the signaler offers no IPv6 address. */
  probe6: Seen | null;
}

/** RFC 4787 terms for a punch-planner NAT kind (what a peer's PUNCH_START tells us). */
export function mappingOfKind(kind: PunchNatKind): NatMapping {
  return kind === 'public' || kind === 'easy' ? 'endpoint-independent' : kind === 'hard' ? 'endpoint-dependent' : 'unknown';
}

/** Filtering from the signaler's connect outcome, with how it was found. */
export function filteringOf(inbound: ProbeOutcomeValue | null, o: Pick<Observations, 'requestError' | 'connectTimeoutMs' | 'probe'>): { filtering: NatFiltering; detail: string } {
  switch (inbound) {
    case ProbeOutcome.CONNECTED:
      return { filtering: 'open', detail: 'the signaler connected to our public address from a port we never contacted' };
    case ProbeOutcome.RESET:
      return { filtering: 'reset', detail: 'TCP reset' };
    case ProbeOutcome.UNREACHABLE:
      return { filtering: 'reset', detail: 'ICMP destination unreachable (e.g. administratively prohibited)' };
    case ProbeOutcome.TIMEOUT:
      return { filtering: 'drop', detail: `no answer within ${o.connectTimeoutMs} ms` };
    case ProbeOutcome.LIMITED:
      return { filtering: 'unknown', detail: 'not tested: over the signaler\'s netcheck rate; try again in a minute' };
    case ProbeOutcome.NOT_TESTED:
      return { filtering: 'unknown', detail: 'not tested: the signaler has no probe port' };
    default:
      return { filtering: 'unknown', detail: `not tested: ${o.requestError ?? 'no answer from the signaler'}` };
  }
}

/** The whole report from the observations. Pure. */
export function classify(o: Observations): NetcheckReport {
  const notes: string[] = [];
  const reachable = o.signaler !== null && o.signaler.state === 'connected' && o.observed !== null;
  const kind = natKind(o.observed, o.listenPort, o.localHosts) as PunchNatKind;
  const behindNat = o.observed === null ? null : kind !== 'public';
  let mapping: NatMapping = 'unknown';
  const probe = o.probe;
  if (o.observed && kind === 'public') mapping = 'endpoint-independent';
  else if (o.observed && probe?.ok && o.probeFromIdentityPort) {
    const same = probe.at.host === o.observed.host && probe.at.port === o.observed.port;
    mapping = same ? 'endpoint-independent' : 'endpoint-dependent';
  } else if (o.observed && probe?.ok) notes.push('the second observation could not leave from the identity port (no native addon): mapping unknown');
  else if (o.observed && probe && !probe.ok) notes.push(`second observation failed: ${probe.error}`);
  else if (o.observed) notes.push('only one observation point (the signaler has no probe port): mapping unknown');
  const portPreserving = o.observed === null ? null : kind === 'public' || o.observed.port === o.listenPort;
  if (kind === 'hard' && mapping === 'endpoint-independent') notes.push('the NAT changes the port but keeps it for every destination; the punch planner, which sees only the port change, treats it as endpoint-dependent (hard)');
  if (kind === 'easy' && mapping === 'endpoint-dependent') notes.push('the NAT kept the port for the signaler but not for another destination; the punch planner treats it as easy');
  const { filtering, detail } = reachable ? filteringOf(o.inbound, o) : { filtering: 'unknown' as const, detail: 'not tested: the signaler is not reachable' };
  return {
    signaler: { address: o.signaler?.address ?? 'none', state: o.signaler?.state ?? 'disabled', reachable, rttMs: o.signaler?.rttMs ?? null, error: o.signaler?.error ?? null },
    publicAddress: o.observed ? formatHostPort(o.observed.host, o.observed.port) : null,
    probeAddress: probe?.ok ? formatHostPort(probe.at.host, probe.at.port) : null,
    behindNat,
    mapping,
    portPreserving,
    filtering,
    filteringDetail: detail,
    natKind: kind,
    ipv6: ipv6Of(o),
    notes,
  };
}

function ipv6Of(o: Observations): NetcheckReport['ipv6'] {
  const addresses = [...o.ipv6];
  if (addresses.length === 0) return { addresses, signaler: 'unknown', observed: null, detail: 'no global IPv6 address' };
  if (o.probe6 === null) return { addresses, signaler: 'unknown', observed: null, detail: 'the signaler offers no IPv6 address to test' };
  if (!o.probe6.ok) return { addresses, signaler: 'unreachable', observed: null, detail: o.probe6.error };
  return { addresses, signaler: 'reachable', observed: formatHostPort(o.probe6.at.host, o.probe6.at.port), detail: 'the signaler answered over IPv6' };
}
