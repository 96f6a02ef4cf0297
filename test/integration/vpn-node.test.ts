/** The VPN inside real nodes (real TLS sessions on loopback) with in-memory TUN devices: no root needed. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SentinelError } from '../../src/errors.js';
import { MemoryTun, type TunDevice } from '../../src/vpn/index.js';
import { testnet, waitFor } from '../helpers/testnet.js';
import { ipv4Packet, vpnPair as vpnPairOf, type VpnPair } from '../helpers/vpn-pair.js';

const net0 = testnet();
after(() => net0.close());

const ipv4 = (src: string, dst: string, payload = Buffer.from('hello')): Buffer => ipv4Packet(src, dst, payload);
const vpnPair = (): Promise<VpnPair> => vpnPairOf(net0);

describe('VPN in nodes', () => {
  it('carries a packet from A to B by VPN address, and reports addresses, state and counters', async () => {
    const { a, b, tunA, tunB } = await vpnPair();
    const A = a.id().vpn;
    const B = b.id().vpn;
    assert.match(A.ipv4, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./);
    assert.equal(a.status().vpn.state, 'up');
    assert.equal(b.peers()[0]?.vpn.ipv4, A.ipv4);
    assert.equal(b.peers()[0]?.vpn.allowed, true);
    const packet = ipv4(A.ipv4, B.ipv4);
    tunA.inject([packet]);
    await waitFor(() => tunB.written.length === 1, 3_000, 'packet at B');
    assert.deepEqual(tunB.written[0], packet);
    const tA = a.status().vpn.peers[b.identity.id];
    const tB = b.status().vpn.peers[a.identity.id];
    assert.equal(tA?.packetsOut, 1);
    assert.equal(tB?.packetsIn, 1);
    assert.equal(tB?.bytesIn, packet.length);
  });

  it('drops spoofed sources, traffic after deny, and unknown destinations, counting each', async () => {
    const { a, b, tunA, tunB } = await vpnPair();
    const A = a.id().vpn;
    const B = b.id().vpn;
    tunA.inject([ipv4('100.64.99.99', B.ipv4)]);
    await waitFor(() => (b.status().vpn.drops.spoofed ?? 0) === 1, 3_000, 'spoofed drop');
    tunA.inject([ipv4(A.ipv4, '100.64.77.77')]);
    await waitFor(() => (a.status().vpn.drops.no_route ?? 0) >= 1, 3_000, 'no route');
    await b.setAllowed(a.identity.id, false);
    tunA.inject([ipv4(A.ipv4, B.ipv4)]);
    await waitFor(() => (b.status().vpn.drops.not_allowed ?? 0) === 1, 3_000, 'not allowed at B');
    assert.equal(tunB.written.length, 0, 'nothing reached B');
    assert.equal(b.peers()[0]?.vpn.allowed, false);
  });

  it('the allow-list survives a restart', async () => {
    const dir = await net0.tempDir();
    const other = await net0.node();
    const n = await net0.node({ dataDir: dir });
    await n.dial(`127.0.0.1:${other.port}`);
    await n.setAllowed(other.identity.id.slice(0, 10), true);
    await n.close();
    const again = await net0.node({ dataDir: dir });
    assert.equal(again.peers().find((p) => p.id === other.identity.id)?.vpn.allowed, true);
  });

  it('--tun fails the start with one clear error; --tun=optional runs without the VPN and says why', async () => {
    const openTun = async (): Promise<TunDevice> => {
      throw new SentinelError('E_TUN', 'needs root (CAP_NET_ADMIN)');
    };
    const base = { tunName: 'sentinel0', mtu: 1400, ipv4: null, allow: [] };
    await assert.rejects(net0.node({ vpn: { ...base, mode: 'required' }, openTun }), (e: Error & { code?: string }) => e.code === 'E_TUN' && /root/.test(e.message));
    const n = await net0.node({ vpn: { ...base, mode: 'optional' }, openTun });
    assert.deepEqual({ state: n.status().vpn.state, reason: n.status().vpn.reason }, { state: 'unavailable', reason: 'TUN device unavailable: needs root (CAP_NET_ADMIN)' });
  });

  it('--vpn-ip overrides the derived address and peers learn it', async () => {
    const openTun = async (): Promise<TunDevice> => new MemoryTun({ mtu: 1400 });
    const a = await net0.node({ vpn: { mode: 'required', tunName: 'm', mtu: 1400, ipv4: '100.64.5.5', allow: [] }, openTun });
    const b = await net0.node({ vpn: { mode: 'required', tunName: 'm', mtu: 1400, ipv4: null, allow: [] }, openTun });
    assert.equal(a.id().vpn.ipv4, '100.64.5.5');
    await b.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => b.peers()[0]?.vpn.ipv4 === '100.64.5.5', 3_000, 'B learns the override');
  });
});
