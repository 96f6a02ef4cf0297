/**
 * The properties every fuzz target checks, as small helpers that throw a
 * {@link FuzzViolation} when one does not hold. Engine-agnostic: jazzer and fast-check
 * both call a target's `run(data)` and treat any throw as a finding.
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isSentinelError, type ErrorCode } from '../../src/errors.js';
import { ALLOC_FACTOR, ALLOC_SLACK_BYTES } from './limits.js';

/** A property that did not hold for one input: this is what a fuzzer reports as a crash. */
export class FuzzViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzViolation';
  }
}

/** Marks an input the parser refused with one of its documented error codes. */
export const REFUSED: unique symbol = Symbol('refused');
export type Refused = typeof REFUSED;

/** One line describing any thrown value (class, code, message). */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) {
    const code = isSentinelError(err) ? ` ${err.code}` : '';
    return `${err.name}${code}: ${err.message}`;
  }
  return inspect(err, { depth: 2, breakLength: Infinity });
}

/** Throws a {@link FuzzViolation} saying `message()` unless `ok`. */
export function expect(ok: boolean, message: () => string): asserts ok {
  if (!ok) throw new FuzzViolation(message());
}

/**
 * Runs `fn`. A SentinelError with one of `codes` is the parser's documented refusal and
 * gives {@link REFUSED}; any other throw breaks the property.
 */
export function onlyCoded<T>(what: string, codes: readonly ErrorCode[], fn: () => T): T | Refused {
  try {
    return fn();
  } catch (err) {
    if (isSentinelError(err) && codes.includes(err.code)) return REFUSED;
    const allowed = codes.length > 0 ? `only ${codes.join(', ')} may be thrown` : 'it must never throw';
    throw new FuzzViolation(`${what} threw ${describeThrown(err)}; ${allowed}`, { cause: err });
  }
}

/** Runs `fn`, which must not throw at all (e.g. re-encoding a value the decoder accepted). */
export function mustNotThrow<T>(what: string, fn: () => T): T {
  const out = onlyCoded(what, [], fn);
  return out as T;
}

/** Byte-for-byte equality (canonical encodings). */
export function expectSameBytes(what: string, actual: Uint8Array, expected: Uint8Array): void {
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected), () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).subarray(0, 64).toString('hex');
    return `${what}: got ${actual.length} byte(s) ${hex(actual)}…, expected ${expected.length} byte(s) ${hex(expected)}…`;
  });
}

/** Deep strict equality of decoded values. */
export function expectSameValue(what: string, actual: unknown, expected: unknown): void {
  expect(isDeepStrictEqual(actual, expected), () => `${what}: ${short(actual)} !== ${short(expected)}`);
}

function short(v: unknown): string {
  return inspect(v, { depth: 3, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 80 });
}

/** Heap spaces that new objects of any size are allocated in (young generation, large objects). */
const ALLOCATION_SPACES = new Set(['new_space', 'new_large_object_space', 'large_object_space']);

/**
 * Bytes allocated so far by JS code: the young generation, the large-object spaces and
 * ArrayBuffers (about 1 µs, no /proc read). Old, code and map spaces are left out on
 * purpose: V8 books compiled code, bytecode and feedback there when a function first runs
 * or is optimised, which has nothing to do with the input and made the bound flaky.
 * A garbage collection between two marks can only lower the difference, so the bound may
 * miss an allocation but never invents one.
 */
export function allocationMark(): number {
  let bytes = getHeapStatistics().external_memory;
  for (const space of getHeapSpaceStatistics()) if (ALLOCATION_SPACES.has(space.space_name)) bytes += space.space_used_size;
  return bytes;
}

/** Largest allocation allowed for an input of `inputLength` bytes with the target's named `cap`. */
export function allocationBound(inputLength: number, cap = 0): number {
  return ALLOC_FACTOR * inputLength + ALLOC_SLACK_BYTES + cap;
}

/**
 * Runs `fn` (which must be deterministic and free of side effects outside itself) and
 * checks that it allocated at most {@link allocationBound}; an excess is measured once
 * more (the first run of a code path can allocate more, e.g. lazy caches) and reported
 * only if it happens again. Returns what `fn` returned.
 */
export function measureBounded<T>(what: string, inputLength: number, cap: number, fn: () => T): T {
  const bound = allocationBound(inputLength, cap);
  const before = allocationMark();
  const out = fn();
  const first = allocationMark() - before;
  if (first <= bound) return out;
  const again = allocationMark();
  fn();
  const second = allocationMark() - again;
  expect(second <= bound, () => `${what} allocated ${Math.min(first, second)} bytes for a ${inputLength}-byte input (bound ${bound})`);
  return out;
}

/**
 * Runs a parser on untrusted bytes: only `codes` may be thrown, and what it allocates
 * (even when it then refuses the input) stays within the bound.
 */
export function parseBounded<T>(what: string, codes: readonly ErrorCode[], input: { length: number }, cap: number, fn: () => T): T | Refused {
  return measureBounded(what, input.length, cap, () => onlyCoded(what, codes, fn));
}
