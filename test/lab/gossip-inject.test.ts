/**
 * Forged, unsigned, expired and replayed peer records pushed by a test peer on another
 * host are rejected and counted by a real `sentinel-node` in the namespace lab (root only;
 * skipped with the reason otherwise, failed when SENTINEL_LAB=required).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildLab, exec, type Lab } from './index.js';
import { SentinelLab, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('gossip injection in the NAT lab');

const DIST = fileURLToPath(new URL('../../src/', import.meta.url));

// A peer with its own key that authenticates over TLS and pushes crafted records for a
// victim key: one good, one signed by the wrong key, one with a zeroed signature, one
// expired, then the good one again (a replay of the same sequence number).
const INJECTOR = `
const tls = await import('node:tls');
const { generateIdentity } = await import('${DIST}identity/index.js');
const { signRecord } = await import('${DIST}gossip/index.js');
const { encodeFrame, encodeGossipPush, encodeHello, FrameType } = await import('${DIST}wire/index.js');
const [host, port] = process.argv.slice(1);
const victim = generateIdentity();
const mallory = generateIdentity();
const now = Date.now();
const fields = { seq: now, issuedAt: now, expiresAt: now + 60000, public: [], local: [{ host: '192.168.77.7', port: 7 }] };
const good = signRecord(victim, fields);
const forged = signRecord({ publicKey: victim.publicKey, sign: (d) => mallory.sign(d) }, { ...fields, seq: now + 1, issuedAt: now + 1 });
const unsigned = Buffer.from(signRecord(victim, { ...fields, seq: now + 2, issuedAt: now + 2 }));
unsigned.fill(0, unsigned.length - 64);
const expired = signRecord(victim, { ...fields, seq: now + 3, issuedAt: now - 120000, expiresAt: now - 60000 });
const s = tls.connect({ host, port: Number(port), key: mallory.keyPem, cert: mallory.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
s.once('secureConnect', () => {
  s.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: 'injector' })));
  s.write(encodeFrame(FrameType.GOSSIP_PUSH, encodeGossipPush([good, forged, unsigned, expired])));
  setTimeout(() => s.write(encodeFrame(FrameType.GOSSIP_PUSH, encodeGossipPush([good]))), 200);
  setTimeout(() => { console.log('pushed ' + victim.id); s.destroy(); process.exit(0); }, 800);
});
`;

if (labOk) describe('gossip injection in the NAT lab', { timeout: 60_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  let a: LabNode;

  before(async () => {
    lab = await buildLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['sig', 'a', 'evil'] }] });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
    a = await sl.startNode('a', { port: 7201, signaler, extraArgs: ['--no-mdns'] });
  });

  after(async () => {
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('rejects and counts every bad record, stores only the good one, and keeps serving', async () => {
    const out = await exec(lab.host('evil').ns, process.execPath, ['--input-type=module', '-e', INJECTOR, lab.host('a').ip, '7201'], { timeoutMs: 20_000 });
    const victimId = /pushed (\w+)/.exec(out)?.[1];
    assert.ok(victimId, out);
    const counters = (await a.status()).counters;
    assert.equal(counters['gossip.bad_signature'], 2, JSON.stringify(counters));
    assert.equal(counters['gossip.expired'], 1);
    assert.equal(counters['gossip.replayed'], 1);
    const victim = (await a.peers()).find((p) => p.id === victimId);
    assert.equal(victim?.learnedFrom, 'gossip');
    assert.equal(victim?.address, '192.168.77.7:7', 'only the good record taught an address');
    assert.ok((await a.status()).signaler.state === 'connected', 'node still serving');
  });
});
