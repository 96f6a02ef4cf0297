/**
 * The dashboard's HTTP server on a real loopback socket, in front of a scriptable fake
 * node: auth refusals, the control API over HTTP (same validator and dispatcher as the
 * unix socket), the SSE stream, and every bound (each refusal counted).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { after, describe, it } from 'node:test';
import { Counters } from '../../src/core/counters.js';
import { parseRequest } from '../../src/control/request.js';
import { newToken } from '../../src/web/auth.js';
import { MAX_WEB_BODY_BYTES } from '../../src/web/limits.js';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src/web/server.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';

const TOKEN = newToken();
const servers: WebServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function serve(over: Partial<WebServerOptions> = {}): Promise<{ web: WebServer; node: FakeNode; counters: Counters }> {
  const node = new FakeNode();
  const counters = new Counters();
  const web = await startWebServer({ api: node, host: '127.0.0.1', port: 0, token: TOKEN, count: (n) => counters.inc(n), ...over });
  servers.push(web);
  return { web, node, counters };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with full control of the headers (fetch forbids setting Host). */
function http(web: WebServer, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const BEARER = { Authorization: `Bearer ${TOKEN}` };

function api(web: WebServer, method: string, params: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return http(web, { method: 'POST', path: `/api/${method}`, headers: { ...BEARER, 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(params) });
}

/** Opens the SSE stream and collects its events. */
function stream(web: WebServer) {
  const events: Array<{ event: string; data: unknown }> = [];
  let buf = '';
  let waiter: (() => void) | undefined;
  const opened = new Promise<{ status: number; close: () => void; ended: Promise<void> }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, path: '/api/events', headers: BEARER, agent: false }, (res) => {
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block);
          const data = /^data: (.*)$/m.exec(block);
          if (ev && data) events.push({ event: ev[1] as string, data: JSON.parse(data[1] as string) });
          waiter?.();
        }
      });
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy(), ended });
    });
    req.on('error', reject);
    req.end();
  });
  const next = async (name: string): Promise<unknown> => {
    for (;;) {
      const i = events.findIndex((e) => e.event === name);
      if (i >= 0) return (events.splice(i, 1)[0] as { data: unknown }).data;
      await new Promise<void>((r) => (waiter = r));
    }
  };
  return { opened, next, events };
}

describe('web server: pages and auth', () => {
  it('every page needs the token (401); with it, the page comes with a strict CSP', async () => {
    const { web, counters } = await serve();
    for (const path of ['/', '/app.js', '/style.css', '/nope']) assert.equal((await http(web, { path })).status, 401, path);
    assert.equal(counters.get('web.refused.token'), 4);
    const page = await http(web, { headers: BEARER });
    assert.equal(page.status, 200);
    assert.match(page.body, /<script src="\/app.js" defer><\/script>/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal((await http(web, { path: '/app.js', headers: BEARER })).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await http(web, { path: '/nope', headers: BEARER })).status, 404);
    // No inline script or handler in the page: the CSP would block it anyway.
    assert.doesNotMatch(page.body, /<script>|\son[a-z]+=/);
  });

  it('?token= sets the cookie and redirects without the token; the cookie then works', async () => {
    const { web } = await serve();
    const r = await http(web, { path: `/?token=${TOKEN}` });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/');
    const cookie = (r.headers['set-cookie'] as string[])[0] as string;
    assert.match(cookie, /HttpOnly; SameSite=Strict; Path=\//);
    const pair = cookie.split(';')[0] as string;
    assert.equal((await http(web, { headers: { Cookie: pair } })).status, 200);
    assert.equal((await http(web, { path: `/?token=${newToken()}` })).status, 401);
  });

  it('a wrong Host (DNS rebinding) or Origin is 403 and counted', async () => {
    const { web, counters } = await serve();
    const host = await http(web, { headers: { ...BEARER, Host: `rebind.example:${web.port}` } });
    assert.equal(host.status, 403);
    const origin = await api(web, 'status', {}, { Origin: 'http://evil.example' });
    assert.equal(origin.status, 403);
    assert.equal(JSON.parse(origin.body).error.code, 'E_WEB_FORBIDDEN');
    assert.equal(counters.get('web.refused.host'), 1);
    assert.equal(counters.get('web.refused.origin'), 1);
    // Our own origin is fine.
    assert.equal((await api(web, 'status', {}, { Origin: `http://127.0.0.1:${web.port}` })).status, 200);
  });
});

describe('web server: the control API over HTTP', () => {
  it('runs a method through the same dispatcher and answers the control bodies', async () => {
    const { web, node } = await serve();
    const r = await api(web, 'id', {});
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { ok: true, result: { id: node.selfId } });
    node.peerList = [fakePeer({ id: fakeId('bob'), alias: 'bob' })];
    assert.deepEqual(JSON.parse((await api(web, 'peers', {})).body).result, node.peers());
    await api(web, 'allow', { target: 'bob' });
    assert.deepEqual(node.callsOf('setAllowed').at(-1), ['bob', true]);
  });

  it('refuses bad params with the control socket validator\'s own message (400, counted)', async () => {
    const { web, counters } = await serve();
    const r = await api(web, 'send', { target: 5, text: 'x' });
    assert.equal(r.status, 400);
    const expected = parseRequest(JSON.stringify({ id: 1, method: 'send', params: { target: 5, text: 'x' } }));
    assert.equal(expected.ok, false);
    assert.deepEqual(JSON.parse(r.body), { ok: false, error: { code: 'E_BAD_REQUEST', message: !expected.ok ? expected.message : '' } });
    assert.equal((await api(web, 'history', { limit: 0 })).status, 400);
    assert.equal((await http(web, { method: 'POST', path: '/api/status', headers: { ...BEARER, 'Content-Type': 'application/json' }, body: '{not json' })).status, 400);
    assert.equal(counters.get('web.bad_requests'), 3);
  });

  it('a coded api error is the control error body; unknown methods, GET and non-JSON bodies are refused', async () => {
    const { web, node } = await serve();
    node.fail('send', 'E_UNKNOWN_ID');
    const r = await api(web, 'send', { target: 'zz', text: 'hi' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).error.code, 'E_UNKNOWN_ID');
    assert.equal((await api(web, 'rmrf', {})).status, 404);
    assert.equal((await http(web, { path: '/api/status', headers: BEARER })).status, 405);
    assert.equal((await http(web, { method: 'POST', path: '/api/status', headers: { ...BEARER, 'Content-Type': 'text/plain' }, body: '{}' })).status, 415);
  });

  it('a body over the limit is 413 and counted', async () => {
    const { web, counters } = await serve();
    const big = Buffer.alloc(MAX_WEB_BODY_BYTES + 1, 0x20);
    const r = await http(web, { method: 'POST', path: '/api/status', headers: { ...BEARER, 'Content-Type': 'application/json' }, body: big });
    assert.equal(r.status, 413);
    assert.equal(counters.get('web.refused.body'), 1);
  });

  it('API requests beyond the in-flight bound get 429, counted', async () => {
    const { web, node, counters } = await serve({ maxInFlight: 1 });
    let open!: () => void;
    node.dialGate = new Promise<void>((r) => (open = r));
    const first = api(web, 'dial', { target: '127.0.0.1:7001' });
    await waitUntil(() => node.callsOf('dial').length === 1);
    assert.equal((await api(web, 'status', {})).status, 429);
    assert.equal(counters.get('web.refused.busy'), 1);
    open();
    assert.equal((await first).status, 200);
  });

  it('a client that goes away mid-body gives its in-flight slot back', async () => {
    const { web } = await serve({ maxInFlight: 1 });
    const s = await connect(web.port);
    s.write(`POST /api/status HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`);
    // The request holds the only slot until its connection closes.
    const statusWithin = async (want: number): Promise<number> => {
      let got = 0;
      for (let i = 0; i < 200 && got !== want; i++) {
        got = (await api(web, 'status', {})).status;
        if (got !== want) await new Promise((r) => setTimeout(r, 10));
      }
      return got;
    };
    assert.equal(await statusWithin(429), 429, 'the half-sent request holds the slot');
    s.destroy();
    const status = await statusWithin(200);
    assert.equal(status, 200, 'the slot came back');
  });

  it('connections beyond the bound are dropped and counted', async () => {
    const { web, counters } = await serve({ maxConnections: 2 });
    const held = await Promise.all([0, 1].map(() => connect(web.port)));
    const third = await connect(web.port);
    await new Promise<void>((r) => third.once('close', () => r()));
    assert.equal(counters.get('web.refused.connections'), 1);
    for (const s of held) s.destroy();
  });
});

describe('web server: live updates (SSE)', () => {
  it('sends a snapshot, node events and dial progress; unsubscribes when the last stream ends', async () => {
    const { web, node } = await serve({ snapshotIntervalMs: 60_000 });
    const s = stream(web);
    const o = await s.opened;
    assert.equal(o.status, 200);
    const snap = (await s.next('snapshot')) as { status: { id: string }; peers: unknown[] };
    assert.equal(snap.status.id, node.selfId);
    assert.equal(node.listenerCount, 1);
    node.emit({ type: 'delivered', id: 'm1', to: fakeId('bob') });
    assert.deepEqual(await s.next('delivered'), { type: 'delivered', id: 'm1', to: fakeId('bob') });
    await api(web, 'dial', { target: '127.0.0.1:7001' });
    assert.deepEqual(await s.next('progress'), { target: '127.0.0.1:7001', stage: 'resolving', message: 'resolving target' });
    o.close();
    await waitUntil(() => node.listenerCount === 0 && web.sseClients === 0);
  });

  it('streams beyond the bound get 503, counted; close() ends the open ones', async () => {
    const { web, counters } = await serve({ maxSseClients: 1 });
    const first = await stream(web).opened;
    assert.equal(first.status, 200);
    assert.equal((await stream(web).opened).status, 503);
    assert.equal(counters.get('web.refused.sse'), 1);
    await web.close();
    await first.ended;
  });
});

function connect(port: number): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

async function waitUntil(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
