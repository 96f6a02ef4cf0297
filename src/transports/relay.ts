/**
 * A relay as a transport: asks the relay (a {@link RelayRoute}: a peer relay or the
 * signaler) for a circuit to the peer, and hands the circuit's byte stream to the
 * session layer as the TLS client, end to end: the relay only carries ciphertext.
 */
import { errorCode, labelled, nestedMessage } from '../errors.js';
import type { Counters } from '../core/counters.js';
import type { Session } from '../transport/session.js';
import { AttemptsFailed, throwIfAborted } from './failures.js';
import type { DialTarget, RelayRoute, Transport, TransportDialOptions } from './transport.js';

export class RelayTransport implements Transport {
  readonly kind = 'relay';
  readonly label: string;

  constructor(
    private readonly route: RelayRoute,
    private readonly counters?: Counters,
  ) {
    this.label = `relay ${route.label}`;
  }

  unavailable(): string | null {
    return null;
  }

  async dial(target: DialTarget, opts: TransportDialOptions): Promise<Session> {
    throwIfAborted(opts.signal, this.label);
    opts.progress('relaying', `no direct path; asking relay ${this.route.label} for a circuit`);
    let stream;
    try {
      stream = await this.route.open(target.id);
    } catch (err) {
      const code = errorCode(err);
      // A failure that already names this relay is not prefixed with it again.
      const why = labelled(this.label, nestedMessage(err, 'E_DIAL_FAILED'));
      // The target declined: final. Anything else is this relay's: the next one may do.
      throw new AttemptsFailed([why], code === 'E_REFUSED' ? 'E_REFUSED' : 'E_DIAL_FAILED', { cause: err });
    }
    if (opts.signal?.aborted) {
      stream.destroy();
      throwIfAborted(opts.signal, this.label);
    }
    opts.progress('tls', 'relay circuit open; TLS handshake with the peer, end to end');
    this.counters?.inc('relay.dials');
    return opts.secure({ stream, path: { method: 'relay', role: 'client', address: stream.remoteAddress ?? `relay ${this.route.label}` } });
  }
}
