/**
 * The signaler's cluster metrics (`--redis`) on a real redis-server: instances seen, the
 * store reachable or not, and remote lookups counted, scraped over HTTP and parsed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { RedisBackend } from '../../src/cluster/redis-backend.js';
import { serveMetrics, signalerRegistry, type MetricsServer } from '../../src/metrics/endpoint.js';
import { FrameType } from '../../src/wire/index.js';
import { TestRedis, redisSkipReason } from '../helpers/redis.js';
import { scrape } from '../helpers/scrape.js';
import { destroyRawClients, rawClient } from '../helpers/signal-client.js';
import { waitFor } from '../helpers/testnet.js';

const skip = redisSkipReason();
const silent = createLogger('silent', () => {});
let redis: TestRedis;
const servers: SignalerServer[] = [];
const endpoints: MetricsServer[] = [];

before(async () => {
  if (!skip) redis = await TestRedis.start();
});
after(async () => {
  destroyRawClients();
  await Promise.allSettled(endpoints.map((e) => e.close()));
  await Promise.allSettled(servers.map((s) => s.close()));
  await redis?.stop();
});

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('signaler cluster metrics', { skip }, () => {
  it('instances, store up or down, and remote lookups', async () => {
    const prefix = `m${randomBytes(4).toString('hex')}:`;
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = new SignalerServer({ identity: generateIdentity(), log: silent, cluster: new RedisBackend(redis.url, prefix) });
      servers.push(s);
      const e = await serveMetrics({ host: '127.0.0.1', port: 0 }, signalerRegistry(s), silent);
      endpoints.push(e);
      urls.push(e.url);
      await s.listen(0, '127.0.0.1');
    }
    const [s1, s2] = servers as [SignalerServer, SignalerServer];
    await waitFor(() => servers.every((s) => s.clustered?.link.instances.length === 2), 5_000, 'heartbeats');
    const m1 = await scrape(urls[0] as string);
    assert.equal(m1.value('sentinel_signaler_cluster_up'), 1);
    assert.equal(m1.value('sentinel_signaler_cluster_instances'), 2);

    // A lookup at s1 of a node registered at s2: answered through the cluster, counted on s1.
    const a = await rawClient(s1.port, { listenPort: 7001 });
    const b = await rawClient(s2.port, { listenPort: 7002 });
    a.lookup(1, b.id.id);
    await waitFor(() => a.of(FrameType.LOOKUP_RESULT).length === 1, 5_000, 'LOOKUP_RESULT');
    const m2 = await scrape(urls[0] as string);
    assert.equal(m2.value('sentinel_signaler_lookups_total'), 1);
    assert.equal(m2.value('sentinel_signaler_cluster_events_total', { event: 'lookups_remote' }), 1);
    assert.equal(m2.value('sentinel_signaler_nodes'), 1, 'only the nodes registered at this instance');

    await redis.kill();
    await until(async () => (await scrape(urls[0] as string)).value('sentinel_signaler_cluster_up') === 0, 'cluster_up to drop to 0 with Redis down');
    await redis.restart();
    await until(async () => (await scrape(urls[0] as string)).value('sentinel_signaler_cluster_up') === 1, 'cluster_up back to 1');
  });
});
