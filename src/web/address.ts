/**
 * `--web [HOST:]PORT`: where the dashboard listens. A bare port means 127.0.0.1; any other
 * address only when written out, and the caller warns when it is not a loopback address.
 */
import { isIP } from 'node:net';
import { SentinelError } from '../errors.js';
import { isLoopback, type Binding } from './auth.js';

/** Address used when `--web` gives only a port. */
export const DEFAULT_WEB_HOST = '127.0.0.1';

/** A parsed `--web` value. */
export interface WebAddress extends Binding {
  /** False when the address reaches beyond this machine (the caller warns). */
  loopback: boolean;
}

/**
 * Parses `PORT`, `IPV4:PORT`, `[IPV6]:PORT` or `localhost:PORT` (port 0: any free port).
 * Host names other than localhost are refused: the Host check compares against the
 * bound address, and a name could resolve elsewhere.
 */
export function parseWebAddress(text: string): WebAddress {
  const bad = (why: string): SentinelError => new SentinelError('E_USAGE', `--web must be PORT, IPV4:PORT or [IPV6]:PORT: ${why}`);
  const m = /^(?:(\[[^\]]*\]|[^:[\]]*):)?(\d{1,5})$/.exec(text.trim());
  if (!m) throw bad(`"${text}" is not of that form`);
  const port = Number(m[2]);
  if (port > 65535) throw bad(`port ${port} is out of range`);
  let host = m[1] === undefined ? DEFAULT_WEB_HOST : (m[1] as string);
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === 'localhost') host = DEFAULT_WEB_HOST;
  if (isIP(host) === 0) throw bad(`"${host}" is not an IP address`);
  return { host, port, loopback: isLoopback(host) };
}

/** The dashboard's base URL for a bound address (IPv6 in brackets). */
export function webUrl(b: Binding): string {
  return `http://${isIP(b.host) === 6 ? `[${b.host}]` : b.host}:${b.port}/`;
}
