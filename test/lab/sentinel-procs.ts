/**
 * Runs the real executables inside lab namespaces: `sentinel-signaler` and
 * `sentinel-node` as long-running processes (`ip netns exec <ns> node dist/src/cli/...`),
 * and the `sentinel` client next to a node (in the same namespace; its control socket is
 * a file in the node's data dir). Needs a build first (`npx tsc -p tsconfig.json`) and a
 * lab from {@link buildLab}.
 *
 * Unlike `test/helpers/procs.ts`, nodes here listen on all interfaces and register with a
 * signaler, since the point is to be reached through the lab's NATs.
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DialResult, HistoryEntry, PeerInfo, StatusInfo } from '../../src/api.js';
import { CLIENT_BIN, NODE_BIN } from '../helpers/procs.js';
import { spawnIn, tryExec, type ExecResult, type LabProcess } from './netns.js';
import type { Lab, LabHost } from './topology.js';

/** Compiled `sentinel-signaler` entry point (this file runs from dist/test/lab/). */
export const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));
export { CLIENT_BIN, NODE_BIN };

/** Port the lab signaler listens on unless told otherwise. */
export const LAB_SIGNALER_PORT = 8888;
/** Bound on a node registering with the signaler. */
export const NODE_READY_TIMEOUT_MS = 15_000;
/** Bound on one `sentinel` invocation other than dial. */
export const CLIENT_TIMEOUT_MS = 15_000;
/** Bound on one `sentinel dial` (a failed punch takes 20 x 400 ms plus set-up). */
export const DIAL_TIMEOUT_MS = 30_000;
/** SIGTERM grace before SIGKILL when stopping a node or the signaler. */
export const STOP_GRACE_MS = 5_000;
const POLL_MS = 200;

/** A signaler running on a lab host. */
export interface LabSignaler {
  readonly host: LabHost;
  readonly port: number;
  /** Its node id, as printed at start. */
  readonly id: string;
  /** `ip:port` nodes give as `--signaler`. */
  readonly address: string;
  readonly proc: LabProcess;
  stop(): Promise<ExecResult>;
}

/** Options of {@link SentinelLab.startNode}. */
export interface LabNodeOptions {
  /** Identity port (fixed: a lab test wants to know what the NAT did with it). */
  port: number;
  /** The signaler, or `ip:port[#id]`. */
  signaler: LabSignaler | string;
  name?: string;
  /** Default `debug`, so a failing test has the whole story. */
  logLevel?: string;
  /** Default a fresh directory (a new identity). */
  dataDir?: string;
  /** Bound on registering with the signaler; default {@link NODE_READY_TIMEOUT_MS}. */
  readyTimeoutMs?: number;
  /**
   * Default true: ready once registered with the signaler. False: ready once `status`
   * answers with a bound port (for a node whose signaler is down).
   */
  waitForSignaler?: boolean;
  /** More `sentinel-node` flags, e.g. `['--tun', '--tun-name', 'sv0']`. */
  extraArgs?: readonly string[];
  /** Flags for Node.js itself, before the script, e.g. `['--cpu-prof']`. */
  nodeArgs?: readonly string[];
  /** Extra environment variables for the node, e.g. `{ SENTINEL_TUN_OFFLOAD: '0' }`. */
  env?: Readonly<Record<string, string>>;
}

/** A `sentinel-node` running on a lab host, with the `sentinel` client bound to it. */
export interface LabNode {
  readonly host: LabHost;
  readonly dataDir: string;
  readonly port: number;
  readonly id: string;
  readonly proc: LabProcess;
  /** Everything the node logged so far. */
  stderr(): string;
  /** `sentinel <args>` (raw) in the node's namespace. */
  client(args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** `sentinel <args> --json`, parsed; throws with the client's stderr on failure. */
  json<T>(args: readonly string[], timeoutMs?: number): Promise<T>;
  status(): Promise<StatusInfo>;
  peers(): Promise<PeerInfo[]>;
  history(target: string): Promise<HistoryEntry[]>;
  /** `sentinel dial <target> --json`, never throwing on a failed dial. */
  dial(target: string, timeoutMs?: number): Promise<DialOutcome>;
  stop(): Promise<ExecResult>;
}

/** How one `sentinel dial` ended, with the wall time it took as seen by the test. */
export type DialOutcome =
  | { ok: true; result: DialResult; elapsedMs: number; stderr: string }
  | { ok: false; reason: string; code: number | null; elapsedMs: number; stderr: string };

/** The one-line reason `sentinel` gives on failure (`sentinel: <reason>`), or all of stderr. */
export function failureReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = [...lines].reverse().find((l) => l.startsWith('sentinel: '));
  return line !== undefined ? line.slice('sentinel: '.length) : lines.join(' | ') || '(no message)';
}

/** The last `n` lines of `text`, for failure messages. */
export function tail(text: string, n = 40): string {
  return text.split('\n').slice(-n).join('\n');
}

/** Runs `sentinel --data-dir <dataDir> <args>` inside `ns`. */
export function runSentinel(ns: string, dataDir: string, args: readonly string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<ExecResult> {
  return tryExec(ns, process.execPath, [CLIENT_BIN, '--data-dir', dataDir, ...args], { timeoutMs });
}

/** {@link runSentinel} with `--json`, parsed; throws with the client's stderr on a non-zero exit. */
export async function runSentinelJson<T>(ns: string, dataDir: string, args: readonly string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<T> {
  const r = await runSentinel(ns, dataDir, [...args, '--json'], timeoutMs);
  if (r.code !== 0) throw new Error(`sentinel ${args.join(' ')} exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`sentinel ${args.join(' ')} --json printed no single JSON document: ${JSON.stringify(r.stdout)}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The Sentinel processes and data directories of one lab test. Call {@link cleanup}
 * from `after` before `lab.destroy()`: it stops every process it started (SIGTERM, then
 * SIGKILL) and removes the data directories.
 */
export class SentinelLab {
  private root: Promise<string> | undefined;
  private dirs = 0;
  private readonly running = new Set<{ stop(): Promise<ExecResult> }>();

  constructor(readonly lab: Lab) {}

  /** A fresh empty directory (short paths: a unix socket path must stay under 108 bytes). */
  async tempDir(name = `d${++this.dirs}`): Promise<string> {
    this.root ??= mkdtemp(join(tmpdir(), 'sntl-lab-'));
    const dir = join(await this.root, name);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /**
   * Starts `sentinel-signaler` on host `hostName` and waits until it listens. `extraArgs`
   * are more flags (e.g. `['--relay-rate', '32K']`); `script` runs another entry point
   * that takes the same flags and prints the same start lines (a test's own signaler).
   */
  async startSignaler(hostName: string, opts: { port?: number; logLevel?: string; extraArgs?: readonly string[]; script?: string } = {}): Promise<LabSignaler & { dataDir: string }> {
    const host = this.lab.host(hostName);
    const port = opts.port ?? LAB_SIGNALER_PORT;
    const dataDir = await this.tempDir(`sig${++this.dirs}`);
    const args = [opts.script ?? SIGNALER_BIN, '--port', String(port), '--host', '0.0.0.0', '--data-dir', dataDir, '--log-level', opts.logLevel ?? 'info', ...(opts.extraArgs ?? [])];
    const proc = spawnIn(host.ns, process.execPath, args, { graceMs: STOP_GRACE_MS });
    const stop = this.track(proc);
    try {
      const [, id] = (await proc.waitFor(/^signaler (\S+)$/m, NODE_READY_TIMEOUT_MS)) as [string, string];
      await proc.waitFor(/^listening on /m, NODE_READY_TIMEOUT_MS);
      return { host, port, id, address: `${host.ip}:${port}`, proc, stop, dataDir };
    } catch (err) {
      await stop();
      throw err;
    }
  }

  /**
   * Starts `sentinel-node` on host `hostName`, listening on all interfaces, and waits
   * until it is registered with its signaler (`status --json` says `connected`). Rejects
   * with the node's log if it exits, or is not registered in time.
   */
  async startNode(hostName: string, opts: LabNodeOptions): Promise<LabNode> {
    const host = this.lab.host(hostName);
    const dataDir = opts.dataDir ?? (await this.tempDir());
    const signaler = typeof opts.signaler === 'string' ? opts.signaler : opts.signaler.address;
    const args = [...(opts.nodeArgs ?? []), NODE_BIN, '--port', String(opts.port), '--data-dir', dataDir, '--signaler', signaler, '--log-level', opts.logLevel ?? 'debug'];
    if (opts.name !== undefined) args.push('--name', opts.name);
    args.push(...(opts.extraArgs ?? []));
    const proc = spawnIn(host.ns, process.execPath, args, { graceMs: STOP_GRACE_MS, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
    const stop = this.track(proc);
    const ns = host.ns;
    const json = <T>(a: readonly string[], timeoutMs?: number): Promise<T> => runSentinelJson<T>(ns, dataDir, a, timeoutMs);
    let status: StatusInfo;
    try {
      status = await this.waitRegistered(proc, () => json<StatusInfo>(['status']), opts.readyTimeoutMs ?? NODE_READY_TIMEOUT_MS, opts.waitForSignaler ?? true);
    } catch (err) {
      await stop();
      throw new Error(`sentinel-node on ${hostName} (${host.ip}:${opts.port}) not ready: ${(err as Error).message}\nnode log:\n${tail(proc.output().stderr)}`);
    }
    return {
      host,
      dataDir,
      port: status.port,
      id: status.id,
      proc,
      stderr: () => proc.output().stderr,
      client: (a, timeoutMs) => runSentinel(ns, dataDir, a, timeoutMs),
      json,
      status: () => json<StatusInfo>(['status']),
      peers: () => json<PeerInfo[]>(['peers']),
      history: (target) => json<HistoryEntry[]>(['history', target]),
      dial: (target, timeoutMs) => dialOutcome(ns, dataDir, target, timeoutMs ?? DIAL_TIMEOUT_MS),
      stop,
    };
  }

  /**
   * Polls `status` until the signaler session is up (or, with `needSignaler` false, until
   * it answers with a bound port); fails at once on a state that will not change.
   */
  private async waitRegistered(proc: LabProcess, status: () => Promise<StatusInfo>, timeoutMs: number, needSignaler = true): Promise<StatusInfo> {
    const deadline = Date.now() + timeoutMs;
    let exited: ExecResult | undefined;
    void proc.exited.then((r) => (exited = r));
    let last = 'no answer yet';
    for (;;) {
      if (exited) throw new Error(`it exited (${String(exited.code ?? exited.signal)})`);
      try {
        const s = await status();
        if ((s.signaler.state === 'connected' || !needSignaler) && s.port > 0) return s;
        if (s.signaler.state === 'untrusted') throw new Error(`signaler ${s.signaler.address} is untrusted`);
        last = `signaler state ${s.signaler.state}`;
      } catch (err) {
        if (/untrusted/.test((err as Error).message)) throw err;
        last = (err as Error).message;
      }
      if (Date.now() >= deadline) throw new Error(`not registered with the signaler within ${timeoutMs} ms (${last})`);
      await sleep(POLL_MS);
    }
  }

  /** Remembers a process for {@link cleanup}; returns its stop function. */
  private track(proc: LabProcess): () => Promise<ExecResult> {
    const entry = {
      stop: async (): Promise<ExecResult> => {
        try {
          return await proc.stop();
        } finally {
          this.running.delete(entry);
        }
      },
    };
    this.running.add(entry);
    return entry.stop;
  }

  /** Stops every process still running and removes the data directories. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.running].map((p) => p.stop()));
    const root = await this.root?.catch(() => undefined);
    this.root = undefined;
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  }
}

async function dialOutcome(ns: string, dataDir: string, target: string, timeoutMs: number): Promise<DialOutcome> {
  const started = Date.now();
  const r = await runSentinel(ns, dataDir, ['dial', target, '--json'], timeoutMs);
  const elapsedMs = Date.now() - started;
  if (r.code === 0) {
    try {
      return { ok: true, result: JSON.parse(r.stdout) as DialResult, elapsedMs, stderr: r.stderr };
    } catch {
      return { ok: false, reason: `dial --json printed no JSON: ${JSON.stringify(r.stdout)}`, code: r.code, elapsedMs, stderr: r.stderr };
    }
  }
  return { ok: false, reason: failureReason(r.stderr), code: r.code, elapsedMs, stderr: r.stderr };
}
