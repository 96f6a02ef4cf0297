/**
 * A register hopper for signaler-cluster-limits.test.ts, run inside a lab namespace:
 *
 *   ip netns exec <ns> node dist/test/lab/signaler-cluster-hop.js '<HopSpec as JSON>'
 *
 * One identity registers at the signalers of `spec.signalers` in turn (s1, s2, s3, s1, ...),
 * one short session after the other, as fast as the answers come, until `durationMs` has
 * passed: each session says HELLO and REGISTER, waits for REGISTERED or SIGNAL_ERROR (or a
 * close, or ANSWER_TIMEOUT_MS), and is closed. It prints `progress started`, then one line
 * `result {"elapsedMs", "counts"}` and exits 0. Counts: `attempts`, `registered`,
 * `registered.<i>` (per signaler index), `rate_limited`, `signal_error.<code>`, `closed`,
 * `no_answer`, `connect_failed`.
 *
 * Without an argument it only says how to use it (the test runner loads every module
 * under test/, this one included).
 */
import { fileURLToPath } from 'node:url';
import { generateIdentity } from '../../src/identity/index.js';
import { FrameType, SignalErrorCode, decodeSignalError, encodeRegister } from '../../src/wire/index.js';
import { RawSession } from './abuse/raw-session.js';
import type { Addr } from './abuse/spec.js';

/** What the hopper is told. */
export interface HopSpec {
  signalers: Addr[];
  durationMs: number;
  listenPort: number;
}

/** What it reports. */
export interface HopResult {
  elapsedMs: number;
  counts: Record<string, number>;
}

/** The line the hopper ends with. */
export const HOP_RESULT_PREFIX = 'result ';
/** Longest the hopper runs, whatever it is told (a runaway test must not hammer on). */
const MAX_HOP_MS = 30_000;
/** Bound on one session's answer to REGISTER. */
const ANSWER_TIMEOUT_MS = 3_000;

type Answer = 'registered' | 'closed' | 'no_answer' | `signal_error.${string}`;

/** One session at `target`: HELLO, REGISTER, the answer, close. */
async function attempt(target: Addr, spec: HopSpec, identity: ReturnType<typeof generateIdentity>): Promise<Answer | 'connect_failed'> {
  let answer!: (a: Answer) => void;
  const answered = new Promise<Answer>((r) => (answer = r));
  const s = await RawSession.open({
    target,
    identity,
    hello: { listenPort: spec.listenPort, name: '' },
    onFrame: (type, payload) => {
      if (type === FrameType.REGISTERED) answer('registered');
      else if (type === FrameType.SIGNAL_ERROR) {
        const code = decodeSignalError(payload).code;
        answer(`signal_error.${Object.entries(SignalErrorCode).find(([, v]) => v === code)?.[0] ?? code}`);
      }
    },
  }).catch(() => undefined);
  if (!s) return 'connect_failed';
  void s.closed.then(() => answer('closed'));
  const timer = setTimeout(() => answer('no_answer'), ANSWER_TIMEOUT_MS);
  s.send(FrameType.REGISTER, encodeRegister({ listenPort: spec.listenPort, local: [] }));
  const a = await answered;
  clearTimeout(timer);
  s.destroy();
  await s.closed;
  return a;
}

/** Hops until the deadline; resolves with the counts. */
export async function hop(spec: HopSpec): Promise<HopResult> {
  const started = Date.now();
  const deadline = started + Math.min(spec.durationMs, MAX_HOP_MS);
  const identity = generateIdentity();
  const counts: Record<string, number> = {};
  const bump = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
  for (let i = 0; Date.now() < deadline; i++) {
    const at = i % spec.signalers.length;
    const target = spec.signalers[at];
    if (target === undefined) throw new Error('no signalers');
    bump('attempts');
    bump(`attempts.${at}`);
    const a = await attempt(target, spec, identity);
    bump(a);
    if (a === 'registered') bump(`registered.${at}`);
    if (a === 'signal_error.RATE_LIMITED') bump('rate_limited');
  }
  return { elapsedMs: Date.now() - started, counts };
}

async function main(arg: string | undefined): Promise<void> {
  if (arg === undefined) return void console.log('usage: signaler-cluster-hop.js <HopSpec as JSON>');
  const spec = JSON.parse(arg) as HopSpec;
  const watchdog = setTimeout(() => {
    console.error('hopper: did not finish in time; exiting');
    process.exit(3);
  }, Math.min(spec.durationMs, MAX_HOP_MS) + ANSWER_TIMEOUT_MS + 10_000);
  watchdog.unref();
  console.log('progress started');
  const result = await hop(spec);
  console.log(`${HOP_RESULT_PREFIX}${JSON.stringify(result)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`hopper: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
