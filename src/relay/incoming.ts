/**
 * Relayed sessions offered to this node (RELAY_INCOMING from a relay we chose: today our
 * signaler). A blocked peer is declined; otherwise we accept the circuit and run the
 * end-to-end TLS handshake on it as the server, and the session goes through the same
 * admission as any inbound one (trust, slots). At most MAX_RELAYED_HANDSHAKES circuits
 * are in their handshake at once; more are declined and counted.
 */
import type { Duplex } from 'node:stream';
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Counters, Session } from '../transport/index.js';

/** Relayed circuits in their TLS handshake at once (the relay caps circuits per node too). */
export const MAX_RELAYED_HANDSHAKES = 16;

/** The relay session a circuit was offered on. */
export interface RelayOffers {
  acceptRelay(circuit: number, peer: NodeId): (Duplex & { remoteAddress?: string }) | undefined;
  declineRelay(circuit: number, reason: string): void;
}

export interface RelayAcceptorDeps {
  adopt(stream: Duplex & { remoteAddress?: string }, peer: NodeId): Promise<Session>;
  isBlocked(peer: NodeId): boolean;
  counters: Counters;
  log: Logger;
  maxHandshakes?: number;
}

export class RelayAcceptor {
  private handshakes = 0;

  constructor(private readonly deps: RelayAcceptorDeps) {}

  /** A relay offers a circuit from `peer`. */
  offer(relay: RelayOffers, circuit: number, peer: NodeId): void {
    const { counters, log } = this.deps;
    if (this.deps.isBlocked(peer)) {
      counters.inc('relay_declined.blocked');
      return relay.declineRelay(circuit, 'refused');
    }
    if (this.handshakes >= (this.deps.maxHandshakes ?? MAX_RELAYED_HANDSHAKES)) {
      counters.inc('relay_declined.busy');
      return relay.declineRelay(circuit, 'busy');
    }
    const stream = relay.acceptRelay(circuit, peer);
    if (!stream) return;
    this.handshakes++;
    counters.inc('relay.accepted');
    this.deps
      .adopt(stream, peer)
      .then(
        (s) => log.info(`relayed session with ${peer} through ${s.remoteAddress.replace(/^relay /, '')}`),
        (err) => {
          counters.inc('relay.failed');
          log.debug(`relayed session offered by ${peer} failed: ${errorMessage(err)}`);
        },
      )
      .finally(() => this.handshakes--);
  }
}
