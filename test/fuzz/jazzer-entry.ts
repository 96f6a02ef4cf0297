/**
 * The module jazzer loads (see jazzer.ts): exports `fuzz(data)` for libFuzzer.
 *
 * SENTINEL_FUZZ_TARGET names one target, or is `all` (the default): then the first input
 * byte picks the target (index modulo the table size) and the rest is its input, so one
 * process fuzzes every target under one coverage map. SENTINEL_FUZZ_STATS names a file
 * that receives the inputs run per target when the process exits.
 *
 * Importing this module has no other effect (the test runner imports every file under
 * dist/test/).
 */
import { writeFileSync } from 'node:fs';
import { FUZZ_TARGETS, findTarget } from './targets.js';
import type { FuzzTarget } from './target.js';

const chosen = process.env['SENTINEL_FUZZ_TARGET'] ?? 'all';
const single: FuzzTarget | undefined = chosen === 'all' ? undefined : findTarget(chosen);
const counts = new Array<number>(FUZZ_TARGETS.length).fill(0);

const statsFile = process.env['SENTINEL_FUZZ_STATS'];
if (statsFile) {
  process.on('exit', () => {
    const stats = single ? { [single.name]: -1 } : Object.fromEntries(FUZZ_TARGETS.map((t, i) => [t.name, counts[i]]));
    writeFileSync(statsFile, JSON.stringify(stats));
  });
}

/** One input from libFuzzer. A throw is a finding: jazzer saves the input and stops. */
export function fuzz(data: Buffer): void {
  if (single) return single.run(data);
  if (data.length === 0) return;
  const i = data[0]! % FUZZ_TARGETS.length;
  counts[i]!++;
  FUZZ_TARGETS[i]!.run(data.subarray(1));
}
