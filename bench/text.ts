/**
 * What escaping untrusted text costs: `safeLine`/`safeText` per call on typical and hostile
 * inputs, and a log line with escaping against the same line built without it (the
 * reference, measured in the same run).
 */
import { performance } from 'node:perf_hooks';
import { safeLine, safeText } from '../src/core/text.js';
import { createLogger, MAX_LOG_MESSAGE_CHARS } from '../src/log.js';
import { infoRow, type BenchResult } from './report.js';
import { median, round } from './util.js';

/** Measuring time per case and round. */
const ROUND_MS = 300;
const ROUNDS = 5;

/** Median nanoseconds per call of `f` over {@link ROUNDS} timed rounds. */
function nsPerCall(f: () => unknown): number {
  // Warm-up, and a batch size that makes one batch last about a millisecond.
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) f();
    if (performance.now() - t0 > 1 || batch >= 1 << 20) break;
    batch *= 2;
  }
  const perRound: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let calls = 0;
    const start = performance.now();
    while (performance.now() - start < ROUND_MS) {
      for (let i = 0; i < batch; i++) f();
      calls += batch;
    }
    perRound.push(((performance.now() - start) * 1e6) / calls);
  }
  return median(perRound);
}

const CLEAN = 'session with abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx down: peer stopped answering keepalives';
const HOSTILE_REASON = `bye\n2030-01-01T00:00:00.000Z ERROR forged\u001b]0;title\u0007${'\u001b[2J'.repeat(60)}`.slice(0, 256);
const MESSAGE = Array.from({ length: 1000 }, (_, i) => `line ${i} of a long message, with some ünïcödé ✓`).join('\n');
const FLOOD = '\u001b'.repeat(1 << 20);

export async function runTextBench(): Promise<BenchResult> {
  const began = performance.now();
  let sink = 0;
  const log = createLogger('info', (l) => (sink += l.length), () => 0);
  // The same line as the logger writes, without escaping: the reference.
  const rawLine = (msg: string): void => void (sink += `${new Date(0).toISOString()} ${'INFO'.padEnd(5)} ${msg}`.length);

  const clean = nsPerCall(() => safeLine(CLEAN));
  const hostile = nsPerCall(() => safeLine(HOSTILE_REASON, 1024));
  const message = nsPerCall(() => safeText(MESSAGE));
  const flood = nsPerCall(() => safeLine(FLOOD, MAX_LOG_MESSAGE_CHARS));
  const logged = nsPerCall(() => log.info(CLEAN));
  const raw = nsPerCall(() => rawLine(CLEAN));
  const loggedHostile = nsPerCall(() => log.info(HOSTILE_REASON));
  if (sink < 0) throw new Error('unreachable'); // keeps the sink live

  const us = (ns: number): string => `${round(ns / 1000, 2)} µs`;
  return {
    name: 'text',
    title: 'Escaping untrusted text (safeLine, safeText, log lines)',
    method:
      `Per-call time of the pure escaping functions in src/core/text.ts on fixed inputs, median of ${ROUNDS} rounds of ${ROUND_MS} ms ` +
      'each after a warm-up, in one process. A log line (createLogger, sink adding up lengths) is compared with the same line built ' +
      'without escaping, measured in the same run.',
    rows: [
      infoRow(`safeLine, clean ${CLEAN.length}-char log message (fast path)`, us(clean)),
      infoRow('safeLine, 256-char GOAWAY reason full of escapes, cap 1024', us(hostile)),
      infoRow(`safeText, ${MESSAGE.length}-char message of 1,000 lines`, us(message)),
      infoRow(`safeLine, 1 MiB of ESC bytes, cap ${MAX_LOG_MESSAGE_CHARS}`, us(flood)),
      infoRow('log line, clean message, escaped', us(logged), `${round(logged / raw, 2)}x unescaped`),
      infoRow('log line, clean message, not escaped (reference)', us(raw), '1.00x'),
      infoRow('log line, hostile reason, escaped', us(loggedHostile), `${round(loggedHostile / raw, 2)}x unescaped clean`),
    ],
    notes: [
      'The 1 MiB case shows that the cap bounds the work: escaping stops once the limit is passed, so beyond one regular-expression scan the cost does not grow with the input.',
    ],
    durationMs: performance.now() - began,
  };
}
