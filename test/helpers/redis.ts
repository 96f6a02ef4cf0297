/**
 * A real `redis-server` for tests: started on a free loopback port with its own temp
 * directory, no persistence, stopped (and its directory removed) by `stop()`. `restart()`
 * kills it and starts a fresh, empty one on the same port (what a Redis restart without
 * persistence looks like to the cluster).
 *
 * Tests call {@link redisSkipReason} first and skip with its text when `redis-server` is not
 * installed (`.ci/run` installs it with apt; `SENTINEL_REDIS=required` turns the skip into
 * a failure).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_BIN = process.env.SENTINEL_REDIS_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;

/** Why Redis tests cannot run here (undefined: they can). Throws when SENTINEL_REDIS=required. */
export function redisSkipReason(): string | undefined {
  const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const reason = `${REDIS_BIN} is not installed (apt-get install redis-server); Redis cluster tests skipped`;
  if (process.env.SENTINEL_REDIS === 'required') throw new Error(`${reason}, but SENTINEL_REDIS=required`);
  return reason;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface RedisOptions {
  /** `requirepass`: the URL then carries it (redis://:password@host:port). */
  password?: string;
  /** Extra `redis-server` arguments, e.g. ['--maxmemory', '64mb']. */
  args?: string[];
}

export class TestRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly opts: RedisOptions,
  ) {}

  static async start(opts: RedisOptions = {}): Promise<TestRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-redis-'));
    const r = new TestRedis(await freePort(), dir, opts);
    await r.launch();
    return r;
  }

  /** redis://[:password@]127.0.0.1:port */
  get url(): string {
    return `redis://${this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'];
    if (this.opts.password) args.push('--requirepass', this.opts.password);
    args.push(...(this.opts.args ?? []));
    const child = spawn(REDIS_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    this.child = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await portOpen(this.port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${this.port} within ${START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL (no persistence: everything in it is lost). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kill, optionally wait `downMs`, start an empty one on the same port. */
  async restart(downMs = 0): Promise<void> {
    await this.kill();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  /** SIGKILL and remove its directory. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
