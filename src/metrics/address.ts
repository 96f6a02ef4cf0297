/**
 * The `--metrics` value: `PORT` (on 127.0.0.1), `HOST:PORT` or `[V6]:PORT`. The host must
 * be an IP address (no name to resolve: what it binds is what the operator sees). Pure.
 */
import { isLoopbackHost, parseListenAddress } from '../core/host-port.js';
import { bareUsage } from '../core/local-http.js';

export interface MetricsListen {
  host: string;
  /** 0: any free port (tests); the bound port is reported by the server. */
  port: number;
}

/** Parses a `--metrics` value; throws E_USAGE naming what is wrong. */
export function parseMetricsListen(text: string): MetricsListen {
  const r = parseListenAddress(text);
  if (typeof r === 'string') throw bareUsage(`--metrics must be PORT, IPV4:PORT or [IPV6]:PORT: ${r}`);
  return r;
}

/**
 * The warning printed when the endpoint listens beyond loopback: the metrics name peers
 * (contacts' ids), traffic volumes and the signaler state, and the endpoint has no
 * authentication of its own.
 */
export function exposureWarning(host: string, port: number): string | null {
  if (isLoopbackHost(host)) return null;
  return `metrics on ${host.includes(':') ? `[${host}]` : host}:${port} are readable by anyone who can reach that address (peer ids, traffic volumes); firewall it or use 127.0.0.1`;
}
