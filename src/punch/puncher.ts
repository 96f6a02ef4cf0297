/**
 * Carries out a punch plan: from the agreed start time, one round every `intervalMs`, each
 * a fresh connect() from the identity port to every candidate endpoint (the first SYNs are
 * usually dropped before the peer's NAT has a mapping). For the peer's public endpoint a
 * round is plain, or has us as its opener (a low-TTL, shielded SYN at the round's start)
 * or its caller (a normal SYN CALLER_LEAD_MS later): see plan.ts. For easy x hard the
 * birthday spray or probe runs alongside. The first connection that authenticates wins;
 * everything else is aborted. Rounds in which every normal-TTL SYN was refused end the
 * punch early (refusedVerdict). Sockets and time are injected.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import type { Clock } from '../core/clock.js';
import { dialErrno } from '../native/fighter.js';
import type { Endpoint } from '../wire/index.js';
import { punchRound, refusedVerdict, type Birthday, type PunchPlan, type RoundOutcome } from './plan.js';

export interface PunchIo {
  /**
   * connect() from the identity port; rejects on failure, timeout or abort. `ttl` and
   * `shieldMs`: a low-TTL SYN whose socket ignores ICMP errors for that long (plan.ts).
   */
  connect(o: { host: string; port: number; timeoutMs: number; signal: AbortSignal; ttl?: number; shieldMs?: number }): Promise<Duplex>;
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

/** Simultaneous open gave up early: every normal-TTL SYN was refused (refusedVerdict). */
class RefusedError extends SentinelError {
  constructor(verdict: string) {
    super('E_DIAL_FAILED', verdict);
  }
}

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((r) => clock.setTimeout(r, Math.max(0, ms)));

const fmt = (e: Endpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** Run the plan; resolves with the authenticated session info or rejects with E_DIAL_FAILED. */
export async function runPunch(plan: PunchPlan, io: PunchIo, onProgress?: (p: PunchProgress) => void): Promise<Found> {
  if (plan.impossible) throw new SentinelError('E_DIAL_FAILED', plan.impossible);
  await sleep(io.clock, plan.startAt - io.clock.now());
  const abort = new AbortController();
  const errors = new Map<string, string>();
  let gaveUp: string | undefined;
  const open = simultaneousOpen(plan, io, abort.signal, errors, onProgress).catch((err: unknown) => {
    if (err instanceof RefusedError) gaveUp = err.message;
    throw err;
  });
  const tasks = [open];
  if (plan.birthday) tasks.push(birthday(plan.birthday, plan, io, abort.signal));
  const punched = Promise.any(tasks);
  try {
    // The peer's own attempt may reach our listener first: stop as soon as that happens.
    return await Promise.race([punched, io.sessionUp(plan.peer, abort.signal)]);
  } catch {
    const found = io.existing(plan.peer);
    if (found) return found;
    const why = [...errors.entries()].map(([k, v]) => `${k}: ${v}`).join('; ');
    const what = gaveUp !== undefined ? `gave up: ${gaveUp}` : `timed out after ${plan.attempts} attempts`;
    throw new SentinelError('E_DIAL_FAILED', `hole punching to ${plan.peer} ${what} (${plan.self} NAT here, ${plan.peerKind} NAT there${why ? `; ${why}` : ''})`);
  } finally {
    abort.abort();
  }
}

async function simultaneousOpen(plan: PunchPlan, io: PunchIo, signal: AbortSignal, errors: Map<string, string>, onProgress?: (p: PunchProgress) => void): Promise<Found> {
  const history: RoundOutcome[] = [];
  for (let attempt = 1; attempt <= plan.attempts && !signal.aborted; attempt++) {
    const round = punchRound(plan, attempt);
    await sleep(io.clock, round.at - io.clock.now());
    const found = io.existing(plan.peer);
    if (found) return found;
    if (signal.aborted) break;
    const how = round.role === 'opener' ? ` (opening with TTL ${round.ttl})` : round.role === 'caller' ? ` (calling after ${round.synAt - round.at} ms)` : '';
    onProgress?.({ attempt, attempts: plan.attempts, message: `punching attempt ${attempt} of ${plan.attempts} to ${plan.candidates.map(fmt).join(', ')}${how}` });
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const outcome: RoundOutcome & { errors: string[] } = { role: round.role, errors: [], sent: 0 };
    try {
      return await Promise.any(
        plan.candidates.map(async (c, i) => {
          const local = i < plan.locals;
          const opener = !local && round.role === 'opener';
          try {
            if (!local) await sleep(io.clock, round.synAt - io.clock.now());
            if (stop.signal.aborted) throw new SentinelError('E_DIAL_FAILED', 'aborted');
            const low = opener && round.ttl !== null && round.shieldMs !== null ? { ttl: round.ttl, shieldMs: round.shieldMs } : {};
            if (!opener) outcome.sent++;
            const sock = await io.connect({ host: c.host, port: c.port, timeoutMs: local ? plan.intervalMs : round.timeoutMs, signal: stop.signal, ...low });
            return await io.adopt(sock, plan.peer);
          } catch (err) {
            errors.set(fmt(c), errorMessage(err));
            const errno = dialErrno(err);
            if (!opener && !stop.signal.aborted) outcome.errors.push(errno ?? 'other');
            throw err;
          }
        }),
      );
    } catch {
      // every candidate failed this round
    } finally {
      stop.abort();
      signal.removeEventListener('abort', onAbort);
    }
    history.push(outcome);
    const verdict = refusedVerdict(history);
    if (verdict !== null) throw new RefusedError(verdict);
  }
  const found = io.existing(plan.peer);
  if (found) return found;
  throw new SentinelError('E_DIAL_FAILED', 'simultaneous open failed');
}

/** The easy x hard technique (see plan.ts): many SYNs, one of which meets the other side's. */
async function birthday(b: Birthday, plan: PunchPlan, io: PunchIo, signal: AbortSignal): Promise<Found> {
  const timeoutMs = plan.attempts * plan.intervalMs;
  if (b.role === 'spray') await sleep(io.clock, plan.startAt + b.afterMs - io.clock.now());
  if (signal.aborted) throw new SentinelError('E_DIAL_FAILED', 'aborted');
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
