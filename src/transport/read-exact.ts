/** Read exactly `n` bytes from a socket before TLS takes it over, giving back any excess. */
import type { Duplex } from 'node:stream';
import { SentinelError } from '../errors.js';
import type { Clock } from '../core/clock.js';

export function readExact(sock: Duplex, n: number, timeoutMs: number, clock: Clock, initial: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = initial;
    const cleanup = (): void => {
      clock.clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeListener('close', onClose);
      sock.removeListener('error', onClose);
    };
    const check = (): boolean => {
      if (buf.length < n) return false;
      cleanup();
      sock.pause();
      if (buf.length > n) sock.unshift(buf.subarray(n));
      resolve(buf.subarray(0, n));
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      check();
    };
    const onClose = (): void => {
      cleanup();
      reject(new SentinelError('E_TLS', 'connection closed before the preamble'));
    };
    const timer = clock.setTimeout(() => {
      cleanup();
      reject(new SentinelError('E_HANDSHAKE_TIMEOUT', 'no preamble in time'));
    }, timeoutMs);
    if (check()) return;
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', onClose);
    sock.resume();
  });
}

/** Wait for the first chunk, put it back, and return a copy of its first byte. */
export function peekFirstByte(sock: Duplex, timeoutMs: number, clock: Clock): Promise<{ first: number; chunk: Buffer }> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clock.clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeListener('close', onClose);
      sock.removeListener('error', onClose);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      sock.pause();
      resolve({ first: chunk[0] ?? 0, chunk });
    };
    const onClose = (): void => {
      cleanup();
      reject(new SentinelError('E_TLS', 'connection closed before sending anything'));
    };
    const timer = clock.setTimeout(() => {
      cleanup();
      reject(new SentinelError('E_HANDSHAKE_TIMEOUT', 'peer sent nothing'));
    }, timeoutMs);
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', onClose);
  });
}
