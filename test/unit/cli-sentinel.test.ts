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

describe('sentinel ping', () => {
  it('prints each reply with its path and RTT, then the statistics', async () => {
    node.pingReplies = [
      { seq: 1, rttMs: 0.412, path: { kind: 'direct', address: '203.0.113.5:7000', method: 'tcp-simultaneous-open', via: 'punched', lan: false, relay: null, relayKind: null } },
      { seq: 2, lost: true, reason: 'timeout' },
      { seq: 3, rttMs: 31.25, path: { kind: 'relay', address: '198.51.100.1:8888', method: 'relay', via: 'relay', lan: false, relay: `${BOB} at 198.51.100.1:8888`, relayKind: 'signaler' } },
    ];
    const r = await run('ping', 'alice', '--count', '3', '--interval', '1500', '--timeout', '700');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'pong from alice via direct 203.0.113.5:7000 (punched): seq=1 time=0.412 ms',
        'no pong from alice: seq=2 lost (no pong in time)',
        `pong from alice via relay ${BOB.slice(0, 12)}… at 198.51.100.1:8888 (the signaler): seq=3 time=31.3 ms`,
        '--- alice ping statistics ---',
        '3 sent, 2 received, 33.3% loss, rtt min/avg/max 0.412/15.8/31.3 ms',
        '',
      ].join('\n'),
    );
    assert.deepEqual(node.callsOf('ping'), [['alice', { count: 3, intervalMs: 1500, timeoutMs: 700 }]]);
  });

  it('--json: one document with path, pings and summary; exit 1 when nothing answered', async () => {
    const doc = (await runJson('ping', 'alice', '--count', '2')) as { path: { kind: string }; pings: { seq: number; rttMs: number }[]; summary: { received: number } };
    assert.equal(doc.path.kind, 'direct');
    assert.deepEqual(doc.pings.map((p) => [p.seq, p.rttMs]), [[1, 1.5], [2, 1.5]]);
    node.pingReplies = [];
    const none = await run('ping', 'alice', '--count', '1', '--json');
    assert.equal(none.code, 1);
    assert.equal((JSON.parse(none.stdout) as { summary: { received: number } }).summary.received, 0);
  });

  it('bad counts and intervals are usage errors that never reach the node', async () => {
    assertOneLineFailure(await run('ping', 'alice', '--count', '1001'), 2, /--count must be an integer from 1 to 1000/);
    assertOneLineFailure(await run('ping', 'alice', '--interval', '10'), 2, /--interval must be an integer from 1000 to 60000/);
    assertOneLineFailure(await run('ping'), 2, /usage: sentinel ping <peer>/);
    assertOneLineFailure(await run('peers', '--count', '3'), 2, /peers does not take --count/);
    assert.equal(node.calls.length, 0);
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
    const json = await run('send', 'nobody', 'x', '--json');
    assert.equal(json.code, 1);
    assert.match(json.stderr, /^sentinel: unknown node id: nobody\n$/);
    assert.deepEqual(JSON.parse(json.stdout), { ok: false, error: { code: 'E_UNKNOWN_ID', message: 'unknown node id: nobody' } });
  });

  it('with --json every failure is also one JSON error document on stdout', async () => {
    const doc = (r: Run): { ok: boolean; error: { code: string; message: string } } => JSON.parse(r.stdout);
    // Bad args, caught before any parsing succeeds or any call is made.
    for (const argv of [['frobnicate', '--json'], ['peers', '--bogus', '--json'], ['--json', 'send', 'alice'], ['ping', 'alice', '--count', '0', '--json'], ['--json']]) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(doc(r).ok, false);
      assert.equal(doc(r).error.code, 'E_USAGE', argv.join(' '));
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
    }
    // Errors from the node keep their code and message.
    node.fail('status', 'E_STORE');
    assert.deepEqual(doc(await run('status', '--json')).error.code, 'E_STORE');
    // An errno-style error inside the node is E_INTERNAL on the wire.
    node.fail('peers', 'ENOSPC');
    assert.equal(doc(await run('peers', '--json')).error.code, 'E_INTERNAL');
    // `--json` after `--` is text, not the flag: no JSON document.
    const text = await run('send', 'nobody', '--', '--json');
    assert.equal(text.code, 1);
    assert.equal(text.stdout, '');
    // No node at all.
    await server.close();
    const down = await run('id', '--json');
    assert.equal(down.code, 1);
    assert.equal(doc(down).error.code, 'E_NOT_RUNNING');
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
