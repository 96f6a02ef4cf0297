/**
 * The node's one UDP socket for the VPN datagram path (node:dgram), bound on the identity
 * port number. What datagram-service.ts needs of it is {@link UdpPort}; tests pass fakes.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

/** A bound UDP socket as the datagram path uses it. */
export interface UdpPort {
  /** The local port. */
  readonly port: number;
  /** Sends one datagram; a failure (EPERM from a firewall, no route, ...) goes to `onError`. */
  send(data: Buffer, host: string, port: number, onError: (err: Error) => void): void;
  /** Sets the receiver (once). */
  onMessage(handler: (data: Buffer, address: string, port: number) => void): void;
  close(): void;
}

/** Receive buffer asked for (the kernel caps it at net.core.rmem_max). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

function bindOne(type: 'udp4' | 'udp6', port: number, host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: false });
    s.once('error', reject);
    s.bind({ port, address: host, exclusive: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/**
 * Binds UDP `port` on `host` (the TCP listener's host), or on `::` (dual-stack) and
 * else `0.0.0.0` when none is given. Rejects with the bind error.
 */
export async function bindUdpPort(port: number, host?: string): Promise<UdpPort> {
  let sock: dgram.Socket;
  if (host) sock = await bindOne(isIP(host) === 6 ? 'udp6' : 'udp4', port, host);
  else {
    try {
      sock = await bindOne('udp6', port, '::');
    } catch {
      sock = await bindOne('udp4', port, '0.0.0.0');
    }
  }
  const v6 = sock.address().family === 'IPv6';
  for (const set of [() => sock.setRecvBufferSize(SOCKET_BUFFER_BYTES), () => sock.setSendBufferSize(SOCKET_BUFFER_BYTES)]) {
    try {
      set();
    } catch {
      // best effort: the system default then
    }
  }
  // A send error without a callback would be an 'error' event; each send has one, this is a guard.
  sock.on('error', () => {});
  return {
    port: sock.address().port,
    send(data, toHost, toPort, onError) {
      // A dual-stack IPv6 socket reaches IPv4 peers through their mapped address.
      const h = v6 && isIP(toHost) === 4 ? `::ffff:${toHost}` : toHost;
      sock.send(data, toPort, h, (err) => {
        if (err) onError(err);
      });
    },
    onMessage(handler) {
      sock.on('message', (msg, rinfo) => handler(msg, rinfo.address, rinfo.port));
    },
    close() {
      try {
        sock.close();
      } catch {
        // already closed
      }
    },
  };
}
