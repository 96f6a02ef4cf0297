/**
 * The VPN's UDP datagram path inside real nodes: real TLS sessions and real UDP sockets on
 * loopback, in-memory TUN devices (no root). With SENTINEL_VPN_DATAGRAM=always the
 * packets go as datagrams (the counters show it); when UDP stops passing, the path goes
 * down and the packets go over the session again, still delivered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SentinelNode } from '../../src/node.js';
import { bindUdpPort, type UdpPort } from '../../src/vpn/udp-port.js';
import { testnet, waitFor } from '../helpers/testnet.js';
import { ipv4Packet, vpnPair, type VpnPair } from '../helpers/vpn-pair.js';

const net0 = testnet();
const saved = process.env['SENTINEL_VPN_DATAGRAM'];
before(() => {
  process.env['SENTINEL_VPN_DATAGRAM'] = 'always';
});
after(async () => {
  if (saved === undefined) delete process.env['SENTINEL_VPN_DATAGRAM'];
  else process.env['SENTINEL_VPN_DATAGRAM'] = saved;
  await net0.close();
});

/** A real UDP socket behind a switch: while `blocked`, nothing is sent or received (a firewall dropping UDP). */
class UdpGate {
  blocked = false;
  bind = async (port: number, host?: string): Promise<UdpPort> => {
    const real = await bindUdpPort(port, host);
    return {
      port: real.port,
      send: (data, h, p, onError) => {
        if (!this.blocked) real.send(data, h, p, onError);
      },
      onMessage: (handler) => real.onMessage((data, a, p) => this.blocked || handler(data, a, p)),
      close: () => real.close(),
    };
  };
}

/** An IPv4 UDP packet (checksum 0: not checked by the router) with a 4-byte sequence number. */
function ipv4(src: string, dst: string, seq: number): Buffer {
  const udp = Buffer.alloc(8 + 4);
  udp.writeUInt16BE(8, 4);
  udp.writeUInt32BE(seq, 8);
  return ipv4Packet(src, dst, udp);
}

const counter = (n: SentinelNode, name: string): number => n.status().counters[name] ?? 0;

const pair = (gate: UdpGate): Promise<VpnPair> => vpnPair(net0, { bindUdp: gate.bind });

describe('VPN datagram path in nodes', () => {
  it('with always: the path comes up and packets go as datagrams both ways', async () => {
    const { a, b, tunA, tunB } = await pair(new UdpGate());
    await waitFor(() => counter(a, 'vpn.dgram.route_udp') === 1 && counter(b, 'vpn.dgram.route_udp') === 1, 5_000, 'both on udp');
    assert.equal(counter(a, 'vpn.dgram.path_up'), 1);
    const A = a.id().vpn.ipv4;
    const B = b.id().vpn.ipv4;
    const out = Array.from({ length: 50 }, (_, i) => ipv4(A, B, i));
    tunA.inject(out);
    tunB.inject([ipv4(B, A, 1000)]);
    await waitFor(() => tunB.written.length === 50 && tunA.written.length === 1, 5_000, 'packets delivered');
    assert.deepEqual(new Set(tunB.written.map((p) => p.readUInt32BE(28))), new Set(out.map((_, i) => i)));
    assert.equal(counter(a, 'vpn.dgram.sent'), 50);
    assert.equal(counter(b, 'vpn.dgram.received'), 50);
    assert.equal(counter(b, 'vpn.dgram.sent'), 1);
    assert.equal(b.status().vpn.peers[a.identity.id]?.packetsIn, 50);
    for (const n of [a, b]) for (const bad of ['auth', 'replay', 'unknown_index', 'bad_length']) assert.equal(counter(n, `vpn.dgram.${bad}`), 0, bad);
  });

  it('when UDP stops passing, the path goes down and packets go over the session, every one delivered', async () => {
    const gate = new UdpGate();
    const { a, b, tunA, tunB } = await pair(gate);
    await waitFor(() => counter(a, 'vpn.dgram.route_udp') === 1, 5_000, 'A on udp');
    const A = a.id().vpn.ipv4;
    const B = b.id().vpn.ipv4;
    tunA.inject([ipv4(A, B, 0)]);
    await waitFor(() => tunB.written.length === 1, 3_000, 'first packet over udp');
    assert.equal(counter(a, 'vpn.dgram.sent'), 1);
    gate.blocked = true;
    // Packets keep flowing while the path is probed; what left as datagrams meanwhile is lost
    // (as on a real network); once down, everything goes over the session.
    await waitFor(() => counter(a, 'vpn.dgram.route_tcp') === 1, 10_000, 'A back on tcp');
    assert.equal(counter(a, 'vpn.dgram.path_down'), 1);
    const sentUdp = counter(a, 'vpn.dgram.sent');
    const before = tunB.written.length;
    const more = Array.from({ length: 20 }, (_, i) => ipv4(A, B, 100 + i));
    tunA.inject(more);
    await waitFor(() => tunB.written.length === before + 20, 3_000, 'packets over the session');
    assert.deepEqual(tunB.written.slice(before).map((p) => p.readUInt32BE(28)), more.map((_, i) => 100 + i));
    assert.equal(counter(a, 'vpn.dgram.sent'), sentUdp, 'none of them as datagrams');
  });
});
