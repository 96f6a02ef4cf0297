/** The node's listener on its identity port. */
import type { Server } from 'node:net';
import { fighterListen } from '../native/index.js';
import { plainListen } from '../transport/index.js';

/**
 * A fighter listener (SO_REUSEPORT) on the identity port, but only if nobody else holds
 * that port: SO_REUSEPORT would otherwise let a second node share it silently. A plain
 * bind (without SO_REUSEPORT) fails with EADDRINUSE against any existing holder.
 */
export async function exclusiveFighterListen(port: number, host: string | undefined): Promise<Server> {
  const h = host ?? '0.0.0.0';
  if (port !== 0) {
    const probe = await plainListen(port, h);
    await new Promise<void>((r) => probe.close(() => r()));
  }
  return fighterListen({ host: h, port });
}
