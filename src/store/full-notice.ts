/**
 * What the node says about a full disk: at most one warning per interval however many
 * writes are refused (a flood of refused writes must not become a flood of log lines),
 * and one line when writes go through again after a warning. Near the threshold, where
 * writes alternate between refused and admitted, that is at most two lines per interval.
 * Pure: the caller passes the time.
 */
import { FULL_WARNING_INTERVAL_MS } from './limits.js';

export class FullNotice {
  readonly #intervalMs: number;
  #lastWarnAt = Number.NEGATIVE_INFINITY;
  /** Refusals not mentioned in a line yet. */
  #unreported = 0;
  /** A warning was logged and no "resumed" line since. */
  #warned = false;

  constructor(intervalMs = FULL_WARNING_INTERVAL_MS) {
    this.#intervalMs = intervalMs;
  }

  /** A write was refused for lack of space at `now`: the warning to log, or null (already said recently). */
  refused(now: number, detail: string): string | null {
    this.#unreported += 1;
    if (now - this.#lastWarnAt < this.#intervalMs) return null;
    const more = this.#unreported > 1 ? ` (${this.#unreported} writes refused since the last warning)` : '';
    this.#lastWarnAt = now;
    this.#unreported = 0;
    this.#warned = true;
    return `store: disk full, refusing writes until space is freed: ${detail}${more}`;
  }

  /** A message write went through: the line to log if we warned since the last one, or null. */
  admitted(): string | null {
    if (!this.#warned) return null;
    this.#warned = false;
    const more = this.#unreported > 0 ? ` (${this.#unreported} more writes were refused)` : '';
    this.#unreported = 0;
    return `store: disk space is available again, writes resumed${more}`;
  }
}
