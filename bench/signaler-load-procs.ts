/**
 * The processes of the signaler load benchmark: `sentinel-signaler` instances (the real
 * CLI, embedded or on Redis), their Redis, and what /proc says about each (CPU, RSS).
 * Everything started here is stopped by the `stop()` it returns, also after a failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { NodeId } from '../src/api.js';
import type { InstanceAddress } from './signaler-load-client.js';
import { tempDir, withTimeout } from './util.js';

const run = promisify(execFile);
/** dist/src/cli/sentinel-signaler.js, from dist/bench/. */
const SIGNALER_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'sentinel-signaler.js');
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
/** Open files a signaler or worker may have: one socket per node, plus room. */
export const FD_LIMIT = 200_000;

/** CPU (all threads, user + system) and resident memory of one process. */
export interface ProcSample {
  cpuSec: number;
  rss: number;
}

let ticks: Promise<number> | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): Promise<number> {
  ticks ??= run('getconf', ['CLK_TCK']).then(
    (r) => Number(r.stdout.trim()) || 100,
    () => 100,
  );
  return ticks;
}

/** /proc/<pid>/stat utime + stime and /proc/<pid>/status VmRSS. */
export async function procSample(pid: number): Promise<ProcSample> {
  const [stat, status, hz] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8'), ticksPerSecond()]);
  // Fields after the command name (in parentheses, may hold spaces); utime, stime are 14 and 15 of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return { cpuSec: (Number(fields[11]) + Number(fields[12])) / hz, rss: rssKb * 1024 };
}

/**
 * Raises the open-file limit of a running process (`prlimit`, needs root beyond the hard
 * limit). Returns false when that was not possible: the run is then capped by the limit.
 */
export async function raiseFdLimit(pid: number): Promise<boolean> {
  try {
    await run('prlimit', ['--pid', String(pid), `--nofile=${FD_LIMIT}:${FD_LIMIT}`]);
    return true;
  } catch {
    return false;
  }
}

/** The soft open-file limit of a running process, from /proc/<pid>/limits. */
export async function fdLimit(pid: number): Promise<number> {
  const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? NaN);
}

/** Which of the cluster flags this build of `sentinel-signaler` has (from its --help). */
export async function signalerFlags(): Promise<{ redis: boolean; maxNodes: boolean }> {
  const { stdout } = await run(process.execPath, [SIGNALER_CLI, '--help']);
  return { redis: stdout.includes('--redis'), maxNodes: stdout.includes('--max-nodes') };
}

/** A running `sentinel-signaler`. */
export interface SignalerInstance extends InstanceAddress {
  pid: number;
  /** Its open-file limit once raised (as far as it could be): one socket per node. */
  fdLimit: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await withTimeout(exited, STOP_TIMEOUT_MS, 'a process to exit after SIGTERM').catch(async () => {
    child.kill('SIGKILL');
    await exited;
  });
}

/**
 * Starts `sentinel-signaler --port 0 --host 127.0.0.1` with its own data dir (and
 * `--redis`/`--max-nodes` when given); resolves once it printed its id and address.
 */
export async function startSignaler(opts: { redisUrl?: string; maxNodes?: number }): Promise<SignalerInstance> {
  const dir = await tempDir('signaler-load');
  const args = [SIGNALER_CLI, '--port', '0', '--host', '127.0.0.1', '--data-dir', dir.path, '--log-level', 'warn'];
  if (opts.redisUrl !== undefined) args.push('--redis', opts.redisUrl);
  if (opts.maxNodes !== undefined) args.push('--max-nodes', String(opts.maxNodes));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  // Only the tail is kept: enough to say why it failed.
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4_000)));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await dir.cleanup();
  };
  try {
    const started = await withTimeout(
      new Promise<{ id: NodeId; host: string; port: number }>((resolve, reject) => {
        const check = (): void => {
          const id = /^signaler (\S+)$/m.exec(out)?.[1];
          const at = /^listening on (.+):(\d+)$/m.exec(out);
          if (id !== undefined && at) resolve({ id: id as NodeId, host: (at[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(at[2]) });
        };
        child.stdout?.on('data', check);
        child.once('exit', (code) => reject(new Error(`sentinel-signaler exited (${code}) before it listened: ${err.trim()}`)));
      }),
      START_TIMEOUT_MS,
      'sentinel-signaler to print its address',
    );
    const pid = child.pid as number;
    await raiseFdLimit(pid);
    return { ...started, pid, fdLimit: await fdLimit(pid), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `INFO memory` used_memory of the Redis at `url`, via ioredis. */
export async function redisUsedMemory(url: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const info = await r.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  } finally {
    r.disconnect();
  }
}
