/**
 * 200 SIGKILL cycles during two-way messaging (real processes, loopback, no root):
 * 0 acknowledged messages lost, 0 duplicates. See test/helpers/kill-cycles.ts for the
 * procedure; `SENTINEL_KILL_SEED=<n>` replays a run, `SENTINEL_KILL_CYCLES=<n>` changes
 * the count (bench/faults.ts runs longer ones and reports the figures).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runKillCycles } from '../helpers/kill-cycles.js';
import { binariesBuilt, useProcs } from '../helpers/procs.js';

const CYCLES = Number(process.env['SENTINEL_KILL_CYCLES'] ?? 200);
const SEED = process.env['SENTINEL_KILL_SEED'] === undefined ? undefined : Number(process.env['SENTINEL_KILL_SEED']);

test(`${CYCLES} SIGKILL cycles during two-way messaging lose no acknowledged message and duplicate none`, { timeout: 600_000 }, async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const procs = useProcs(t);
  const r = await runKillCycles({ procs, cycles: CYCLES, ...(SEED === undefined ? {} : { seed: SEED }), progress: (l) => t.diagnostic(l) });
  const summary = `seed ${r.seed}: ${r.cycles} cycles (${r.kills.A} kills of A, ${r.kills.B} of B) in ${(r.totalMs / 1000).toFixed(1)} s; acknowledged A->B ${r.acked['A->B']}, B->A ${r.acked['B->A']} (${r.ackedDelivered} delivered at once); ${r.cut} sends cut by a kill; stored A ${r.stored.A}, B ${r.stored.B}; drain reconnects ${r.drainReconnects}`;
  t.diagnostic(summary);
  assert.equal(r.kills.A + r.kills.B, CYCLES);
  assert.deepEqual(r.lost, [], `acknowledged messages lost (${summary})`);
  assert.deepEqual(r.duplicates, [], `messages stored twice (${summary})`);
  assert.equal(r.undelivered, 0, `messages still pending after the drain (${summary})`);
  assert.deepEqual(r.errors, {}, `sends answered with an error (${summary})`);
  // Messaging really ran through the kills, in both directions.
  assert.ok(r.acked['A->B'] >= CYCLES && r.acked['B->A'] >= CYCLES, summary);
  assert.ok(r.cut > 0, `some sends were in flight when their node was killed (${summary})`);
});
