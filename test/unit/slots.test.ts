import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingHandshakes } from '../../src/transport/pending.js';
import { countSlots, decideSlot, idlestStranger } from '../../src/transport/slots.js';

const limits = { maxSessions: 10, maxStrangerSessions: 4, maxStrangerSessionsPerIp: 2 };

describe('session slots (pure)', () => {
  it('refuses blocked peers whatever the counts', () => {
    assert.deepEqual(decideSlot('blocked', { total: 0, strangers: 0 }, limits), { kind: 'refuse', reason: 'blocked' });
  });

  it('strangers: total, stranger and per-IP caps', () => {
    assert.deepEqual(decideSlot('stranger', { total: 3, strangers: 3, strangersFromIp: 1 }, limits), { kind: 'admit' });
    assert.deepEqual(decideSlot('stranger', { total: 4, strangers: 4 }, limits), { kind: 'refuse', reason: 'busy' });
    assert.deepEqual(decideSlot('stranger', { total: 2, strangers: 2, strangersFromIp: 2 }, limits), { kind: 'refuse', reason: 'busy' });
    assert.deepEqual(decideSlot('stranger', { total: 10, strangers: 0 }, limits), { kind: 'refuse', reason: 'busy' });
    assert.deepEqual(decideSlot('stranger', { total: 1, strangers: 1 }, limits), { kind: 'admit' }, 'outbound: no per-IP count');
  });

  it('contacts: admitted, evicting a stranger when the total is full, refused only when full of contacts', () => {
    assert.deepEqual(decideSlot('contact', { total: 9, strangers: 4 }, limits), { kind: 'admit' });
    assert.deepEqual(decideSlot('contact', { total: 10, strangers: 1 }, limits), { kind: 'evict' });
    assert.deepEqual(decideSlot('contact', { total: 10, strangers: 0 }, limits), { kind: 'refuse', reason: 'busy' });
  });

  it('counts and picks the idlest stranger', () => {
    const sessions = [
      { slot: 'contact' as const, lastActive: 0, ip: 'a' },
      { slot: 'stranger' as const, lastActive: 50, ip: 'a' },
      { slot: 'stranger' as const, lastActive: 10, ip: 'b' },
    ];
    assert.deepEqual(countSlots(sessions, (s) => s.ip === 'a'), { total: 3, strangers: 2, strangersFromIp: 1 });
    assert.deepEqual(countSlots(sessions), { total: 3, strangers: 2 });
    assert.equal(idlestStranger(sessions)?.lastActive, 10);
    assert.equal(idlestStranger([{ slot: 'contact' as const, lastActive: 0 }]), undefined);
  });
});

describe('pending handshakes (pure)', () => {
  it('refuses beyond the per-IP cap and drops the oldest when full', () => {
    const p = new PendingHandshakes<string>({ perIp: 2, total: 3 });
    assert.deepEqual(p.admit('a1', 'A'), { evicted: null });
    assert.deepEqual(p.admit('a2', 'A'), { evicted: null });
    assert.deepEqual(p.admit('a3', 'A'), { refused: 'pending_per_ip' });
    assert.deepEqual(p.admit('b1', 'B'), { evicted: null });
    assert.deepEqual(p.admit('c1', 'C'), { evicted: 'a1' }, 'the oldest goes for the newcomer');
    assert.equal(p.size, 3);
    assert.deepEqual(p.admit('a4', 'A'), { evicted: 'a2' }, 'A has room again after its oldest was dropped');
    p.done('a4');
    p.done('a4');
    assert.equal(p.size, 2);
  });
});
