/**
 * Routes application frames to the service that owns their type. Each service registers
 * the types it handles; a known type nobody here handles (e.g. a signaler message sent to
 * a node) is a protocol violation that closes that session only.
 */
import type { Counters } from '../core/counters.js';
import type { Session } from './session.js';
import { GoawayCode, frameTypeName } from '../wire/index.js';

export type FrameHandler = (session: Session, payload: Buffer) => void;

export class FrameRouter {
  private readonly handlers = new Map<number, FrameHandler>();

  constructor(private readonly counters: Counters) {}

  /** `handler` receives every frame of `type`. One handler per type. */
  on(type: number, handler: FrameHandler): this {
    if (this.handlers.has(type)) throw new Error(`frame type ${frameTypeName(type)} already has a handler`);
    this.handlers.set(type, handler);
    return this;
  }

  /** Hands the frame to its handler; a throw there propagates (the session closes with a coded error). */
  dispatch(session: Session, type: number, payload: Buffer): void {
    const handler = this.handlers.get(type);
    if (handler) return handler(session, payload);
    this.counters.inc('frames_unexpected');
    session.close(GoawayCode.PROTOCOL_ERROR, `frame type ${frameTypeName(type)} is not for nodes`);
  }
}
