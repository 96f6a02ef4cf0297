/** The node's listener on its identity port. */
import type { Server } from 'node:net';
import { errorCode } from '../errors.js';
import { fighterListen } from '../native/index.js';
import { plainListen } from '../transport/index.js';

/** Errors that mean "this host has no IPv6": listen on IPv4 only instead. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/**
 * A fighter listener (SO_REUSEPORT) on the identity port, but only if nobody else holds
 * that port: SO_REUSEPORT would otherwise let a second node share it silently. A plain
 * bind (without SO_REUSEPORT) fails with EADDRINUSE against any existing holder.
 *
 * Without a host (or with `::`) the listener is dual-stack: one socket on `[::]:port`
 * with IPV6_V6ONLY cleared takes IPv4 (as `::ffff:a.b.c.d`) and IPv6 connections. On a
 * host without IPv6 it falls back to `0.0.0.0`. `0.0.0.0` or a specific address listens
 * there only.
 */
export async function exclusiveFighterListen(port: number, host: string | undefined): Promise<Server> {
  if (host !== undefined && host !== '::') return exclusiveOn(port, host, false);
  try {
    return await exclusiveOn(port, '::', true);
  } catch (err) {
    if (host === undefined && NO_IPV6.has(errorCode(err) ?? '')) return exclusiveOn(port, '0.0.0.0', false);
    throw err;
  }
}

async function exclusiveOn(port: number, host: string, dualStack: boolean): Promise<Server> {
  if (port !== 0) {
    // Node's own listener on '::' is dual-stack too, so the probe sees IPv4 holders as well.
    const probe = await plainListen(port, host);
    await new Promise<void>((r) => probe.close(() => r()));
  }
  return fighterListen({ host, port, dualStack });
}
