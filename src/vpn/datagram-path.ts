/**
 * The life of one peer's UDP datagram path, as a pure state machine (injected clock and
 * probe sender; the service in datagram-service.ts does the I/O):
 *
 *   offered --start()--> probing --probe answered--> up
 *      probing: a probe every PROBE_TIMEOUT_MS; MAX_UNANSWERED unanswered -> down
 *      up:      probes when nothing was heard for SILENCE_MS after we sent, or for
 *               KEEPALIVE_MS at all; MAX_UNANSWERED unanswered in a row -> down
 *      down:    traffic goes over the session; after the backoff (RETRY_MIN_MS doubling
 *               to RETRY_MAX_MS, reset once up) -> probing again
 *
 * Only an answered probe proves both directions, so only a probe reply makes the path up
 * or clears unanswered probes; other datagrams from the peer (heard()) only show it is
 * alive and spare us the probes. Packets use the path only while it is up.
 */

/** The states above. */
export type PathState = 'offered' | 'probing' | 'up' | 'down';

/** Time between probes while waiting for an answer. */
export const PROBE_TIMEOUT_MS = 500;
/** Probes left unanswered before the path is down. */
export const MAX_UNANSWERED = 3;
/** Silence (nothing heard since our last send) that makes an up path probe. */
export const SILENCE_MS = 1_000;
/** Silence that makes an up path probe even when we send nothing. */
export const KEEPALIVE_MS = 10_000;
/** First wait before a down path is probed again; doubles up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/** What the path machine needs from outside. */
export interface PathIo {
  /** Monotonic milliseconds. */
  now(): number;
  /** Send a probe with this id (the reply echoes it). */
  sendProbe(id: number): void;
  /** Told of every state change. */
  onChange?(from: PathState, to: PathState): void;
}

export class DatagramPath {
  private current: PathState = 'offered';
  private lastHeard = 0;
  private lastSent = -Infinity;
  private lastProbeAt = 0;
  private unanswered = 0;
  private probeId = 0;
  private retryAt = 0;
  private backoff = RETRY_MIN_MS;

  constructor(private readonly io: PathIo) {}

  get state(): PathState {
    return this.current;
  }

  /** True while packets may go as datagrams. */
  get usable(): boolean {
    return this.current === 'up';
  }

  /** Keys are ready on both sides: start probing. */
  start(): void {
    if (this.current !== 'offered') return;
    this.set('probing');
    this.probe();
  }

  /** Call periodically (every PROBE_TIMEOUT_MS or more often). */
  tick(): void {
    const now = this.io.now();
    switch (this.current) {
      case 'probing':
        if (now - this.lastProbeAt >= PROBE_TIMEOUT_MS) this.retryOrFail();
        return;
      case 'up': {
        if (this.unanswered > 0) {
          if (now - this.lastProbeAt >= PROBE_TIMEOUT_MS) this.retryOrFail();
          return;
        }
        const silence = now - this.lastHeard;
        if ((silence >= SILENCE_MS && this.lastSent >= this.lastHeard) || silence >= KEEPALIVE_MS) this.probe();
        return;
      }
      case 'down':
        if (now >= this.retryAt) {
          this.set('probing');
          this.probe();
        }
        return;
      default:
        return;
    }
  }

  /** An authenticated datagram (of any type) arrived from the peer. */
  heard(): void {
    this.lastHeard = this.io.now();
  }

  /** We sent a data datagram. */
  sent(): void {
    this.lastSent = this.io.now();
  }

  /** An authenticated probe reply arrived; ids of probes not recently sent are ignored. */
  probeReply(id: number): void {
    this.heard();
    if (id > this.probeId || id <= this.probeId - MAX_UNANSWERED - 1 || id <= 0) return;
    if (this.current !== 'probing' && this.current !== 'up') return;
    this.unanswered = 0;
    this.backoff = RETRY_MIN_MS;
    if (this.current === 'probing') this.set('up');
  }

  private retryOrFail(): void {
    if (this.unanswered >= MAX_UNANSWERED) return this.fail();
    this.probe();
  }

  private fail(): void {
    this.unanswered = 0;
    this.retryAt = this.io.now() + this.backoff;
    this.backoff = Math.min(this.backoff * 2, RETRY_MAX_MS);
    this.set('down');
  }

  private probe(): void {
    this.unanswered++;
    this.lastProbeAt = this.io.now();
    this.io.sendProbe(++this.probeId);
  }

  private set(to: PathState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.io.onChange?.(from, to);
  }
}
