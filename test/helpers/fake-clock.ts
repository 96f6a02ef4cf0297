/**
 * A manual clock for exact tests of timed logic: time moves only when the test calls
 * `advance`, which runs due timeouts and intervals in time order (letting promise
 * callbacks settle between them).
 */
import type { Clock } from '../../src/core/clock.js';

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): Promise<void>;
  /** Sets the current time without running timers (for a start time). */
  set(now: number): void;
  /** Timers pending. */
  readonly pending: number;
}

interface Timer {
  id: number;
  at: number;
  every: number | null;
  fn: () => void;
}

export function fakeClock(start = 0): FakeClock {
  let now = start;
  let timers: Timer[] = [];
  let next = 1;
  const add = (fn: () => void, ms: number, every: number | null): number => {
    const id = next++;
    timers.push({ id, at: now + Math.max(0, ms), every, fn });
    return id;
  };
  const clear = (h: unknown): void => {
    timers = timers.filter((t) => t.id !== h);
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, null),
    clearTimeout: clear,
    setInterval: (fn, ms) => add(fn, ms, Math.max(1, ms)),
    clearInterval: clear,
    set(t: number) {
      now = t;
    },
    get pending() {
      return timers.length;
    },
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (!due) break;
        now = due.at;
        if (due.every === null) timers = timers.filter((t) => t !== due);
        else due.at += due.every;
        due.fn();
      }
      now = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}
