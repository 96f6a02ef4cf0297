/**
 * The cluster store on Redis (ioredis): one command connection and one subscriber.
 *
 * Keys (all under the prefix, default `sentinel:`):
 *   node:<id>     presence hint (codec.ts), PX PRESENCE_TTL_MS, refreshed by its instance
 *   instances     sorted set: instance -> expiry in Redis's own clock (no skew between hosts)
 *   rate:<name>   token bucket hash {tokens, ts}, expiring when full again
 * Channels: bus:<instance>, one per instance.
 *
 * Commands fail at once while Redis is unreachable (no offline queue): a signaler then
 * answers from its own registrations and tells askers the cluster is unavailable, instead
 * of piling up requests (docs/SCALING.md "Failure modes").
 */
import { Redis, type RedisOptions } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { NodeId } from '../api.js';
import type { Rate } from '../core/rate.js';
import { SentinelError, errorMessage } from '../errors.js';
import type { ClusterBackend, ClusterBackendEvents } from './backend.js';

/** How long start() waits for Redis before giving up. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const HEARTBEAT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

const WITHDRAW = `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 8) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const TAKE = `${NOW_MS}
local rate = tonumber(ARGV[1]) local burst = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(s[1]) or burst
local ts = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000 * rate)
local ok = 0
if tokens >= 1 then tokens = tokens - 1 ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return ok`;

type Scripted = Redis & {
  sentinelHeartbeat(key: string, instance: string, ttl: number): Promise<string[]>;
  sentinelWithdraw(key: string, instance: Buffer): Promise<number>;
  sentinelTake(key: string, perSecond: number, burst: number): Promise<number>;
};

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(bad URL)';
  }
}

/** Checks a --redis URL: redis:// or rediss://, a host, optional port, password and /db. */
export function checkRedisUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL (expected redis://[:password@]host:port[/db] or rediss://...)`;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `the Redis URL must start with redis:// or rediss://, got ${u.protocol}//`;
  if (!u.hostname) return 'the Redis URL has no host';
  if (u.pathname && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) return `the Redis URL path must be a database number, got ${u.pathname}`;
  return undefined;
}

export class RedisBackend implements ClusterBackend {
  readonly instance = randomBytes(8).toString('hex');
  readonly label: string;
  up = false;
  private readonly cmd: Scripted;
  private readonly sub: Redis;
  private readonly instanceBytes = Buffer.from(this.instance, 'hex');
  private events: ClusterBackendEvents | undefined;
  private closed = false;
  /** The connection's last error (ioredis reports the cause there, not in the failed command). */
  private lastError: string | undefined;

  constructor(
    url: string,
    private readonly prefix = 'sentinel:',
  ) {
    this.label = redactRedisUrl(url);
    const opts: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
      // Reconnect quickly and forever: an outage ends when Redis is back.
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    };
    this.cmd = new Redis(url, { ...opts, connectionName: `sentinel-signaler-${this.instance}` }) as Scripted;
    this.sub = new Redis(url, { ...opts, enableOfflineQueue: true, connectionName: `sentinel-signaler-${this.instance}-sub` });
    this.cmd.defineCommand('sentinelHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    this.cmd.defineCommand('sentinelWithdraw', { numberOfKeys: 1, lua: WITHDRAW });
    this.cmd.defineCommand('sentinelTake', { numberOfKeys: 1, lua: TAKE });
    // Errors surface as 'close'/'end' and failed commands; without a listener ioredis prints them.
    this.cmd.on('error', (err: Error) => (this.lastError = errorMessage(err)));
    this.sub.on('error', () => {});
  }

  private get channel(): string {
    return `${this.prefix}bus:${this.instance}`;
  }

  async start(events: ClusterBackendEvents): Promise<void> {
    this.events = events;
    try {
      await Promise.all([this.cmd.connect(), this.sub.connect()]);
      await this.cmd.ping();
      await this.sub.subscribe(this.channel);
    } catch (err) {
      this.closed = true;
      this.cmd.disconnect();
      this.sub.disconnect();
      throw new SentinelError('E_CLUSTER', `cannot reach Redis at ${this.label}: ${this.lastError ?? errorMessage(err)}`);
    }
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.events?.message(message));
    this.cmd.on('ready', () => this.setUp(true));
    this.cmd.on('close', () => this.setUp(false));
    this.setUp(true);
  }

  private setUp(up: boolean): void {
    if (this.closed || this.up === up) return;
    this.up = up;
    this.events?.state(up);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private nodeKey(id: NodeId): string {
    return `${this.prefix}node:${id}`;
  }

  async putPresence(id: NodeId, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    const old = await this.cmd.setBuffer(this.nodeKey(id), value, 'PX', ttlMs, 'GET');
    return old ?? undefined;
  }

  async restorePresence(id: NodeId, value: Buffer, ttlMs: number): Promise<void> {
    await this.cmd.set(this.nodeKey(id), value, 'PX', ttlMs, 'NX');
  }

  async getPresence(id: NodeId): Promise<Buffer | undefined> {
    return (await this.cmd.getBuffer(this.nodeKey(id))) ?? undefined;
  }

  async dropPresence(id: NodeId): Promise<void> {
    await this.cmd.sentinelWithdraw(this.nodeKey(id), this.instanceBytes);
  }

  async touchPresence(ids: readonly NodeId[], ttlMs: number): Promise<NodeId[]> {
    const missing: NodeId[] = [];
    // In slices, so one refresh never holds Redis for long.
    for (let i = 0; i < ids.length; i += 1_000) {
      const slice = ids.slice(i, i + 1_000);
      const p = this.cmd.pipeline();
      for (const id of slice) p.pexpire(this.nodeKey(id), ttlMs);
      const results = (await p.exec()) ?? [];
      results.forEach(([err, n], j) => {
        if (err || n === 0) missing.push(slice[j] as NodeId);
      });
    }
    return missing;
  }

  heartbeat(ttlMs: number): Promise<string[]> {
    return this.cmd.sentinelHeartbeat(`${this.prefix}instances`, this.instance, ttlMs);
  }

  send(instance: string, msg: Buffer): void {
    this.cmd.publish(`${this.prefix}bus:${instance}`, msg).catch(() => {});
  }

  async take(key: string, rate: Rate): Promise<boolean> {
    return (await this.cmd.sentinelTake(`${this.prefix}rate:${key}`, rate.perSecond, rate.burst)) === 1;
  }

  async memoryBytes(): Promise<number> {
    const info = await this.cmd.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  }
}
