/**
 * TUN offloads in software (src/vpn/offload.ts): super-segments split into MSS-sized
 * segments and merged back, with every checksum verified by an independent implementation
 * (test/helpers/tcp-packets.ts), for IPv4 (TCPV4) and IPv6 (TCPV6); bad metadata refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  MAX_GSO_SEGMENTS,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_SIZE,
  checkGso,
  coalesceTcp,
  completeChecksum,
  gsoFromTun,
  prepareGsoWrite,
  readVnetHeader,
  segmentTso,
  tcpGsoHeader,
  withoutLastSegment,
  writeVnetHeader,
  type VnetHeader,
} from '../../src/vpn/index.js';
import { ACK, CWR, FIN, PSH, SYN, inetChecksum, ipHeaderLength, ipv4Valid, pattern, pseudoHeader, tcpPacket, tcpValid } from '../helpers/tcp-packets.js';

const MTU = 1400;
/** IP + TCP header bytes of the builders' packets (with a 12-byte timestamp option). */
const HDR = { 4: 20 + 32, 6: 40 + 32 } as const;
const mss = (v: 4 | 6): number => MTU - HDR[v];
const gsoType = (v: 4 | 6): number => (v === 4 ? GSO_TCPV4 : GSO_TCPV6);

function superSegment(v: 4 | 6, payloadLen: number, flags = ACK | PSH, seq = 1000, id = 0x1234): { p: Buffer; h: VnetHeader } {
  const p = tcpPacket({ version: v, payload: pattern(payloadLen), flags, seq, id });
  const h = tcpGsoHeader(p, gsoType(v), mss(v), MTU);
  assert.ok(h, 'a valid super-segment');
  return { p, h };
}

const seqOf = (s: Buffer): number => s.readUInt32BE(ipHeaderLength(s) + 4);
const flagsOf = (s: Buffer): number => s[ipHeaderLength(s) + 13]!;
const payloadOf = (s: Buffer): Buffer => s.subarray(ipHeaderLength(s) + ((s[ipHeaderLength(s) + 12]! >> 4) * 4));

for (const v of [4, 6] as const) {
  describe(`segmentTso, IPv${v} (GSO_TCPV${v})`, () => {
    it('cuts a super-segment with a short last segment, as the kernel would', () => {
      const { p, h } = superSegment(v, 3 * mss(v) + 100, ACK | PSH | FIN | CWR, 0xffff_fe00, 0xfffe);
      assert.deepEqual(h, { flags: VNET_F_NEEDS_CSUM, gsoType: gsoType(v), hdrLen: HDR[v], gsoSize: mss(v), csumStart: v === 4 ? 20 : 40, csumOffset: 16 });
      const segs = segmentTso(p, h);
      assert.deepEqual(segs.map((s) => s.length), [MTU, MTU, MTU, HDR[v] + 100]);
      segs.forEach((s, k) => {
        assert.ok(tcpValid(s), `TCP checksum of segment ${k}`);
        assert.equal(seqOf(s), (0xffff_fe00 + k * mss(v)) >>> 0, 'sequence numbers advance (and wrap)');
        const last = k === segs.length - 1;
        assert.equal(flagsOf(s), ACK | (last ? PSH | FIN : 0) | (k === 0 ? CWR : 0), 'FIN/PSH on the last only, CWR on the first only');
        if (v === 4) {
          assert.ok(ipv4Valid(s), `IPv4 header checksum of segment ${k}`);
          assert.equal(s.readUInt16BE(2), s.length);
          assert.equal(s.readUInt16BE(4), (0xfffe + k) & 0xffff, 'the IPv4 id increments (and wraps)');
        } else {
          assert.equal(s.readUInt16BE(4), s.length - 40);
        }
      });
      assert.deepEqual(Buffer.concat(segs.map(payloadOf)), payloadOf(p));
    });

    it('an exact multiple of gso_size gives full segments only', () => {
      const { p, h } = superSegment(v, 4 * mss(v));
      const segs = segmentTso(p, h);
      assert.deepEqual(segs.map((s) => s.length), [MTU, MTU, MTU, MTU]);
      assert.ok(segs.every(tcpValid));
    });

    it('merges the segments back into the same super-segment (coalesceTcp)', () => {
      const { p, h } = superSegment(v, 5 * mss(v) + 7);
      const merged = coalesceTcp(segmentTso(p, h));
      assert.equal(merged.packets.length, 1);
      assert.deepEqual(merged.vnet[0], h);
      const m = merged.packets[0]!;
      assert.equal(m.length, p.length);
      // Ready for an offload write: the TCP field holds the pseudo-header sum, IPv4's checksum is right.
      const ipLen = ipHeaderLength(m);
      assert.equal(m.readUInt16BE(ipLen + 16), ~inetChecksum(pseudoHeader(m, m.length - ipLen)) & 0xffff);
      if (v === 4) assert.ok(ipv4Valid(m));
      const strip = (b: Buffer): Buffer => {
        const c = Buffer.from(b);
        c.fill(0, ipLen + 16, ipLen + 18);
        if (v === 4) c.fill(0, 10, 12);
        return c;
      };
      assert.deepEqual(strip(m), strip(p));
      assert.deepEqual(segmentTso(m, merged.vnet[0]!), segmentTso(p, h), 'split again: the same segments');
    });

    it('any payload and gso_size: valid checksums, and merge(split(x)) = x (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 200, max: mss(v) }), fc.integer({ min: 0, max: 0xffffffff }), (len, size, seq) => {
          if (Math.ceil(len / size) > MAX_GSO_SEGMENTS) return;
          const p = tcpPacket({ version: v, payload: pattern(len, seq & 0xff), seq });
          const h = tcpGsoHeader(p, gsoType(v), size, MTU)!;
          const segs = segmentTso(p, h);
          assert.equal(segs.length, Math.ceil(len / size));
          assert.ok(segs.every((s) => tcpValid(s) && (v === 6 || ipv4Valid(s)) && s.length <= HDR[v] + size));
          const back = coalesceTcp(segs);
          assert.equal(back.packets.length, 1);
          assert.deepEqual(payloadOf(back.packets[0]!), payloadOf(p));
          assert.deepEqual(back.vnet[0], segs.length > 1 ? h : undefined);
        }),
        { numRuns: 60 },
      );
    });

    it('withoutLastSegment drops exactly the last segment (and its FIN)', () => {
      const { p, h } = superSegment(v, 2 * mss(v) + 50, ACK | FIN);
      const cut = withoutLastSegment(Buffer.from(p), h)!;
      assert.equal(cut.length, p.length - 50);
      prepareGsoWrite(cut, h);
      const segs = segmentTso(cut, h);
      assert.equal(segs.length, 2);
      assert.ok(segs.every((s) => tcpValid(s) && flagsOf(s) === ACK));
      assert.equal(withoutLastSegment(superSegment(v, 10).p, h), null, 'one segment: nothing left');
    });
  });
}

describe('GSO metadata checks', () => {
  const { p, h } = superSegment(4, 3000);

  it('checkGso accepts the exact metadata and refuses any field off', () => {
    assert.ok(checkGso(p, h, MTU));
    for (const bad of [
      { ...h, flags: 0 },
      { ...h, flags: 3 },
      { ...h, gsoType: GSO_TCPV6 },
      { ...h, gsoType: 3 },
      { ...h, gsoType: GSO_TCPV4 | 0x80 },
      { ...h, hdrLen: h.hdrLen - 1 },
      { ...h, hdrLen: h.hdrLen + 1 },
      { ...h, csumStart: 0 },
      { ...h, csumOffset: 6 },
      { ...h, gsoSize: 0 },
      { ...h, gsoSize: MTU - h.hdrLen + 1 },
    ]) {
      assert.equal(checkGso(p, bad, MTU), false, JSON.stringify(bad));
    }
  });

  it('tcpGsoHeader refuses packets that are not one TCP super-segment', () => {
    const udp = Buffer.from(p);
    udp[9] = 17;
    const frag = Buffer.from(p);
    frag[6] = 0x20; // MF
    const badOffset = Buffer.from(p);
    badOffset[20 + 12] = 0x40; // data offset 4 words
    const huge = Buffer.from(p);
    huge[20 + 12] = 0xf0; // 60-byte TCP header is fine, but then claim more than the packet
    const shortLen = Buffer.from(p);
    shortLen.writeUInt16BE(p.length - 1, 2);
    const headerOnly = tcpPacket({ version: 4, payload: Buffer.alloc(0) });
    assert.equal(tcpGsoHeader(udp, GSO_TCPV4, 1000, MTU), null, 'not TCP');
    assert.equal(tcpGsoHeader(frag, GSO_TCPV4, 1000, MTU), null, 'a fragment');
    assert.equal(tcpGsoHeader(badOffset, GSO_TCPV4, 1000, MTU), null, 'TCP data offset < 5');
    assert.equal(tcpGsoHeader(huge.subarray(0, 70), GSO_TCPV4, 1000, MTU), null, 'TCP header beyond the packet');
    assert.equal(tcpGsoHeader(shortLen, GSO_TCPV4, 1000, MTU), null, 'IP length is not the packet length');
    assert.equal(tcpGsoHeader(headerOnly, GSO_TCPV4, 1000, MTU), null, 'no payload');
    assert.equal(tcpGsoHeader(p, GSO_TCPV6, 1000, MTU), null, 'gso_type of the other family');
    assert.equal(tcpGsoHeader(p, GSO_TCPV4, 0, MTU), null, 'gso_size 0');
    assert.equal(tcpGsoHeader(p, GSO_TCPV4, MTU, MTU), null, 'segments larger than the MTU');
    const many = tcpPacket({ version: 4, payload: pattern(20_000) });
    assert.equal(tcpGsoHeader(many, GSO_TCPV4, 100, MTU), null, `more than ${MAX_GSO_SEGMENTS} segments`);
    assert.ok(tcpGsoHeader(many, GSO_TCPV4, 100, MTU, false), 'unbounded for our own kernel’s reads');
  });

  it('gsoFromTun recomputes the header a kernel read gives (hdr_len is its linear head there)', () => {
    const kernel: VnetHeader = { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 128, gsoSize: h.gsoSize, csumStart: 20, csumOffset: 16 };
    assert.deepEqual(gsoFromTun(Buffer.from(p), kernel, MTU), h);
    assert.equal(gsoFromTun(Buffer.from(p), { ...kernel, gsoType: 3 }, MTU), null, 'UDP fragmentation offload is not asked for');
    assert.equal(gsoFromTun(Buffer.from(p), { ...kernel, gsoType: GSO_NONE, flags: 0 }, MTU), 'plain');
  });
});

describe('checksum completion (NEEDS_CSUM without GSO)', () => {
  it('completes a partial TCP checksum and a partial UDP one', () => {
    for (const v of [4, 6] as const) {
      const p = tcpPacket({ version: v, payload: pattern(333) });
      const ipLen = ipHeaderLength(p);
      p.writeUInt16BE(~inetChecksum(pseudoHeader(p, p.length - ipLen)) & 0xffff, ipLen + 16); // the kernel's partial sum
      assert.equal(tcpValid(p), false);
      assert.equal(gsoFromTun(p, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: ipLen, csumOffset: 16 }, MTU), 'plain');
      assert.ok(tcpValid(p));
    }
    // UDP over IPv4: 8-byte header, checksum at offset 6.
    const udp = Buffer.alloc(20 + 8 + 21, 0x33);
    udp.set([0x45, 0, 0, udp.length, 0, 0, 0x40, 0, 64, 17, 0, 0, 100, 64, 1, 1, 100, 64, 2, 2], 0);
    udp.writeUInt16BE(udp.length - 20, 24);
    const ph = Buffer.concat([udp.subarray(12, 20), Buffer.from([0, 17]), udp.subarray(24, 26)]);
    udp.writeUInt16BE(~inetChecksum(ph) & 0xffff, 26);
    assert.ok(completeChecksum(udp, 20, 6));
    assert.equal(inetChecksum(ph, udp.subarray(20)), 0);
  });

  it('refuses offsets outside the packet and leaves it alone', () => {
    const p = tcpPacket({ version: 4, payload: pattern(10) });
    const copy = Buffer.from(p);
    for (const [start, off] of [[0, 16], [20, p.length], [p.length - 1, 0], [20, 15]] as const) assert.equal(completeChecksum(p, start, off), false);
    assert.deepEqual(p, copy);
  });
});

describe('coalesceTcp refuses what must not be merged', () => {
  const flow = (seq: number, n: number, extra: Partial<Parameters<typeof tcpPacket>[0]> = {}) => tcpPacket({ version: 4, payload: pattern(n, seq), seq, ...extra });
  const S = 1000;

  it('keeps order and merges only contiguous, same-flow, same-size runs', () => {
    const a = [flow(1, S, { id: 1 }), flow(1 + S, S, { id: 2 }), flow(1 + 2 * S, S, { id: 3 })];
    const gap = flow(1 + 4 * S, S, { id: 4 });
    const other = flow(1 + 3 * S, S, { id: 4, srcPort: 1 });
    const out = coalesceTcp([...a, gap, other]);
    assert.equal(out.packets.length, 3);
    assert.equal(out.packets[0]!.length, 20 + 32 + 3 * S);
    assert.deepEqual(out.packets.slice(1), [gap, other]);
    assert.deepEqual(out.vnet.slice(1), [undefined, undefined]);
  });

  it('a bad checksum, a short middle segment, FIN/SYN, or a non-consecutive IPv4 id stop the run', () => {
    const bad = flow(1 + S, S, { id: 2 });
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    assert.equal(coalesceTcp([flow(1, S, { id: 1 }), bad]).packets.length, 2, 'bad checksum');
    assert.equal(coalesceTcp([flow(1, S, { id: 1 }), flow(1 + S, 10, { id: 2 }), flow(11 + S, S, { id: 3 })]).packets.length, 2, 'short segment ends the run');
    assert.equal(coalesceTcp([flow(1, S, { id: 1 }), flow(1 + S, S, { id: 2, flags: ACK | FIN })]).packets.length, 2, 'FIN');
    assert.equal(coalesceTcp([flow(1, S, { id: 1, flags: SYN | ACK }), flow(1 + S, S, { id: 2 })]).packets.length, 2, 'SYN');
    assert.equal(coalesceTcp([flow(1, S, { id: 1 }), flow(1 + S, S, { id: 5 })]).packets.length, 2, 'IPv4 id');
    const psh = coalesceTcp([flow(1, S, { id: 1 }), flow(1 + S, S, { id: 2, flags: ACK | PSH }), flow(1 + 2 * S, S, { id: 3 })]);
    assert.equal(psh.packets.length, 2, 'PSH ends a run (kept on the merged packet)');
    assert.equal(flagsOf(psh.packets[0]!), ACK | PSH);
  });
});

describe('virtio_net_hdr', () => {
  it('is 10 little-endian bytes; undefined writes zeros', () => {
    const b = Buffer.alloc(2 * VNET_HDR_SIZE, 0xee);
    const h = { flags: 1, gsoType: 4, hdrLen: 0x0102, gsoSize: 0x0304, csumStart: 0x0506, csumOffset: 0x0708 };
    writeVnetHeader(b, 0, h);
    writeVnetHeader(b, VNET_HDR_SIZE, undefined);
    assert.deepEqual(b, Buffer.from([1, 4, 2, 1, 4, 3, 6, 5, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(readVnetHeader(b), h);
  });
});
