/**
 * The signaler load benchmark's pure choices: distinct source addresses, lookups that
 * cross instances, and how nodes are split between the client processes. A wrong choice
 * here would make the figures measure something else (one IP hitting the per-IP cap,
 * lookups answered by the instance the node is on), so they are checked.
 */
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import { sourceAddress } from '../../bench/signaler-load-client.js';
import { lookupTarget } from '../../bench/signaler-load-worker.js';
import { split } from '../../bench/signaler-load.js';

describe('signaler load: source addresses', () => {
  it('gives 70,000 clients distinct loopback IPv4 addresses in 127.16.0.0/12', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 70_000; i++) {
      const a = sourceAddress(i);
      assert.ok(isIPv4(a), a);
      const [o1, o2] = a.split('.').map(Number);
      assert.equal(o1, 127);
      assert.ok((o2 as number) >= 16 && (o2 as number) < 32, a);
      seen.add(a);
    }
    assert.equal(seen.size, 70_000);
    assert.equal(sourceAddress(0), '127.16.0.1');
    assert.equal(sourceAddress(255), '127.16.1.0');
  });
});

describe('signaler load: lookup targets', () => {
  const all = (): boolean => true;

  it('with 2 or 3 instances always picks a node registered at another instance', () => {
    for (const k of [2, 3]) {
      for (const first of [0, 1, 5_000]) {
        const n = 1_001; // not a multiple of k: the wrap-around must not land on the same instance
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < 2; j++) {
            const t = lookupTarget(i, j, { n, k, first, registered: all });
            assert.ok(t !== undefined && t !== i);
            assert.notEqual((first + t) % k, (first + i) % k, `k=${k} first=${first} i=${i} j=${j} → ${t}`);
          }
        }
      }
    }
  });

  it('spreads a client’s successive lookups over different targets', () => {
    const opts = { n: 100, k: 3, first: 0, registered: all };
    const targets = [0, 1, 2].map((j) => lookupTarget(7, j, opts));
    assert.equal(new Set(targets).size, 3);
  });

  it('with 1 instance picks any other registered node, skipping the unregistered', () => {
    const registered = (t: number): boolean => t % 2 === 0;
    assert.equal(lookupTarget(4, 0, { n: 10, k: 1, first: 0, registered }), 6);
    assert.equal(lookupTarget(8, 0, { n: 10, k: 1, first: 0, registered }), 0);
  });

  it('answers undefined when no node qualifies', () => {
    assert.equal(lookupTarget(0, 0, { n: 1, k: 1, first: 0, registered: all }), undefined);
    assert.equal(lookupTarget(0, 0, { n: 3, k: 2, first: 0, registered: (t) => t === 2 }), undefined);
  });
});

describe('signaler load: split between client processes', () => {
  const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

  it('splits exactly the total in proportion, never beyond what a worker holds', () => {
    assert.deepEqual(split(20_000, [5_000, 5_000, 5_000, 5_000]), [5_000, 5_000, 5_000, 5_000]);
    assert.deepEqual(split(9_837, [5_000, 5_000, 5_000, 5_000]), [2_460, 2_459, 2_459, 2_459]);
    const s = split(19_850, [6_667, 6_667, 6_666]);
    assert.equal(total(s), 19_850);
    assert.ok(s.every((x, w) => x <= [6_667, 6_667, 6_666][w]!));
  });

  it('gives everything when asked for more than the workers hold', () => {
    assert.deepEqual(split(50, [10, 20]), [10, 20]);
  });
});
