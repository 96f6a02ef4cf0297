/**
 * CI budget of every fuzz target (the long run is `npm run fuzz`, bench/fuzz.ts):
 * - fast-check: CI_FAST_CHECK_RUNS seeded, mutated inputs per target;
 * - jazzer (coverage-guided): every target in one process for CI_JAZZER_SECONDS, and a
 *   planted bug that it must find. Without jazzer's runtime this part is skipped with the
 *   reason, or fails when SENTINEL_FUZZ=required (as .ci/run sets it).
 * A failure names the target, what broke, and how to replay it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runFastCheck, type FuzzRun } from './fast-check.js';
import { ALL_TARGETS, FUZZ_DIR, jazzerAvailable, runJazzer, type JazzerLaunch } from './jazzer.js';
import { CI_FAST_CHECK_RUNS, CI_JAZZER_SECONDS } from './limits.js';
import { PLANTED_RANGE_ERROR } from './planted.js';
import { FUZZ_TARGETS } from './targets.js';

function failure(r: FuzzRun): string {
  const input = r.crashInput ? Buffer.from(r.crashInput).toString('hex').slice(0, 400) : '(none)';
  return `${r.target} (${r.engine}): ${r.crashMessage ?? 'crash'}\n  input (hex): ${input}\n  replay: ${r.replay ?? '?'}`;
}

describe(`fuzz targets under fast-check (${CI_FAST_CHECK_RUNS} inputs each)`, () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: ${target.about}`, { timeout: 120_000 }, () => {
      const r = runFastCheck(target, { runs: CI_FAST_CHECK_RUNS });
      assert.equal(r.crashes, 0, failure(r));
      assert.ok(r.execs >= CI_FAST_CHECK_RUNS, `only ${r.execs} inputs ran`);
    });
  }
});

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-fuzz-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('fuzz targets under jazzer (coverage-guided)', () => {
  const check = jazzerAvailable();
  if (!check.ok) {
    const reason = `jazzer unavailable: ${check.reason}`;
    if (process.env['SENTINEL_FUZZ'] === 'required') it('jazzer runs (SENTINEL_FUZZ=required)', () => assert.fail(reason));
    else it('jazzer runs', { skip: reason }, () => undefined);
    return;
  }
  const launch: JazzerLaunch = check.launch;

  it(`every target in one process for ${CI_JAZZER_SECONDS} s (${launch.runtime})`, { timeout: (CI_JAZZER_SECONDS + 120) * 1000 }, () =>
    withTempDir(async (dir) => {
      // The corpus is thrown away; a crashing input is kept in .fuzz/crashes/all/ for replay.
      const r = await runJazzer(launch, { target: ALL_TARGETS, seconds: CI_JAZZER_SECONDS, corpusDir: join(dir, 'corpus'), crashDir: join(FUZZ_DIR, 'crashes', ALL_TARGETS) });
      assert.equal(r.crashes, 0, failure(r));
      const idle = FUZZ_TARGETS.filter((t) => !(r.perTarget[t.name]! > 0)).map((t) => t.name);
      assert.deepEqual(idle, [], `targets that never ran: ${idle.join(', ')}`);
      assert.ok((r.coverage ?? 0) > 0, `no coverage reported:\n${r.outputTail}`);
    }),
  );

  it('finds a planted bug and saves an input that reproduces it', { timeout: 180_000 }, () =>
    withTempDir(async (dir) => {
      const r = await runJazzer(launch, { target: PLANTED_RANGE_ERROR.name, seconds: 60, corpusDir: join(dir, 'corpus'), crashDir: join(dir, 'crashes') });
      assert.equal(r.crashes, 1, `planted bug not found in ${r.execs} inputs:\n${r.outputTail}`);
      const input = r.crashInput;
      assert.ok(input, 'no crashing input saved');
      assert.throws(() => PLANTED_RANGE_ERROR.run(Buffer.from(input)), /RangeError/);
    }),
  );
});
