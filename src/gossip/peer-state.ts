/**
 * What a node remembers about each gossip partner, in constant space per partner, and a
 * bounded table of partners.
 *
 * Against a book whose entries carry change numbers, a partner's state is three numbers:
 * `hot` (book version at our last push to it: later changes are news, sent newest first),
 * and the backlog window (sweep, gapEnd): changes inside it are still to be sent, oldest
 * first, a message at a time; changes up to `sweep` and from `gapEnd` to `hot` have been
 * sent. None grows with the number of records, so a flood of records cannot grow
 * per-partner memory.
 */
import type { PeerBook } from './book.js';
import { MAX_RECORDS_PER_MESSAGE } from '../wire/index.js';

/** Most partners tracked at once; the least recently used is forgotten beyond it. */
export const MAX_TRACKED_PEERS = 1024;
/** Most records taken from one partner per round (its push and its reply, with slack). */
export const MAX_INBOUND_PER_PEER_ROUND = 4 * MAX_RECORDS_PER_MESSAGE;

/** Sync state with one partner. */
export interface PeerSyncState {
  readonly peer: string;
  /** Every change number <= sweep has been sent (or came from this partner). */
  sweep: number;
  /** Exclusive end of the backlog window; changes gapEnd..hot have been sent. */
  gapEnd: number;
  /** Book version at the last push; changes above it are news for this partner. */
  hot: number;
  /** Records taken from this partner in the current round. */
  inbound: number;
}

/** Bounded table of {@link PeerSyncState} by partner id. */
export class PeerStates {
  private readonly states = new Map<string, PeerSyncState>();

  constructor(private readonly maxPeers = MAX_TRACKED_PEERS) {}

  get size(): number {
    return this.states.size;
  }

  /** The state for `peer`, created (knowing nothing) when absent. */
  get(peer: string): PeerSyncState {
    let s = this.states.get(peer);
    if (s) {
      this.states.delete(peer);
    } else {
      s = { peer, sweep: 0, gapEnd: 1, hot: 0, inbound: 0 };
      if (this.states.size >= this.maxPeers) {
        const oldest = this.states.keys().next().value;
        if (oldest !== undefined) this.states.delete(oldest);
      }
    }
    this.states.set(peer, s);
    return s;
  }

  /** Forget `peer` (on disconnect). */
  remove(peer: string): void {
    this.states.delete(peer);
  }

  /** Record that `peer` already holds everything in `book` (e.g. a warm start). */
  markSynced(peer: string, book: PeerBook): void {
    const s = this.get(peer);
    s.sweep = book.version;
    s.gapEnd = book.version + 1;
    s.hot = book.version;
  }

  /** Start a new round: inbound budgets refill. */
  newRound(): void {
    for (const s of this.states.values()) s.inbound = 0;
  }
}
