/**
 * What a new user meets, with real processes and sockets: a failed start leaves no new
 * key behind and says what failed once; the prompt's banner (in a real pseudo-terminal,
 * through script(1)) says whether the identity is new, the signaler state and the VPN,
 * then a line when the signaler connects; a signaler that changed its key is warned about
 * once, with the id to pin, and pinning it fixes it for good.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { NODE_BIN, Procs, binariesBuilt, messageLines, useProcs, type ExitResult } from '../helpers/procs.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

before(() => assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first'));

function nodeArgs(dataDir: string, port = 0): string[] {
  return ['--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1', '--signaler', 'none'];
}

/** A TCP listener on 127.0.0.1 holding a port, closed after the test. */
async function holdPort(t: { after(fn: () => unknown): void }): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

function oneLine(r: ExitResult, code: number): string {
  assert.equal(r.code, code, `exit status; stderr:\n${r.stderr}`);
  const lines = messageLines(r.stderr);
  assert.equal(lines.length, 1, `one message line, got:\n${r.stderr}`);
  return lines[0] as string;
}

describe('a failed start leaves no new key', () => {
  it('port in use: one line that says it once, no node.key; the next start creates it', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('busy');
    const port = await holdPort(t);
    const line = oneLine(await procs.runNode(nodeArgs(dir, port)), EXIT_FAILURE);
    assert.equal(line, `sentinel-node: port ${port} is already in use (another node or program?); choose another with --port`);
    assert.equal(existsSync(join(dir, 'node.key')), false, 'no key left by the failed start');
    const node = await procs.startNode({ dataDir: dir });
    assert.ok(existsSync(join(dir, 'node.key')));
    assert.match(node.stderr(), new RegExp(`node ${node.id} listening on port \\d+ \\(new identity\\)`));
  });

  it('an existing key is kept by a failed start', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('kept');
    const first = await procs.startNode({ dataDir: dir });
    assert.equal((await first.stop()).code, 0);
    const pem = await readFile(join(dir, 'node.key'), 'utf8');
    oneLine(await procs.runNode(nodeArgs(dir, await holdPort(t))), EXIT_FAILURE);
    assert.equal(await readFile(join(dir, 'node.key'), 'utf8'), pem);
  });

  it('a TUN that cannot open (required) leaves no key', { skip: process.getuid?.() === 0 ? false : 'needs root to get as far as opening the TUN' }, async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('tun');
    // `lo` exists and is no TUN: TUNSETIFF refuses it.
    const r = await procs.runNode([...nodeArgs(dir), '--tun', '--tun-name', 'lo']);
    oneLine(r, EXIT_FAILURE);
    assert.equal(existsSync(join(dir, 'node.key')), false);
  });

  it('bad flags and a bad signaler address fail before any key is made', async (t) => {
    const procs = useProcs(t);
    const cases = [['--bogus'], ['--mtu', '9', '--tun'], ['--signaler', 'no-port-here']];
    for (const [i, extra] of cases.entries()) {
      const dir = await procs.tempDir(`flags${i}`);
      const base = ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1', ...(extra[0] === '--signaler' ? [] : ['--signaler', 'none'])];
      oneLine(await procs.runNode([...base, ...extra]), EXIT_USAGE);
      assert.equal(existsSync(join(dir, 'node.key')), false, extra.join(' '));
    }
  });
});

const silent = createLogger('silent', () => {});
const servers: SignalerServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function signaler(port = 0): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent });
  await s.listen(port, '127.0.0.1');
  servers.push(s);
  return s;
}

/** `sentinel-node` in a pseudo-terminal (script(1)), so it opens the prompt; input by `send`. */
function interactive(args: readonly string[]) {
  const cmd = [process.execPath, NODE_BIN, '--no-mdns', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const text = (): string => out.replace(/\r/g, '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  return {
    text,
    send: (line: string) => child.stdin.write(`${line}\n`),
    waitFor: (re: RegExp, what: string) => waitFor(() => re.test(text()), 15_000, what).catch((err: Error) => assert.fail(`${err.message}; output so far:\n${text()}`)),
    async quit(): Promise<void> {
      child.stdin.write('/quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

describe('the prompt', { skip: existsSync('/usr/bin/script') ? false : 'script(1) (util-linux) is not installed' }, () => {
  it('the banner says new or existing identity, the signaler and the VPN; a line when the signaler connects', async (t) => {
    const procs = new Procs();
    t.after(() => procs.cleanup());
    const dir = await procs.tempDir('prompt');
    const sig = await signaler();
    const args = ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1', '--signaler', `127.0.0.1:${sig.port}`];
    const a = interactive(args);
    t.after(() => a.quit());
    await a.waitFor(/Type \/help/, 'the banner');
    const banner = a.text();
    assert.match(banner, /^Sentinel node [a-z2-7]{56}$/m);
    assert.match(banner, new RegExp(`^identity: +new \\(key just created: ${join(dir, 'node.key')}\\)$`, 'm'));
    assert.match(banner, /^listening: +127\.0\.0\.1, port \d+; data in /m);
    assert.match(banner, /^vpn: +VPN off \(start with --tun\); addresses would be 100\.\d+\.\d+\.\d+, fd58:/m);
    const sigLine = new RegExp(`connected to 127\\.0\\.0\\.1:${sig.port} \\(id ${sig.id}\\), public address 127\\.0\\.0\\.1:\\d+`);
    if (/^signaler: +connecting to /m.test(banner)) await a.waitFor(new RegExp(`^(> )?\\* signaler: ${sigLine.source}$`, 'm'), 'the signaler update');
    else assert.match(banner, new RegExp(`^signaler: +${sigLine.source}$`, 'm'));

    a.send('/status');
    await a.waitFor(/^sessions: /m, '/status');
    assert.match(a.text(), /^listening: +127\.0\.0\.1, port \d+$/m);
    assert.match(a.text(), /^nat: +none: the signaler sees one of our own addresses$/m);
    await a.quit();

    const b = interactive(args);
    t.after(() => b.quit());
    await b.waitFor(/Type \/help/, 'the second banner');
    assert.match(b.text(), new RegExp(`^identity: +existing \\(${join(dir, 'node.key')}\\)$`, 'm'));
    await b.quit();
  });
});

describe('a signaler whose id changed', () => {
  const net0 = testnet();
  after(() => net0.close());

  it('a failed dial by id says "dial failed" once and each address once', async () => {
    const a = await net0.node();
    const b = await net0.node();
    await a.dial(`127.0.0.1:${b.port}`);
    const id = b.identity.id;
    await b.close();
    await waitFor(() => a.peers().find((p) => p.id === id)?.connected === false, 20_000, 'the session to go down');
    const err = await a.dial(id).then(
      () => assert.fail('dialed a stopped node'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.message, `dial failed: ${id}: TCP connect to 127.0.0.1:${b.port}: ECONNREFUSED. Why: hole punching was not tried: no signaler configured`);
    await a.close();
  });

  it('is warned about once with the id to pin; pinning it fixes it, also after the pin is dropped', async () => {
    const old = await signaler();
    const port = old.port;
    const dir = await net0.tempDir();
    const first = await net0.node({ dataDir: dir, signaler: `127.0.0.1:${port}` });
    await waitFor(() => first.status().signaler.state === 'connected', 5_000, 'first registration (trusted on first use)');
    await first.close();
    await old.close();

    const replaced = await signaler(port);
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l));
    const n = await net0.node({ dataDir: dir, signaler: `127.0.0.1:${port}`, log });
    await waitFor(() => (n.status().counters.signaler_untrusted ?? 0) >= 3, 20_000, 'three refused attempts');
    const warnings = lines.filter((l) => / WARN /.test(l) && l.includes(`signaler 127.0.0.1:${port}`));
    assert.equal(warnings.length, 1, `one warning for ${n.status().counters.signaler_untrusted} attempts:\n${lines.join('\n')}`);
    assert.ok(warnings[0]?.includes(`proved id ${replaced.id}`), warnings[0]);
    assert.ok(warnings[0]?.includes(`pin the new id: --signaler 127.0.0.1:${port}#${replaced.id} (it replaces the remembered id)`), warnings[0]);
    await n.close();

    const pinned = await net0.node({ dataDir: dir, signaler: `127.0.0.1:${port}#${replaced.id}` });
    await waitFor(() => pinned.status().signaler.state === 'connected', 5_000, 'registered with the new pin');
    await pinned.close();
    const unpinned = await net0.node({ dataDir: dir, signaler: `127.0.0.1:${port}` });
    await waitFor(() => unpinned.status().signaler.state === 'connected', 5_000, 'registered without the pin: the pin replaced the remembered id');
    assert.equal(unpinned.status().counters.signaler_untrusted ?? 0, 0);
    await unpinned.close();
  });
});
