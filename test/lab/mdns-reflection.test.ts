/**
 * mDNS reflection, replayed on a lab LAN (root only; skipped with the reason otherwise,
 * failed when SENTINEL_LAB=required). Issue 8: unicast mDNS responses announcing fresh ids
 * at a victim address made a node open thousands of connections to the victim.
 *
 * One LAN (192.168.1.0/24 behind a router) holds the node under attack (n1), a real peer
 * (p2), an on-link attacker (a3) and an on-link victim (v4). On the internet side are an
 * off-link attacker (x5), routed into the LAN by the router for UDP 5353 only, and an
 * off-link victim (w6). Each attack sends 50 responses per second for 4 s, each announcing
 * 8 fresh ids at the victim; nftables counts the SYNs each victim receives.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { StatusInfo } from '../../src/api.js';
import { ADDRESS_WINDOW_MS, MAX_HINTS_PER_ADDRESS } from '../../src/discovery/index.js';
import { buildLab, exec, loadRuleset, spawnIn, type Lab, type LabProcess } from './index.js';
import { SentinelLab, tail, type LabNode } from './sentinel-procs.js';
import { labAvailable, sleep } from './gate.js';

const labOk = await labAvailable('mDNS reflection attacks in the NAT lab');

/** The compiled dist/ root (this file runs from dist/test/lab/). */
const DIST = new URL('../../', import.meta.url).href;
const DNS_PACKET = createRequire(import.meta.url).resolve('dns-packet');
const NODE_PORT = 7200;
/** The port the forged announcements point at, where the victims count SYNs. */
const VICTIM_PORT = 7300;
const RATE_PPS = 50;
const ATTACK_S = 4;
/** After an attack, time for any dial it caused to reach the victim. */
const SETTLE_MS = 2_000;
const DISCOVERY_TIMEOUT_MS = 20_000;

/**
 * Sends RATE_PPS unicast mDNS responses per second for ATTACK_S seconds to `target`:5353,
 * each announcing 8 fresh ids at `victim`:VICTIM_PORT, with IP TTL `ttl` (0: the system
 * default). Prints `sent <n>` at the end.
 */
const ATTACK_SCRIPT = `
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
const [dist, dnsPacket, target, victim, victimPort, ttl, pps, seconds] = process.argv.slice(1);
const packet = createRequire(import.meta.url)(dnsPacket);
const { buildAnnouncement } = await import(dist + 'src/discovery/index.js');
const { nodeIdFromPublicKey } = await import(dist + 'src/identity/index.js');
const s = dgram.createSocket('udp4');
await new Promise((r) => s.bind(0, r));
if (Number(ttl) > 0) s.setTTL(Number(ttl));
let sent = 0;
const total = Number(pps) * Number(seconds);
const timer = setInterval(() => {
  const answers = [], additionals = [];
  for (let i = 0; i < 8; i++) {
    const a = buildAnnouncement({ id: nodeIdFromPublicKey(randomBytes(32)), port: Number(victimPort), addresses: [victim] });
    answers.push(...a.answers);
    additionals.push(...a.additionals);
  }
  s.send(packet.encode({ type: 'response', flags: packet.AUTHORITATIVE_ANSWER, answers, additionals }), 5353, target);
  if (++sent >= total) {
    clearInterval(timer);
    setTimeout(() => { console.log('sent ' + sent); s.close(); }, 100);
  }
}, 1000 / Number(pps));
`;

/** nftables in a victim's namespace: counts TCP SYNs (without ACK) to VICTIM_PORT. */
const SYN_COUNTER = `table inet syncount {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport ${VICTIM_PORT} tcp flags & (syn | ack) == syn counter
  }
}
`;

async function synCount(ns: string): Promise<number> {
  const out = await exec(ns, 'nft', ['list', 'table', 'inet', 'syncount']);
  const m = /counter packets (\d+)/.exec(out);
  if (!m) throw new Error(`no SYN counter in:\n${out}`);
  return Number(m[1]);
}

if (labOk) describe('mDNS reflection on a lab LAN', { timeout: 180_000 }, () => {
  let lab: Lab;
  let procs: SentinelLab;
  let n1: LabNode;
  const attacks: LabProcess[] = [];

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'lan', nat: 'easy', hosts: ['n1', 'p2', 'a3', 'v4'] },
        { name: 'wan', nat: 'public', hosts: ['x5', 'w6'] },
      ],
    });
    procs = new SentinelLab(lab);
    const r = lab.router('lan');
    await exec(r.ns, 'ip', ['link', 'set', r.lanIf, 'type', 'bridge', 'mcast_snooping', '0']);
    // The off-link attacker reaches the LAN through the router: a route to it, and the
    // router forwarding UDP 5353 from the internet (a router that routes, not one that NATs).
    await exec(lab.host('x5').ns, 'ip', ['route', 'add', r.lanCidr, 'via', r.wanIp]);
    await exec(r.ns, 'nft', ['insert', 'rule', 'inet', 'lab_fw', 'forward', 'iifname', r.wanIf, 'udp', 'dport', '5353', 'accept']);
    for (const v of ['v4', 'w6']) await loadRuleset(lab.host(v).ns, SYN_COUNTER);
    n1 = await procs.startNode('n1', { port: NODE_PORT, signaler: 'none', waitForSignaler: false });
  });

  after(async () => {
    await Promise.allSettled(attacks.map((a) => a.stop()));
    await procs?.cleanup();
    await lab?.destroy();
  });

  /** Runs one attack from `from` at n1 and returns the SYNs `victimHost` received meanwhile. */
  async function attack(t: TestContext, from: string, victimHost: string, ttl: number): Promise<{ syns: number; counters: Record<string, number> }> {
    const victim = lab.host(victimHost);
    const before = await synCount(victim.ns);
    const args = ['--input-type=module', '-e', ATTACK_SCRIPT, DIST, DNS_PACKET, lab.host('n1').ip, victim.ip, String(VICTIM_PORT), String(ttl), String(RATE_PPS), String(ATTACK_S)];
    const proc = spawnIn(lab.host(from).ns, process.execPath, args);
    attacks.push(proc);
    const done = await proc.exited;
    assert.equal(done.code, 0, `attack script failed:\n${done.stderr}`);
    assert.match(done.stdout, new RegExp(`sent ${RATE_PPS * ATTACK_S}`));
    await sleep(SETTLE_MS);
    const status = await n1.json<StatusInfo>(['status']);
    const syns = (await synCount(victim.ns)) - before;
    t.diagnostic(`${RATE_PPS * ATTACK_S} responses (${8 * RATE_PPS * ATTACK_S} ids) from ${from} at ${victimHost}, TTL ${ttl || 'default'}: ${syns} SYNs at the victim`);
    return { syns, counters: status.counters };
  }

  it('the node reads the TTL of received packets (the addon is built)', async () => {
    const s = await n1.status();
    assert.equal(s.counters['mdns.ttl_unchecked'] ?? 0, 0, `the TTL check is off:\n${tail(n1.stderr())}`);
  });

  it('off-link attacker (routed through the ISP and NAT routers, TTL 62), ids at the on-link victim: no SYN reaches the victim', async (t) => {
    const r = await attack(t, 'x5', 'v4', 0);
    assert.equal(r.syns, 0, tail(n1.stderr()));
    assert.ok((r.counters['mdns.dropped.off_link'] ?? 0) >= RATE_PPS * ATTACK_S * 0.9, JSON.stringify(r.counters));
    assert.equal(r.counters['mdns.hints'] ?? 0, 0);
  });

  it('on-link attacker (TTL 255), ids at an off-link victim: no SYN reaches the victim', async (t) => {
    const r = await attack(t, 'a3', 'w6', 255);
    assert.equal(r.syns, 0, tail(n1.stderr()));
    assert.ok((r.counters['mdns.dropped.endpoint_off_link'] ?? 0) >= 8 * RATE_PPS * ATTACK_S * 0.9, JSON.stringify(r.counters));
  });

  it('on-link attacker sending with an ordinary socket (TTL 64): dropped as routed, no SYN', async (t) => {
    const r = await attack(t, 'a3', 'v4', 64);
    assert.equal(r.syns, 0, tail(n1.stderr()));
    assert.ok((r.counters['mdns.dropped.ttl'] ?? 0) >= RATE_PPS * ATTACK_S * 0.9, JSON.stringify(r.counters));
  });

  it('on-link attacker (TTL 255), ids at the on-link victim: a bounded number of SYNs, and a real peer is still found', async (t) => {
    // The real peer starts while the attack runs.
    const attackDone = attack(t, 'a3', 'v4', 255);
    await sleep(1_000);
    const p2 = await procs.startNode('p2', { port: NODE_PORT, signaler: 'none', waitForSignaler: false });
    const r = await attackDone;
    const windows = Math.ceil((ATTACK_S * 1_000 + SETTLE_MS) / ADDRESS_WINDOW_MS);
    assert.ok(r.syns <= MAX_HINTS_PER_ADDRESS * windows, `${r.syns} SYNs at the victim (bound ${MAX_HINTS_PER_ADDRESS * windows})\n${tail(n1.stderr())}`);
    assert.ok(r.syns > 0, 'the attack was on-link and well-formed: a few hints do get through (this test would notice a dead attack)');
    assert.ok((r.counters['mdns.hints_limited.address'] ?? 0) >= 8 * RATE_PPS * ATTACK_S - MAX_HINTS_PER_ADDRESS * windows, JSON.stringify(r.counters));
    const deadline = Date.now() + DISCOVERY_TIMEOUT_MS;
    for (;;) {
      const peers = await n1.peers();
      if (peers.some((p) => p.id === p2.id && p.connected)) break;
      if (Date.now() > deadline) assert.fail(`n1 did not connect to the real peer p2\n${tail(n1.stderr())}\np2:\n${tail(p2.stderr())}`);
      await sleep(250);
    }
  });
});
