/**
 * The node's one UDP socket for the VPN datagram path, bound on the identity port number.
 * What datagram-service.ts needs of it is {@link UdpPort}; tests pass fakes.
 *
 * With the addon (native/dgram.c) the socket is read in batches, all datagrams readable
 * in one wake-up in one callback (node:dgram makes one 'message' event each), and
 * `sendMany` hands a whole batch to the kernel in one sendmmsg(2). Without it, node:dgram.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { loadDatagramNative, type DatagramNative } from '../native/udp.js';

/** A bound UDP socket as the datagram path uses it. */
export interface UdpPort {
  /** The local port. */
  readonly port: number;
  /** Sends one datagram; a failure (EPERM from a firewall, no route, ...) goes to `onError`. */
  send(data: Buffer, host: string, port: number, onError: (err: Error) => void): void;
  /**
   * Sends datagrams to one destination, in as few system calls as the port can; calls
   * `onError(n)` once with how many were not sent. Optional: without it, `send` each.
   */
  sendMany?(data: readonly Buffer[], host: string, port: number, onError: (failed: number) => void): void;
  /**
   * Sets the receiver (once). The addon's port does not read sources: address '' and port 0.
   * `onReadError`: the socket stopped reading (an error other than "nothing more to read").
   */
  onMessage(handler: (data: Buffer, address: string, port: number) => void, onReadError?: (err: Error) => void): void;
  close(): void;
}

/** Longest datagram read (longer ones are dropped by the reader; the service's limit is lower). */
const READ_BYTES = 65535;

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
  const native = process.env['SENTINEL_VPN_DGRAM_NATIVE'] === '0' ? null : loadDatagramNative();
  return native ? bindNative(native, port, host) : bindDgram(port, host);
}

/** The addon's socket: bind as {@link bindUdpPort} says, batched reads, sendmmsg. */
export function bindNative(native: DatagramNative, port: number, host?: string): UdpPort {
  let fd: number;
  if (host) fd = native.udpBind(host, port, false);
  else {
    try {
      fd = native.udpBind('::', port, false, false);
    } catch {
      fd = native.udpBind('0.0.0.0', port, false);
    }
  }
  const local = native.sockname(fd);
  const v6 = isIP(local.address) === 6;
  for (const name of ['SO_RCVBUF', 'SO_SNDBUF'] as const) {
    try {
      native.udpSetOption(fd, name, SOCKET_BUFFER_BYTES);
    } catch {
      // best effort: the system default then
    }
  }
  const to = (h: string): string => (v6 && isIP(h) === 4 ? `::ffff:${h}` : h);
  let open = true;
  return {
    port: local.port,
    send(data, toHost, toPort, onError) {
      try {
        native.udpSend(fd, data, to(toHost), toPort);
      } catch (err) {
        onError(err instanceof Error ? err : new Error(String(err)));
      }
    },
    sendMany(data, toHost, toPort, onError) {
      let sent = 0;
      try {
        sent = native.udpSendBatch(fd, data, to(toHost), toPort);
      } catch {
        // a bad address: none sent
      }
      if (sent < data.length) onError(data.length - sent);
    },
    onMessage(handler, onReadError) {
      // A read error other than "nothing more" stops the reader (the path then goes down
      // and the sessions carry the traffic); it is reported, not thrown into the event loop.
      native.udpStartReadingData(fd, READ_BYTES, (datagrams, err) => {
        for (const d of datagrams) handler(d, '', 0);
        if (err) onReadError?.(err);
      });
    },
    close() {
      if (!open) return;
      open = false;
      native.close(fd);
    },
  };
}

/** The node:dgram socket (no addon). */
export async function bindDgram(port: number, host?: string): Promise<UdpPort> {
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
