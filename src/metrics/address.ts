/**
 * The `--metrics` value: `PORT` (on 127.0.0.1), `HOST:PORT` or `[V6]:PORT`. The host must
 * be an IP address (no name to resolve: what it binds is what the operator sees). Pure.
 */
import { isIP } from 'node:net';
import { SentinelError } from '../errors.js';

export interface MetricsListen {
  host: string;
  /** 0: any free port (tests); the bound port is reported by the server. */
  port: number;
}

const LOOPBACK_V4 = /^127\./;

/** True for 127.0.0.0/8 and ::1: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_V4.test(host.replace(/^::ffff:/i, '')) || host === '::1';
}

/** E_USAGE whose message is the detail alone, as the CLIs print usage errors (cli/args.ts `usage`). */
export function usageError(detail: string): SentinelError {
  const err = new SentinelError('E_USAGE', detail);
  err.message = detail;
  return err;
}

/** Parses a `--metrics` value; throws E_USAGE naming what is wrong. */
export function parseMetricsListen(text: string): MetricsListen {
  const m = /^\d{1,5}$/.test(text) ? ['', '127.0.0.1', text] : (/^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([0-9.]+):(\d{1,5})$/.exec(text));
  if (!m) throw usageError(`--metrics must be PORT, IPV4:PORT or [IPV6]:PORT, got "${text}"`);
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port > 65535) throw usageError(`--metrics port must be 0-65535, got ${port}`);
  if (isIP(host) === 0) throw usageError(`--metrics host must be an IP address, got "${host}"`);
  return { host, port };
}

/**
 * The warning printed when the endpoint listens beyond loopback: the metrics name peers
 * (contacts' ids), traffic volumes and the signaler state, and the endpoint has no
 * authentication of its own.
 */
export function exposureWarning(host: string, port: number): string | null {
  if (isLoopback(host)) return null;
  return `metrics on ${host.includes(':') ? `[${host}]` : host}:${port} are readable by anyone who can reach that address (peer ids, traffic volumes); firewall it or use 127.0.0.1`;
}
