/**
 * Text of a ping run for people (the CLI, the prompt, progress messages), in the manner of
 * ping(8): one line per reply, then the statistics. Pure; `label` must already be escaped
 * (it can carry a peer's announced name).
 */
import type { PingReply, PingResult, PingSummary } from '../api.js';
import { formatPath } from './path.js';

/** Lost-ping reasons as a person reads them. */
const LOST_TEXT: Record<Extract<PingReply, { lost: true }>['reason'], string> = {
  timeout: 'no pong in time',
  'not-connected': 'no session',
  'rate-limited': 'held back: another ping of this peer is running',
};

/** `pong from alice via direct 127.0.0.1:8443 (dialed, lan): seq=1 time=0.412 ms`, or `seq=2 lost (...)`. */
export function formatReply(r: PingReply, label: string, shortId?: (id: string) => string): string {
  if ('lost' in r) return `no pong from ${label}: seq=${r.seq} lost (${LOST_TEXT[r.reason]})`;
  return `pong from ${label} via ${formatPath(r.path, shortId)}: seq=${r.seq} time=${formatMs(r.rttMs)} ms`;
}

/** The two closing lines: a header and `3 sent, 3 received, 0% loss, rtt min/avg/max 0.3/0.4/0.5 ms`. */
export function formatSummary(s: PingSummary, label: string): string {
  const rtt = s.minMs === null ? '' : `, rtt min/avg/max ${formatMs(s.minMs)}/${formatMs(s.avgMs ?? 0)}/${formatMs(s.maxMs ?? 0)} ms`;
  return `--- ${label} ping statistics ---\n${s.sent} sent, ${s.received} received, ${s.lossPercent}% loss${rtt}`;
}

/** A whole run at once (when the replies were not printed as they came). */
export function formatPingResult(r: PingResult, label: string, shortId?: (id: string) => string): string {
  return [...r.pings.map((p) => formatReply(p, label, shortId)), formatSummary(r.summary, label)].join('\n');
}

/** Three decimals below 10 ms, one below 100, none above: as precise as it is meaningful. */
export function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(1) : String(Math.round(ms));
}
