/**
 * `--web [HOST:]PORT`: where the dashboard listens. A bare port means 127.0.0.1; any other
 * address only when written out, and the caller warns when it is not a loopback address.
 */
import { LOOPBACK_HOST, formatHostPort, isLoopbackHost, parseListenAddress } from '../core/host-port.js';
import { SentinelError } from '../errors.js';
import type { Binding } from './auth.js';

/** Address used when `--web` gives only a port. */
export const DEFAULT_WEB_HOST = LOOPBACK_HOST;

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
  const r = parseListenAddress(text.trim().replace(/^localhost:/, `${DEFAULT_WEB_HOST}:`));
  if (typeof r === 'string') throw new SentinelError('E_USAGE', `--web must be PORT, IPV4:PORT or [IPV6]:PORT: ${r}`);
  return { ...r, loopback: isLoopbackHost(r.host) };
}

/** The dashboard's base URL for a bound address (IPv6 in brackets). */
export function webUrl(b: Binding): string {
  return `http://${formatHostPort(b.host, b.port)}/`;
}
