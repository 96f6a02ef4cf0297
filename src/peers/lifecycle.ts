/**
 * Session lifecycle fan-out: the connection manager reports sessions going up and down and
 * HELLOs arriving; every service that cares registers a listener here instead of the
 * composition root calling each one. A listener that throws is logged and the others
 * still run.
 */
import type { NodeId } from '../api.js';
import { errorMessage, type SentinelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Session } from '../transport/index.js';
import type { Hello } from '../wire/index.js';

export interface SessionListener {
  /** A session became the active one for its peer (`replaced`: another was active before). */
  onSessionUp?(s: Session, replaced: boolean): void;
  /** The peer's last session closed. */
  onSessionDown?(peer: NodeId, reason: SentinelError | undefined): void;
  onHello?(s: Session, hello: Hello): void;
}

export class PeerLifecycle {
  private readonly listeners: SessionListener[] = [];

  constructor(private readonly log: Logger) {}

  add(listener: SessionListener): this {
    this.listeners.push(listener);
    return this;
  }

  onSessionUp(s: Session, replaced: boolean): void {
    this.each((l) => l.onSessionUp?.(s, replaced));
  }

  onSessionDown(peer: NodeId, reason: SentinelError | undefined): void {
    this.each((l) => l.onSessionDown?.(peer, reason));
  }

  onHello(s: Session, hello: Hello): void {
    this.each((l) => l.onHello?.(s, hello));
  }

  private each(f: (l: SessionListener) => void): void {
    for (const l of this.listeners) {
      try {
        f(l);
      } catch (err) {
        this.log.error(`session listener failed: ${errorMessage(err)}`);
      }
    }
  }
}
