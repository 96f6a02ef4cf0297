/**
 * The web dashboard in a real browser: Debian's chromium driven by playwright-core, in
 * front of two real nodes (real TLS, LMDB and sockets on loopback) and a real signaler.
 *
 * Skips with "no browser: ..." where chromium is not installed, unless
 * SENTINEL_BROWSER=required (CI), which makes a missing browser a failure.
 * SENTINEL_CHROMIUM overrides the browser path (default /usr/bin/chromium).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import type { SentinelNode } from '../../src/node.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const CHROMIUM = process.env.SENTINEL_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.SENTINEL_BROWSER === 'required';
/** Bound on each wait in the page (a dial with lookup and TLS, a delivery tick). */
const UI_WAIT_MS = 15_000;

const missing = existsSync(CHROMIUM) ? null : `no browser: ${CHROMIUM} is not installed (apt install chromium; SENTINEL_BROWSER=required makes this a failure)`;

describe('web dashboard in chromium', { skip: !REQUIRED && missing !== null ? missing : false }, () => {
  const net = testnet();
  let signaler: SignalerServer | undefined;
  let browser: Browser | undefined;
  let attacker: Server | undefined;
  let context: BrowserContext;
  let page: Page;
  let a: SentinelNode;
  let b: SentinelNode;
  let web: NonNullable<SentinelNode['web']>;
  /** Script errors and CSP violations on the dashboard page: there must be none. */
  const pageErrors: string[] = [];

  before(async () => {
    if (missing !== null) throw new Error(missing);
    signaler = new SignalerServer({ identity: generateIdentity(), log: createLogger('silent', () => {}) });
    await signaler.listen(0, '127.0.0.1');
    const at = `127.0.0.1:${signaler.port}`;
    a = await net.node({ signaler: at, name: 'alice', web: { host: '127.0.0.1', port: 0 } });
    b = await net.node({ signaler: at, name: 'bob' });
    web = a.web as NonNullable<SentinelNode['web']>;
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 10_000, 'both nodes registered');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(UI_WAIT_MS);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
    await net.close();
    await signaler?.close();
  });

  it('refuses the page without the token (401)', async () => {
    const r = await page.goto(web.url);
    assert.equal(r?.status(), 401);
    assert.match(await page.textContent('body') ?? '', /token required/);
  });

  it('takes the token once from the URL: HttpOnly SameSite cookie set, token gone from the URL', async () => {
    const r = await page.goto(web.loginUrl);
    assert.equal(r?.status(), 200);
    assert.equal(page.url(), web.url);
    const cookies = await context.cookies();
    const c = cookies.find((k) => k.name === `sentinel_web_${web.port}`);
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the token is not readable by scripts');
    // Live data arrived over SSE: this node's id, name and VPN address.
    await page.waitForFunction((id) => document.getElementById('node-id')?.textContent === id, a.identity.id);
    assert.equal(await page.textContent('#node-name'), 'alice');
    assert.match((await page.textContent('#node-vpn')) ?? '', new RegExp(a.id().vpn.ipv4.replace(/\./g, '\\.')));
    assert.equal(await page.textContent('#live'), 'live');
  });

  it('dials the second node by id and shows its path', async () => {
    await page.fill('#dial-target', b.identity.id);
    await page.click('#dial-form button[type=submit]');
    await page.waitForFunction((id) => (document.getElementById('dial-result')?.textContent ?? '').startsWith(`connected to ${id}`), b.identity.id);
    const peer = a.peers().find((p) => p.id === b.identity.id);
    assert.equal(peer?.connected, true);
    const row = `#peers tr[data-peer="${b.identity.id}"]`;
    await page.waitForSelector(`${row} td.path-direct`);
    assert.equal(await page.textContent(`${row} td.path`), `direct (${peer?.method}, ${peer?.address})`);
    assert.equal(await page.textContent(`${row} td.id`), 'bob');
  });

  it('sends a message, sees the delivery tick, and shows incoming text as text', async () => {
    const row = `#peers tr[data-peer="${b.identity.id}"]`;
    await page.click(`${row} button.chat-open`);
    const text = 'hello from the browser <b>not bold</b>';
    await page.fill('#chat-text', text);
    await page.click('#chat-form button[type=submit]');
    await page.waitForSelector('#messages li.mine .tick[data-status="delivered"]');
    assert.equal(await page.textContent('#messages li.mine .text'), text);
    assert.ok(b.history(a.identity.id).some((m) => m.text === text), 'the peer stored it');
    // The peer row counts the session's bytes both ways (no VPN traffic here: VPN counters would read 0 B).
    await page.waitForFunction((sel) => {
      const cell = document.querySelector(sel)?.children[3]?.textContent ?? '';
      return /^\d/.test(cell) && !cell.startsWith('0 B') && !cell.endsWith('/ 0 B');
    }, row);
    // A stranger-controlled string arrives live and stays inert text.
    const hostile = '<img src=x id=pwned onerror="document.title=1">';
    await b.send(a.identity.id, hostile);
    await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.theirs .text')].some((e) => e.textContent === t), hostile);
    assert.equal(await page.$('#pwned'), null);
    assert.equal(await page.$('#messages b'), null);
  });

  it('after a reload, the chat shows the history with its ticks, and the chart lists the peer', async () => {
    await page.reload();
    const row = `#peers tr[data-peer="${b.identity.id}"]`;
    await page.click(`${row} button.chat-open`);
    await page.waitForSelector('#messages li.mine .tick[data-status="delivered"]');
    const texts = await page.$$eval('#messages li .text', (els) => els.map((e) => e.textContent));
    assert.deepEqual(texts, b.history(a.identity.id).map((m) => m.text));
    await page.waitForFunction(() => (document.getElementById('chart-legend')?.textContent ?? '').startsWith('bob: '));
  });

  it('allows and denies the peer for the VPN', async () => {
    const button = `#peers tr[data-peer="${b.identity.id}"] button.vpn-toggle`;
    assert.equal(await page.textContent(button), 'Allow');
    await page.click(button);
    await waitFor(() => a.peers().find((p) => p.id === b.identity.id)?.vpn.allowed === true, UI_WAIT_MS, 'allowed');
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'Deny', button);
    await page.click(button);
    await waitFor(() => a.peers().find((p) => p.id === b.identity.id)?.vpn.allowed === false, UI_WAIT_MS, 'denied');
  });

  it('API: 401 without the token, 403 with a foreign Origin, 200 from the page itself', async () => {
    const post = (headers: Record<string, string>) => fetch(`${web.url}api/status`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' });
    assert.equal((await post({})).status, 401);
    const token = new URL(web.loginUrl).searchParams.get('token') as string;
    assert.equal((await post({ Authorization: `Bearer ${token}`, Origin: 'http://evil.example' })).status, 403);
    const fromPage = await page.evaluate(() => fetch('/api/status', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).then((r) => r.status));
    assert.equal(fromPage, 200);
  });

  it('Check runs netcheck through the API (or hides itself on a node without it)', async () => {
    await page.click('#netcheck');
    await page.waitForFunction(() => {
      const button = document.getElementById('netcheck') as HTMLButtonElement;
      return button.hidden || /mapping \S+, filtering \S+/.test(document.getElementById('node-nat')?.textContent ?? '');
    });
    assert.equal(await page.textContent('#error'), '');
  });

  it('the page ran without a script error or a CSP violation', () => {
    assert.deepEqual(pageErrors, []);
  });

  it('a page on another port of the same host (same site: the cookie goes along) cannot send as us', async () => {
    const before = a.counters.get('web.refused.origin');
    const body = JSON.stringify({ target: b.identity.id, text: 'forged' });
    const html = `<script>fetch(${JSON.stringify(`${web.url}api/send`)}, {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body: ${JSON.stringify(body)}}).finally(() => { document.title = 'sent'; });</script>`;
    attacker = createServer((_req, res) => res.end(html));
    await new Promise<void>((r) => attacker?.listen(0, '127.0.0.1', () => r()));
    const port = (attacker.address() as { port: number }).port;
    const evil = await context.newPage();
    await evil.goto(`http://127.0.0.1:${port}/`);
    await evil.waitForFunction(() => document.title === 'sent');
    await evil.close();
    assert.equal(a.counters.get('web.refused.origin'), before + 1);
    assert.ok(!a.history(b.identity.id).some((m) => m.text === 'forged'), 'nothing was sent');
  });
});
