/**
 * `ping` on the node: resolve the peer, dial it when there is no session, run the pings
 * (run.ts) over whatever session it has at each ping, and report each reply as progress.
 * At most {@link MAX_PING_RUNS} runs at once.
 */
import type { DialProgress, DialResult, NodeId, PingOptions, PingProgress, PingResult } from '../api.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { parseHostPort } from '../core/host-port.js';
import { SentinelError } from '../errors.js';
import type { ProbeOutcome } from '../transport/session.js';
import { formatPath, pathOf, type SessionPathView } from './path.js';
import { MAX_PING_RUNS } from './limits.js';
import { runPings, summarize } from './run.js';
import { pingSettings } from './settings.js';

/** The parts of a session a ping uses. */
export interface PingableSession extends SessionPathView {
  probe(onPong: () => void): ProbeOutcome;
}

export interface PingServiceDeps {
  clock: Clock;
  /** Sub-millisecond time for RTTs (performance.now); default `clock.now`. */
  hrNow?: () => number;
  counters: Counters;
  /** A target (id, prefix, alias) to an id; throws a coded error when it names no peer. */
  resolve(target: string): NodeId;
  /** The peer's live session, if any. */
  session(id: NodeId): PingableSession | undefined;
  /** The user's dial (the peer becomes a contact). */
  dial(target: string, onProgress?: (p: DialProgress) => void): Promise<DialResult>;
  /** The id of the signaler we are registered with, or null. */
  signalerId(): NodeId | null;
}

export class PingService {
  private runs = 0;

  constructor(private readonly d: PingServiceDeps) {}

  /** Runs currently going on. */
  get active(): number {
    return this.runs;
  }

  /** See {@link NodeApi.ping}. Rejects E_BAD_REQUEST (settings), E_BUSY (too many runs), or the dial's error. */
  async ping(target: string, opts: PingOptions = {}, onProgress?: (p: DialProgress | PingProgress) => void): Promise<PingResult> {
    const { d } = this;
    const settings = pingSettings(opts);
    if (this.runs >= MAX_PING_RUNS) {
      d.counters.inc('ping.refused_busy');
      throw new SentinelError('E_BUSY', `${MAX_PING_RUNS} pings are already running; try again when one ends`);
    }
    this.runs++;
    try {
      let id = parseHostPort(target.trim()) ? undefined : d.resolve(target);
      let dial: DialResult | null = null;
      if (id === undefined || !d.session(id)) {
        dial = await d.dial(target, onProgress);
        id = dial.id;
      }
      const peer = id;
      const view = (s: PingableSession) => ({ probe: (onPong: () => void) => s.probe(onPong), path: () => pathOf(s, d.signalerId()) });
      const pings = await runPings(settings, {
        session: () => {
          const s = d.session(peer);
          return s && view(s);
        },
        clock: d.clock,
        ...(d.hrNow ? { hrNow: d.hrNow } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onReply: (reply) => {
          d.counters.inc('rttMs' in reply ? 'ping.received' : `ping.lost.${reply.reason}`);
          const message = 'rttMs' in reply ? `seq=${reply.seq} pong via ${formatPath(reply.path)} in ${reply.rttMs} ms` : `seq=${reply.seq} lost (${reply.reason})`;
          onProgress?.({ stage: 'ping', message, reply });
        },
      });
      d.counters.inc('ping.sent', pings.length);
      const s = d.session(peer);
      return { id: peer, path: s ? pathOf(s, d.signalerId()) : null, dial, pings, summary: summarize(pings) };
    } finally {
      this.runs--;
    }
  }
}
