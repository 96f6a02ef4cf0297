import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { Backoff, parseSignalerAddress, punchDelays, TokenBucket } from '../../src/signaler/index.js';

describe('punchDelays', () => {
  it('makes both sides start together: delay + rtt/2 is equal on both sides', () => {
    const d = punchDelays(20, 200, 30);
    assert.deepEqual(d, { a: 120, b: 30 });
    assert.equal(d.a + 20 / 2, d.b + 200 / 2);
    assert.deepEqual(punchDelays(50, 50, 30), { a: 30, b: 30 });
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    const b = new TokenBucket(2, 3, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
    assert.equal(b.take(400), false, '0.8 tokens after 400 ms');
    assert.equal(b.take(500), true, 'one token after 500 ms');
    assert.equal(b.take(10_000), true);
  });
});

describe('Backoff', () => {
  it('grows exponentially to the cap with full jitter, and resets', () => {
    const top = new Backoff(500, 4_000, () => 0.999999);
    assert.deepEqual([top.next(), top.next(), top.next(), top.next(), top.next()], [499, 999, 1999, 3999, 3999]);
    const zero = new Backoff(500, 4_000, () => 0);
    assert.equal(zero.next(), 0, 'full jitter reaches zero');
    top.reset();
    assert.equal(top.next(), 499);
  });
});

describe('parseSignalerAddress', () => {
  it('accepts host:port and host:port#id, rejects the rest', () => {
    const id = generateIdentity().id;
    assert.deepEqual(parseSignalerAddress('127.0.0.1:8888'), { host: '127.0.0.1', port: 8888, pinned: null });
    assert.deepEqual(parseSignalerAddress(`sig.example:8888#${id}`), { host: 'sig.example', port: 8888, pinned: id });
    assert.equal(parseSignalerAddress('127.0.0.1:8888#notanid'), undefined);
    assert.equal(parseSignalerAddress('127.0.0.1'), undefined);
    assert.equal(parseSignalerAddress(`a:1#${id}#x`), undefined);
  });
});
