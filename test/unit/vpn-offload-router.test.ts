/**
 * The router's offload paths (src/vpn/router.ts with offload MemoryTuns): super-segments
 * whole to a peer that takes them, segmented for one that does not or for a plain TUN,
 * strict checks of a peer's metadata (the allow-list and source checks still apply), the
 * queue delay drops (aqm.ts), and software GRO towards an offload TUN.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../src/api.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import {
  DelayAqm,
  GSO_TCPV4,
  GSO_TCPV6,
  MemoryTun,
  VNET_F_NEEDS_CSUM,
  VpnRouter,
  segmentTso,
  tcpGsoHeader,
  vpnAddressesOf,
  type RouterEnv,
  type VnetHeader,
} from '../../src/vpn/index.js';
import { ACK, PSH, inetChecksum, ipHeaderLength, pattern, pseudoHeader, tcpPacket, tcpValid } from '../helpers/tcp-packets.js';

const A = nodeIdFromPublicKey(Buffer.alloc(32, 0xa1));
const B = nodeIdFromPublicKey(Buffer.alloc(32, 0xb2));
const [addrA, addrB] = [vpnAddressesOf(A), vpnAddressesOf(B)];
const MTU = 1400;

interface Sent {
  packets: Buffer[];
  vnet: readonly (VnetHeader | undefined)[] | undefined;
}

interface Node {
  tun: MemoryTun;
  router: VpnRouter;
  sent: Sent[];
  counts: Record<string, number>;
  allowed: boolean;
}

function node(self: NodeId, peer: NodeId, opts: { offload: boolean; peerTakesGso?: boolean; now?: () => number }): Node {
  const tun = new MemoryTun({ mtu: MTU, offload: opts.offload });
  const n = { tun, sent: [], counts: {}, allowed: true } as unknown as Node;
  const env: RouterEnv = {
    self: vpnAddressesOf(self),
    isAllowed: () => n.allowed,
    sendToPeer: (_p, packets, vnet) => (n.sent.push({ packets: [...packets], vnet }), true),
    takesGso: () => opts.peerTakesGso ?? false,
    count: (name, by = 1) => void (n.counts[name] = (n.counts[name] ?? 0) + by),
  };
  n.router = new VpnRouter({ tun, env, mtu: MTU, aqm: opts.now ? { targetUs: 3000, intervalUs: 50_000 } : null, ...(opts.now ? { nowUs: opts.now } : {}) });
  assert.equal(n.router.setPeer(peer, vpnAddressesOf(peer)), null);
  return n;
}

/** A super-segment from A to B as an offload TUN read gives it (hdr_len = its linear head). */
function fromKernel(v: 4 | 6, payloadLen: number): { p: Buffer; read: VnetHeader; h: VnetHeader } {
  const p = tcpPacket({ version: v, payload: pattern(payloadLen), flags: ACK | PSH, ...(v === 4 ? addrs4() : addrs6()) });
  const gsoType = v === 4 ? GSO_TCPV4 : GSO_TCPV6;
  const h = tcpGsoHeader(p, gsoType, MTU - (v === 4 ? 52 : 72), MTU)!;
  const ipLen = ipHeaderLength(p);
  p.writeUInt16BE(~inetChecksum(pseudoHeader(p, p.length - ipLen)) & 0xffff, ipLen + 16); // partial, as the kernel leaves it
  return { p, read: { ...h, hdrLen: 128 }, h };
}
const addrs4 = () => ({ src: addrA.ipv4, dst: addrB.ipv4 });
const addrs6 = () => ({ src: addrA.ipv6, dst: addrB.ipv6 });

describe('VpnRouter with TUN offloads', () => {
  for (const v of [4, 6] as const) {
    it(`IPv${v}: a super-segment goes whole to a peer that takes them, and is written whole to its offload TUN`, () => {
      const a = node(A, B, { offload: true, peerTakesGso: true });
      const b = node(B, A, { offload: true });
      const { p, read, h } = fromKernel(v, 10_000);
      a.tun.inject([p], [read]);
      assert.equal(a.sent.length, 1);
      assert.deepEqual(a.sent[0]!.vnet, [h], 'the recomputed header goes with it');
      assert.equal(a.counts['vpn.gso.sent'], 1);
      b.router.fromPeer(A, a.sent[0]!.packets, a.sent[0]!.vnet, 0);
      assert.deepEqual(b.tun.writtenVnet, [h]);
      assert.equal(b.tun.written[0]!.length, p.length);
      assert.deepEqual(segmentTso(b.tun.written[0]!, h).map(tcpValid), [true, true, true, true, true, true, true, true]);
      assert.equal(b.counts['vpn.gso.written'], 1);
    });

    it(`IPv${v}: segmented by the sender for a peer without PACKETS_GSO`, () => {
      const a = node(A, B, { offload: true, peerTakesGso: false });
      const { p, read } = fromKernel(v, 3000);
      a.tun.inject([p], [read]);
      assert.equal(a.sent[0]!.vnet, undefined);
      assert.equal(a.sent[0]!.packets.length, 3);
      assert.ok(a.sent[0]!.packets.every((s) => tcpValid(s) && s.length <= MTU));
      assert.equal(a.counts['vpn.gso.segmented_out'], 1);
    });

    it(`IPv${v}: segmented by the receiver for a plain TUN`, () => {
      const b = node(B, A, { offload: false });
      const { p, h } = fromKernel(v, 3000);
      b.router.fromPeer(A, [p], [h], 0);
      assert.equal(b.tun.written.length, 3);
      assert.ok(b.tun.written.every((s) => tcpValid(s) && s.length <= MTU));
      assert.equal(b.counts['vpn.gso.segmented_in'], 1);
    });
  }

  it('completes a partial checksum of a plain packet read from the TUN', () => {
    const a = node(A, B, { offload: true, peerTakesGso: true });
    const p = tcpPacket({ version: 4, payload: pattern(100), ...addrs4() });
    p.writeUInt16BE(~inetChecksum(pseudoHeader(p, p.length - 20)) & 0xffff, 36);
    a.tun.inject([p], [{ flags: VNET_F_NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 16 }]);
    assert.equal(a.sent[0]!.vnet, undefined, 'no super-segment in the batch: a plain PACKETS frame');
    assert.ok(tcpValid(a.sent[0]!.packets[0]!));
  });

  it('refuses a peer’s bad metadata as bad_gso, writes nothing, and keeps the other checks', () => {
    const b = node(B, A, { offload: true });
    const { p, h } = fromKernel(4, 3000);
    for (const bad of [{ ...h, hdrLen: 40 }, { ...h, gsoType: GSO_TCPV6 }, { ...h, gsoSize: MTU }, { ...h, csumOffset: 6 }, { ...h, flags: 0 }]) {
      b.router.fromPeer(A, [Buffer.from(p)], [bad], 0);
    }
    assert.deepEqual(b.router.drops(), { bad_gso: 5 });
    const spoofed = tcpPacket({ version: 4, payload: pattern(3000), src: '100.64.77.77', dst: addrB.ipv4 });
    b.router.fromPeer(A, [spoofed], [tcpGsoHeader(spoofed, GSO_TCPV4, 1348, MTU)!], 0);
    assert.equal(b.router.drops().spoofed, 1, 'the source check applies to a super-segment');
    b.allowed = false;
    b.router.fromPeer(A, [Buffer.from(p)], [h], 0);
    assert.equal(b.router.drops().not_allowed, 1);
    assert.deepEqual(b.tun.written, []);
  });

  it('a kernel read that TSO would not produce is dropped as bad_gso', () => {
    const a = node(A, B, { offload: true, peerTakesGso: true });
    const { p, read } = fromKernel(4, 3000);
    a.tun.inject([p], [{ ...read, gsoType: 3 }]);
    assert.deepEqual(a.router.drops(), { bad_gso: 1 });
    assert.deepEqual(a.sent, []);
  });

  it('merges plain segments from a peer into one super-segment for an offload TUN', () => {
    const b = node(B, A, { offload: true });
    const { p, h } = fromKernel(4, 4 * 1348);
    const segs = segmentTso(p, h);
    b.router.fromPeer(A, segs);
    assert.equal(b.tun.written.length, 1);
    assert.deepEqual(b.tun.writtenVnet, [h]);
    assert.equal(b.counts['vpn.gso.coalesced'], 1);
  });
});

describe('queue delay control', () => {
  it('DelayAqm: no drop under target; sustained delay above it drops, more often over time', () => {
    const aqm = new DelayAqm(3000, 50_000);
    let t = 1_000_000;
    for (let i = 0; i < 100; i++, t += 1000) assert.equal(aqm.onFrame((t - 500) >>> 0, t), false);
    const drops: number[] = [];
    for (let i = 0; i < 400; i++, t += 1000) if (aqm.onFrame((t - 10_500) >>> 0, t)) drops.push(t);
    assert.ok(drops.length >= 3, `drops: ${drops.length}`);
    assert.ok(drops[0]! - 1_100_000 >= 50_000, 'not before one interval above target');
    assert.ok(drops[2]! - drops[1]! < drops[1]! - drops[0]!, 'the control law shortens the gaps');
    assert.equal(aqm.onFrame((t - 600) >>> 0, t), false, 'back under target: no drop');
  });

  it('works across the u32 wrap of the sender clock', () => {
    const aqm = new DelayAqm(3000, 50_000);
    let t = 5_000_000;
    let drops = 0;
    for (let i = 0; i < 400; i++, t += 1000) {
      const sent = (0xffff_0000 + i * 1000) >>> 0; // wraps after ~65 frames
      if (aqm.onFrame(sent, t)) drops++;
      assert.ok(aqm.delayUs < 3000, `constant offset is no delay (frame ${i}: ${aqm.delayUs})`);
    }
    assert.equal(drops, 0);
  });

  it('the router cuts the last segment of the newest super-segment, never a small packet', () => {
    let now = 1_000_000;
    const b = node(B, A, { offload: true, now: () => now });
    const { p, h } = fromKernel(4, 3 * 1348);
    const ping = tcpPacket({ version: 4, payload: pattern(20), ...addrs4() });
    for (let i = 0; i < 50; i++, now += 1000) b.router.fromPeer(A, [Buffer.from(p)], [h], (now - 100) >>> 0); // base delay
    b.tun.drain();
    for (let i = 0; i < 200; i++, now += 1000) b.router.fromPeer(A, [ping, Buffer.from(p)], [undefined, h], (now - 20_100) >>> 0);
    const cut = b.router.drops().queue_delay ?? 0;
    assert.ok(cut > 0);
    const lengths = b.tun.written.map((w) => w.length);
    assert.equal(lengths.filter((n) => n === ping.length).length, 200, 'every ping delivered');
    assert.equal(lengths.filter((n) => n === p.length - 1348).length, cut, 'each drop is one segment of a super-segment');
  });

  it('outbound: a flow whose super-segments waited long in the TUN queue (TCP timestamps) loses one segment', () => {
    let now = 0;
    const a = node(A, B, { offload: true, peerTakesGso: true, now: () => now });
    const { p, read } = fromKernel(4, 3 * 1348); // TSval 0x1234 (ms)
    // 1 ms after its timestamp, for a while: the base delay, no drop.
    for (let i = 0; i < 20; i++) {
      now = (0x1234 + 1) * 1000;
      a.tun.inject([p], [read]);
    }
    assert.equal(a.router.drops().queue_delay, undefined);
    // Then read ever later: 20 ms of queueing, sustained.
    for (let i = 0; i < 100; i++) {
      now = (0x1234 + 21) * 1000 + i * 1000;
      a.tun.inject([p], [read]);
    }
    const cut = a.router.drops().queue_delay ?? 0;
    assert.ok(cut > 0, 'drops once the delay stayed above target');
    const lengths = a.sent.map((s) => s.packets[0]!.length);
    assert.equal(lengths.filter((n) => n === p.length - 1348).length, cut, 'each drop is the last segment');
  });
});
