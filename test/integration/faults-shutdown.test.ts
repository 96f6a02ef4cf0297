/**
 * The stop and crash policy in real processes (real signals, real exits): a tiny
 * program run through `runAsProcess` whose close never resolves must still exit after
 * the deadline or on a second signal; an unhandled rejection is survived; an uncaught
 * exception closes and exits non-zero. No stack trace in any of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { EXIT_FAILURE } from '../../src/cli/args.js';
import { watch } from 'node:fs';
import { Procs, stackLines, type ExitResult } from '../helpers/procs.js';

const PROCESS_MODULE = new URL('../../src/cli/process.js', import.meta.url).href;
/** Short deadline for these programs (the real one, SHUTDOWN_DEADLINE_MS, is 10 s). */
const TEST_DEADLINE_MS = 400;
/** Bound on any one program here; a hang fails the test instead of stalling the suite. */
const PROGRAM_TIMEOUT_MS = 15_000;

interface Program {
  /** Resolves once the program printed `line` on stdout. */
  printed(line: string): Promise<void>;
  signal(s: NodeJS.Signals): void;
  done: Promise<ExitResult>;
}

/** Runs `body` (an async function body, in an ES module importing process.ts) as a process. */
function program(body: string): Program {
  const source = `
    import { runAsProcess, untilStopped, attachToCrashPolicy } from ${JSON.stringify(PROCESS_MODULE)};
    runAsProcess('prog', async () => { ${body} });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), PROGRAM_TIMEOUT_MS);
  const done = new Promise<ExitResult>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const printed = async (line: string): Promise<void> => {
    while (!stdout.split('\n').includes(line)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before printing ${line}: ${stderr}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { printed, signal: (s) => child.kill(s), done };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

test('a close that never resolves: SIGTERM exits after the deadline with one line', async () => {
  const p = program(`
    const s = untilStopped(() => new Promise(() => {}), { name: 'prog', deadlineMs: ${TEST_DEADLINE_MS} });
    setInterval(() => {}, 1000); // like a server: something keeps the loop busy
    console.log('ready');
    return s.exitCode;
  `);
  await p.printed('ready');
  p.signal('SIGTERM');
  const r = await p.done;
  assert.equal(r.signal, null, `exited by itself, not killed: ${r.stderr}`);
  assert.equal(r.code, EXIT_FAILURE);
  assert.deepEqual(lines(r.stderr), [`prog: shutdown did not finish within ${TEST_DEADLINE_MS} ms; exiting anyway`]);
});

test('a close that never resolves: a second signal exits at once', async () => {
  const p = program(`
    const s = untilStopped(() => { console.log('closing'); return new Promise(() => {}); }, { name: 'prog', deadlineMs: 60000 });
    setInterval(() => {}, 1000);
    console.log('ready');
    return s.exitCode;
  `);
  await p.printed('ready');
  p.signal('SIGINT');
  await p.printed('closing');
  p.signal('SIGTERM');
  const r = await p.done;
  assert.equal(r.signal, null, `exited by itself: ${r.stderr}`);
  assert.equal(r.code, EXIT_FAILURE);
  assert.deepEqual(lines(r.stderr), ['prog: second stop request: exiting without waiting for the shutdown to finish']);
});

test('an unhandled rejection is survived, counted and reported in one sanitized line', async () => {
  const p = program(`
    const counted = [];
    const s = untilStopped(async () => { console.log('counted ' + counted.join(',')); }, { name: 'prog' });
    attachToCrashPolicy({ count: (n) => counted.push(n) });
    Promise.reject(new Error('boom\\n2099-01-01T00:00:00.000Z INFO forged \\u001b]0;owned\\u0007'));
    setTimeout(() => console.log('still alive'), 50);
    setInterval(() => {}, 1000);
    return s.exitCode;
  `);
  await p.printed('still alive');
  p.signal('SIGTERM');
  const r = await p.done;
  assert.equal(r.code, 0, `a clean stop after the rejection: ${r.stderr}`);
  assert.ok(lines(r.stdout).includes('counted process.unhandled_rejections'));
  assert.deepEqual(lines(r.stderr), ['prog: unhandled rejection, survived and counted: boom | 2099-01-01T00:00:00.000Z INFO forged \\x1b]0;owned\\x07']);
  assert.deepEqual(stackLines(r.stderr), []);
});

test('an uncaught exception closes what it can and exits non-zero, without a stack trace', async () => {
  const p = program(`
    const s = untilStopped(async () => { console.log('closed'); }, { name: 'prog' });
    setTimeout(() => { throw new TypeError('x is undefined'); }, 20);
    setInterval(() => {}, 1000);
    return s.exitCode;
  `);
  const r = await p.done;
  assert.equal(r.signal, null);
  assert.equal(r.code, EXIT_FAILURE);
  assert.ok(lines(r.stdout).includes('closed'), 'the best-effort close ran');
  assert.deepEqual(lines(r.stderr), ['prog: fatal: uncaught exception: x is undefined; closing and exiting']);
  assert.deepEqual(stackLines(r.stderr), []);
});

test('sentinel-node: SIGTERM while it is still starting is a graceful stop, and the next start works', async (t) => {
  const procs = new Procs();
  t.after(() => procs.cleanup());
  const dataDir = await procs.tempDir();
  const args = ['--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', '--signaler', 'none', '--log-level', 'info'];
  // The first file the node writes in its data dir (its key) means main() is running and
  // the start is under way: identity, store, listener and control socket are still to come.
  let signalled = false;
  const watcher = watch(dataDir);
  const { child, done } = procs.spawnNode(args);
  watcher.on('change', () => {
    if (signalled) return;
    signalled = true;
    child.kill('SIGTERM');
  });
  const r = await done.finally(() => watcher.close());
  assert.ok(signalled, 'the node wrote into its data dir');
  assert.equal(r.signal, null, `the node handled the SIGTERM (not killed by it): ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(stackLines(r.stderr), []);
  // Whatever the stop interrupted, the data dir starts again.
  const node = await procs.startNode({ dataDir });
  assert.ok(node.port > 0);
  const stopped = await node.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
});
