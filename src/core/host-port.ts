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
