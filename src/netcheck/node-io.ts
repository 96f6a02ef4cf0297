/** The real I/O of a node's netcheck: probe connections from the identity port, the signaler client. */
import net from 'node:net';
import { SentinelError, errorMessage } from '../errors.js';
import { fighterConnect } from '../native/index.js';
import type { SignalerClient } from '../signaler/client.js';
import { formatHostPort, tcpConnector } from '../transport/index.js';
import { MAX_OBSERVED_SIZE, decodeObserved, type Endpoint } from '../wire/index.js';
import type { NetcheckIo } from './run.js';

/**
 * Connect with `connect` and read one OBSERVED answer (at most MAX_OBSERVED_SIZE bytes,
 * until the signaler closes); E_DIAL_FAILED on a timeout, E_PAYLOAD_MALFORMED on a bad answer.
 */
export async function readObserved(connect: () => Promise<net.Socket>, what: string, timeoutMs: number): Promise<Endpoint> {
  const sock = await connect();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) return reject(err);
      try {
        resolve(decodeObserved(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(() => finish(new SentinelError('E_DIAL_FAILED', `${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_OBSERVED_SIZE) return finish(new SentinelError('E_PAYLOAD_MALFORMED', `${what}: answer longer than ${MAX_OBSERVED_SIZE} bytes`));
      chunks.push(d);
    });
    // The signaler closes without a word when we are over its probe-port rate.
    sock.once('end', () => finish(size === 0 ? new SentinelError('E_DIAL_FAILED', `${what}: closed without an answer (over the signaler's probe rate?)`) : null));
    sock.once('error', (err) => finish(new SentinelError('E_DIAL_FAILED', `${what}: ${errorMessage(err)}`, { cause: err })));
  });
}

export interface NodeNetcheckDeps {
  signaler: SignalerClient | undefined;
  port: number;
  nativeOk: boolean;
  localHosts: readonly string[];
  ipv6: readonly string[];
}

/** NetcheckIo over the node's real signaler client and sockets. */
export function nodeNetcheckIo(d: NodeNetcheckDeps): NetcheckIo {
  const s = d.signaler;
  return {
    signaler: () => (s ? { address: s.address, state: s.state, rttMs: s.rttMs, error: s.lastError, observed: s.observed, endpoint: s.endpoint } : null),
    request: (flags) => (s ? s.netcheck(flags) : Promise.reject(new SentinelError('E_DIAL_FAILED', 'no signaler configured'))),
    observe: (host, port, timeoutMs) => {
      const what = `probe ${formatHostPort(host, port)}`;
      // From the identity port: the same NAT mapping as the signaler session, towards another destination.
      const connect = d.nativeOk ? () => fighterConnect({ localPort: d.port, host, port, timeoutMs }) : () => tcpConnector(host, port, timeoutMs);
      return readObserved(connect, what, timeoutMs);
    },
    fromIdentityPort: d.nativeOk,
    listenPort: d.port,
    localHosts: d.localHosts,
    ipv6: d.ipv6,
  };
}
