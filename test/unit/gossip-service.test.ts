/** GossipService: what one partner can make us spend (pull amplification). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipService, PUSH_RATE, STRANGER_VERIFY_RATE, signRecord } from '../../src/gossip/index.js';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/index.js';
import { FrameType, encodeGossipPush } from '../../src/wire/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

function service(trusted: (peer: string) => boolean = () => false) {
  const clock = fakeClock(1_700_000_000_000);
  const g = new GossipService({
    trusted,
    identity: generateIdentity(),
    store: new MemoryStore(),
    clock,
    log: createLogger('silent', () => {}),
    addresses: () => ({ public: [], local: [{ host: '192.168.1.2', port: 7000 }] }),
    connected: () => [],
    onLearned: () => {},
  });
  g.start();
  return { g, clock };
}

function channel(writableLength = 0) {
  const sent: number[] = [];
  return { peerId: generateIdentity().id, writableLength, sent, send: (type: number) => (sent.push(type), true) };
}

describe('gossip service limits', () => {
  it('answers at most the push rate of one partner; the rest is ignored and counted', async () => {
    const { g, clock } = service();
    const ch = channel();
    for (let i = 0; i < 200; i++) g.onPush(ch, encodeGossipPush([]));
    assert.equal(ch.sent.filter((t) => t === FrameType.GOSSIP_PULL_REPLY).length, PUSH_RATE.burst);
    assert.equal(g.counters()['gossip.push_rate_limited'], 200 - PUSH_RATE.burst);
    await clock.advance(5_000);
    g.onPush(ch, encodeGossipPush([]));
    assert.equal(ch.sent.length, PUSH_RATE.burst + 1, 'the budget refills with time');
    // Another partner has its own budget.
    const other = channel();
    g.onPush(other, encodeGossipPush([]));
    assert.equal(other.sent.length, 1);
    await g.close();
  });

  it('writes no reply to a partner that does not read (its queue is long)', async () => {
    const { g } = service();
    const ch = channel(1024 * 1024);
    g.onPush(ch, encodeGossipPush([]));
    assert.equal(ch.sent.length, 0);
    assert.equal(g.counters()['gossip.reply_skipped_congested'], 1);
    await g.close();
  });

  it('a flood of fresh records from strangers is refused before any check once the budget is spent; contacts are not limited', async () => {
    const { g, clock } = service((p) => p === 'contact');
    const now = clock.now();
    const rec = (): Uint8Array => signRecord(generateIdentity(), { seq: 1, issuedAt: now, expiresAt: now + 3_600_000, public: [], local: [] });
    for (let i = 0; i < 15; i++) g.onPush(channel(), encodeGossipPush(Array.from({ length: 32 }, rec)));
    const after = g.counters();
    assert.equal(after['gossip.accepted'], STRANGER_VERIFY_RATE.burst + 1, 'exactly the burst (and our own record)');
    assert.equal(after['gossip.verify_limited'], 15 * 32 - STRANGER_VERIFY_RATE.burst);
    const contact = { ...channel(), peerId: 'contact' };
    g.onPush(contact, encodeGossipPush(Array.from({ length: 32 }, rec)));
    assert.equal(g.counters()['gossip.accepted'], STRANGER_VERIFY_RATE.burst + 1 + 32, 'a contact\'s records are checked anyway');
    await g.close();
  });
});
