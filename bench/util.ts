/**
 * Small helpers shared by the benchmarks: percentiles, temporary data dirs, quiet
 * nodes on loopback, and a wait that always ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { startNode, type SentinelNode } from '../src/node.js';

/** Loopback only: benchmarks never listen on other interfaces. */
export const LOOPBACK = '127.0.0.1';

/** p50/p95/p99 of a set of samples (ms), plus the count. */
export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Percentiles of unsorted samples. */
export function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

/** Median (nearest rank) of unsorted values. */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** `x` rounded to `digits` decimals. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Bytes per millisecond as decimal megabytes per second. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves when `check()` is true, re-checking whenever `kick` is called; rejects with
 * `what` after `ms` so no benchmark can hang.
 */
export function waitUntil(check: () => boolean, ms: number, what: string): { done: Promise<void>; kick: () => void } {
  let kick: () => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`benchmark timed out after ${ms} ms waiting for ${what}`)), ms);
    kick = () => {
      if (!check()) return;
      clearTimeout(timer);
      resolve();
    };
  });
  kick();
  return { done, kick: () => kick() };
}

/** `p`, or a rejection naming `what` if it has not settled after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`benchmark timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** A temp dir under os.tmpdir(), removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `sentinel-bench-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A real node (LMDB, TLS, control socket) on 127.0.0.1, port 0, logging nothing. */
export async function quietNode(dataDir: string): Promise<SentinelNode> {
  // No mDNS (no multicast on the host's interfaces), no automatic redials: only what is measured.
  return startNode({ dataDir, port: 0, host: LOOPBACK, signaler: null, mdns: false, minPeers: 0, reconnect: false, log: createLogger('silent', () => {}) });
}
