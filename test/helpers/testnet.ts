/**
 * In-process test network: real nodes (real TLS, real LMDB, real sockets) on loopback,
 * each in its own temp data dir, all torn down by `close()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeEvent } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { startNode, type NodeOptions, type SentinelNode } from '../../src/node.js';

export interface TestNet {
  /** Start a node on 127.0.0.1, port 0 unless given, with a fresh (or the given) data dir. */
  node(opts?: Partial<NodeOptions>): Promise<SentinelNode>;
  tempDir(): Promise<string>;
  close(): Promise<void>;
}

export function testnet(): TestNet {
  const nodes = new Set<SentinelNode>();
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'sentinel-test-'));
    dirs.push(d);
    return d;
  };
  return {
    tempDir,
    async node(opts = {}) {
      const n = await startNode({
        dataDir: opts.dataDir ?? (await tempDir()),
        port: 0,
        host: '127.0.0.1',
        signaler: null,
        // Tests dial explicitly; automatic redials would race with what they assert.
        minPeers: 0,
        reconnect: false,
        // No multicast on the host's real interfaces from tests.
        mdns: false,
        log: createLogger(process.env.SENTINEL_TEST_LOG === '1' ? 'debug' : 'silent', (l) => process.stderr.write(`${l}\n`)),
        ...opts,
      });
      nodes.add(n);
      const close = n.close.bind(n);
      n.close = () => {
        nodes.delete(n);
        return close();
      };
      return n;
    },
    async close() {
      await Promise.allSettled([...nodes].map((n) => n.close()));
      await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** Resolve with the first event matching `pred`, or reject after `ms`. */
export function nextEvent<T extends NodeEvent>(node: SentinelNode, pred: (e: NodeEvent) => e is T, ms?: number): Promise<T>;
export function nextEvent(node: SentinelNode, pred: (e: NodeEvent) => boolean, ms?: number): Promise<NodeEvent>;
export function nextEvent(node: SentinelNode, pred: (e: NodeEvent) => boolean, ms = 5_000): Promise<NodeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${ms} ms`));
    }, ms);
    const off = node.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Poll `cond` every 20 ms until true, or throw after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
