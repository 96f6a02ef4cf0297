import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { DialProgress } from '../../src/api.js';
import { connectControl, type ControlClient } from '../../src/control/client.js';
import { LineSplitter } from '../../src/control/lines.js';
import { MAX_LINE_BYTES, controlSocketPath, parseServerMessage, type ControlServerMessage } from '../../src/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { isSentinelError } from '../../src/errors.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';

/** A bare socket client that speaks raw lines, for misbehaving on purpose. */
class RawClient {
  private readonly queue: ControlServerMessage[] = [];
  private waiters: Array<(m: ControlServerMessage) => void> = [];
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    const splitter = new LineSplitter({ maxLineBytes: 1 << 20 });
    socket.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk).lines) {
        const msg = parseServerMessage(line);
        assert.ok(msg, `server sent a malformed line: ${line}`);
        const w = this.waiters.shift();
        if (w) w(msg);
        else this.queue.push(msg);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }
  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  send(text: string): void {
    this.socket.write(text);
  }
  next(): Promise<ControlServerMessage> {
    const m = this.queue.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => this.waiters.push(resolve));
  }
}

let dir: string;
let path: string;
let node: FakeNode;
let server: ControlServer | undefined;
let clients: ControlClient[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sn-ctl-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  path = controlSocketPath(await mkdtemp(join(dir, 'd')));
  node = new FakeNode();
  node.peerList = [fakePeer({ id: fakeId('alice'), alias: 'alice' }), fakePeer({ id: fakeId('bob'), connected: false })];
  server = await startControlServer({ path, api: node });
  clients = [];
});
afterEach(async () => {
  for (const c of clients) c.close();
  await server?.close();
});

async function client(): Promise<ControlClient> {
  const c = await connectControl(path);
  clients.push(c);
  return c;
}

describe('control server + client', () => {
  it('serves id, status and peers', async () => {
    const c = await client();
    assert.deepEqual(await c.call('id', {}), { id: node.selfId });
    const status = await c.call('status', {});
    assert.equal(status.id, node.selfId);
    assert.equal(status.known, 2);
    const peers = await c.call('peers', {});
    assert.deepEqual(peers, node.peerList);
  });

  it('ping: each reply as a progress event before the result; params reach the node', async () => {
    const c = await client();
    const seen: unknown[] = [];
    const r = await c.call('ping', { target: 'alice', count: 3, timeoutMs: 500 }, (p) => seen.push(p));
    assert.equal(r.id, fakeId('alice'));
    assert.deepEqual(seen.map((p) => (p as { reply: { seq: number } }).reply.seq), [1, 2, 3]);
    assert.deepEqual(r.pings.map((p) => p.seq), [1, 2, 3]);
    assert.deepEqual(node.callsOf('ping'), [['alice', { count: 3, intervalMs: undefined, timeoutMs: 500 }]]);
  });

  it('ping: stops when its client goes away (the node sees the abort)', async () => {
    let aborted: () => void = () => {};
    const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    node.ping = (_t, opts) =>
      new Promise((_resolve, reject) => {
        started();
        opts?.signal?.addEventListener('abort', () => {
          aborted();
          reject(new Error('aborted'));
        });
      });
    const c = await client();
    c.call('ping', { target: 'alice', count: 1000 }).catch(() => {});
    await running;
    c.close();
    await sawAbort;
  });

  it('forwards dial progress events before the result', async () => {
    const c = await client();
    const seen: DialProgress[] = [];
    const result = await c.call('dial', { target: '10.1.2.3:7000' }, (p) => seen.push(p));
    assert.deepEqual(seen, node.dialProgress);
    assert.equal(result.address, '10.1.2.3:7000');
    assert.equal(result.existing, false);
    assert.deepEqual(node.callsOf('dial'), [['10.1.2.3:7000']]);
  });

  it('serves send, broadcast, history and alias with their params', async () => {
    const c = await client();
    const sent = await c.call('send', { target: 'alice', text: 'hi there' });
    assert.deepEqual(sent, { id: sent.id, to: fakeId('alice'), status: 'delivered' });
    const all = await c.call('broadcast', { text: 'everyone' });
    assert.equal(all.length, 1, 'only alice is connected');
    node.receive(fakeId('alice'), 'hello back');
    const hist = await c.call('history', { target: 'alice', limit: 2 });
    assert.deepEqual(
      hist.map((h) => h.text),
      ['everyone', 'hello back'],
    );
    assert.deepEqual(node.callsOf('history'), [['alice', 2]]);
    await c.call('history', {});
    assert.deepEqual(node.callsOf('history')[1], [undefined, undefined]);
    assert.deepEqual(await c.call('alias', { target: fakeId('bob').slice(0, 6), alias: 'bobby' }), {
      id: fakeId('bob'),
      alias: 'bobby',
    });
  });

  it('passes the api error code and message through', async () => {
    const c = await client();
    await assert.rejects(c.call('send', { target: 'nobody', text: 'x' }), (err: unknown) => {
      assert.ok(isSentinelError(err, 'E_UNKNOWN_ID'));
      assert.equal(err.message, 'unknown node id: nobody');
      return true;
    });
    node.fail('dial', 'E_DIAL_FAILED');
    await assert.rejects(c.call('dial', { target: 'x:1' }), (err: unknown) => isSentinelError(err, 'E_DIAL_FAILED'));
    node.fail('peers', 'ENOSPC');
    await assert.rejects(c.call('peers', {}), (err: unknown) => isSentinelError(err, 'E_INTERNAL'));
    assert.deepEqual(await c.call('id', {}), { id: node.selfId }, 'connection survives errors');
  });

  it('answers E_INTERNAL when a result cannot be encoded, and keeps serving', async () => {
    const c = await client();
    node.peerList = [{ ...fakePeer({ id: fakeId('x') }), rttMs: 10n as unknown as number }];
    await assert.rejects(c.call('peers', {}), (err: unknown) => isSentinelError(err, 'E_INTERNAL'));
    assert.deepEqual(await c.call('id', {}), { id: node.selfId });
  });

  it('answers garbage with E_BAD_REQUEST and keeps the connection', async () => {
    const raw = await RawClient.connect(path);
    raw.send('this is not json\n');
    assert.deepEqual(await raw.next(), { id: null, ok: false, error: { code: 'E_BAD_REQUEST', message: 'request is not valid JSON' } });
    raw.send('{"id":5,"method":"launch"}\n{"id":6,"method":"send","params":{"target":"a"}}\n');
    const [a, b] = [await raw.next(), await raw.next()];
    assert.ok('ok' in a && !a.ok && a.id === 5 && a.error.code === 'E_BAD_REQUEST');
    assert.ok('ok' in b && !b.ok && b.id === 6 && b.error.code === 'E_BAD_REQUEST');
    raw.send('{"id":"q","method":"id"}\n');
    assert.deepEqual(await raw.next(), { id: 'q', ok: true, result: { id: node.selfId } });
    assert.equal(server?.counters.badRequests, 3);
    raw.socket.destroy();
  });

  it('closes only the connection that sends an oversized line', async () => {
    const good = await client();
    const raw = await RawClient.connect(path);
    raw.send('x'.repeat(MAX_LINE_BYTES + 10));
    const reply = await raw.next();
    assert.ok('ok' in reply && !reply.ok);
    assert.equal(reply.id, null);
    assert.equal(reply.error.code, 'E_BAD_REQUEST');
    await raw.closed;
    assert.deepEqual(await good.call('id', {}), { id: node.selfId });
    const late = await client();
    assert.equal((await late.call('peers', {})).length, 2);
  });

  it('serves concurrent clients independently', async () => {
    const [a, b] = [await client(), await client()];
    let release!: () => void;
    node.dialGate = new Promise((r) => (release = r));
    const dialing = a.call('dial', { target: 'slow:1' });
    assert.deepEqual(await b.call('id', {}), { id: node.selfId }, 'b is not blocked by a pending dial on a');
    release();
    assert.equal((await dialing).address, 'slow:1');
    assert.equal(server?.counters.connections, 2);
  });

  it('refuses locally a request over the line cap', async () => {
    const c = await client();
    await assert.rejects(c.call('send', { target: 'alice', text: 'y'.repeat(MAX_LINE_BYTES) }), (err: unknown) =>
      isSentinelError(err, 'E_BAD_REQUEST'),
    );
    assert.deepEqual(node.callsOf('send'), []);
  });

  it('rejects pending calls when the server goes away', async () => {
    const c = await client();
    node.dialGate = new Promise(() => {});
    const dialing = c.call('dial', { target: 'never:1' });
    await server?.close();
    await assert.rejects(dialing, (err: unknown) => isSentinelError(err, 'E_NOT_RUNNING'));
  });
});

describe('control socket file', () => {
  it('is created with mode 0600 and removed on close', async () => {
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await server?.close();
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('replaces a stale socket file left by a crashed node', async () => {
    const stalePath = controlSocketPath(await mkdtemp(join(dir, 's')));
    // A process that binds the socket and dies by SIGKILL leaves the file behind.
    const crash = `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`;
    const child = spawnSync(process.execPath, ['-e', crash]);
    assert.equal(child.signal, 'SIGKILL');
    assert.ok((await stat(stalePath)).isSocket(), 'stale socket file exists');
    const second = await startControlServer({ path: stalePath, api: node });
    try {
      const c = await connectControl(stalePath);
      assert.deepEqual(await c.call('id', {}), { id: node.selfId });
      c.close();
      assert.equal((await stat(stalePath)).mode & 0o777, 0o600);
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a live socket', async () => {
    await assert.rejects(startControlServer({ path, api: new FakeNode('other') }), (err: unknown) => {
      assert.ok(isSentinelError(err, 'E_DATA_DIR'));
      assert.match(err.message, /another node/);
      return true;
    });
    const c = await client();
    assert.deepEqual(await c.call('id', {}), { id: node.selfId }, 'first server unaffected');
  });

  it('refuses a path that is not a socket', async () => {
    const filePath = join(dir, 'plainfile.sock');
    await writeFile(filePath, 'x');
    await assert.rejects(startControlServer({ path: filePath, api: node }), (err: unknown) => isSentinelError(err, 'E_DATA_DIR'));
  });

  it('reports E_NOT_RUNNING when nothing listens', async () => {
    const nowhere = join(dir, 'none', 'control.sock');
    await assert.rejects(connectControl(nowhere), (err: unknown) => {
      assert.ok(isSentinelError(err, 'E_NOT_RUNNING'));
      assert.match(err.message, /no node is running with data dir .*none/);
      return true;
    });
  });
});
