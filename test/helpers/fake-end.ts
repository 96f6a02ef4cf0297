/**
 * A fake session for relay tests (hub, peer relay server and client): records every frame
 * it is sent, and carries the session fields those modules read.
 */
import { randomBytes } from 'node:crypto';
import type { NodeId } from '../../src/api.js';
import { nodeIdFromPublicKey } from '../../src/identity/index.js';
import type { Hello } from '../../src/wire/index.js';

export const newId = (): NodeId => nodeIdFromPublicKey(randomBytes(32));

export class FakeEnd {
  isClosed = false;
  frames: { type: number; payload: Buffer }[] = [];
  method = 'outbound';
  remoteAddress = '127.0.0.1:9';
  rttMs: number | null = null;
  peerHello: Hello | null = null;
  constructor(readonly peerId: NodeId = newId()) {}
  send(type: number, payload: Uint8Array): boolean {
    this.frames.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  /** Payloads of the frames of `type` received so far. */
  of(type: number): Buffer[] {
    return this.frames.filter((f) => f.type === type).map((f) => f.payload);
  }
  /** Frames received so far, then forgets them. */
  take(): { type: number; payload: Buffer }[] {
    const f = this.frames;
    this.frames = [];
    return f;
  }
}
