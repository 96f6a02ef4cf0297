/**
 * Carries out a punch plan: at the agreed start time, connect() from the identity port to
 * every candidate endpoint, again every `intervalMs` (a fresh SYN each time, since the
 * first ones are usually dropped before the peer's NAT has a mapping), until one
 * connection authenticates or the attempts run out. Sockets and time are injected.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import type { Clock } from '../transport/clock.js';
import type { Endpoint } from '../wire/index.js';
import type { PunchPlan } from './plan.js';

export interface PunchIo {
  /** connect() from the identity port; rejects on failure, timeout or abort. */
  connect(o: { host: string; port: number; timeoutMs: number; signal: AbortSignal }): Promise<Duplex>;
  /** Preamble + TLS on a connected socket; resolves once the peer is authenticated. */
  adopt(sock: Duplex, peer: NodeId): Promise<{ peerId: NodeId; remoteAddress: string }>;
  /** A session with `peer` that came up by other means (e.g. its SYN hit our listener). */
  existing(peer: NodeId): { peerId: NodeId; remoteAddress: string } | undefined;
  clock: Clock;
}

export interface PunchProgress {
  attempt: number;
  attempts: number;
  message: string;
}

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((r) => clock.setTimeout(r, Math.max(0, ms)));

const fmt = (e: Endpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** Run the plan; resolves with the authenticated session info or rejects with E_DIAL_FAILED. */
export async function runPunch(plan: PunchPlan, io: PunchIo, onProgress?: (p: PunchProgress) => void): Promise<{ peerId: NodeId; remoteAddress: string }> {
  await sleep(io.clock, plan.startAt - io.clock.now());
  const errors = new Map<string, string>();
  for (let attempt = 1; attempt <= plan.attempts; attempt++) {
    const found = io.existing(plan.peer);
    if (found) return found;
    onProgress?.({ attempt, attempts: plan.attempts, message: `punching attempt ${attempt} of ${plan.attempts} to ${plan.candidates.map(fmt).join(', ')}` });
    const abort = new AbortController();
    const started = io.clock.now();
    try {
      return await Promise.any(
        plan.candidates.map(async (c) => {
          const sock = await io.connect({ host: c.host, port: c.port, timeoutMs: plan.intervalMs, signal: abort.signal });
          try {
            return await io.adopt(sock, plan.peer);
          } catch (err) {
            errors.set(fmt(c), errorMessage(err));
            throw err;
          }
        }),
      );
    } catch (err) {
      if (err instanceof AggregateError) for (const [i, e] of err.errors.entries()) errors.set(fmt(plan.candidates[i] as Endpoint), errorMessage(e));
    } finally {
      abort.abort();
    }
    // Failed fast (e.g. refused): wait out the interval before the next SYN.
    await sleep(io.clock, plan.intervalMs - (io.clock.now() - started));
  }
  const found = io.existing(plan.peer);
  if (found) return found;
  const why = plan.warning ?? [...errors.entries()].map(([k, v]) => `${k}: ${v}`).join('; ');
  throw new SentinelError('E_DIAL_FAILED', `hole punching to ${plan.peer} timed out after ${plan.attempts} attempts (${why})`);
}
