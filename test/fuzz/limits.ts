/**
 * Named budgets and bounds of the fuzz targets (test/fuzz/) and of `npm run fuzz`
 * (bench/fuzz.ts). Budgets are counts or seconds of fuzzing, never pass/fail timings.
 */

/** fast-check inputs per target in the CI test (test/fuzz/fuzz.test.ts). */
export const CI_FAST_CHECK_RUNS = 1500;
/** Seconds of coverage-guided fuzzing (one jazzer process, every target) in the CI test. */
export const CI_JAZZER_SECONDS = 12;
/** Default seconds per target (per engine) of `npm run fuzz`; `--seconds N` overrides it. */
export const LONG_RUN_SECONDS = 20;

/** Longest input the engines generate (libFuzzer `-max_len`, fast-check `maxLength`): 8 KiB. */
export const MAX_INPUT_BYTES = 8192;
/** An input running longer than this is reported as a hang (libFuzzer `-timeout`). */
export const HANG_SECONDS = 10;

/**
 * Allocation bound of one input: a parser may allocate (JS heap and ArrayBuffers together,
 * garbage included) at most ALLOC_FACTOR x the input length + ALLOC_SLACK_BYTES, plus the
 * named cap of the target when it has one (e.g. the frame decoder's MAX_PAYLOAD_SIZE).
 */
export const ALLOC_FACTOR = 64;
/** Fixed part of the allocation bound (object headers, one Buffer pool slab, V8 allocation granularity). */
export const ALLOC_SLACK_BYTES = 256 * 1024;
/**
 * Extra allocation allowed per input byte in the mDNS target: dns-packet turns every bit
 * of an NSEC/NSEC3 type bitmap into a type-name string (about 290 bytes per packet byte).
 * Linear, and capped by MAX_PACKET_BYTES (discovery/limits.ts), so accepted, not hidden.
 */
export const DNS_PACKET_ALLOC_PER_BYTE = 384;
