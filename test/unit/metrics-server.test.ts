/**
 * The metrics endpoint over real HTTP on loopback: only GET/HEAD /metrics, and its limits
 * (connections, header size), each refusal counted and served.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { httpGet, scrape } from '../helpers/scrape.js';
import { waitFor } from '../helpers/testnet.js';

const servers: MetricsServer[] = [];
const sockets: Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function start(limits: Parameters<typeof startMetricsServer>[0]['limits'] = {}): Promise<{ server: MetricsServer; registry: Registry }> {
  const registry = new Registry();
  new Counter({ name: 'sentinel_test_total', help: 'a test counter', registers: [registry] }).inc(3);
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, limits });
  servers.push(server);
  return { server, registry };
}

/** A raw TCP connection to the server, resolved once connected. */
function raw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    sockets.push(s);
    s.on('error', reject);
  });
}

/** Everything the server writes until it closes the connection. */
function untilClosed(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(text));
  });
}

describe('metrics endpoint', () => {
  it('GET /metrics is the registry in the Prometheus text format; HEAD has the headers only', async () => {
    const { server } = await start();
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const s = await scrape(server.url);
    assert.equal(s.value('sentinel_test_total'), 3);
    assert.equal(s.family('sentinel_test_total')?.type, 'COUNTER');
    const head = await httpGet(server.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.match(String(head.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    // A query string does not change the path.
    assert.equal((await httpGet(`${server.url}?x=1`)).status, 200);
  });

  it('other paths are 404, other methods 405 with Allow; each counted and served', async () => {
    const { server } = await start();
    const base = server.url.replace(/\/metrics$/, '');
    for (const path of ['/', '/metricsx', '/metrics/', '/favicon.ico']) assert.equal((await httpGet(base + path)).status, 404, path);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await httpGet(server.url, { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers['allow'], 'GET, HEAD');
    }
    assert.deepEqual(server.refusals(), { not_found: 4, method: 4 });
    const s = await scrape(server.url);
    assert.equal(s.value('sentinel_metrics_refused_total', { reason: 'not_found' }), 4);
    assert.equal(s.value('sentinel_metrics_refused_total', { reason: 'method' }), 4);
  });

  it('a request head over the limit is answered 431 and counted', async () => {
    const { server } = await start({ maxHeaderBytes: 1024 });
    const r = await httpGet(server.url, { headers: { 'x-big': 'a'.repeat(2048) } });
    assert.equal(r.status, 431);
    assert.equal(server.refusals().header_too_large, 1);
    // A normal request still works.
    assert.equal((await httpGet(server.url)).status, 200);
  });

  it('garbage is answered 400 and counted', async () => {
    const { server } = await start();
    const s = await raw(server.port);
    const closed = untilClosed(s);
    s.write('NOT HTTP AT ALL\r\n\r\n');
    assert.match(await closed, /^HTTP\/1\.1 400/);
    assert.equal(server.refusals().bad_request, 1);
  });

  it('a request head that does not arrive in time is answered 408 and counted, freeing the slot', async () => {
    const { server } = await start({ headersTimeoutMs: 100, requestTimeoutMs: 200, timeoutCheckMs: 20 });
    const s = await raw(server.port);
    const closed = untilClosed(s);
    s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    assert.match(await closed, /^HTTP\/1\.1 408/);
    assert.equal(server.refusals().timeout, 1);
  });

  it('connections beyond the cap are closed at accept and counted; a freed slot serves again', async () => {
    const { server } = await start({ maxConnections: 2 });
    const held = [await raw(server.port), await raw(server.port)];
    const third = await raw(server.port);
    assert.equal(await untilClosed(third), '', 'closed without an answer');
    assert.equal(server.refusals().connections, 1);
    held[0]?.destroy();
    held[1]?.destroy();
    await waitFor(() => server.connections === 0, 5_000, 'the server sees both closes');
    const s = await scrape(server.url);
    assert.equal(s.value('sentinel_metrics_refused_total', { reason: 'connections' }), 1);
  });

  it('a port in use is E_PORT_IN_USE naming the address; a foreign address is E_USAGE', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(startMetricsServer({ host: '127.0.0.1', port, registry: new Registry() }), (e: Error & { code?: string }) => e.code === 'E_PORT_IN_USE' && e.message.includes(`127.0.0.1:${port}`));
    } finally {
      blocker.close();
    }
    await assert.rejects(startMetricsServer({ host: '192.0.2.1', port: 0, registry: new Registry() }), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /not an address of this machine/.test(e.message));
  });
});
