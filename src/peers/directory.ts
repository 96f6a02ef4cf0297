/**
 * The peer directory: what this node remembers about other nodes, and what the user decided
 * about each (trust: contact, stranger, blocked). See docs/SECURITY.md "Trust model".
 *
 * - A contact is a peer the user chose: dialed, allowed, aliased, messaged or accepted.
 *   Contacts and blocked peers are user decisions: kept until the user changes them, written
 *   to disk before the call resolves, at most MAX_CONTACTS of them.
 * - A stranger is anyone else we met (a session came up: inbound, mDNS, gossip, punched).
 *   Anyone can make new keys, so strangers are remembered only within bounds: at most
 *   MAX_REMEMBERED_STRANGERS (the least recently seen is forgotten first) and for at most
 *   STRANGER_TTL_MS after they were last seen. What we observe about them is written lazily,
 *   coalesced, at most once per STRANGER_SAVE_INTERVAL_MS, so a stranger cannot make us write.
 *
 * The directory is the only reader and writer of the store's peer records while the node
 * runs; every read is from memory (no store scans on hot paths).
 */
import type { NodeId } from '../api.js';
import { SentinelError, errorMessage } from '../errors.js';
import { isNodeId, resolveNodeId } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { PeerRecord, PeerSource, Store, Trust } from '../store/types.js';
import { formatHostPort, type HostPort } from '../core/host-port.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { MAX_CONTACTS, MAX_REMEMBERED_STRANGERS, STRANGER_SAVE_INTERVAL_MS, STRANGER_TTL_MS } from './limits.js';

/** How many addresses we remember per peer, most recent first. */
export const MAX_ADDRESSES_PER_PEER = 8;

/** Limits of a {@link PeerDirectory}; defaults from limits.ts. */
export interface DirectoryLimits {
  maxStrangers: number;
  strangerTtlMs: number;
  maxContacts: number;
  saveIntervalMs: number;
}

export const DEFAULT_DIRECTORY_LIMITS: DirectoryLimits = {
  maxStrangers: MAX_REMEMBERED_STRANGERS,
  strangerTtlMs: STRANGER_TTL_MS,
  maxContacts: MAX_CONTACTS,
  saveIntervalMs: STRANGER_SAVE_INTERVAL_MS,
};

export interface DirectoryOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  counters: Counters;
  /** For records written before trust existed: did the user choose this peer (alias, allow-list, messages)? */
  wasChosen(rec: PeerRecord): boolean;
  limits?: Partial<DirectoryLimits>;
}

/** What the node observed about a peer. */
export interface Observation {
  name?: string | null;
  /** A dialable address proven by a session (becomes the first one). */
  address?: string | null;
  /** Addresses announced for it (kept after the proven ones). */
  learned?: readonly string[];
  source?: PeerSource;
  /** It was seen now (a session came up or went down). */
  seen?: boolean;
  /**
   * Only hearsay (gossip): a stranger not yet remembered is added only while there is room,
   * never by forgetting another, so a flood of records cannot push out peers we met.
   */
  ifRoom?: boolean;
}

export class PeerDirectory {
  private readonly limits: DirectoryLimits;
  private readonly records = new Map<NodeId, PeerRecord>();
  /** Strangers in least-recently-seen-first order (re-inserted on every sighting). */
  private readonly strangers = new Set<NodeId>();
  private readonly dirty = new Set<NodeId>();
  private saving: Promise<void> = Promise.resolve();
  private timer: unknown;
  private closed = false;

  constructor(private readonly opts: DirectoryOptions) {
    this.limits = { ...DEFAULT_DIRECTORY_LIMITS, ...opts.limits };
    const loaded = opts.store.listPeers().sort((a, b) => (a.lastSeen ?? 0) - (b.lastSeen ?? 0));
    for (const rec of loaded) {
      if (!rec.trust) {
        rec.trust = opts.wasChosen(rec) ? 'contact' : 'stranger';
        this.dirty.add(rec.id);
      }
      this.records.set(rec.id, rec);
      if (rec.trust === 'stranger') this.strangers.add(rec.id);
    }
    this.prune(opts.clock.now());
  }

  /** Starts the periodic lazy save. */
  start(): void {
    // Failures are logged and counted by write(); the next round retries.
    this.timer = this.opts.clock.setInterval(() => this.flush().catch(() => {}), this.limits.saveIntervalMs);
  }

  /** Saves what is pending and stops. The store stays open (the caller owns it). */
  async close(): Promise<void> {
    this.opts.clock.clearInterval(this.timer);
    await this.flush().catch(() => {});
    this.closed = true;
  }

  /** A copy of the record of `id`. */
  get(id: NodeId): PeerRecord | undefined {
    const r = this.records.get(id);
    return r && copy(r);
  }

  /** Every remembered peer (copies). */
  all(): PeerRecord[] {
    return [...this.records.values()].map(copy);
  }

  /** What the user decided about `id`; anyone not chosen or blocked is a stranger. */
  trustOf(id: NodeId): Trust {
    return this.records.get(id)?.trust ?? 'stranger';
  }

  isContact(id: NodeId): boolean {
    return this.trustOf(id) === 'contact';
  }

  isBlocked(id: NodeId): boolean {
    return this.trustOf(id) === 'blocked';
  }

  /** Ids of every contact. */
  contacts(): NodeId[] {
    return [...this.records.values()].filter((r) => r.trust === 'contact').map((r) => r.id);
  }

  /** How many peers of each kind are remembered. */
  counts(): Record<Trust, number> {
    const out: Record<Trust, number> = { contact: 0, stranger: 0, blocked: 0 };
    for (const r of this.records.values()) out[r.trust ?? 'stranger']++;
    return out;
  }

  /**
   * The peer a user means by `target`: a full id, an exact alias, or a prefix, contacts
   * first; a prefix that only matches strangers must be long (identity/resolve.ts).
   * `connected`: peers with a session, remembered or not.
   */
  resolve(target: string, connected: Iterable<NodeId> = []): NodeId {
    const text = target.trim();
    if (isNodeId(text.toLowerCase())) return text.toLowerCase();
    const byAlias = this.aliasOwner(text);
    if (byAlias) return byAlias;
    const contacts = this.contacts();
    const contactSet = new Set(contacts);
    const others = [...this.records.keys(), ...connected].filter((id) => !contactSet.has(id));
    return resolveNodeId(text, { contacts, others });
  }

  /** Addresses announced for `id` by hearsay (gossip): kept only while strangers have room. */
  learned(id: NodeId, endpoints: readonly HostPort[]): boolean {
    return this.observe(id, { learned: endpoints.map((e) => formatHostPort(e.host, e.port)), source: 'gossip', ifRoom: true });
  }

  /** The peer holding `alias`, if any. */
  aliasOwner(alias: string): NodeId | undefined {
    for (const r of this.records.values()) if (r.alias === alias) return r.id;
    return undefined;
  }

  /**
   * A user decision about `id`; written to disk before this resolves. Making a new contact
   * or blocking beyond MAX_CONTACTS fails with E_QUOTA.
   */
  async setTrust(id: NodeId, trust: Trust): Promise<void> {
    const rec = this.records.get(id);
    if (rec?.trust === trust) return;
    if (trust !== 'stranger' && (rec?.trust ?? 'stranger') === 'stranger' && this.decided() >= this.limits.maxContacts) {
      throw new SentinelError('E_QUOTA', `at most ${this.limits.maxContacts} contacts and blocked peers`);
    }
    const next: PeerRecord = { ...(rec ?? blank(id)), trust };
    this.records.set(id, next);
    if (trust === 'stranger') this.touchStranger(id);
    else this.strangers.delete(id);
    this.dirty.add(id);
    await this.flush();
  }

  /** Sets a local alias (the peer becomes a contact); durable before it resolves. */
  async setAlias(id: NodeId, alias: string): Promise<void> {
    const owner = this.aliasOwner(alias);
    if (owner !== undefined && owner !== id) throw new SentinelError('E_BAD_REQUEST', `alias "${alias}" is already used by ${owner}`);
    await this.setTrust(id, 'contact');
    const rec = this.records.get(id) as PeerRecord;
    rec.alias = alias;
    this.dirty.add(id);
    await this.flush();
  }

  /**
   * Records what was observed about `id` (kept in memory now, saved lazily). A stranger not
   * yet remembered is added, forgetting the least recently seen one when full (unless
   * `ifRoom`). Returns false when nothing was recorded (a blocked peer, or no room).
   */
  observe(id: NodeId, seen: Observation): boolean {
    let rec = this.records.get(id);
    if (rec?.trust === 'blocked') return false;
    if (!rec) {
      if (seen.ifRoom && this.strangers.size >= this.limits.maxStrangers) {
        this.opts.counters.inc('peers.hearsay_not_kept');
        return false;
      }
      // Remembered from now on (the TTL counts from here even if it was not "seen").
      rec = { ...blank(id), lastSeen: this.opts.clock.now() };
      this.records.set(id, rec);
    }
    const before = JSON.stringify(rec);
    if (seen.source && !rec.learnedFrom) rec.learnedFrom = seen.source;
    if (seen.name) rec.name = seen.name;
    if (seen.seen) rec.lastSeen = this.opts.clock.now();
    const proven = seen.address ? [seen.address] : [];
    const rest = rec.addresses.filter((a) => !proven.includes(a));
    const learned = (seen.learned ?? []).filter((a) => !proven.includes(a) && !rest.includes(a));
    rec.addresses = [...proven, ...rest, ...learned].slice(0, MAX_ADDRESSES_PER_PEER);
    if (rec.trust === 'stranger') this.touchStranger(id);
    if (JSON.stringify(rec) !== before) this.dirty.add(id);
    return true;
  }

  /** Forgets strangers not seen within the TTL, and the least recently seen beyond the cap. */
  prune(now: number): number {
    let removed = 0;
    for (const id of [...this.strangers]) {
      const rec = this.records.get(id);
      if (rec && now - (rec.lastSeen ?? 0) < this.limits.strangerTtlMs) continue;
      this.forget(id);
      this.opts.counters.inc('peers.strangers_expired');
      removed++;
    }
    return removed + this.evictOverCap();
  }

  /** Writes every pending change (one store transaction). Failures are logged, and retried next time. */
  flush(): Promise<void> {
    const next = this.saving.then(() => this.write());
    this.saving = next.catch(() => {});
    return next;
  }

  private async write(): Promise<void> {
    if (this.closed || this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    const { store } = this.opts;
    // Issued in one turn: the LMDB store commits them as one transaction with one fsync.
    const writes = ids.map((id) => {
      const rec = this.records.get(id);
      return rec ? store.putPeer(rec) : store.deletePeer(id);
    });
    const results = await Promise.allSettled(writes);
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed < 0) return;
    for (const id of ids) this.dirty.add(id);
    this.opts.counters.inc('peers.save_failed');
    const reason = (results[failed] as PromiseRejectedResult).reason;
    this.opts.log.warn(`cannot save peer records: ${errorMessage(reason)}`);
    if (ids.some((id) => this.records.get(id)?.trust !== 'stranger')) throw reason;
  }

  private touchStranger(id: NodeId): void {
    this.strangers.delete(id);
    this.strangers.add(id);
    this.evictOverCap();
  }

  private evictOverCap(): number {
    let removed = 0;
    while (this.strangers.size > this.limits.maxStrangers) {
      this.forget(this.strangers.values().next().value as NodeId);
      this.opts.counters.inc('peers.strangers_evicted');
      removed++;
    }
    return removed;
  }

  private forget(id: NodeId): void {
    this.strangers.delete(id);
    this.records.delete(id);
    this.dirty.add(id);
  }

  private decided(): number {
    return this.records.size - this.strangers.size;
  }
}

/**
 * The `wasChosen` rule for records written before trust existed: the user chose a peer it
 * gave an alias, allowed on the VPN, or exchanged messages with.
 */
export function chosenBefore(allowed: (id: NodeId) => boolean, history: (id: NodeId) => readonly unknown[]): (rec: PeerRecord) => boolean {
  return (rec) => rec.alias !== null || allowed(rec.id) || history(rec.id).length > 0;
}

function blank(id: NodeId): PeerRecord {
  return { id, alias: null, name: null, addresses: [], lastSeen: null, trust: 'stranger' };
}

function copy(r: PeerRecord): PeerRecord {
  return { ...r, addresses: [...r.addresses] };
}
