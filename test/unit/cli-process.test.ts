/**
 * The stop and crash policy of the long-running executables, on a fake process: signals
 * are emitted by hand and timers fire when the test says, so every outcome is exact.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { EXIT_FAILURE } from '../../src/cli/args.js';
import {
  CrashPolicy,
  FATAL_CLOSE_DEADLINE_MS,
  MAX_DETAIL_CHARS,
  REJECTION_LOG_INTERVAL_MS,
  SHUTDOWN_DEADLINE_MS,
  UNHANDLED_REJECTIONS_COUNTER,
  oneLine,
  untilStopped,
  type ProcessPort,
} from '../../src/cli/process.js';
import { SentinelError } from '../../src/errors.js';

/** A process whose signals, timers, clock, stderr and exit are all in the test's hands. */
class FakeProcess extends EventEmitter implements ProcessPort {
  lines: string[] = [];
  exits: number[] = [];
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextTimer = 1;

  write(line: string): void {
    this.lines.push(line);
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextTimer++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  now(): number {
    return this.time;
  }
  exit(code: number): void {
    this.exits.push(code);
  }
  /** Moves the clock, firing due timers in order. */
  advance(ms: number): void {
    this.time += ms;
    for (const [id, t] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.time) continue;
      this.timers.delete(id);
      t.fn();
    }
  }
  pendingTimers(): number {
    return this.timers.size;
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const never = (): Promise<void> => new Promise(() => {});

/** Resolves to the value, or to 'pending' if the promise has not settled yet. */
async function peek<T>(p: Promise<T>): Promise<T | 'pending'> {
  await settle();
  return Promise.race([p, Promise.resolve('pending' as const)]);
}

describe('untilStopped', () => {
  it('exits 0 once a graceful close finishes, and says nothing', async () => {
    const proc = new FakeProcess();
    let closed = 0;
    const s = untilStopped(async () => void (closed += 1), { name: 'n', port: proc });
    assert.equal(await peek(s.exitCode), 'pending', 'runs until a signal');
    proc.emit('SIGTERM');
    assert.equal(await s.exitCode, 0);
    assert.equal(closed, 1);
    assert.deepEqual(proc.lines, []);
    assert.equal(proc.pendingTimers(), 0, 'the deadline is cleared');
  });

  it('a close that never resolves: exits when the deadline passes, with one line', async () => {
    const proc = new FakeProcess();
    const s = untilStopped(never, { name: 'sentinel-node', port: proc });
    proc.emit('SIGINT');
    proc.advance(SHUTDOWN_DEADLINE_MS - 1);
    assert.equal(await peek(s.exitCode), 'pending', 'still waiting just before the deadline');
    proc.advance(1);
    assert.equal(await s.exitCode, EXIT_FAILURE);
    assert.deepEqual(proc.lines, ['sentinel-node: shutdown did not finish within 10 s; exiting anyway']);
  });

  it('a second signal during the close exits at once', async () => {
    const proc = new FakeProcess();
    let calls = 0;
    const s = untilStopped(() => ((calls += 1), never()), { name: 'n', port: proc });
    proc.emit('SIGTERM');
    proc.emit('SIGTERM');
    assert.equal(await s.exitCode, EXIT_FAILURE);
    assert.equal(calls, 1, 'close started once');
    assert.deepEqual(proc.lines, ['n: second stop request: exiting without waiting for the shutdown to finish']);
    proc.emit('SIGTERM');
    proc.advance(SHUTDOWN_DEADLINE_MS);
    assert.equal(proc.lines.length, 1, 'nothing more after the decision');
  });

  it('stop() works like a signal (the interactive /quit)', async () => {
    const proc = new FakeProcess();
    const s = untilStopped(never, { name: 'n', port: proc, deadlineMs: 50 });
    s.stop();
    proc.advance(50);
    assert.equal(await s.exitCode, EXIT_FAILURE);
    assert.match(proc.lines[0] ?? '', /within 50 ms/);
  });

  it('a close that fails (or throws) exits non-zero with one sanitized line', async () => {
    for (const close of [() => Promise.reject(new SentinelError('E_STORE', 'close failed:\nboom')), () => { throw new Error('sync'); }]) {
      const proc = new FakeProcess();
      const s = untilStopped(close as () => Promise<void>, { name: 'n', port: proc });
      proc.emit('SIGTERM');
      assert.equal(await s.exitCode, EXIT_FAILURE);
      assert.equal(proc.lines.length, 1);
      assert.match(proc.lines[0] ?? '', /^n: shutdown failed: /);
      assert.doesNotMatch(proc.lines[0] ?? '', /\n/);
    }
  });
});

describe('CrashPolicy', () => {
  it('survives unhandled rejections: counts each, logs one sanitized line per interval', () => {
    const proc = new FakeProcess();
    const policy = new CrashPolicy('sentinel-node', proc);
    const counted: string[] = [];
    policy.attach({ count: (n) => counted.push(n) });
    const uninstall = policy.install();
    proc.emit('unhandledRejection', new Error('boom\nFORGED 2024 INFO line\u001b]0;title\u0007'));
    for (let i = 0; i < 99; i++) proc.emit('unhandledRejection', new Error('again'));
    assert.equal(policy.rejections, 100);
    assert.equal(counted.length, 100);
    assert.ok(counted.every((n) => n === UNHANDLED_REJECTIONS_COUNTER));
    assert.deepEqual(proc.exits, [], 'the process keeps running');
    assert.deepEqual(proc.lines, ['sentinel-node: unhandled rejection, survived and counted: boom | FORGED 2024 INFO line\\x1b]0;title\\x07']);
    proc.advance(REJECTION_LOG_INTERVAL_MS);
    proc.emit('unhandledRejection', 'a string reason');
    assert.deepEqual(proc.lines.slice(1), ['sentinel-node: unhandled rejection, survived and counted (100 since the last report): a string reason']);
    uninstall();
    assert.equal(proc.listenerCount('unhandledRejection'), 0);
  });

  it('uses the service logger once attached', () => {
    const proc = new FakeProcess();
    const policy = new CrashPolicy('x', proc);
    const logged: string[] = [];
    policy.attach({ log: { warn: (l) => logged.push(`W ${l}`), error: (l) => logged.push(`E ${l}`) } });
    policy.onUnhandledRejection(new SentinelError('E_STORE_FULL'));
    assert.deepEqual(logged, ['W unhandled rejection, survived and counted: the disk is full: nothing more can be stored until space is freed (E_STORE_FULL)']);
    assert.deepEqual(proc.lines, []);
  });

  it('an uncaught exception is fatal: one line, a best-effort close, then exit non-zero', async () => {
    const proc = new FakeProcess();
    const policy = new CrashPolicy('n', proc);
    let closed = false;
    policy.attach({ close: async () => void (closed = true) });
    policy.install();
    proc.emit('uncaughtException', new TypeError('cannot read properties of undefined'));
    await settle();
    assert.equal(closed, true);
    assert.deepEqual(proc.exits, [EXIT_FAILURE]);
    assert.deepEqual(proc.lines, ['n: fatal: uncaught exception: cannot read properties of undefined; closing and exiting']);
  });

  it('a hanging emergency close is cut at its deadline; a second exception exits at once', async () => {
    const proc = new FakeProcess();
    const policy = new CrashPolicy('n', proc);
    policy.attach({ close: never });
    policy.onUncaughtException(new Error('first'));
    await settle();
    assert.deepEqual(proc.exits, []);
    proc.advance(FATAL_CLOSE_DEADLINE_MS);
    assert.deepEqual(proc.exits, [EXIT_FAILURE]);
    assert.match(proc.lines.at(-1) ?? '', /emergency close did not finish within 3 s/);

    const proc2 = new FakeProcess();
    const policy2 = new CrashPolicy('n', proc2);
    policy2.attach({ close: never });
    policy2.onUncaughtException(new Error('first'));
    policy2.onUncaughtException(new Error('second'));
    assert.deepEqual(proc2.exits, [EXIT_FAILURE]);
    assert.match(proc2.lines.at(-1) ?? '', /another uncaught exception during the emergency close: exiting now: second/);
  });

  it('exits at once when there is nothing to close', () => {
    const proc = new FakeProcess();
    new CrashPolicy('n', proc).onUncaughtException(new Error('early'));
    assert.deepEqual(proc.exits, [EXIT_FAILURE]);
  });
});

describe('oneLine', () => {
  it('keeps the code, escapes control characters, caps the length', () => {
    assert.equal(oneLine(Object.assign(new Error('no space'), { code: 'ENOSPC' })), 'no space (ENOSPC)');
    assert.equal(oneLine(new SentinelError('E_STORE', 'x')), 'store operation failed: x (E_STORE)');
    assert.equal(oneLine('a\r\nb\u009b'), 'a\\x0d | b\\x9b');
    assert.equal(oneLine('y'.repeat(10_000)), `${'y'.repeat(MAX_DETAIL_CHARS)}...`);
  });
});
