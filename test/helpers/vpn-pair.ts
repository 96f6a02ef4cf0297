/** Two real nodes with in-memory TUN devices and a VPN allowed both ways (no root needed). */
import type { NodeOptions, SentinelNode } from '../../src/node.js';
import { MemoryTun, type TunDevice } from '../../src/vpn/index.js';
import { waitFor, type TestNet } from './testnet.js';

/** A minimal IPv4 packet: 20-byte header (protocol UDP, checksum 0: the router does not check it) and `payload`. */
export function ipv4Packet(src: string, dst: string, payload: Buffer): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  payload.copy(p, 20);
  return p;
}

export interface VpnPair {
  a: SentinelNode;
  b: SentinelNode;
  tunA: MemoryTun;
  tunB: MemoryTun;
}

/** A and B with `--tun` on MemoryTun devices (MTU 1400), each allowing the other; B dials A. */
export async function vpnPair(net: TestNet, extra: Partial<NodeOptions> = {}): Promise<VpnPair> {
  const tuns: MemoryTun[] = [];
  const openTun = async (): Promise<TunDevice> => {
    const t = new MemoryTun({ mtu: 1400 });
    tuns.push(t);
    return t;
  };
  const vpn = { mode: 'required' as const, tunName: 'mem0', mtu: 1400, ipv4: null, allow: [] };
  const a = await net.node({ vpn, openTun, ...extra });
  const b = await net.node({ vpn, openTun, ...extra });
  await a.setAllowed(b.identity.id, true);
  await b.setAllowed(a.identity.id, true);
  await b.dial(`127.0.0.1:${a.port}`);
  await waitFor(() => a.status().peers === 1, 3_000, 'A sees B');
  return { a, b, tunA: tuns[0]!, tunB: tuns[1]! };
}
