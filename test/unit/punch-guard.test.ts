/** What punching work a node takes on (issue 8: punch storms). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PUNCHES_IN_FLIGHT, MAX_STRANGER_PUNCHES_IN_FLIGHT, PunchGuard, STRANGER_BIRTHDAY_RATE, STRANGER_PUNCH_RATE } from '../../src/punch/guard.js';

const ticket = <T>(t: T | string): T => {
  if (typeof t === 'string') throw new Error(`refused: ${t}`);
  return t;
};

describe('punch guard', () => {
  it('never punches for a blocked peer', () => {
    assert.equal(new PunchGuard(0).take('blocked', false, true, 0), 'blocked');
  });

  it('answers strangers at most MAX_STRANGER_PUNCHES_IN_FLIGHT at once and at STRANGER_PUNCH_RATE', () => {
    const g = new PunchGuard(0);
    const held = Array.from({ length: MAX_STRANGER_PUNCHES_IN_FLIGHT }, () => ticket(g.take('stranger', false, false, 0)));
    assert.equal(g.take('stranger', false, false, 0), 'stranger_in_flight');
    for (const t of held) t.release();
    // The burst was partly spent by the ones above.
    let granted = held.length;
    for (let i = 0; i < STRANGER_PUNCH_RATE.burst + 5; i++) {
      const t = g.take('stranger', false, false, 0);
      if (typeof t === 'string') {
        assert.equal(t, 'stranger_rate');
        continue;
      }
      granted++;
      t.release();
    }
    assert.equal(granted, STRANGER_PUNCH_RATE.burst);
    assert.notEqual(typeof g.take('stranger', false, false, 1000 / STRANGER_PUNCH_RATE.perSecond), 'string', 'refilled');
  });

  it('contacts and our own dials are limited only by the total', () => {
    const g = new PunchGuard(0);
    const held = Array.from({ length: MAX_PUNCHES_IN_FLIGHT }, (_, i) => ticket(g.take(i % 2 ? 'contact' : 'stranger', false, true, 0)));
    assert.equal(g.take('contact', false, false, 0), 'in_flight');
    held[0]?.release();
    assert.notEqual(typeof g.take('contact', false, false, 0), 'string');
  });

  it('strangers never take the room contacts keep', () => {
    const g = new PunchGuard(0);
    const strangers = Array.from({ length: MAX_STRANGER_PUNCHES_IN_FLIGHT }, () => ticket(g.take('stranger', false, false, 0)));
    assert.equal(g.take('stranger', false, false, 0), 'stranger_in_flight');
    const contacts = Array.from({ length: MAX_PUNCHES_IN_FLIGHT - MAX_STRANGER_PUNCHES_IN_FLIGHT }, () => ticket(g.take('contact', false, false, 0)));
    assert.equal(contacts.length, MAX_PUNCHES_IN_FLIGHT - strangers.length);
    assert.ok(contacts.length >= 1);
  });

  it('one birthday attempt (hundreds of sockets) at a time; strangers get STRANGER_BIRTHDAY_RATE; denied ones still punch', () => {
    const g = new PunchGuard(0);
    const first = ticket(g.take('contact', true, true, 0));
    assert.equal(first.birthday, true);
    const second = ticket(g.take('contact', true, true, 0));
    assert.equal(second.birthday, false, 'only one birthday at a time, the punch itself goes on');
    first.release();
    second.release();
    assert.equal(ticket(g.take('stranger', true, false, 0)).birthday, true);
    const again = ticket(g.take('stranger', true, false, 1_000));
    assert.equal(again.birthday, false, 'the first birthday is still running');
  });

  it('strangers get a burst of birthdays, then one per refill', () => {
    const g = new PunchGuard(0);
    const birthdays = (now: number): number => {
      let n = 0;
      for (let i = 0; i < STRANGER_BIRTHDAY_RATE.burst + 3; i++) {
        const t = ticket(g.take('stranger', true, false, now));
        if (t.birthday) n++;
        t.release();
      }
      return n;
    };
    assert.equal(birthdays(0), STRANGER_BIRTHDAY_RATE.burst);
    const refill = 1000 / STRANGER_BIRTHDAY_RATE.perSecond;
    assert.equal(birthdays(refill - 1_000), 0, 'not yet refilled');
    assert.equal(birthdays(refill), 1);
    const contact = ticket(g.take('contact', true, true, refill));
    assert.equal(contact.birthday, true, "a contact's birthday does not wait for the strangers' budget");
  });
});
