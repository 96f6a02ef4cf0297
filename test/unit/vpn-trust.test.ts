/**
 * The VPN address hijack (issue 8): VPN_ADDR only from allowed peers, claims end with the
 * session, and an allowed peer's derived addresses are reserved for it. VpnService over a
 * MemoryTun and fake channels.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import { createLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/index.js';
import { Counters } from '../../src/core/counters.js';
import { AllowList } from '../../src/vpn/allow-list.js';
import { MemoryTun, parseIpv4, vpnAddressesOf } from '../../src/vpn/index.js';
import { PeerTable } from '../../src/vpn/peer-table.js';
import { VpnService, type VpnChannel } from '../../src/vpn/service.js';
import { FrameType, decodePackets, encodePackets, encodeVpnAddr } from '../../src/wire/index.js';

const ME = nodeIdFromPublicKey(Buffer.alloc(32, 0x01));
const A = nodeIdFromPublicKey(Buffer.alloc(32, 0xa1));
const C = nodeIdFromPublicKey(Buffer.alloc(32, 0xc3));
const S = nodeIdFromPublicKey(Buffer.alloc(32, 0x5e));

function ip4(src: string, dst: string): Buffer {
  const p = Buffer.alloc(28, 0x5a);
  p.set([0x45, 0x00], 0);
  p.writeUInt16BE(28, 2);
  p.set([0, 0, 0x40, 0x00, 64, 17, 0, 0], 4);
  p.set(parseIpv4(src)!, 12);
  p.set(parseIpv4(dst)!, 16);
  return p;
}

class Channel implements VpnChannel {
  readonly sent: Array<{ type: number; payload: Buffer }> = [];
  writableLength = 0;
  constructor(readonly peerId: NodeId) {}
  send(type: number, payload: Uint8Array): boolean {
    this.sent.push({ type, payload: Buffer.from(payload) });
    return true;
  }
  packets(): Buffer[] {
    return this.sent.filter((f) => f.type === FrameType.PACKETS).flatMap((f) => decodePackets(f.payload));
  }
}

async function setup(allowed: NodeId[]) {
  const store = new MemoryStore();
  const allow = new AllowList(store);
  for (const id of allowed) await allow.set(id, true);
  const channels = new Map<NodeId, Channel>();
  const counters = new Counters();
  const vpn = new VpnService({ self: vpnAddressesOf(ME), allow, log: createLogger('silent', () => {}), counters, channelFor: (p) => channels.get(p) });
  const tun = new MemoryTun({ mtu: 1400 });
  vpn.attach(tun, 1400);
  const connect = (id: NodeId): Channel => {
    const ch = new Channel(id);
    channels.set(id, ch);
    vpn.onSessionUp(ch);
    return ch;
  };
  const disconnect = (id: NodeId): void => {
    channels.delete(id);
    vpn.onSessionDown(id);
  };
  /** A local program sends one packet to `dst`: which peer's channel gets it? */
  const route = (dst: string): NodeId | undefined => {
    for (const ch of channels.values()) ch.sent.length = 0;
    tun.inject([ip4(vpnAddressesOf(ME).ipv4, dst)]);
    return [...channels.values()].find((ch) => ch.packets().length > 0)?.peerId;
  };
  return { vpn, allow, tun, counters, connect, disconnect, route };
}

const override = (ipv4: string, of: NodeId) => encodeVpnAddr({ ipv4, ipv6: vpnAddressesOf(of).ipv6 });

describe('VPN trust', () => {
  it('a stranger (not allowed) claiming a peer\'s address changes nothing and is counted', async () => {
    const v = await setup([A]);
    const s = v.connect(S);
    v.vpn.onVpnAddr(s, override(vpnAddressesOf(A).ipv4, S));
    assert.equal(v.counters.get('vpn.addr_ignored.not_allowed'), 1);
    v.connect(A);
    assert.equal(v.route(vpnAddressesOf(A).ipv4), A, "A's traffic goes to A");
    assert.deepEqual(v.vpn.status('mem0', 1400).collisions, []);
  });

  it('an allowed peer cannot take another allowed peer\'s derived address, even while that peer is offline', async () => {
    const v = await setup([A, C]);
    const c = v.connect(C);
    v.vpn.onVpnAddr(c, override(vpnAddressesOf(A).ipv4, C));
    assert.equal(v.route(vpnAddressesOf(A).ipv4), undefined, 'A is offline: nobody gets its packets');
    assert.deepEqual(v.vpn.status('mem0', 1400).collisions.map((x) => [x.peer, x.heldBy]), [[C, A]]);
    // C's packets from A's address are spoofed.
    v.vpn.onPackets(c, encodePackets([ip4(vpnAddressesOf(A).ipv4, vpnAddressesOf(ME).ipv4)]));
    assert.equal(v.tun.written.length, 0);
    v.connect(A);
    assert.equal(v.route(vpnAddressesOf(A).ipv4), A);
  });

  it('the owner of a derived address takes it back from an override claimed before it was allowed', async () => {
    const v = await setup([C]);
    const c = v.connect(C);
    const aIp = vpnAddressesOf(A).ipv4;
    v.vpn.onVpnAddr(c, override(aIp, C));
    assert.equal(v.route(aIp), C, 'first come while A was not allowed');
    await v.allow.set(A, true);
    v.vpn.onAllowChanged(A, true, false);
    v.connect(A);
    assert.equal(v.route(aIp), A, 'A, now allowed, holds its own address');
    assert.deepEqual(v.vpn.status('mem0', 1400).collisions.map((x) => [x.peer, x.heldBy]), [[C, A]]);
  });

  it('a claim ends with the session: the address is free again', async () => {
    const v = await setup([C, A]);
    const c = v.connect(C);
    v.vpn.onVpnAddr(c, override('100.64.7.7', C));
    assert.equal(v.route('100.64.7.7'), C);
    v.disconnect(C);
    assert.equal(v.route('100.64.7.7'), undefined);
    const a = v.connect(A);
    v.vpn.onVpnAddr(a, override('100.64.7.7', A));
    assert.equal(v.route('100.64.7.7'), A, 'the left peer no longer holds it');
  });

  it('deny removes the peer from the routing table at once', async () => {
    const v = await setup([A]);
    v.connect(A);
    assert.equal(v.route(vpnAddressesOf(A).ipv4), A);
    await v.allow.set(A, false);
    v.vpn.onAllowChanged(A, false, true);
    assert.equal(v.route(vpnAddressesOf(A).ipv4), undefined);
  });

  it('PeerTable: reservations refuse others and let the owner evict a holder', () => {
    const self = vpnAddressesOf(ME);
    const aDerived = vpnAddressesOf(A);
    const t = new PeerTable(self, (address) => (address === aDerived.ipv4 || address === aDerived.ipv6 ? A : undefined));
    assert.equal(t.set(C, { ipv4: aDerived.ipv4, ipv6: vpnAddressesOf(C).ipv6 })?.reason, 'collision');
    assert.equal(t.set(C, vpnAddressesOf(C)), null);
    assert.equal(t.set(A, aDerived), null);
    assert.equal(t.peerAt(aDerived.ipv4), A);
  });
});
