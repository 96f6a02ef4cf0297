/**
 * Mutually authenticated TLS 1.3 over an already-connected socket, in either role.
 *
 * Both sides present their self-signed node certificate; chain validation is off and
 * replaced by {@link verifyPeer}: TLS 1.3 only, ALPN `sentinel/1`, no resumption, a
 * certificate that yields a node id, and (for a dialer that knows whom it wants) that
 * id must be the expected one — checked before any application data is sent.
 */
import type { Duplex } from 'node:stream';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { NodeId } from '../api.js';
import { PeerIdMismatchError, SentinelError, isSentinelError } from '../errors.js';
import { nodeIdFromCertificate, type Identity } from '../identity/index.js';
import type { Clock } from '../core/clock.js';
import { ALPN_PROTOCOL } from './limits.js';

export interface SecuredSocket {
  socket: TLSSocket;
  peerId: NodeId;
}

/** One secure context per identity, shared by both roles. */
export function createContext(identity: Identity): SecureContext {
  return tls.createSecureContext({
    key: identity.keyPem,
    cert: identity.certPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  });
}

/** Checks a finished handshake and returns the authenticated peer id. */
export function verifyPeer(socket: TLSSocket, expected?: NodeId): NodeId {
  if (socket.getProtocol() !== 'TLSv1.3') throw new SentinelError('E_TLS', `negotiated ${socket.getProtocol() ?? 'nothing'}`);
  if (socket.alpnProtocol !== ALPN_PROTOCOL) throw new SentinelError('E_ALPN', `peer offered no ${ALPN_PROTOCOL}`);
  if (socket.isSessionReused()) throw new SentinelError('E_TLS', 'session resumption is not allowed');
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new SentinelError('E_NO_PEER_CERT');
  const peerId = nodeIdFromCertificate(cert);
  if (expected !== undefined && peerId !== expected) {
    throw new PeerIdMismatchError(expected, peerId);
  }
  return peerId;
}

/**
 * A server-side TLSSocket made outside tls.Server keeps OpenSSL errors after the handshake
 * to itself: Node emits them as 'error' only once "control is released", which tls.Server
 * does for its sockets when they become secure (and tls.connect for clients). We do the
 * same, so that a record that does not authenticate (a byte changed on the way, e.g. by a
 * relay) ends the session as a TLS error on the server side too, not as a silent close.
 * `_releaseControl` is Node's own (internal) step for exactly this; without it (another
 * runtime) the session still ends, only as a plain close.
 */
function releaseControl(socket: tls.TLSSocket): void {
  const s = socket as tls.TLSSocket & { _releaseControl?: () => boolean };
  if (typeof s._releaseControl === 'function') s._releaseControl();
}

/**
 * Runs the TLS handshake on `raw` and verifies the peer. On any failure the socket is
 * destroyed and the promise rejects with a SentinelError (E_TLS, E_ALPN, E_NO_PEER_CERT,
 * E_BAD_CERT, E_PEER_ID_MISMATCH or E_HANDSHAKE_TIMEOUT).
 */
export function secureSocket(opts: {
  raw: Duplex;
  role: 'client' | 'server';
  context: SecureContext;
  expected?: NodeId;
  timeoutMs: number;
  clock: Clock;
}): Promise<SecuredSocket> {
  const { raw, role, context, expected, timeoutMs, clock } = opts;
  const socket =
    role === 'server'
      ? new tls.TLSSocket(raw, { isServer: true, secureContext: context, requestCert: true, rejectUnauthorized: false, ALPNProtocols: [ALPN_PROTOCOL] })
      : tls.connect({ socket: raw, secureContext: context, rejectUnauthorized: false, ALPNProtocols: [ALPN_PROTOCOL], servername: undefined });
  return new Promise<SecuredSocket>((resolve, reject) => {
    let done = false;
    const finish = (err: SentinelError | undefined, peerId?: NodeId): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (err) {
        socket.destroy();
        raw.destroy();
        reject(err);
      } else {
        if (role === 'server') releaseControl(socket);
        resolve({ socket, peerId: peerId as NodeId });
      }
    };
    const timer = clock.setTimeout(() => finish(new SentinelError('E_HANDSHAKE_TIMEOUT', `no handshake within ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: Error): void => finish(isSentinelError(err) ? err : new SentinelError('E_TLS', err.message, { cause: err }));
    const onClose = (): void => finish(new SentinelError('E_TLS', 'connection closed during the handshake'));
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once(role === 'server' ? 'secure' : 'secureConnect', () => {
      try {
        finish(undefined, verifyPeer(socket, expected));
      } catch (err) {
        finish(isSentinelError(err) ? err : new SentinelError('E_TLS', String(err)));
      }
    });
  });
}
