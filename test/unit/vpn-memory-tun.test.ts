import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTun, MEMORY_TUN_MTU } from '../../src/vpn/index.js';

describe('MemoryTun', () => {
  it('reports its name and MTU', () => {
    const tun = new MemoryTun();
    assert.equal(tun.name, 'mem0');
    assert.equal(tun.mtu, MEMORY_TUN_MTU);
    const named = new MemoryTun({ name: 'x1', mtu: 1280 });
    assert.deepEqual([named.name, named.mtu], ['x1', 1280]);
  });

  it('delivers injected batches, queued until a handler is set, as copies', () => {
    const tun = new MemoryTun();
    const original = Buffer.of(1, 2, 3);
    tun.inject([original]);
    tun.inject([]);
    original[0] = 9;
    const seen: Buffer[][] = [];
    tun.onPackets((packets) => seen.push(packets));
    tun.inject([Buffer.of(4), Buffer.of(5)]);
    assert.deepEqual(seen, [[Buffer.of(1, 2, 3)], [Buffer.of(4), Buffer.of(5)]]);
    assert.throws(() => tun.onPackets(() => {}));
  });

  it('records writes as copies, drains them, and stops after close', async () => {
    const tun = new MemoryTun();
    const p = Buffer.of(7);
    tun.write([p]);
    p[0] = 8;
    assert.deepEqual(tun.written, [Buffer.of(7)]);
    assert.deepEqual(tun.drain(), [Buffer.of(7)]);
    assert.deepEqual(tun.written, []);
    const seen: Buffer[][] = [];
    tun.onPackets((packets) => seen.push(packets));
    await tun.close();
    await tun.close();
    assert.equal(tun.closed, true);
    tun.write([Buffer.of(1)]);
    tun.inject([Buffer.of(1)]);
    assert.deepEqual(tun.written, []);
    assert.deepEqual(seen, []);
  });
});
