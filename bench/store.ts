/**
 * Durable write figures for the LMDB store: addMessage throughput when 1, 100 or 1000
 * writes are in flight together, and the latency of one durable write on its own.
 * Every figure counts only writes whose promise resolved, i.e. committed and fsync'd.
 * Prints numbers; never passes or fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openLmdbStore, type Store, type StoredMessage } from '../src/store/index.js';

const PEER = 'p'.repeat(56);
const ME = 'm'.repeat(56);
/** Writes per throughput run, for each batch size. */
const RUNS: ReadonlyArray<{ batch: number; total: number }> = [
  { batch: 1, total: 200 },
  { batch: 100, total: 2000 },
  { batch: 1000, total: 10000 },
];
const LATENCY_SAMPLES = 200;

let seq = 0;

function message(): StoredMessage {
  seq += 1;
  const signature = new Uint8Array(64).fill(seq % 256);
  return {
    id: seq.toString(16).padStart(32, '0'),
    from: PEER,
    to: ME,
    timestamp: Date.now(),
    text: `benchmark message number ${seq}`,
    signature,
    status: 'received',
  };
}

/** Durable addMessage calls per second with `batch` calls in flight at a time. */
async function throughput(store: Store, batch: number, total: number): Promise<number> {
  const start = performance.now();
  for (let done = 0; done < total; done += batch) {
    await Promise.all(Array.from({ length: batch }, () => store.addMessage(PEER, message())));
  }
  return Math.round((total / (performance.now() - start)) * 1000);
}

/** Milliseconds of each of `n` lone durable writes. */
async function latencies(store: Store, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await store.addMessage(PEER, message());
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b);
}

function percentile(sorted: number[], p: number): number {
  const v = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return Math.round(v * 1000) / 1000;
}

/** Runs the store benchmark in a temporary directory and returns its figures. */
export async function runStoreBench(): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-store-bench-'));
  const store = await openLmdbStore(join(dir, 'db'));
  try {
    const results: Record<string, number | string> = { 'store.dir': tmpdir() };
    for (const { batch, total } of RUNS) {
      results[`store.add.batch${batch}.msgs_per_s`] = await throughput(store, batch, total);
    }
    const lat = await latencies(store, LATENCY_SAMPLES);
    results['store.add.single.p50_ms'] = percentile(lat, 50);
    results['store.add.single.p99_ms'] = percentile(lat, 99);
    return results;
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runStoreBench();
  for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(34)} ${value}`);
}
