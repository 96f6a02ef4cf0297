/**
 * Drives the real executables as child processes, for end-to-end tests on loopback:
 * start `sentinel-node` headless, wait until its control socket answers and its port is
 * bound, run the `sentinel` client and parse its `--json` output.
 *
 * Every process and temp directory a {@link Procs} creates is removed by
 * {@link Procs.cleanup} (SIGTERM, then SIGKILL after a grace period); a process-exit
 * hook SIGKILLs anything still alive if a test run dies before its cleanup ran.
 * Needs a build first: the binaries are the compiled ones under `dist/src/cli/`.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusInfo } from '../../src/api.js';

// This file runs from dist/test/helpers/, so the repository root is three levels up.
/** Root of the repository (where package.json is). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Compiled `sentinel-node` entry point. */
export const NODE_BIN = fileURLToPath(new URL('../../src/cli/sentinel-node.js', import.meta.url));
/** Compiled `sentinel` client entry point. */
export const CLIENT_BIN = fileURLToPath(new URL('../../src/cli/sentinel.js', import.meta.url));

/** Default bound on one client invocation (a `send` alone may wait 3 s for an ack). */
export const CLIENT_TIMEOUT_MS = 15_000;
/** Default bound on a node becoming ready. */
export const READY_TIMEOUT_MS = 10_000;
/** How long a node gets to stop on SIGTERM before it is SIGKILLed. */
export const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 150;

/** How a finished process ended and what it printed. */
export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd?: string;
  /** Kill (SIGKILL) and reject after this long. Default {@link CLIENT_TIMEOUT_MS}. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

// ---- process bookkeeping -----------------------------------------------------

/** Every child still running, so the exit hook can kill leftovers. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
}

/** Spawns with stdin closed (so sentinel-node runs headless) and collects the output. */
function spawnCollecting(command: string, args: readonly string[], opts: RunOptions): { child: ChildProcess; done: Promise<ExitResult>; output: () => ExitResult } {
  const child = spawn(command, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const output = (): ExitResult => ({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
  const done = new Promise<ExitResult>((resolve, reject) => {
    child.once('error', reject);
    // 'close' (not 'exit') so both pipes have been read to the end.
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, output };
}

/** Runs a command to completion; rejects (after SIGKILL) if it outlives `timeoutMs`. */
export async function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<ExitResult> {
  const { child, done, output } = spawnCollecting(command, args, opts);
  const timeoutMs = opts.timeoutMs ?? CLIENT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      const o = output();
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${o.stdout}\nstderr: ${o.stderr}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node <script> ...args` with the current node binary. */
export function runScript(script: string, args: readonly string[], opts: RunOptions = {}): Promise<ExitResult> {
  return run(process.execPath, [script, ...args], opts);
}

/** Runs `sentinel --data-dir <dataDir> ...args`. */
export function runClient(dataDir: string, args: readonly string[], opts: RunOptions = {}): Promise<ExitResult> {
  return runScript(CLIENT_BIN, ['--data-dir', dataDir, ...args], opts);
}

/**
 * Runs `sentinel --data-dir <dataDir> ...args --json` and returns the parsed document.
 * Throws (with the client's stderr) on a non-zero exit or output that is not one JSON value.
 */
export async function clientJson<T>(dataDir: string, args: readonly string[], opts: RunOptions = {}): Promise<T> {
  const r = await runClient(dataDir, [...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`sentinel ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`sentinel ${args.join(' ')} --json printed no single JSON document: ${JSON.stringify(r.stdout)}`);
  }
}

// ---- small utilities -----------------------------------------------------------

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** What we wait for, for the timeout message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined/false, and returns that.
 * A probe that throws counts as "not yet"; its last error is in the timeout message.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? READY_TIMEOUT_MS);
  let last: unknown = 'never satisfied';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = 'last probe returned nothing';
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${opts.what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? POLL_INTERVAL_MS));
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

const LOG_LINE = /^\d{4}-\d\d-\d\dT\S+Z (DEBUG|INFO |WARN |ERROR) /;

/** Non-empty stderr lines that are not node log lines: what a user is told. */
export function messageLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !LOG_LINE.test(l));
}

/** Lines that look like a JavaScript stack trace. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at\s/.test(l));
}

// ---- nodes ----------------------------------------------------------------------

/** Options of {@link Procs.startNode}. */
export interface StartNodeOptions {
  /** Data dir; default a fresh one under this Procs' temp root. */
  dataDir?: string;
  /** Identity port; default 0 (any free port). */
  port?: number;
  name?: string;
  /** Default `info`, so a failing test has something to show. */
  logLevel?: string;
  readyTimeoutMs?: number;
}

/** A running `sentinel-node` child. */
export interface NodeProc {
  readonly dataDir: string;
  readonly id: string;
  /** The bound identity port (as `status` reports it). */
  readonly port: number;
  readonly pid: number;
  /** Everything the node logged so far. */
  stderr(): string;
  running(): boolean;
  /** Resolves once the process has exited. */
  readonly exited: Promise<ExitResult>;
  /** SIGTERM (graceful stop), SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<ExitResult>;
}

/**
 * One test's processes and temp directories. Create one per test (see {@link useProcs})
 * and call {@link Procs.cleanup} from `after`/`t.after`.
 */
export class Procs {
  /** A promise, so nodes started in parallel share one root. */
  private root: Promise<string> | undefined;
  private readonly children = new Set<{ child: ChildProcess; done: Promise<ExitResult> }>();
  private dirCount = 0;

  /** A fresh empty directory under this Procs' temp root. */
  async tempDir(name = `d${++this.dirCount}`): Promise<string> {
    // A short root: the control socket path must stay under 108 bytes.
    this.root ??= mkdtemp(join(tmpdir(), 'sntl-it-'));
    const dir = join(await this.root, name);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * Spawns `sentinel-node` with `args` (headless) and tracks it for cleanup. mDNS is off
   * (`--no-mdns`, unless the args say `--help`): tests send no multicast on the host's LAN.
   */
  spawnNode(args: readonly string[]): { child: ChildProcess; done: Promise<ExitResult>; output: () => ExitResult } {
    const all = args.includes('--help') || args.includes('--no-mdns') ? args : ['--no-mdns', ...args];
    const spawned = spawnCollecting(process.execPath, [NODE_BIN, ...all], {});
    const entry = { child: spawned.child, done: spawned.done.catch((err: Error) => ({ code: null, signal: null, stdout: '', stderr: err.message })) };
    this.children.add(entry);
    void entry.done.then(() => this.children.delete(entry));
    return { child: spawned.child, done: entry.done, output: spawned.output };
  }

  /** Runs `sentinel-node` with `args` expecting it to exit by itself (usage and startup errors). */
  async runNode(args: readonly string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<ExitResult> {
    const { child, done } = this.spawnNode(args);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      const r = await done;
      if (r.signal === 'SIGKILL') throw new Error(`sentinel-node ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${r.stderr}`);
      return r;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts a headless node on 127.0.0.1 (no signaler) and waits until `status` answers
   * with its port bound. Rejects with the node's stderr if it exits or is not ready in time.
   */
  async startNode(opts: StartNodeOptions = {}): Promise<NodeProc> {
    const dataDir = opts.dataDir ?? (await this.tempDir());
    const args = ['--data-dir', dataDir, '--port', String(opts.port ?? 0), '--host', '127.0.0.1', '--signaler', 'none', '--log-level', opts.logLevel ?? 'info'];
    if (opts.name !== undefined) args.push('--name', opts.name);
    const { child, done, output } = this.spawnNode(args);
    let exited: ExitResult | undefined;
    void done.then((r) => (exited = r));
    const status = await waitUntil(
      async () => {
        if (exited) throw new Error(`sentinel-node exited (${exited.code ?? exited.signal}) before it was ready; stderr:\n${exited.stderr}`);
        // The control socket comes up before the identity port is bound; port 0 = not yet.
        const s = await clientJson<StatusInfo>(dataDir, ['status'], { timeoutMs: 5_000 });
        return s.port > 0 ? s : undefined;
      },
      { what: `sentinel-node in ${dataDir} to be ready`, timeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS },
    ).catch((err: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\nnode stderr:\n${output().stderr}`);
    });
    return {
      dataDir,
      id: status.id,
      port: status.port,
      pid: child.pid ?? -1,
      stderr: () => output().stderr,
      running: () => child.exitCode === null && child.signalCode === null,
      exited: done,
      stop: (graceMs) => stopChild(child, done, graceMs),
    };
  }

  /** Stops every process this Procs started (SIGTERM, then SIGKILL) and removes its temp root. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.children].map(({ child, done }) => stopChild(child, done, STOP_GRACE_MS)));
    const root = await this.root?.catch(() => undefined);
    this.root = undefined;
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess, done: Promise<ExitResult>, graceMs = STOP_GRACE_MS): Promise<ExitResult> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/** Minimal view of a test context: anything with `after(fn)` (node:test's `t`). */
export interface HasAfter {
  after(fn: () => unknown): void;
}

/** A {@link Procs} cleaned up when test `t` ends, whatever the outcome. */
export function useProcs(t: HasAfter): Procs {
  const procs = new Procs();
  t.after(() => procs.cleanup());
  return procs;
}

/** True when the compiled binaries exist (tests fail with a hint otherwise). */
export function binariesBuilt(): boolean {
  return existsSync(NODE_BIN) && existsSync(CLIENT_BIN);
}
