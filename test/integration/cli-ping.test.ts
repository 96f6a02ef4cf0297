/**
 * `sentinel ping` against real nodes: two `sentinel-node` processes on loopback (a direct
 * path, a ping that dials first, a peer that stops answering, an unknown peer with --json),
 * and two in-process nodes joined only by a real signaler's relay, pinged through the same
 * `sentinel` executable (the path is the relay).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PingResult } from '../../src/api.js';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { Procs, binariesBuilt, clientJson, runClient, type NodeProc } from '../helpers/procs.js';
import { testnet, waitFor } from '../helpers/testnet.js';

/** Milliseconds a ping waits in the loss test (short: the peer is frozen on purpose). */
const SHORT_TIMEOUT_MS = 300;

function assertAnswered(r: PingResult, count: number): void {
  assert.deepEqual(r.pings.map((p) => p.seq), Array.from({ length: count }, (_, i) => i + 1));
  for (const p of r.pings) assert.ok('rttMs' in p && p.rttMs >= 0 && Number.isFinite(p.rttMs), `ping ${p.seq} answered: ${JSON.stringify(p)}`);
  assert.equal(r.summary.sent, count);
  assert.equal(r.summary.received, count);
  assert.equal(r.summary.lossPercent, 0);
  const rtts = r.pings.map((p) => ('rttMs' in p ? p.rttMs : NaN));
  assert.deepEqual([r.summary.minMs, r.summary.maxMs], [Math.min(...rtts), Math.max(...rtts)]);
}

describe('sentinel ping between two node processes', () => {
  const procs = new Procs();
  let a: NodeProc;
  let b: NodeProc;

  before(async () => {
    assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
    [a, b] = await Promise.all([procs.startNode({ name: 'alice' }), procs.startNode({ name: 'bob' })]);
  });
  after(() => procs.cleanup());

  it('with no session yet, ping by host:port dials first (progress on stderr), then pings', async () => {
    const r = await runClient(b.dataDir, ['ping', `127.0.0.1:${a.port}`, '--count', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^connecting to 127\.0\.0\.1:\d+$/m);
    assert.match(r.stderr, /^connected directly to \w{56} at 127\.0\.0\.1:\d+ by outbound$/m);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.stdout);
    for (const [i, line] of lines.slice(0, 2).entries()) {
      assert.match(line, new RegExp(`^pong from 127\\.0\\.0\\.1:${a.port} via direct 127\\.0\\.0\\.1:${a.port} \\(dialed, lan\\): seq=${i + 1} time=\\d+\\.\\d+ ms$`));
    }
    assert.equal(lines[2], `--- 127.0.0.1:${a.port} ping statistics ---`);
    assert.match(lines[3] ?? '', /^2 sent, 2 received, 0% loss, rtt min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms$/);
  });

  it('ping <id> --count 3 --json: the direct path and three RTTs', async () => {
    const r = await clientJson<PingResult>(b.dataDir, ['ping', a.id, '--count', '3']);
    assert.equal(r.id, a.id);
    assert.equal(r.dial, null, 'the session existed');
    assert.deepEqual(r.path, { kind: 'direct', address: `127.0.0.1:${a.port}`, method: 'outbound', via: 'dialed', lan: true, relay: null, relayKind: null });
    assertAnswered(r, 3);
    for (const p of r.pings) assert.deepEqual('path' in p && p.path, r.path);
    // And from the other side: the inbound session, by a unique prefix of the id.
    const back = await clientJson<PingResult>(a.dataDir, ['ping', b.id.slice(0, 16), '--count', '1', '--interval', '1000']);
    assert.equal(back.path?.kind, 'direct');
    assert.equal(back.path?.via, 'inbound');
    assertAnswered(back, 1);
  });

  it('a peer that stops answering: each ping is lost after its timeout, exit status 1', async () => {
    process.kill(a.pid, 'SIGSTOP');
    try {
      const r = await runClient(b.dataDir, ['ping', a.id, '--count', '2', '--timeout', String(SHORT_TIMEOUT_MS), '--json']);
      assert.equal(r.code, 1, r.stderr);
      const doc = JSON.parse(r.stdout) as PingResult;
      assert.deepEqual(doc.pings, [
        { seq: 1, lost: true, reason: 'timeout' },
        { seq: 2, lost: true, reason: 'timeout' },
      ]);
      assert.deepEqual(doc.summary, { sent: 2, received: 0, lossPercent: 100, minMs: null, avgMs: null, maxMs: null });
    } finally {
      process.kill(a.pid, 'SIGCONT');
    }
    // The session survived the pause: pings are answered again.
    assertAnswered(await clientJson<PingResult>(b.dataDir, ['ping', a.id, '--count', '1']), 1);
  });

  it('an unknown peer with --json: a JSON error on stdout and a non-zero exit', async () => {
    const stranger = generateIdentity().id;
    // A full id nobody knows (and no signaler to ask), and a prefix that matches no one.
    for (const [target, code] of [[stranger, 'E_NO_ADDRESS'], ['zzzzzzzzzzzzzzzz', 'E_UNKNOWN_ID']] as const) {
      const r = await runClient(b.dataDir, ['ping', target, '--json']);
      assert.notEqual(r.code, 0);
      const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
      assert.equal(doc.ok, false);
      assert.equal(doc.error.code, code, JSON.stringify(doc));
      assert.ok(doc.error.message.length > 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'and one line on stderr');
    }
  });
});

describe('sentinel ping over a relayed session', () => {
  const net0 = testnet();
  const silent = createLogger('silent', () => {});
  let sig: SignalerServer | undefined;
  after(async () => {
    await net0.close();
    await sig?.close();
  });

  it('path.kind is relay, through the signaler, and every ping is answered', async () => {
    sig = new SignalerServer({ identity: generateIdentity(), log: silent, relay: { enabled: true } });
    await sig.listen(0, '127.0.0.1');
    // No addon: no punching, so the relay is the only way between them.
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off' });
    const b = await net0.node({ signaler: `127.0.0.1:${sig.port}`, native: 'off' });
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
    const r = await runClient(a.dataDir, ['ping', b.identity.id, '--count', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as PingResult;
    assert.equal(doc.dial?.path, 'relay', 'ping dialed first, and the dial ended relayed');
    assert.deepEqual(doc.path, {
      kind: 'relay',
      address: `127.0.0.1:${sig.port}`,
      method: 'relay',
      via: 'relay',
      lan: false,
      relay: `${sig.id} at 127.0.0.1:${sig.port}`,
      relayKind: 'signaler',
    });
    assertAnswered(doc, 2);
    const text = await runClient(a.dataDir, ['ping', b.identity.id, '--count', '1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^pong from ${b.identity.id.slice(0, 12)}… via relay ${sig.id.slice(0, 12)}… at 127\\.0\\.0\\.1:${sig.port} \\(the signaler\\): seq=1 time=[\\d.]+ ms$`, 'm'));
  });
});
