/**
 * Hole punching as a transport: the punch coordinator asks the signaler to coordinate and
 * races connection attempts; each punched socket goes through the connection manager's
 * preamble and TLS (ConnectionManager.adoptPunched, the `tcp-simultaneous-open` entry of
 * the session layer), and the duplicate rule keeps one session.
 */
import type { DialProgress, NodeId } from '../api.js';
import { SentinelError, errorCode } from '../errors.js';
import type { Session } from '../transport/session.js';
import { throwIfAborted } from './failures.js';
import type { DialTarget, Transport, TransportDialOptions } from './transport.js';

/** What the transport needs of the punch coordinator. */
export interface Puncher {
  punchTo(id: NodeId, progress: (p: { stage: DialProgress['stage']; message: string }) => void): Promise<Session>;
}

export class PunchedTransport implements Transport {
  readonly kind = 'punched';
  readonly label = 'hole punching';

  /** `punch`: the coordinator, or why punching is unavailable (no signaler, no addon). */
  constructor(private readonly punch: () => Puncher | string) {}

  unavailable(): string | null {
    const p = this.punch();
    return typeof p === 'string' ? `hole punching unavailable (${p})` : null;
  }

  dial(target: DialTarget, opts: TransportDialOptions): Promise<Session> {
    const p = this.punch();
    if (typeof p === 'string') return Promise.reject(new SentinelError('E_DIAL_FAILED', `hole punching unavailable (${p})`));
    throwIfAborted(opts.signal, 'hole punching');
    return p.punchTo(target.id, (m) => opts.progress(m.stage, m.message));
  }

  /** The peer is not registered with the signaler: no relay can reach it either. */
  ends(err: unknown): boolean {
    return errorCode((err as { cause?: unknown } | undefined)?.cause) === 'E_UNKNOWN_ID';
  }
}
