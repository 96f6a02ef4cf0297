/**
 * Anti-replay for the datagram path: a 2,048-bit sliding bitmap of the counters seen under
 * one key (RFC 6479, as WireGuard's). Pure; no clock.
 *
 * The bitmap is 64 words of 32 bits used as a ring: bit (c mod 2048) stands for counter c
 * while c is within the window. Counters up to WINDOW_SIZE - 32 (2,016) below the highest
 * seen are judged exactly (reordering within that distance is accepted); anything older is
 * refused. Moving the top forward clears only the words it passes (at most the whole ring).
 *
 * Use: {@link ReplayWindow.check} before the (costly) authentication, {@link ReplayWindow.accept}
 * only after it succeeded, so forged datagrams never move the window.
 *
 * It also estimates the loss of the path it guards, from the counters alone: `expected`
 * is the highest counter + 1 (every counter the peer has used, as far as we can tell) and
 * `received` the counters accepted; their difference grows by one per datagram lost (or
 * still in flight, or reordered beyond the window).
 */

/** Bits in the window. */
export const REPLAY_WINDOW_BITS = 2048;
const WORD_BITS = 32;
const WORDS = REPLAY_WINDOW_BITS / WORD_BITS;
/** How far below the highest counter a counter is still judged (one word is the slack of the ring). */
export const REPLAY_WINDOW_SIZE = REPLAY_WINDOW_BITS - WORD_BITS;

/** Why a counter is refused: seen before, or too old to tell. */
export type ReplayVerdict = 'ok' | 'replay' | 'too_old';

export class ReplayWindow {
  private readonly bits = new Uint32Array(WORDS);
  /** Highest counter accepted; -1 before the first. */
  private top = -1;
  private accepted = 0;

  /** Whether `counter` may be accepted (no state change). */
  check(counter: number): ReplayVerdict {
    if (counter > this.top) return 'ok';
    if (this.top - counter >= REPLAY_WINDOW_SIZE) return 'too_old';
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    return (this.bits[word]! >>> (counter % WORD_BITS)) & 1 ? 'replay' : 'ok';
  }

  /**
   * Marks `counter` seen (call after authentication); false (and no change) when
   * {@link check} would refuse it.
   */
  accept(counter: number): boolean {
    if (this.check(counter) !== 'ok') return false;
    if (counter > this.top) this.slide(counter);
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    this.bits[word]! |= 1 << (counter % WORD_BITS);
    this.accepted++;
    return true;
  }

  /** Counters the sender has used as far as we know (highest seen + 1). */
  get expected(): number {
    return this.top + 1;
  }

  /** Counters accepted. */
  get received(): number {
    return this.accepted;
  }

  /** Moves the top to `counter`, clearing the words between the old top's and the new one's. */
  private slide(counter: number): void {
    const oldWord = this.top < 0 ? -1 : Math.floor(this.top / WORD_BITS);
    const newWord = Math.floor(counter / WORD_BITS);
    const steps = Math.min(newWord - oldWord, WORDS);
    for (let i = 1; i <= steps; i++) this.bits[(((newWord - steps + i) % WORDS) + WORDS) % WORDS] = 0;
    this.top = counter;
  }
}
