/** The check at the end of the SIGKILL cycles (test/helpers/kill-cycles.ts) finds what it must. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredMessage } from '../../src/store/index.js';
import { seededRandom, verify } from '../helpers/kill-cycles.js';

const A = 'a'.repeat(56);
const B = 'b'.repeat(56);
const row = (id: string, from: string, text: string): StoredMessage => ({ id, from, to: from === A ? B : A, timestamp: 1, text, signature: new Uint8Array(64), status: 'received' });

describe('kill-cycle verification', () => {
  const m1 = row('01', A, 'A0-0');
  const m2 = row('02', B, 'B0-0');
  const acked = [
    { from: 'A' as const, id: '01', text: 'A0-0' },
    { from: 'B' as const, id: '02', text: 'B0-0' },
  ];

  it('passes when every acknowledged message is on both sides once', () => {
    assert.deepEqual(verify(acked, { A: [m1, m2], B: [m1, m2] }), { lost: [], duplicates: [] });
  });

  it('reports an acknowledged message missing at the receiver', () => {
    assert.deepEqual(verify(acked, { A: [m1], B: [m1, m2] }).lost, ['B->A 02 (B0-0)']);
    assert.deepEqual(verify(acked, { A: [m1, m2], B: [m2] }).lost, ['A->B 01 (A0-0)']);
    assert.deepEqual(verify(acked, { A: [m2], B: [m1, m2] }).lost, ['A own history lacks 01 (A0-0)']);
  });

  it('reports the same id twice, and the same text under a new id', () => {
    assert.deepEqual(verify(acked, { A: [m1, m2, m1], B: [m1, m2] }).duplicates, [`A: id 01 twice`, 'A: text A0-0 twice']);
    assert.deepEqual(verify(acked, { A: [m1, m2], B: [m1, m2, row('03', A, 'A0-0')] }).duplicates, ['B: text A0-0 twice']);
  });

  it('seeded randomness replays', () => {
    const r1 = seededRandom(42);
    const r2 = seededRandom(42);
    const xs = Array.from({ length: 5 }, () => r1());
    assert.deepEqual(Array.from({ length: 5 }, () => r2()), xs);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const r3 = seededRandom(43);
    assert.notDeepEqual(Array.from({ length: 5 }, () => r3()), xs);
  });
});
