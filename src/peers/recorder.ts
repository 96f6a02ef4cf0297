/**
 * What sessions teach the directory: when a peer was seen, the name it announced, and a
 * dialable address (the address we dialed, or an inbound peer's source IP with the port its
 * HELLO says it listens on; punched endpoints are not dialable). How we first learned of a
 * peer is kept (`learnedFrom`).
 */
import type { NodeId } from '../api.js';
import type { PeerSource } from '../store/types.js';
import { formatHostPort, normalizeHost, type Session } from '../transport/index.js';
import type { Hello } from '../wire/index.js';
import type { PeerDirectory } from './directory.js';
import type { SessionListener } from './lifecycle.js';

export class SessionRecorder implements SessionListener {
  constructor(
    private readonly directory: PeerDirectory,
    /** How a peer we are dialing on our own was learned, if we know (mDNS, gossip). */
    private readonly sourceOf: (peer: NodeId) => PeerSource | undefined,
  ) {}

  onSessionUp(s: Session, replaced: boolean): void {
    if (replaced) return;
    const source = this.sourceOf(s.peerId) ?? (s.method === 'tcp-simultaneous-open' ? 'signaler' : 'manual');
    // A dial that worked is remembered at once (the peer may vanish before its HELLO).
    this.directory.observe(s.peerId, { seen: true, source, ...(s.method === 'outbound' ? { address: s.remoteAddress } : {}) });
  }

  onHello(s: Session, hello: Hello): void {
    let address: string | null = null;
    if (s.method === 'inbound' && hello.listenPort !== 0) {
      const ip = normalizeHost(s.remoteAddress.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
      address = formatHostPort(ip, hello.listenPort);
    }
    this.directory.observe(s.peerId, { name: hello.name || null, address });
  }

  onSessionDown(peer: NodeId): void {
    this.directory.observe(peer, { seen: true });
  }
}
