/** The datagram path's anti-replay window (src/vpn/replay-window.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../src/vpn/replay-window.js';

describe('replay window', () => {
  it('accepts counters in order and refuses each one a second time', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 100; c++) assert.equal(w.accept(c), true);
    for (const c of [0, 50, 99]) {
      assert.equal(w.check(c), 'replay');
      assert.equal(w.accept(c), false);
    }
    assert.equal(w.received, 100);
    assert.equal(w.expected, 100);
  });

  it('accepts reordering within the window, once', () => {
    const w = new ReplayWindow();
    const order = [0, 3, 1, 2, 10, 5, 4, 9, 6, 8, 7];
    for (const c of order) assert.equal(w.accept(c), true, `first ${c}`);
    for (const c of order) assert.equal(w.accept(c), false, `again ${c}`);
    assert.equal(w.received, 11);
    assert.equal(w.accept(1000), true);
    assert.equal(w.accept(11), true, '989 below the top: still judged, never seen');
    assert.equal(w.accept(11), false);
  });

  it('accepts late counters up to the window size below the top, refuses older ones', () => {
    const w = new ReplayWindow();
    const top = 5000;
    assert.equal(w.accept(top), true);
    assert.equal(w.check(top - REPLAY_WINDOW_SIZE + 1), 'ok');
    assert.equal(w.accept(top - REPLAY_WINDOW_SIZE + 1), true);
    assert.equal(w.accept(top - REPLAY_WINDOW_SIZE + 1), false, 'duplicate');
    assert.equal(w.check(top - REPLAY_WINDOW_SIZE), 'too_old');
    assert.equal(w.check(0), 'too_old');
    for (const c of [top - 1, top - 7, top - 1000]) assert.equal(w.accept(c), true, `late ${c}`);
    for (const c of [top - 1, top - 7, top - 1000]) assert.equal(w.accept(c), false, `again ${c}`);
  });

  it('slides: a jump clears the bits it passes, and old marks do not alias new counters', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 2048; c++) w.accept(c);
    // Counters 2048.. share ring positions with 0..: they were never seen, so they pass.
    for (let c = 2048; c < 2100; c++) assert.equal(w.accept(c), true, `${c}`);
    assert.equal(w.accept(100_000), true, 'a big jump');
    for (const c of [100_000 - 1, 100_000 - 2000, 99_000]) assert.equal(w.check(c), 'ok', `${c} unseen after the jump`);
    assert.equal(w.check(100_000 - 5000), 'too_old');
    assert.equal(w.check(100_000), 'replay');
  });

  it('estimates loss from counter gaps', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 1000; c++) if (c % 100 !== 0) w.accept(c);
    assert.equal(w.expected, 1000);
    assert.equal(w.received, 990);
  });
});
