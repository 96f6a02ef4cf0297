/**
 * Carries out a punch plan: at the agreed start time, connect() from the identity port to
 * every candidate endpoint, again every `intervalMs` (a fresh SYN each time, since the
 * first ones are usually dropped before the peer's NAT has a mapping), and, for easy x
 * hard, the birthday spray or probe alongside. The first connection that authenticates
 * wins; everything else is aborted. Sockets and time are injected.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import type { Clock } from '../core/clock.js';
import type { Endpoint } from '../wire/index.js';
import type { Birthday, PunchPlan } from './plan.js';

export interface PunchIo {
  /** connect() from the identity port; rejects on failure, timeout or abort. */
  connect(o: { host: string; port: number; timeoutMs: number; signal: AbortSignal }): Promise<Duplex>;
  /** connect() from an ephemeral port (birthday spray). */
  connectEphemeral(o: { host: string; port: number; timeoutMs: number; signal: AbortSignal }): Promise<Duplex>;
  /** Preamble + TLS on a connected socket; resolves once the peer is authenticated. */
  adopt(sock: Duplex, peer: NodeId): Promise<{ peerId: NodeId; remoteAddress: string }>;
  /** A session with `peer` that came up by other means (e.g. its SYN hit our listener). */
  existing(peer: NodeId): { peerId: NodeId; remoteAddress: string } | undefined;
  /** Resolves when a session with `peer` comes up by any means (never rejects on its own). */
  sessionUp(peer: NodeId, signal: AbortSignal): Promise<{ peerId: NodeId; remoteAddress: string }>;
  clock: Clock;
}

export interface PunchProgress {
  attempt: number;
  attempts: number;
  message: string;
}

type Found = { peerId: NodeId; remoteAddress: string };

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((r) => clock.setTimeout(r, Math.max(0, ms)));

const fmt = (e: Endpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** Run the plan; resolves with the authenticated session info or rejects with E_DIAL_FAILED. */
export async function runPunch(plan: PunchPlan, io: PunchIo, onProgress?: (p: PunchProgress) => void): Promise<Found> {
  if (plan.impossible) throw new SentinelError('E_DIAL_FAILED', plan.impossible);
  await sleep(io.clock, plan.startAt - io.clock.now());
  const abort = new AbortController();
  const errors = new Map<string, string>();
  const tasks = [simultaneousOpen(plan, io, abort.signal, errors, onProgress)];
  if (plan.birthday) tasks.push(birthday(plan.birthday, plan, io, abort.signal));
  const punched = Promise.any(tasks);
  try {
    // The peer's own attempt may reach our listener first: stop as soon as that happens.
    return await Promise.race([punched, io.sessionUp(plan.peer, abort.signal)]);
  } catch {
    const found = io.existing(plan.peer);
    if (found) return found;
    const why = [...errors.entries()].map(([k, v]) => `${k}: ${v}`).join('; ');
    throw new SentinelError('E_DIAL_FAILED', `hole punching to ${plan.peer} timed out after ${plan.attempts} attempts (${plan.self} NAT here, ${plan.peerKind} NAT there${why ? `; ${why}` : ''})`);
  } finally {
    abort.abort();
  }
}

async function simultaneousOpen(plan: PunchPlan, io: PunchIo, signal: AbortSignal, errors: Map<string, string>, onProgress?: (p: PunchProgress) => void): Promise<Found> {
  for (let attempt = 1; attempt <= plan.attempts && !signal.aborted; attempt++) {
    const found = io.existing(plan.peer);
    if (found) return found;
    onProgress?.({ attempt, attempts: plan.attempts, message: `punching attempt ${attempt} of ${plan.attempts} to ${plan.candidates.map(fmt).join(', ')}` });
    const round = new AbortController();
    const stop = (): void => round.abort();
    signal.addEventListener('abort', stop, { once: true });
    const started = io.clock.now();
    try {
      return await Promise.any(
        plan.candidates.map(async (c) => {
          try {
            const sock = await io.connect({ host: c.host, port: c.port, timeoutMs: plan.intervalMs, signal: round.signal });
            return await io.adopt(sock, plan.peer);
          } catch (err) {
            errors.set(fmt(c), errorMessage(err));
            throw err;
          }
        }),
      );
    } catch {
      // every candidate failed this round
    } finally {
      round.abort();
      signal.removeEventListener('abort', stop);
    }
    // Failed fast (e.g. refused): wait out the interval before the next SYN.
    await sleep(io.clock, plan.intervalMs - (io.clock.now() - started));
  }
  const found = io.existing(plan.peer);
  if (found) return found;
  throw new SentinelError('E_DIAL_FAILED', 'simultaneous open failed');
}

/** The easy x hard technique (see plan.ts): many SYNs, one of which meets the other side's. */
function birthday(b: Birthday, plan: PunchPlan, io: PunchIo, signal: AbortSignal): Promise<Found> {
  const timeoutMs = plan.attempts * plan.intervalMs;
  const dials =
    b.role === 'spray'
      ? Array.from({ length: b.count }, () => () => io.connectEphemeral({ host: b.target.host, port: b.target.port, timeoutMs, signal }))
      : b.ports.map((port) => () => io.connect({ host: b.host, port, timeoutMs, signal }));
  return Promise.any(
    dials.map(async (dial) => {
      const sock = await dial();
      if (signal.aborted) {
        sock.destroy();
        throw new SentinelError('E_DIAL_FAILED', 'aborted');
      }
      return io.adopt(sock, plan.peer);
    }),
  );
}
