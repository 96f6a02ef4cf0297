/** host:port parsing and formatting (IPv6 in brackets). */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Strip the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function normalizeHost(host: string): string {
  return host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
}

export function formatHostPort(host: string, port: number): string {
  const h = normalizeHost(host);
  return isIP(h) === 6 ? `[${h}]:${port}` : `${h}:${port}`;
}

/** Parse `host:port` or `[v6]:port`; undefined when it is not one. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] as string, port };
}

/** Where a listener given only a port (`--metrics 9464`, `--web 8080`) binds: loopback. */
export const LOOPBACK_HOST = '127.0.0.1';

/**
 * A listen address for a local service: `PORT` (on {@link LOOPBACK_HOST}), `IPV4:PORT` or
 * `[IPV6]:PORT`; port 0 means any free port. The host must be an IP address, so what is
 * bound is what the operator wrote. Returns why not, as text, for the caller's error.
 */
export function parseListenAddress(text: string): HostPort | string {
  const m = /^(?:(\[[^\]]*\]|[^:[\]]*):)?(\d{1,5})$/.exec(text);
  if (!m) return `"${text}" is not of that form`;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range`;
  const host = m[1] === undefined ? LOOPBACK_HOST : m[1].replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 0) return `"${host}" is not an IP address`;
  return { host, port };
}

/** True for `localhost`, 127.0.0.0/8 (also IPv4-mapped) and ::1: only this machine reaches it. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(normalizeHost(host));
}
