import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { main } from '../../src/cli/sentinel.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { SentinelError } from '../../src/errors.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let root: string;
let dataDir: string;
let node: FakeNode;
let server: ControlServer;

async function run(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['--data-dir', dataDir, ...argv], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

/** Runs with --json, checks success and that stdout is exactly one JSON document. */
async function runJson(...argv: string[]): Promise<unknown> {
  const r = await run(...argv, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout);
}

function assertOneLineFailure(r: Run, code: number, pattern: RegExp): void {
  assert.equal(r.code, code);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^sentinel: /);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

const ALICE = fakeId('alice');
const BOB = fakeId('bob');

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sn-cli-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  dataDir = await mkdtemp(join(root, 'd'));
  node = new FakeNode();
  node.peerList = [
    fakePeer({ id: ALICE, alias: 'alice', name: 'Alice', address: '10.0.0.2:7000', rttMs: 4.4 }),
    fakePeer({ id: BOB, connected: false, path: null, method: null, rttMs: null, address: null, lastSeen: null }),
  ];
  server = await startControlServer({ path: controlSocketPath(dataDir), api: node });
});
afterEach(async () => {
  await server.close();
});

describe('sentinel --json', () => {
  it('id prints {"id"}', async () => {
    assert.deepEqual(await runJson('id'), { id: node.selfId });
  });

  it('status prints StatusInfo', async () => {
    const s = (await runJson('status')) as { id: string; peers: number; known: number };
    assert.equal(s.id, node.selfId);
    assert.equal(s.peers, 1);
    assert.equal(s.known, 2);
  });

  it('peers prints the peer array with every field', async () => {
    const peers = (await runJson('peers')) as Array<Record<string, unknown>>;
    assert.equal(peers.length, 2);
    for (const p of peers) {
      assert.deepEqual(Object.keys(p).sort(), ['address', 'alias', 'connected', 'id', 'lastSeen', 'learnedFrom', 'method', 'name', 'path', 'relay', 'rttMs', 'trust', 'vpn']);
    }
    assert.equal(peers[0]?.id, ALICE);
  });

  it('dial prints DialResult only (no progress on stdout)', async () => {
    const r = await runJson('dial', '10.9.9.9:7000');
    assert.deepEqual(r, { id: fakeId('10.9.9.9:7000'), address: '10.9.9.9:7000', method: 'outbound', path: 'direct', relay: null, ms: 12, existing: false });
  });

  it('send joins the text words and prints SendResult', async () => {
    const r = (await runJson('send', ALICE.slice(0, 8), 'hello', 'there')) as { to: string; status: string };
    assert.equal(r.to, ALICE);
    assert.equal(r.status, 'delivered');
    assert.deepEqual(node.callsOf('send'), [[ALICE.slice(0, 8), 'hello there']]);
  });

  it('history prints HistoryEntry[] and passes target and --limit', async () => {
    node.receive(ALICE, 'one');
    node.receive(ALICE, 'two');
    const all = (await runJson('history')) as Array<{ text: string }>;
    assert.deepEqual(all.map((m) => m.text), ['one', 'two']);
    const last = (await runJson('history', 'alice', '--limit', '1')) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(last[0] ?? {}).sort(), ['from', 'id', 'request', 'status', 'text', 'timestamp', 'to']);
    assert.equal(last[0]?.text, 'two');
    assert.deepEqual(node.callsOf('history').at(-1), ['alice', 1]);
    const page = (await runJson('history', '--before', String(last[0]?.id))) as Array<{ text: string }>;
    assert.deepEqual(page.map((m) => m.text), ['one'], 'the page before the given message');
    const paged = await run('history', '--limit', '1');
    assert.match(paged.stderr, new RegExp(`older messages: sentinel history --before ${String(last[0]?.id)}`), 'says how to see the page before');
    assert.doesNotMatch((await run('history')).stderr, /older messages/, 'nothing older: no hint');
    const usage = await run('history', '--limit', '5000');
    assert.equal(usage.code, 2, 'a limit over the page cap is a usage error');
  });

  it('marks message requests, lists them, and accepts or blocks their senders', async () => {
    const stranger = fakeId('stranger');
    node.peerList.push(fakePeer({ id: stranger, trust: 'stranger' }));
    node.receive(stranger, 'hello from nobody', true);
    node.receive(stranger, 'second', true);
    const h = (await runJson('history')) as Array<{ text: string; request: boolean; status: string }>;
    assert.deepEqual(h.filter((m) => m.request).map((m) => [m.text, m.status]), [['hello from nobody', 'request'], ['second', 'request']]);
    const text = await run('history');
    assert.match(text.stdout, /request from /);
    const reqs = (await runJson('requests')) as Array<{ peer: string; count: number; preview: string }>;
    assert.deepEqual(reqs.map((r) => [r.peer, r.count, r.preview]), [[stranger, 2, 'hello from nobody']]);
    assert.deepEqual(await runJson('accept', stranger), { id: stranger, trust: 'contact', requests: 2 });
    assert.deepEqual(await runJson('requests'), []);
    assert.deepEqual(await runJson('block', stranger), { id: stranger, trust: 'blocked', requests: 0 });
    assert.deepEqual(await runJson('unblock', stranger), { id: stranger, trust: 'stranger', requests: 0 });
  });

  it('alias prints {id, alias}', async () => {
    assert.deepEqual(await runJson('alias', BOB.slice(0, 10), 'bobby'), { id: BOB, alias: 'bobby' });
  });
});

describe('peer-controlled text through sentinel', () => {
  const EVIL = 'x\n[00:00:00] alice: forged\u001b]0;title\u0007\u009b2J\u202e\u2028end';
  /** Bytes a terminal acts on, outside the line feeds that separate output lines. */
  const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  beforeEach(() => {
    node.peerList[0] = { ...(node.peerList[0] as (typeof node.peerList)[0]), name: EVIL, address: `10.0.0.2:7000${EVIL}` };
  });

  it('--json is exact (parses back to the very text) and inert on a terminal', async () => {
    node.receive(ALICE, EVIL);
    for (const command of ['history', 'peers']) {
      const r = await run(command, '--json');
      assert.equal(r.code, 0);
      assert.doesNotMatch(r.stdout, RAW_UNSAFE, `${command} --json has no raw control`);
      const doc = JSON.parse(r.stdout) as Array<{ text?: string; name?: string }>;
      if (command === 'history') assert.equal(doc[0]?.text, EVIL);
      else assert.equal(doc[0]?.name, EVIL);
    }
  });

  it('human output escapes names, addresses and texts; a message keeps its lines, indented', async () => {
    node.receive(ALICE, EVIL);
    const peers = await run('peers');
    assert.equal(peers.stdout.trimEnd().split('\n').length, 3, 'one line per peer');
    assert.doesNotMatch(peers.stdout, RAW_UNSAFE);
    const history = await run('history');
    const lines = history.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] as string, /^\[[^\]]+\] alice: x$/);
    assert.equal(lines[1], '    [00:00:00] alice: forged\\x1b]0;title\\x07\\x9b2J\\u202e\\u2028end');
    assert.doesNotMatch(history.stdout, RAW_UNSAFE);
  });

  it('an error quoting a peer\'s reason is one escaped line', async () => {
    node.fail('dial', new SentinelError('E_DIAL_FAILED', `peer said GOAWAY 3: ${EVIL}`));
    const r = await run('dial', 'x:1');
    assertOneLineFailure(r, 1, /peer said GOAWAY 3: x\\n\[00:00:00\] alice: forged\\x1b\]0;title\\x07/);
    assert.doesNotMatch(r.stderr, RAW_UNSAFE);
  });
});

describe('sentinel human output', () => {
  it('id prints the bare id', async () => {
    assert.deepEqual(await run('id'), { code: 0, stdout: `${node.selfId}\n`, stderr: '' });
  });

  it('status prints key: value lines', async () => {
    const r = await run('status');
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^id: +${node.selfId}$`, 'm'));
    assert.match(r.stdout, /^peers: +1 connected, 2 known$/m);
  });

  it('peers prints an aligned table', async () => {
    const r = await run('peers');
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] as string, /^ID +ALIAS +TRUST +NAME +ADDRESS +CONNECTION +RTT +VPN +LAST SEEN$/);
    assert.match(lines[1] as string, new RegExp(`^${ALICE.slice(0, 8)} +alice +contact +Alice +10\\.0\\.0\\.2:7000 +direct, outbound +4 ms +100\\.64\\.0\\.2 \\(not allowed\\) +`));
    assert.match(lines[2] as string, /offline +- +100\.64\.0\.2 \(not allowed\) +never$/);
    const col = (lines[0] as string).indexOf('ADDRESS');
    assert.equal((lines[1] as string).indexOf('10.0.0.2'), col, 'columns align');
  });

  it('dial prints progress on stderr and a final line on stdout', async () => {
    const r = await run('dial', '10.9.9.9:7000');
    assert.equal(r.code, 0);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [
      'resolving target',
      'connecting to 127.0.0.1:7001',
      'TLS handshake',
    ]);
    assert.equal(r.stdout, `connected directly to ${fakeId('10.9.9.9:7000')} at 10.9.9.9:7000 by outbound in 12 ms\n`);
  });

  it('send reports delivery or queueing', async () => {
    assert.equal((await run('send', 'alice', 'hi')).stdout, 'delivered to alice\n');
    assert.equal((await run('send', BOB, 'later')).stdout, `saved and queued for ${BOB.slice(0, 12)}…: delivered once the peer acknowledges it\n`);
  });

  it('history prints [time] from: text and escapes terminal controls', async () => {
    node.receive(ALICE, 'hi \u001b[2Jthere');
    await run('send', 'alice', 'back');
    const r = await run('history');
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] alice: hi \\x1b\[2Jthere$/);
    assert.match(lines[1] as string, /^\[[^\]]+\] me -> alice: back$/);
    assert.equal((await run('history', 'bob-nobody')).code, 1);
  });

  it('history with no messages says so', async () => {
    assert.equal((await run('history')).stdout, 'No messages.\n');
  });

  it('alias confirms', async () => {
    assert.equal((await run('alias', BOB, 'bobby')).stdout, `bobby is now ${BOB}\n`);
  });
});

describe('sentinel failures and help', () => {
  it('exits 1 with one line when no node is running', async () => {
    await server.close();
    const r = await run('peers');
    assertOneLineFailure(r, 1, /no node is running with data dir/);
  });

  it('exits 1 with the node error message', async () => {
    node.fail('dial', 'E_DIAL_FAILED');
    assertOneLineFailure(await run('dial', 'x:1'), 1, /dial failed/);
    assertOneLineFailure(await run('send', 'nobody', 'x', '--json'), 1, /unknown node id: nobody/);
  });

  it('exits 2 on usage errors', async () => {
    assertOneLineFailure(await run('frobnicate'), 2, /unknown command 'frobnicate'/);
    assertOneLineFailure(await run('peers', '--bogus'), 2, /unknown option --bogus/);
    assertOneLineFailure(await run('send', 'alice'), 2, /usage: sentinel send <id> <text\.\.\.>/);
    assertOneLineFailure(await run('peers', 'extra'), 2, /usage: sentinel peers/);
    assertOneLineFailure(await run('peers', '--limit', '3'), 2, /peers does not take --limit/);
    assertOneLineFailure(await run('history', '--limit', 'ten'), 2, /--limit must be an integer/);
    assertOneLineFailure(await run(), 2, /missing command/);
    assert.equal(node.calls.length, 0, 'usage errors never reach the node');
  });

  it('prints help at top level and per command without a node', async () => {
    await server.close();
    const top = await run('--help');
    assert.equal(top.code, 0);
    for (const name of ['id', 'status', 'peers', 'dial', 'send', 'history', 'alias', 'help']) {
      assert.match(top.stdout, new RegExp(`^  ${name}\\b`, 'm'));
    }
    const sub = await run('history', '-h');
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /usage: sentinel .*history \[<id>\] \[--limit N\]/);
    assert.match(sub.stdout, /--limit N/);
    assert.doesNotMatch((await run('peers', '--help')).stdout, /--limit/);
    assert.equal((await run('help', 'dial')).code, 0);
  });
});

describe('sentinel executable', () => {
  const script = new URL('../../src/cli/sentinel.js', import.meta.url).pathname;
  const exec = promisify(execFile);

  it('runs main when started directly or through a bin symlink', async () => {
    const direct = await exec(process.execPath, [script, '--data-dir', dataDir, 'id', '--json']);
    assert.deepEqual(JSON.parse(direct.stdout), { id: node.selfId });
    const link = join(dataDir, 'sentinel');
    await symlink(script, link);
    const viaLink = await exec(process.execPath, [link, '--data-dir', dataDir, 'id']);
    assert.equal(viaLink.stdout, `${node.selfId}\n`);
  });

  it('sets exit status 1 and prints one line when no node runs', async () => {
    await server.close();
    await assert.rejects(exec(process.execPath, [script, '--data-dir', dataDir, 'peers']), (err: unknown) => {
      const e = err as { code: number; stdout: string; stderr: string };
      assert.equal(e.code, 1);
      assert.equal(e.stdout, '');
      assert.match(e.stderr, /^sentinel: no node is running with data dir .*\n$/);
      return true;
    });
  });
});
