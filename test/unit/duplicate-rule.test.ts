/** The duplicate rule as a pure decision: both ends keep the same session. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SIMULTANEOUS_WINDOW_MS, decideDuplicate } from '../../src/transport/duplicates.js';
import type { Session } from '../../src/transport/index.js';

const s = (method: string, dialerId: string, establishedAt: number, tag = 'a'): Session => ({ method, dialerId, establishedAt, tag }) as unknown as Session;

describe('duplicate rule', () => {
  it('a direct session beats a relayed one whatever the ages and dialers, on both ends', () => {
    const relay = s('relay', 'x', 0);
    const direct = s('tcp-simultaneous-open', 'y', 1);
    for (const me of ['x', 'y']) {
      const up = decideDuplicate(relay, direct, me, false);
      assert.equal(up.keep, direct);
      assert.equal(up.close, relay);
      assert.equal(up.counter, 'sessions_upgraded_to_direct');
      const late = decideDuplicate(direct, relay, me, false);
      assert.equal(late.keep, direct);
      assert.equal(late.close, relay);
    }
  });

  it('between two direct sessions: newer after the window, else the smaller dialer id; the peer decides its own pair', () => {
    const old = s('outbound', 'a', 0);
    assert.equal(decideDuplicate(old, s('inbound', 'b', SIMULTANEOUS_WINDOW_MS + 1), 'a', false).keep.dialerId, 'b');
    assert.equal(decideDuplicate(old, s('inbound', 'b', 10), 'a', false).keep, old);
    const byPeer = decideDuplicate(s('inbound', 'p', 0), s('inbound', 'p', 10), 'me', false);
    assert.equal(byPeer.close, null);
    assert.equal(byPeer.keep.establishedAt, 10);
    const stale = decideDuplicate(s('inbound', 'p', 0), s('inbound', 'p', 10), 'me', true);
    assert.equal(stale.keep.establishedAt, 10);
    assert.equal(stale.close?.establishedAt, 0);
  });
});
