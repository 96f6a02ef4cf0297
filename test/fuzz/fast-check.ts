/**
 * The fast-check engine: random inputs without coverage guidance, so most of them are a
 * target's valid seeds with a few mutations (a byte set, a length field set to an edge
 * value, a cut, an insertion, a deletion, a splice of another seed). That reaches the
 * fields behind the first length check, which plain random bytes almost never do.
 * The rest are plain random bytes. fast-check shrinks a failing input before reporting it.
 */
import fc from 'fast-check';
import { describeThrown } from './check.js';
import { MAX_INPUT_BYTES } from './limits.js';
import type { FuzzTarget } from './target.js';

/** Values written over length and count fields: the edges where off-by-one bugs live. */
const EDGE_VALUES = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0xffffffff];

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'edge'; at: number; value: number; width: 1 | 2 | 4 }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'splice'; at: number; other: Uint8Array; from: number; count: number };

function mutationArb(seeds: readonly Uint8Array[]): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at, value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('edge' as const), at, value: fc.constantFrom(...EDGE_VALUES), width: fc.constantFrom(1 as const, 2 as const, 4 as const) }),
    fc.record({ kind: fc.constant('cut' as const), at }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('splice' as const), at, other: fc.constantFrom(...seeds), from: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }),
  );
}

/** Applies one mutation; positions wrap around the current length. */
export function mutate(input: Uint8Array, m: Mutation): Uint8Array {
  const b = Buffer.from(input);
  const pos = (n: number): number => (b.length === 0 ? 0 : m.at % n);
  switch (m.kind) {
    case 'set':
      if (b.length > 0) b[pos(b.length)] = m.value;
      return b;
    case 'edge': {
      if (b.length < m.width) return b;
      const at = pos(b.length - m.width + 1);
      b.writeUIntBE(m.value % 2 ** (8 * m.width), at, m.width);
      return b;
    }
    case 'cut':
      return b.subarray(0, pos(b.length + 1));
    case 'insert': {
      const at = pos(b.length + 1);
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    }
    case 'delete': {
      const at = pos(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
    }
    case 'splice': {
      const at = pos(b.length + 1);
      const from = m.other.length === 0 ? 0 : m.from % m.other.length;
      return Buffer.concat([b.subarray(0, at), m.other.subarray(from, from + m.count), b.subarray(at)]);
    }
  }
}

/** Inputs for `target`: mostly mutated seeds, some random bytes, all at most MAX_INPUT_BYTES. */
export function inputArb(target: FuzzTarget): fc.Arbitrary<Uint8Array> {
  const seeds = target.seeds();
  const random = fc.uint8Array({ maxLength: 512 });
  if (seeds.length === 0) return random;
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArb(seeds), { minLength: 0, maxLength: 4 }))
    .map(([seed, ms]) => ms.reduce(mutate, seed).subarray(0, MAX_INPUT_BYTES));
  return fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: random });
}

/** Budget of one fast-check run: a number of inputs, or seconds (whichever ends first). */
export interface FastCheckBudget {
  runs?: number;
  seconds?: number;
  /** fast-check seed, for reproducing a run. */
  seed?: number;
}

/** Outcome of one engine run on one target. */
export interface FuzzRun {
  target: string;
  engine: 'fast-check' | 'jazzer';
  /** Inputs executed (fast-check: shrinking runs included). */
  execs: number;
  /** Wall-clock seconds of the run (jazzer: its process, start-up included). */
  seconds: number;
  /** Inputs per second while fuzzing (jazzer: libFuzzer's own figure, start-up excluded). */
  perSecond: number;
  /** 0 or 1: both engines stop at the first failing input. */
  crashes: number;
  /** The failing input, when there is one (fast-check: shrunk). */
  crashInput?: Uint8Array;
  /** One line: what broke. */
  crashMessage?: string;
  /** How to reproduce the run (fast-check seed, or jazzer command). */
  replay?: string;
  /** jazzer only: coverage counters reached at the end (libFuzzer `cov:`). */
  coverage?: number;
  /** jazzer only: inputs in the corpus at the end. */
  corpus?: number;
}

/** Runs `target` under fast-check for the budget. */
export function runFastCheck(target: FuzzTarget, budget: FastCheckBudget): FuzzRun {
  let execs = 0;
  const started = performance.now();
  const property = fc.property(inputArb(target), (bytes) => {
    execs++;
    target.run(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  const details = fc.check(property, {
    numRuns: budget.runs ?? Number.MAX_SAFE_INTEGER,
    ...(budget.seconds !== undefined ? { interruptAfterTimeLimit: budget.seconds * 1000 } : {}),
    ...(budget.seed !== undefined ? { seed: budget.seed } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const run: FuzzRun = {
    target: target.name,
    engine: 'fast-check',
    execs,
    seconds,
    perSecond: execs / seconds,
    crashes: details.failed ? 1 : 0,
    replay: `fast-check seed ${details.seed}`,
  };
  if (details.failed) {
    const input = details.counterexample?.[0];
    if (input) run.crashInput = input;
    run.crashMessage = details.errorInstance !== null ? describeThrown(details.errorInstance) : 'property failed';
  }
  return run;
}
