import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { NodeId } from '../../src/api.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import {
  MemoryTun,
  VpnRouter,
  parseIpv4,
  parseIpv6,
  vpnAddressesOf,
  type DropReason,
  type RouterEnv,
  type VpnAddresses,
} from '../../src/vpn/index.js';

const A = nodeIdFromPublicKey(Buffer.alloc(32, 0xa1));
const B = nodeIdFromPublicKey(Buffer.alloc(32, 0xb2));
const C = nodeIdFromPublicKey(Buffer.alloc(32, 0xc3));
const addr = { [A]: vpnAddressesOf(A), [B]: vpnAddressesOf(B), [C]: vpnAddressesOf(C) } as Record<NodeId, VpnAddresses>;
const MTU = 1400;

/** A valid IPv4 (UDP-looking) packet of `size` bytes; the header checksum is left 0 (the router does not check it). */
function ip4(src: string, dst: string, size = 28): Buffer {
  const p = Buffer.alloc(size, 0x5a);
  p.set([0x45, 0x00], 0);
  p.writeUInt16BE(size, 2);
  p.set([0, 0, 0x40, 0x00, 64, 17, 0, 0], 4);
  p.set(parseIpv4(src)!, 12);
  p.set(parseIpv4(dst)!, 16);
  return p;
}

/** A valid IPv6 (UDP-looking) packet of `size` bytes. */
function ip6(src: string, dst: string, size = 48): Buffer {
  const p = Buffer.alloc(size, 0x5a);
  p.writeUInt32BE(0x6000_0000, 0);
  p.writeUInt16BE(size - 40, 4);
  p.set([17, 64], 6);
  p.set(parseIpv6(src)!, 8);
  p.set(parseIpv6(dst)!, 24);
  return p;
}

/** One node's side: a router over a MemoryTun with controllable allow-list and sessions. */
interface Side {
  id: NodeId;
  tun: MemoryTun;
  router: VpnRouter;
  allowed: Set<NodeId>;
  connected: Map<NodeId, Side>;
  sends: Array<{ peer: NodeId; count: number }>;
}

function side(id: NodeId, mtu = MTU): Side {
  const tun = new MemoryTun({ mtu });
  const s = { id, tun, allowed: new Set<NodeId>(), connected: new Map<NodeId, Side>(), sends: [] } as unknown as Side;
  const env: RouterEnv = {
    self: addr[id]!,
    isAllowed: (peer) => s.allowed.has(peer),
    sendToPeer: (peer, packets) => {
      s.sends.push({ peer, count: packets.length });
      const other = s.connected.get(peer);
      if (!other) return false;
      other.router.fromPeer(id, packets); // a fake session: straight into the other router
      return true;
    },
  };
  s.router = new VpnRouter({ tun, env, mtu });
  return s;
}

/** Two routers back to back, allowing and knowing each other. */
function pair(mtuB = MTU): { a: Side; b: Side } {
  const a = side(A);
  const b = side(B, mtuB);
  a.connected.set(B, b);
  b.connected.set(A, a);
  a.allowed.add(B);
  b.allowed.add(A);
  assert.equal(a.router.setPeer(B, addr[B]!), null);
  assert.equal(b.router.setPeer(A, addr[A]!), null);
  return { a, b };
}

const traffic = (packetsIn: number, packetsOut: number, bytesIn: number, bytesOut: number, drops: Partial<Record<DropReason, number>> = {}) => ({
  packetsIn,
  packetsOut,
  bytesIn,
  bytesOut,
  drops,
});

describe('VpnRouter between two nodes', () => {
  it('delivers an IPv4 and an IPv6 packet unchanged, in one send per peer', () => {
    const { a, b } = pair();
    const p4 = ip4(addr[A]!.ipv4, addr[B]!.ipv4, 100);
    const p6 = ip6(addr[A]!.ipv6, addr[B]!.ipv6, 120);
    a.tun.inject([p4, p6]);
    assert.deepEqual(b.tun.written, [p4, p6]);
    assert.deepEqual(a.sends, [{ peer: B, count: 2 }]);
    assert.deepEqual(a.router.traffic(), { [B]: traffic(0, 2, 0, 220) });
    assert.deepEqual(b.router.traffic(), { [A]: traffic(2, 0, 220, 0) });
    assert.deepEqual(a.router.drops(), {});
    assert.deepEqual(b.router.drops(), {});
    assert.deepEqual(a.tun.written, []);
  });

  it('groups a mixed TUN batch per peer, keeping order', () => {
    const { a, b } = pair();
    const c = side(C);
    a.connected.set(C, c);
    a.allowed.add(C);
    c.allowed.add(A);
    a.router.setPeer(C, addr[C]!);
    c.router.setPeer(A, addr[A]!);
    const toB1 = ip4(addr[A]!.ipv4, addr[B]!.ipv4, 30);
    const toC = ip6(addr[A]!.ipv6, addr[C]!.ipv6);
    const toB2 = ip6(addr[A]!.ipv6, addr[B]!.ipv6);
    a.tun.inject([toB1, toC, toB2]);
    assert.deepEqual(a.sends, [{ peer: B, count: 2 }, { peer: C, count: 1 }]);
    assert.deepEqual(b.tun.written, [toB1, toB2]);
    assert.deepEqual(c.tun.written, [toC]);
  });

  it('drops unknown destinations as no_route', () => {
    const { a } = pair();
    a.tun.inject([ip4(addr[A]!.ipv4, '100.64.9.9'), ip6(addr[A]!.ipv6, 'ff02::16'), ip4(addr[A]!.ipv4, addr[A]!.ipv4)]);
    assert.deepEqual(a.sends, []);
    assert.deepEqual(a.router.drops(), { no_route: 3 });
    assert.deepEqual(a.router.traffic(), {});
  });

  it('drops outbound traffic to a peer that is not allowed, without sending', () => {
    const { a, b } = pair();
    a.allowed.delete(B);
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4), ip4(addr[A]!.ipv4, addr[B]!.ipv4)]);
    assert.deepEqual(a.sends, []);
    assert.deepEqual(b.tun.written, []);
    assert.deepEqual(a.router.drops(), { not_allowed: 2 });
    assert.deepEqual(a.router.traffic(), { [B]: traffic(0, 0, 0, 0, { not_allowed: 2 }) });
  });

  it('drops inbound traffic from a peer that is not allowed', () => {
    const { a, b } = pair();
    b.allowed.delete(A);
    const p = ip4(addr[A]!.ipv4, addr[B]!.ipv4);
    a.tun.inject([p]);
    assert.deepEqual(b.tun.written, []);
    assert.deepEqual(a.router.traffic(), { [B]: traffic(0, 1, 0, p.length) }); // A did send it
    assert.deepEqual(b.router.drops(), { not_allowed: 1 });
    assert.deepEqual(b.router.traffic(), { [A]: traffic(0, 0, 0, 0, { not_allowed: 1 }) });
  });

  it('counts a batch to a peer without a session as not_connected', () => {
    const { a } = pair();
    a.connected.delete(B);
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4), ip6(addr[A]!.ipv6, addr[B]!.ipv6)]);
    assert.deepEqual(a.sends, [{ peer: B, count: 2 }]);
    assert.deepEqual(a.router.drops(), { not_connected: 2 });
    assert.deepEqual(a.router.traffic(), { [B]: traffic(0, 0, 0, 0, { not_connected: 2 }) });
  });

  it('drops a spoofed source at the receiver', () => {
    const { a, b } = pair();
    // A's own programs send with C's address as source: A routes by destination only.
    a.tun.inject([ip4(addr[C]!.ipv4, addr[B]!.ipv4), ip6(addr[C]!.ipv6, addr[B]!.ipv6)]);
    // A's IPv4 address in an IPv6 packet's place is not accepted either: same family only.
    b.router.fromPeer(A, [ip4('100.64.0.1', addr[B]!.ipv4)]);
    // A peer that holds no address at all cannot send anything.
    b.router.fromPeer(C, [ip4(addr[C]!.ipv4, addr[B]!.ipv4)]);
    b.allowed.add(C);
    b.router.fromPeer(C, [ip4(addr[C]!.ipv4, addr[B]!.ipv4)]);
    assert.deepEqual(b.tun.written, []);
    assert.deepEqual(b.router.drops(), { spoofed: 4, not_allowed: 1 });
    assert.deepEqual(b.router.traffic(), {
      [A]: traffic(0, 0, 0, 0, { spoofed: 3 }),
      [C]: traffic(0, 0, 0, 0, { spoofed: 1, not_allowed: 1 }),
    });
  });

  it('drops packets for a third peer as not_for_us', () => {
    const { b } = pair();
    b.router.setPeer(C, addr[C]!);
    b.router.fromPeer(A, [ip4(addr[A]!.ipv4, addr[C]!.ipv4), ip6(addr[A]!.ipv6, addr[C]!.ipv6), ip6(addr[A]!.ipv6, addr[B]!.ipv6)]);
    assert.equal(b.tun.written.length, 1);
    assert.deepEqual(b.router.drops(), { not_for_us: 2 });
    assert.deepEqual(b.router.traffic()[A], traffic(1, 0, 48, 0, { not_for_us: 2 }));
  });

  it('drops malformed packets on both paths', () => {
    const { a, b } = pair();
    const good = ip4(addr[A]!.ipv4, addr[B]!.ipv4);
    const truncated = good.subarray(0, good.length - 1);
    a.tun.inject([Buffer.alloc(0), Buffer.of(0x45), truncated, Buffer.from('not a packet'), good]);
    assert.deepEqual(a.router.drops(), { malformed: 4 });
    assert.deepEqual(b.tun.written, [good]);
    b.router.fromPeer(A, [Buffer.of(0x60, 1, 2), truncated]);
    assert.deepEqual(b.router.drops(), { malformed: 2 });
    assert.deepEqual(b.router.traffic()[A], traffic(1, 0, good.length, 0, { malformed: 2 }));
  });

  it('passes a full-MTU packet and drops MTU+1 as too_big, in both directions', () => {
    const { a, b } = pair(1280);
    const full4 = ip4(addr[A]!.ipv4, addr[B]!.ipv4, 1280);
    const full6 = ip6(addr[A]!.ipv6, addr[B]!.ipv6, 1280);
    a.tun.inject([full4, full6, ip4(addr[A]!.ipv4, addr[B]!.ipv4, MTU + 1), ip6(addr[A]!.ipv6, addr[B]!.ipv6, MTU)]);
    // A (MTU 1400) sends 3; B (MTU 1280) accepts only the two 1280-byte ones.
    assert.deepEqual(b.tun.written, [full4, full6]);
    assert.deepEqual(a.router.drops(), { too_big: 1 });
    assert.deepEqual(a.router.traffic(), { [B]: traffic(0, 3, 0, 1280 + 1280 + MTU, { too_big: 1 }) });
    assert.deepEqual(b.router.drops(), { too_big: 1 });
    assert.deepEqual(b.router.traffic(), { [A]: traffic(2, 0, 2560, 0, { too_big: 1 }) });
    const exact = ip4(addr[A]!.ipv4, addr[B]!.ipv4, MTU);
    a.tun.inject([exact]);
    assert.deepEqual(a.router.drops(), { too_big: 1 }); // MTU itself passes A
  });

  it('keeps exact counters over several batches', () => {
    const { a, b } = pair();
    for (let i = 0; i < 5; i++) a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4, 40 + i)]);
    b.tun.inject([ip6(addr[B]!.ipv6, addr[A]!.ipv6, 60), ip6(addr[B]!.ipv6, '::1')]);
    assert.deepEqual(a.router.traffic(), { [B]: traffic(1, 5, 60, 210) });
    assert.deepEqual(b.router.traffic(), { [A]: traffic(5, 1, 210, 60) });
    assert.deepEqual(b.router.drops(), { no_route: 1 });
    assert.equal(a.tun.written.length, 1);
    assert.equal(b.tun.written.length, 5);
  });

  it('never throws and accounts for every packet on random input', { timeout: 60_000 }, () => {
    const { a, b } = pair();
    const good = ip4(addr[A]!.ipv4, addr[B]!.ipv4);
    const packet = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), fc.constant(good));
    let total = 0;
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 8 }), fc.array(packet, { maxLength: 8 }), (out, inn) => {
        a.tun.inject(out);
        b.router.fromPeer(A, inn);
        total += inn.length;
      }),
      { numRuns: 300 },
    );
    const sum = (d: Partial<Record<DropReason, number>>) => Object.values(d).reduce((n, v) => n + (v ?? 0), 0);
    const t = b.router.traffic()[A]!;
    // Everything B got from A (by TUN injection through A, or directly) was delivered or dropped once.
    assert.equal(t.packetsIn + sum(t.drops), total + a.router.traffic()[B]!.packetsOut);
    assert.equal(b.tun.written.length, t.packetsIn);
  });
});

describe('VpnRouter peer table', () => {
  it('refuses a second claim on an IPv4 and records the collision', () => {
    const { a } = pair();
    const refusal = a.router.setPeer(C, { ipv4: addr[B]!.ipv4, ipv6: addr[C]!.ipv6 });
    assert.deepEqual(refusal, { reason: 'collision', claimant: C, address: addr[B]!.ipv4, holder: B });
    assert.equal(a.router.addressesOf(C), undefined);
    assert.equal(a.router.peerAt(addr[B]!.ipv4), B);
    assert.equal(a.router.peerAt(addr[C]!.ipv6), undefined);
    assert.deepEqual(a.router.collisions(), [refusal]);
    assert.equal(a.router.collisionsRefused, 1);
    // The holder leaves: the claim now succeeds and the recorded collision is cleared.
    a.router.removePeer(B);
    assert.equal(a.router.setPeer(C, { ipv4: addr[B]!.ipv4, ipv6: addr[C]!.ipv6 }), null);
    assert.deepEqual(a.router.collisions(), []);
    assert.equal(a.router.collisionsRefused, 1);
    assert.equal(a.router.peerAt(addr[B]!.ipv4), C);
  });

  it('refuses our own addresses and an IPv6 held by another peer', () => {
    const { a } = pair();
    assert.deepEqual(a.router.setPeer(C, { ipv4: addr[A]!.ipv4, ipv6: addr[C]!.ipv6 }), { reason: 'collision', claimant: C, address: addr[A]!.ipv4, holder: 'self' });
    assert.deepEqual(a.router.setPeer(C, { ipv4: addr[C]!.ipv4, ipv6: addr[B]!.ipv6 }), { reason: 'collision', claimant: C, address: addr[B]!.ipv6, holder: B });
    assert.equal(a.router.collisions().length, 1); // one per claimant: the latest
    assert.equal(a.router.collisionsRefused, 2);
  });

  it('refuses addresses outside the VPN prefixes', () => {
    const { a } = pair();
    const bad = { ipv4: '192.168.1.1', ipv6: addr[C]!.ipv6 };
    assert.deepEqual(a.router.setPeer(C, bad), { reason: 'invalid_address', claimant: C, ...bad });
    assert.equal(a.router.setPeer(C, { ipv4: addr[C]!.ipv4, ipv6: '2001:db8::1' })?.reason, 'invalid_address');
    assert.equal(a.router.setPeer(C, { ipv4: 'garbage', ipv6: '' })?.reason, 'invalid_address');
    assert.equal(a.router.addressesOf(C), undefined);
    assert.deepEqual(a.router.collisions(), []);
  });

  it('replaces a peer\'s addresses (old ones stop routing) and canonicalizes them', () => {
    const { a, b } = pair();
    assert.equal(a.router.setPeer(B, addr[B]!), null); // idempotent
    const moved = { ipv4: '100.64.0.7', ipv6: 'FD58:1B41:5E5C:0:0:0:0:7' };
    assert.equal(a.router.setPeer(B, moved), null);
    assert.deepEqual(a.router.addressesOf(B), { ipv4: '100.64.0.7', ipv6: 'fd58:1b41:5e5c::7' });
    assert.equal(a.router.peerAt(addr[B]!.ipv4), undefined);
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4), ip6(addr[A]!.ipv6, 'fd58:1b41:5e5c::7')]);
    assert.deepEqual(a.router.drops(), { no_route: 1 });
    assert.deepEqual(a.sends, [{ peer: B, count: 1 }]);
    assert.deepEqual(b.router.drops(), { not_for_us: 1 }); // B itself still uses its derived addresses
  });

  it('a refused update leaves the peer without addresses', () => {
    const { a } = pair();
    a.router.setPeer(C, addr[C]!);
    assert.equal(a.router.setPeer(B, { ipv4: addr[C]!.ipv4, ipv6: addr[B]!.ipv6 })?.reason, 'collision');
    assert.equal(a.router.addressesOf(B), undefined);
    assert.equal(a.router.peerAt(addr[B]!.ipv6), undefined);
  });

  it('removePeer forgets addresses and counters', () => {
    const { a } = pair();
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4)]);
    assert.ok(a.router.traffic()[B]);
    a.router.removePeer(B);
    assert.deepEqual(a.router.traffic(), {});
    assert.equal(a.router.addressesOf(B), undefined);
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4)]);
    assert.deepEqual(a.router.drops(), { no_route: 1 });
  });

  it('returns snapshots, not live counters', () => {
    const { a } = pair();
    const before = a.router.traffic();
    const drops = a.router.drops();
    a.tun.inject([ip4(addr[A]!.ipv4, addr[B]!.ipv4), Buffer.of(1)]);
    assert.deepEqual(before, {});
    assert.deepEqual(drops, {});
  });

  it('rejects a bad MTU or own addresses outside the prefixes', () => {
    const env: RouterEnv = { self: addr[A]!, isAllowed: () => true, sendToPeer: () => true };
    assert.throws(() => new VpnRouter({ tun: new MemoryTun(), env, mtu: 1279 }), RangeError);
    assert.throws(() => new VpnRouter({ tun: new MemoryTun(), env, mtu: 65536 }), RangeError);
    assert.throws(() => new VpnRouter({ tun: new MemoryTun(), env: { ...env, self: { ipv4: '10.0.0.1', ipv6: addr[A]!.ipv6 } }, mtu: MTU }), RangeError);
  });
});
