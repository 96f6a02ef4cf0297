/** The LMDB store figures of {@link runStoreBench}, as a benchmark table. */
import { performance } from 'node:perf_hooks';
import { infoRow, type BenchResult } from './report.js';
import { runStoreBench } from './store.js';

const LABELS: Record<string, string> = {
  'store.add.batch1.msgs_per_s': 'addMessage, 1 in flight',
  'store.add.batch100.msgs_per_s': 'addMessage, 100 in flight',
  'store.add.batch1000.msgs_per_s': 'addMessage, 1,000 in flight',
  'store.add.single.p50_ms': 'one lone durable write, p50',
  'store.add.single.p99_ms': 'one lone durable write, p99',
};

function unit(key: string): string {
  if (key.endsWith('msgs_per_s')) return ' writes/s';
  if (key.endsWith('_ms')) return ' ms';
  return '';
}

/** Runs the store benchmark (bench/store.ts) and returns its table. */
export async function runStoreTable(): Promise<BenchResult> {
  const began = performance.now();
  const figures = await runStoreBench();
  const rows = Object.entries(figures)
    .filter(([key]) => key !== 'store.dir')
    .map(([key, value]) => infoRow(`${LABELS[key] ?? key} (\`${key}\`)`, `${value}${unit(key)}`));
  return {
    name: 'store',
    title: 'LMDB store: durable writes',
    method:
      'From `bench/store.ts`: `Store.addMessage` on a fresh LMDB store in the temp dir. A write counts only once its promise resolved, ' +
      'i.e. committed and fsync\'d. Writes issued in the same event turn share one transaction and one fsync, which is why throughput grows ' +
      'with the number in flight. No goals are set here; these figures bound the messaging ones.',
    rows,
    notes: [],
    durationMs: performance.now() - began,
  };
}
