/**
 * Shared pieces of the signaler-cluster lab tests (signaler-cluster*.test.ts): a real
 * `redis-server` on a lab host, signalers that join the cluster through it, pinned
 * `--signaler` lists, and a bounded dial loop that says how long it took.
 *
 * Redis runs inside its host's namespace, bound to every address, without persistence:
 * killing it and starting it again is what a Redis restart looks like to the cluster (it
 * comes back empty, so the signalers have to publish their nodes again).
 */
import { redisSkipReason } from '../helpers/redis.js';
import { findTool, spawnIn, type LabProcess } from './netns.js';
import { SentinelLab, tail, type DialOutcome, type LabNode, type LabSignaler } from './sentinel-procs.js';
import type { LabHost } from './topology.js';

/** Port of the lab's Redis (its own host, so the default port never collides). */
export const LAB_REDIS_PORT = 6379;
/** Bound on redis-server saying it accepts connections. */
const REDIS_READY_TIMEOUT_MS = 10_000;
/** Grace between SIGTERM and SIGKILL when Redis is stopped at the end. */
const REDIS_STOP_GRACE_MS = 2_000;
/** Pause between two attempts of {@link dialUntil}. */
const REDIAL_PAUSE_MS = 500;

/**
 * Why the Redis part cannot run here (undefined: it can). Wraps the helper of the loopback
 * Redis tests (which throws when SENTINEL_REDIS=required), and also needs the binary on
 * the PATH that `ip netns exec` searches.
 */
export function labRedisSkipReason(): string | undefined {
  const reason = redisSkipReason();
  if (reason !== undefined) return reason;
  return findTool('redis-server') === null ? 'redis-server is not on the PATH (apt-get install redis-server); signaler cluster lab tests skipped' : undefined;
}

/** A `redis-server` on one lab host that can be killed and started again on the same address. */
export class LabRedis {
  private proc: LabProcess | undefined;
  private starts = 0;

  private constructor(
    readonly host: LabHost,
    private readonly dir: string,
  ) {}

  /** Starts Redis on `hostName` (its files in a temp dir of `sl`) and waits until it serves. */
  static async start(sl: SentinelLab, hostName: string): Promise<LabRedis> {
    const r = new LabRedis(sl.lab.host(hostName), await sl.tempDir('redis'));
    await r.launch();
    return r;
  }

  /** `redis://<host ip>:6379`, what the signalers get as `--redis`. */
  get url(): string {
    return `redis://${this.host.ip}:${LAB_REDIS_PORT}`;
  }

  /** Everything the current (or last) redis-server printed, for failure messages. */
  output(): string {
    const o = this.proc?.output();
    return o === undefined ? '(not started)' : `${o.stdout}${o.stderr}`;
  }

  /** Starts a fresh, empty redis-server (the first start, or after {@link kill}). */
  async launch(): Promise<void> {
    if (this.proc !== undefined) throw new Error('LabRedis: already running');
    const args = ['--port', String(LAB_REDIS_PORT), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'notice'];
    const proc = spawnIn(this.host.ns, 'redis-server', args, { graceMs: REDIS_STOP_GRACE_MS });
    this.proc = proc;
    this.starts++;
    try {
      await proc.waitFor(/Ready to accept connections/, REDIS_READY_TIMEOUT_MS);
    } catch (err) {
      await this.stop();
      throw new Error(`redis-server (start ${this.starts}) on ${this.host.name} did not come up: ${(err as Error).message}`);
    }
  }

  /** SIGKILL, as a crash: no shutdown, and without persistence everything in it is lost. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc === undefined) return;
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await proc.exited;
  }

  /** Stops it if it runs (SIGTERM, then SIGKILL). Idempotent; the lab's cleanup removes its dir. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    await proc?.stop();
  }
}

/** Starts `sentinel-signaler --redis <url>` on `hostName`: one instance of the cluster. */
export function startClusterSignaler(sl: SentinelLab, hostName: string, redis: LabRedis, extraArgs: readonly string[] = []): Promise<LabSignaler & { dataDir: string }> {
  return sl.startSignaler(hostName, { logLevel: 'debug', extraArgs: ['--redis', redis.url, ...extraArgs] });
}

/** `ip:port#id` of each signaler, comma-separated: a pinned `--signaler` list. */
export function pinned(...signalers: readonly LabSignaler[]): string {
  return signalers.map((s) => `${s.address}#${s.id}`).join(',');
}

/** SIGKILLs a signaler (a crash: its sessions die without a goodbye) and waits for it to be gone. */
export async function crash(sig: LabSignaler): Promise<void> {
  try {
    process.kill(sig.proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await sig.proc.exited;
}

/** The signaler `node` is registered with now, by id, or a word for its state. */
export async function currentSignaler(node: LabNode): Promise<{ state: string; id: string | null; address: string }> {
  const s = (await node.status()).signaler;
  return { state: s.state, id: s.id, address: s.address };
}

/** A short name for a signaler id: `s1`, `s2`, ... or the id's start. */
export function signalerName(id: string | null, all: readonly LabSignaler[]): string {
  if (id === null) return 'none';
  const i = all.findIndex((s) => s.id === id);
  return i >= 0 ? `s${i + 1} (${all[i]?.host.name})` : `${id.slice(0, 12)}…`;
}

/** Node logs, for assertion messages. */
export function nodeLogs(...nodes: LabNode[]): string {
  return nodes.map((n) => `--- ${n.host.name} (${n.id.slice(0, 12)}) log:\n${tail(n.stderr(), 60)}`).join('\n');
}

/** Signaler logs, for assertion messages. */
export function signalerLogs(...sigs: LabSignaler[]): string {
  return sigs.map((s) => `--- signaler on ${s.host.name} (${s.id.slice(0, 12)}) log:\n${tail(s.proc.output().stderr, 40)}`).join('\n');
}

/** One line for a dial outcome: the result, or how long it took to fail and why. */
export function describeDial(o: DialOutcome): string {
  return o.ok ? `ok ${JSON.stringify(o.result)}` : `failed after ${o.elapsedMs} ms: ${o.reason}`;
}

/** What {@link dialUntil} saw: the last outcome, every failure reason, and the time spent. */
export interface DialLoop {
  last: DialOutcome;
  attempts: number;
  failures: string[];
  elapsedMs: number;
}

/**
 * Dials `target` from `node` again and again (a pause between) until a dial succeeds or
 * `boundMs` has passed; one dial never outlives the bound by more than its own timeout.
 * Returns the last outcome, whether it succeeded or not: the test asserts on it.
 */
export async function dialUntil(node: LabNode, target: string, boundMs: number): Promise<DialLoop> {
  const started = Date.now();
  const failures: string[] = [];
  for (let attempts = 1; ; attempts++) {
    const left = boundMs - (Date.now() - started);
    const last = await node.dial(target, Math.max(5_000, left));
    const elapsedMs = Date.now() - started;
    if (last.ok || elapsedMs >= boundMs) return { last, attempts, failures, elapsedMs };
    failures.push(`+${elapsedMs} ms: ${last.reason}`);
    await new Promise((r) => setTimeout(r, REDIAL_PAUSE_MS));
  }
}
