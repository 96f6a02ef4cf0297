/**
 * The addon's VPN datagram functions (native/dgram.c) on loopback: AES-256-GCM that gives
 * the same bytes as node:crypto and refuses forgeries, sendmmsg batches that deliver every
 * datagram intact to the right port, refusals counted instead of thrown, a batched reader
 * that drops oversized datagrams, and the UdpPort built on them (src/vpn/udp-port.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadDatagramNative, type DatagramNative } from '../../src/native/udp.js';
import { openDatagram, openDatagramNode, sealDatagram, sealDatagramNode } from '../../src/vpn/datagram-crypto.js';
import { bindNative, type UdpPort } from '../../src/vpn/udp-port.js';
import { DatagramType } from '../../src/wire/index.js';

const loaded = loadDatagramNative();
const opts = { skip: loaded ? false : 'native addon without the datagram functions', timeout: 20_000 };
const native = (): DatagramNative => loaded ?? assert.fail('addon');

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((f) => f()));

function fd(host = '127.0.0.1'): number {
  const n = native().udpBind(host, 0, false);
  cleanups.push(() => native().close(n));
  return n;
}

/** Reads `fd` with udpStartReadingData until `want` datagrams came (then a short grace for extras). */
function collect(f: number, size: number, want: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    let done = false;
    native().udpStartReadingData(f, size, (ds) => {
      got.push(...ds);
      if (!done && got.length >= want) {
        done = true;
        setTimeout(() => resolve(got), 100);
      }
    });
  });
}

const packet = (i: number, len = 1400): Buffer => Buffer.alloc(len, i & 0xff).fill(i >> 8, 0, Math.min(1, len));

describe('native datagram AEAD', () => {
  const k1 = Buffer.alloc(32, 1);
  const k2 = Buffer.alloc(32, 2);

  it('seals to the same bytes as node:crypto and each opens the other', opts, () => {
    for (const len of [0, 1, 8, 1400]) {
      // Alternating keys: the addon's cached key schedule must follow the key.
      for (const key of [k1, k2, k1]) {
        const p = packet(len, len);
        const a = sealDatagram(key, DatagramType.DATA, 0xabcdef01, 2 ** 40 + len, p);
        const b = sealDatagramNode(key, DatagramType.DATA, 0xabcdef01, 2 ** 40 + len, p);
        assert.deepEqual(a, b);
        assert.deepEqual(openDatagram(key, b), p);
        assert.deepEqual(openDatagramNode(key, a), p);
      }
    }
  });

  it('refuses a flipped bit anywhere, the wrong key, and a datagram too short to hold a tag', opts, () => {
    const d = sealDatagram(k1, DatagramType.DATA, 7, 9, packet(3, 100));
    for (const at of [0, 5, 12, 13, 60, d.length - 1]) {
      const bad = Buffer.from(d);
      bad[at]! ^= 0x10;
      assert.equal(native().dgramOpen(k1, bad), null, `bit flipped at ${at}`);
    }
    assert.equal(native().dgramOpen(k2, d), null);
    assert.equal(native().dgramOpen(k1, d.subarray(0, 28)), null);
    assert.deepEqual(native().dgramOpen(k1, d), packet(3, 100)); // and the good one still opens after failures
    assert.throws(() => native().dgramSeal(Buffer.alloc(16), Buffer.alloc(40)), /32 bytes/);
  });
});

describe('native batched UDP', () => {
  it('udpSendBatch delivers every datagram, bytes intact, to the addressed port only (more than one sendmmsg)', opts, async () => {
    const tx = fd();
    const rxA = fd();
    const rxB = fd();
    const sent = Array.from({ length: 150 }, (_, i) => packet(i, 100 + i));
    const gotA = collect(rxA, 2048, sent.length);
    const gotB: Buffer[] = [];
    native().udpStartReadingData(rxB, 2048, (ds) => gotB.push(...ds));
    assert.equal(native().udpSendBatch(tx, sent, '127.0.0.1', native().sockname(rxA).port), sent.length);
    const got = await gotA;
    assert.deepEqual(got, sent); // loopback keeps order
    assert.equal(gotB.length, 0);
  });

  it('a refused datagram is skipped and counted in the result, not thrown; bad arguments throw', opts, () => {
    const tx = fd();
    // An IPv6 destination from an IPv4 socket: every sendmmsg is refused (EAFNOSUPPORT).
    assert.equal(native().udpSendBatch(tx, [packet(1, 10), packet(2, 10)], '::1', 9), 0);
    assert.equal(native().udpSendBatch(tx, [], '127.0.0.1', 9), 0);
    assert.throws(() => native().udpSendBatch(tx, [Buffer.alloc(1), 'x' as unknown as Buffer], '127.0.0.1', 9), /array of Buffers/);
    assert.throws(() => native().udpSendBatch(tx, [], 'not-an-ip', 9), /numeric IP/);
  });

  it('the data reader drops a datagram longer than its size and keeps reading', opts, async () => {
    const tx = fd();
    const rx = fd();
    const got = collect(rx, 100, 2);
    const sent = [packet(1, 100), packet(2, 101), packet(3, 50)];
    assert.equal(native().udpSendBatch(tx, sent, '127.0.0.1', native().sockname(rx).port), 3);
    assert.deepEqual(await got, [sent[0], sent[2]]);
  });
});

describe('the addon UdpPort', () => {
  const port = (host?: string): UdpPort => {
    const p = bindNative(native(), 0, host);
    cleanups.push(() => p.close());
    return p;
  };

  it('sendMany and send reach a dual-stack (or IPv4) port from an IPv4 one; failures go to onError', opts, async () => {
    const rx = port();
    const tx = port('127.0.0.1');
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) =>
      rx.onMessage((d) => {
        got.push(d);
        if (got.length === 4) resolve();
      }),
    );
    const errors: number[] = [];
    tx.sendMany?.([packet(1, 20), packet(2, 30), packet(3, 40)], '127.0.0.1', rx.port, (n) => errors.push(n));
    tx.send(packet(4, 50), '127.0.0.1', rx.port, () => errors.push(-1));
    await all;
    assert.deepEqual(got, [packet(1, 20), packet(2, 30), packet(3, 40), packet(4, 50)]);
    assert.deepEqual(errors, []);
    const refused: number[] = [];
    tx.sendMany?.([packet(5, 10), packet(6, 10)], '::1', rx.port, (n) => refused.push(n));
    tx.send(packet(7, 10), '::1', rx.port, () => refused.push(-1));
    assert.deepEqual(refused, [2, -1]);
  });
});
