/**
 * One ping run: `count` PINGs, one every `intervalMs`, each waiting at most `timeoutMs` for
 * its PONG, then a summary. Time and the session come in from outside (a fake clock and a
 * fake session in tests), so the run is exact to test.
 *
 *   seq 1  PING ───────────► PONG (rtt) ─┐ wait out the interval
 *   seq 2  PING ──────────────── (timeout: lost) ─┐
 *   seq 3  PING ...                                 one at a time, like ping(8) with -W
 *
 * The session is looked up for every ping: a relayed session that moves to a direct path
 * mid-run shows the new path from the next reply on.
 */
import type { PingPath, PingReply, PingSummary } from '../api.js';
import type { Clock } from '../core/clock.js';
import type { ProbeOutcome } from '../transport/session.js';
import type { PingSettings } from './settings.js';

/** The session a ping goes out on. */
export interface PingSession {
  /** Sends a PING; `onPong` runs when its PONG arrives. */
  probe(onPong: () => void): ProbeOutcome;
  /** The path this session takes. */
  path(): PingPath;
}

/** What a run needs from the node. */
export interface PingRunDeps {
  /** The peer's session now, or undefined when there is none. */
  session(): PingSession | undefined;
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /** Milliseconds with sub-millisecond precision for RTTs (performance.now); default `clock.now`. */
  hrNow?: () => number;
  /** Each reply as it is known. */
  onReply?: (reply: PingReply) => void;
  /** Ends the run early: the ping in flight is dropped, the replies so far are returned. */
  signal?: AbortSignal;
}

/** Sends the pings of one run; resolves with every reply, in order. Never rejects. */
export async function runPings(settings: PingSettings, deps: PingRunDeps): Promise<PingReply[]> {
  const replies: PingReply[] = [];
  for (let seq = 1; seq <= settings.count && !deps.signal?.aborted; seq++) {
    const started = deps.clock.now();
    const reply = await onePing(seq, settings.timeoutMs, deps);
    if (reply === null) break;
    replies.push(reply);
    deps.onReply?.(reply);
    if (seq < settings.count) await sleep(deps, started + settings.intervalMs - deps.clock.now());
  }
  return replies;
}

function onePing(seq: number, timeoutMs: number, deps: PingRunDeps): Promise<PingReply | null> {
  const session = deps.session();
  if (!session) return Promise.resolve({ seq, lost: true, reason: 'not-connected' });
  const hrNow = deps.hrNow ?? deps.clock.now;
  const path = session.path();
  return new Promise((resolve) => {
    let done = false;
    let timer: unknown;
    const finish = (r: PingReply | null): void => {
      if (done) return;
      done = true;
      deps.clock.clearTimeout(timer);
      deps.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const onAbort = (): void => finish(null);
    const sentAt = hrNow();
    const outcome = session.probe(() => finish({ seq, rttMs: roundMs(hrNow() - sentAt), path }));
    if (outcome !== 'sent') return finish({ seq, lost: true, reason: outcome === 'closed' ? 'not-connected' : 'rate-limited' });
    timer = deps.clock.setTimeout(() => finish({ seq, lost: true, reason: 'timeout' }), timeoutMs);
    deps.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function sleep(deps: PingRunDeps, ms: number): Promise<void> {
  if (ms <= 0 || deps.signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = deps.clock.setTimeout(() => {
      deps.signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      deps.clock.clearTimeout(timer);
      resolve();
    };
    deps.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sent and received counts, loss, and min/avg/max RTT of a run's replies. */
export function summarize(replies: readonly PingReply[]): PingSummary {
  const rtts = replies.flatMap((r) => ('rttMs' in r ? [r.rttMs] : []));
  const sent = replies.length;
  const received = rtts.length;
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 0 : Math.round(((sent - received) / sent) * 1000) / 10,
    minMs: received ? Math.min(...rtts) : null,
    avgMs: received ? roundMs(rtts.reduce((a, b) => a + b, 0) / received) : null,
    maxMs: received ? Math.max(...rtts) : null,
  };
}

/** Milliseconds to the microsecond (what a clock on one machine can honestly claim). */
function roundMs(ms: number): number {
  return Math.round(Math.max(0, ms) * 1000) / 1000;
}
