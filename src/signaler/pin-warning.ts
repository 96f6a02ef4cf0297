/**
 * What the node says when a signaler does not prove the id it is trusted under (pinned with
 * `host:port#id`, or remembered on first use). The client retries every signaler with
 * backoff, so the same mismatch comes back again and again: the first one is a warning
 * that says what to do about it, the repeats are quiet (debug) and a warning again only
 * once per {@link PIN_WARNING_INTERVAL_MS}, with how many were left unsaid. Pure: the
 * caller passes the time.
 */
import type { NodeId } from '../api.js';

/** A repeated mismatch of one signaler is warned about again at most this often. */
export const PIN_WARNING_INTERVAL_MS = 10 * 60_000;

/** One mismatch: where, what we expected, what answered, and whether the id was pinned. */
export interface PinMismatch {
  /** The signaler as configured, `host:port`. */
  address: string;
  expected: NodeId;
  /** The id the signaler proved, when known (null: the mismatch came without it). */
  actual: NodeId | null;
  /** True: pinned with `#id` on the command line; false: remembered on first use. */
  pinned: boolean;
}

/**
 * The fix, in one sentence: pin the id the signaler now proves if its key changed on
 * purpose (an explicit pin also replaces a remembered id), else keep refusing it.
 */
export function pinMismatchHint(m: PinMismatch): string {
  const was = m.pinned ? `the pinned id ${m.expected}` : `${m.expected}, the id remembered when it was first used`;
  const now = m.actual ? `signaler ${m.address} proved id ${m.actual}, not ${was}` : `signaler ${m.address} did not prove ${was}`;
  const pin = m.actual ? `--signaler ${m.address}#${m.actual}` : `--signaler ${m.address}#<its new id> (its operator can tell you the id; sentinel-signaler prints it at start)`;
  const where = m.pinned ? '' : ' (it replaces the remembered id)';
  return `${now}. If its key was changed on purpose, pin the new id: ${pin}${where}. Otherwise someone else may be answering at that address: the node keeps refusing it, retries later, and meanwhile uses any other signaler in --signaler`;
}

/** Whether to warn about a mismatch now, and the line to log. */
export interface PinNotice {
  level: 'warn' | 'debug';
  line: string;
}

/** Bounded: one entry per configured signaler address (the caller's list is fixed). */
export class PinWarnings {
  private readonly last = new Map<string, { at: number; quiet: number }>();

  /** The line for this mismatch at `now`: a warning with the hint, or a quiet repeat. */
  notice(m: PinMismatch, now: number): PinNotice {
    const seen = this.last.get(m.address);
    if (seen && now - seen.at < PIN_WARNING_INTERVAL_MS) {
      seen.quiet++;
      return { level: 'debug', line: `signaler ${m.address} still does not prove ${m.expected} (warned at most every ${PIN_WARNING_INTERVAL_MS / 60_000} min)` };
    }
    const repeats = seen && seen.quiet > 0 ? ` (${seen.quiet} more attempt(s) since the last warning)` : '';
    this.last.set(m.address, { at: now, quiet: 0 });
    return { level: 'warn', line: `${pinMismatchHint(m)}${repeats}` };
  }

  /** The signaler proved its id again: a later mismatch is news, warned at once. */
  proved(address: string): void {
    this.last.delete(address);
  }
}
