/**
 * Moving relayed peers to a direct path. While our session with a peer runs through a
 * relay, and we opened it, we keep trying the direct means (known addresses, then hole
 * punching), first after UPGRADE_FIRST_MS, then backing off to UPGRADE_MAX_MS. When a
 * direct session comes up, the connection manager's duplicate rule keeps it and closes
 * the relayed one (both ends agree); the outbox resends what was not acknowledged on the
 * new session and the receiver drops what it already stored, so nothing is lost or doubled.
 */
import type { NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock, Counters, Session } from '../transport/index.js';

/** First direct attempt after a relayed session came up. */
export const UPGRADE_FIRST_MS = 5_000;
/** Longest wait between two direct attempts. */
export const UPGRADE_MAX_MS = 5 * 60_000;

export interface UpgraderDeps {
  self: NodeId;
  clock: Clock;
  counters: Counters;
  log: Logger;
  /** Known addresses, then punching; never a relay. Resolves with a direct session. */
  tryDirect(peer: NodeId): Promise<Session>;
  /** Whether our active session with `peer` still runs through a relay. */
  relayed(peer: NodeId): boolean;
  random?: () => number;
  firstMs?: number;
  maxMs?: number;
}

export class DirectUpgrader {
  private readonly waiting = new Map<NodeId, unknown>();
  private readonly delay = new Map<NodeId, number>();
  private closed = false;

  constructor(private readonly deps: UpgraderDeps) {}

  /** Peers with an upgrade attempt scheduled. */
  get pending(): number {
    return this.waiting.size;
  }

  onSessionUp(s: Session): void {
    if (s.method !== 'relay') return this.cancel(s.peerId);
    // The end that opened the circuit tries; the other answers its punches.
    if (s.dialerId !== this.deps.self || this.waiting.has(s.peerId)) return;
    this.delay.set(s.peerId, this.deps.firstMs ?? UPGRADE_FIRST_MS);
    this.schedule(s.peerId);
  }

  onSessionDown(peer: NodeId): void {
    this.cancel(peer);
  }

  close(): void {
    this.closed = true;
    for (const peer of [...this.waiting.keys()]) this.cancel(peer);
  }

  private schedule(peer: NodeId): void {
    if (this.closed) return;
    const base = this.delay.get(peer) ?? UPGRADE_FIRST_MS;
    const jitter = 1 + 0.2 * (this.deps.random ?? Math.random)();
    this.waiting.set(
      peer,
      this.deps.clock.setTimeout(() => void this.attempt(peer), Math.round(base * jitter)),
    );
  }

  private async attempt(peer: NodeId): Promise<void> {
    if (this.closed || !this.deps.relayed(peer)) return this.cancel(peer);
    const { counters, log } = this.deps;
    counters.inc('relay.upgrade_attempts');
    try {
      const s = await this.deps.tryDirect(peer);
      counters.inc('relay.upgraded');
      log.info(`moved ${peer} from the relay to a direct path (${s.method}, ${s.remoteAddress})`);
      this.cancel(peer);
    } catch (err) {
      counters.inc('relay.upgrade_failed');
      const next = Math.min(2 * (this.delay.get(peer) ?? UPGRADE_FIRST_MS), this.deps.maxMs ?? UPGRADE_MAX_MS);
      this.delay.set(peer, next);
      log.debug(`no direct path to ${peer} yet (${errorMessage(err)}); next try in about ${Math.round(next / 1000)} s`);
      if (this.deps.relayed(peer)) this.schedule(peer);
      else this.cancel(peer);
    }
  }

  private cancel(peer: NodeId): void {
    const t = this.waiting.get(peer);
    if (t !== undefined) this.deps.clock.clearTimeout(t);
    this.waiting.delete(peer);
    this.delay.delete(peer);
  }
}
