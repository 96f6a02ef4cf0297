/**
 * Which hole-punching work this node takes on. A PUNCH_START arrives because someone asked
 * the signaler to connect us; each costs us connection attempts (SYNs) towards addresses
 * the requester reported, and the birthday technique costs hundreds. So (limits named
 * below, pure bookkeeping with time passed in):
 * - blocked peers: never;
 * - at most MAX_PUNCHES_IN_FLIGHT punches at once, of which strangers' at most
 *   MAX_STRANGER_PUNCHES_IN_FLIGHT, and strangers' at most STRANGER_PUNCH_RATE;
 * - at most one birthday attempt (hundreds of sockets) at a time, and a stranger's at most
 *   STRANGER_BIRTHDAY_RATE; a punch denied the birthday still tries simultaneous open.
 */
import { TokenBucket } from '../core/rate.js';

/** Punches (ours and answers to PUNCH_START) running at once. */
export const MAX_PUNCHES_IN_FLIGHT = 16;
/** Answers to strangers' PUNCH_START running at once. */
export const MAX_STRANGER_PUNCHES_IN_FLIGHT = 8;
/** Answers to strangers' PUNCH_START: sustained per second and burst. */
export const STRANGER_PUNCH_RATE = { perSecond: 2, burst: 20 } as const;
/** Birthday attempts (up to 800 sockets each) running at once. */
export const MAX_BIRTHDAYS_IN_FLIGHT = 1;
/** Birthday attempts for strangers: sustained per second and burst. */
export const STRANGER_BIRTHDAY_RATE = { perSecond: 1 / 30, burst: 2 } as const;
/** Local endpoints tried per punch (the public one comes on top). */
export const MAX_LOCAL_CANDIDATES = 3;

/** Why a punch was refused. */
export type PunchRefusal = 'blocked' | 'in_flight' | 'stranger_in_flight' | 'stranger_rate';

/** A granted punch: whether it may use the birthday technique; call `release` once when done. */
export interface PunchTicket {
  birthday: boolean;
  release(): void;
}

export class PunchGuard {
  private inFlight = 0;
  private strangersInFlight = 0;
  private birthdays = 0;
  private readonly strangerRate: TokenBucket;
  private readonly strangerBirthdays: TokenBucket;

  constructor(now: number) {
    this.strangerRate = new TokenBucket(STRANGER_PUNCH_RATE.perSecond, STRANGER_PUNCH_RATE.burst, now);
    this.strangerBirthdays = new TokenBucket(STRANGER_BIRTHDAY_RATE.perSecond, STRANGER_BIRTHDAY_RATE.burst, now);
  }

  /**
   * A punch with a peer of trust `who`, `wantsBirthday` when the plan needs the birthday
   * technique. `ours`: we asked for it (a dial), as opposed to answering a PUNCH_START.
   */
  take(who: 'contact' | 'stranger' | 'blocked', wantsBirthday: boolean, ours: boolean, now: number): PunchTicket | PunchRefusal {
    if (who === 'blocked') return 'blocked';
    if (this.inFlight >= MAX_PUNCHES_IN_FLIGHT) return 'in_flight';
    const stranger = who === 'stranger' && !ours;
    if (stranger && this.strangersInFlight >= MAX_STRANGER_PUNCHES_IN_FLIGHT) return 'stranger_in_flight';
    if (stranger && !this.strangerRate.take(now)) return 'stranger_rate';
    const birthday = wantsBirthday && this.birthdays < MAX_BIRTHDAYS_IN_FLIGHT && (!stranger || this.strangerBirthdays.take(now));
    this.inFlight++;
    if (stranger) this.strangersInFlight++;
    if (birthday) this.birthdays++;
    let released = false;
    return {
      birthday,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        if (stranger) this.strangersInFlight--;
        if (birthday) this.birthdays--;
      },
    };
  }
}
