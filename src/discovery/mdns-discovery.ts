/**
 * mDNS discovery of Sentinel nodes on the LAN: advertises `_sentinel._tcp.local`, answers
 * queries for it, browses, and reports what it hears through `onPeer`.
 *
 * An announcement is only a hint. Anyone on the LAN can announce any id with any address,
 * so the receiver must dial the reported endpoints *expecting* the announced id (the TLS
 * session proves it) and must not let a hint replace addresses it has already verified.
 * Discovery itself keeps no peer table that a spoofed packet could corrupt.
 *
 * Because every hint makes the node dial, a response is passed on only if it came from
 * this link (RFC 6762 §11: source inside one of our interfaces' subnets, and TTL 255
 * where the transport reads it), only its on-link endpoints are kept, and the hint must
 * pass the {@link HintGate} (per address, per id, global budget).
 */
import { networkInterfaces } from 'node:os';
import type { NodeId } from '../api.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { Clock, Counters } from '../transport/index.js';
import { usableAddress } from './address.js';
import {
  ANNOUNCE_INTERVAL_MS,
  BROWSE_INTERVAL_MS,
  INTERFACES_REFRESH_MS,
  LEGACY_UNICAST_TTL_S,
  MAX_ADDRESSES_PER_ANNOUNCEMENT,
  MDNS_PORT,
  MDNS_TTL,
  SERVICE_TYPE,
  STARTUP_REPEAT_MS,
} from './limits.js';
import { LinkSubnets, type InterfaceList } from '../core/link.js';
import { matchQuery, parseResponse } from './parse.js';
import { buildAnnouncement, buildEnumeration, type Announcement } from './records.js';
import { DEFAULT_HINT_GATE_LIMITS, HintGate, ResponseLimiter, type HintGateLimits } from './state.js';
import type { MdnsPacketIn, MdnsRecordOut, MdnsRemote, MdnsResponseOut, MdnsTransport } from './transport.js';

/** A dialable endpoint reported by discovery. */
export interface DiscoveredEndpoint {
  host: string;
  port: number;
}

/** Intervals of {@link MdnsDiscovery}; defaults from `limits.ts`. */
export interface MdnsTiming {
  announceIntervalMs: number;
  browseIntervalMs: number;
  startupRepeatMs: number;
}

/** Construction options of {@link MdnsDiscovery}. */
export interface MdnsDiscoveryOptions {
  selfId: NodeId;
  /** Our identity port; nothing is announced while it is 0. */
  port: () => number;
  /** Our real LAN addresses (see {@link lanAddresses}); loopback and the like are filtered out anyway. */
  addresses: () => string[];
  /** A hint: node `id` says it listens on `endpoints`. Unverified: dial them expecting `id`. */
  onPeer: (id: NodeId, endpoints: DiscoveredEndpoint[]) => void;
  transport: MdnsTransport;
  clock: Clock;
  log: Logger;
  /** Where `mdns.*` counters go (e.g. the node's); default a private instance. */
  counters?: Pick<Counters, 'inc'>;
  timing?: Partial<MdnsTiming>;
  hintLimits?: Partial<HintGateLimits>;
  /** Our interfaces, for the on-link checks; default `os.networkInterfaces()`, re-read every 5 s. */
  interfaces?: () => InterfaceList;
}

/** Why a whole response was dropped before parsing: `mdns.dropped.<reason>`. */
export type SourceDrop = 'off_link' | 'ttl';

/** mDNS advertiser, responder and browser for one node. */
export class MdnsDiscovery {
  private readonly timing: MdnsTiming;
  private readonly hints: HintGate;
  private link: { at: number; subnets: LinkSubnets } | undefined;
  private readonly responses = new ResponseLimiter();
  private readonly counts = new Map<string, number>();
  private timers: unknown[] = [];
  private running = false;
  private stopped = false;

  constructor(private readonly opts: MdnsDiscoveryOptions) {
    this.timing = {
      announceIntervalMs: ANNOUNCE_INTERVAL_MS,
      browseIntervalMs: BROWSE_INTERVAL_MS,
      startupRepeatMs: STARTUP_REPEAT_MS,
      ...opts.timing,
    };
    this.hints = new HintGate({ ...DEFAULT_HINT_GATE_LIMITS, ...opts.hintLimits });
  }

  /** Counters of this instance (`mdns.*`), also forwarded to `opts.counters`. */
  get counters(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Listens, announces and browses now, once more after a short delay, then periodically. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    const t = this.opts.transport;
    // After stop() the socket may still deliver a packet or two: ignore them.
    t.on('query', (p, from) => this.running && this.guard(() => this.onQuery(p, from)));
    t.on('response', (p, from) => this.running && this.guard(() => this.onResponse(p, from)));
    t.on('warning', (err) => this.count('mdns.warnings', `mDNS: ${errorMessage(err)}`));
    t.on('dropped', (reason) => this.count(`mdns.dropped.${reason}`));
    t.on('error', (err) => this.opts.log.warn(`mDNS socket error: ${errorMessage(err)}`));
    const ttl = t.ttlSupport ?? { ok: false, reason: 'the transport does not say' };
    if (!ttl.ok) this.count('mdns.ttl_unchecked', `mDNS: received TTL not readable (${ttl.reason}); only the on-link check applies`);
    const { clock } = this.opts;
    const round = (): void => {
      this.announce();
      this.browse();
    };
    round();
    this.timers.push(clock.setTimeout(round, this.timing.startupRepeatMs));
    this.timers.push(clock.setInterval(() => this.announce(), this.timing.announceIntervalMs));
    this.timers.push(clock.setInterval(() => this.browse(), this.timing.browseIntervalMs));
  }

  /** Sends a goodbye (TTL 0), stops the timers and closes the transport. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const { clock } = this.opts;
    for (const h of this.timers) {
      clock.clearTimeout(h);
      clock.clearInterval(h);
    }
    this.timers = [];
    if (this.running) {
      const a = this.self();
      if (a) this.guard(() => this.opts.transport.respond(buildAnnouncement(a, 0)));
    }
    this.running = false;
    this.opts.transport.destroy();
  }

  /** Multicasts our announcement now (e.g. after the addresses changed). No-op when not running. */
  announce(): void {
    if (!this.running) return;
    const a = this.self();
    if (!a) {
      this.count('mdns.announce_skipped', 'mDNS: nothing to announce yet (no port or no LAN address)');
      return;
    }
    this.guard(() => this.opts.transport.respond(buildAnnouncement(a)));
    this.count('mdns.announced');
  }

  /** Multicasts a browse query for the service. */
  private browse(): void {
    this.guard(() => this.opts.transport.query({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }));
    this.count('mdns.queries_sent');
  }

  /** What we announce, or null when there is no port or no usable address yet. */
  private self(): Announcement | null {
    const port = this.opts.port();
    const addresses: string[] = [];
    for (const ip of this.opts.addresses()) {
      const ok = usableAddress(ip);
      if (ok !== null && !addresses.includes(ok)) addresses.push(ok);
    }
    if (port <= 0 || addresses.length === 0) return null;
    return { id: this.opts.selfId, port, addresses: addresses.slice(0, MAX_ADDRESSES_PER_ANNOUNCEMENT) };
  }

  private onQuery(packet: MdnsPacketIn, from: MdnsRemote): void {
    const match = matchQuery(packet, this.opts.selfId);
    if (!match.service && !match.enumeration) return;
    this.count('mdns.queries_answered');
    const a = match.service ? this.self() : null;
    const records: MdnsResponseOut = a ? buildAnnouncement(a) : { answers: [] };
    if (match.enumeration) records.answers.push(buildEnumeration());
    if (records.answers.length === 0) return;
    const now = this.opts.clock.now();
    if (from.port !== MDNS_PORT) {
      // Legacy unicast query (e.g. dig): answer straight back, echoing id and questions (RFC 6762 §6.7).
      if (!this.responses.unicastAllowed(now)) return this.count('mdns.responses_limited');
      const all = [...records.answers, ...(records.additionals ?? [])].map((r): MdnsRecordOut => legacy(r));
      const id = typeof packet.id === 'number' ? packet.id : 0;
      this.opts.transport.respond({ id, questions: match.questions, answers: all }, { address: from.address, port: from.port });
      return;
    }
    if (!this.responses.multicast(now)) return this.count('mdns.responses_limited');
    this.opts.transport.respond(records);
  }

  private onResponse(packet: MdnsPacketIn, from: MdnsRemote): void {
    const now = this.opts.clock.now();
    const link = this.subnets(now);
    const drop = sourceDrop(from, link);
    if (drop) return this.count(`mdns.dropped.${drop}`, `mDNS: dropped a response from ${from.address} (${drop === 'ttl' ? `TTL ${from.ttl}` : 'not on this link'})`);
    const parsed = parseResponse(packet, this.opts.selfId);
    for (const reason of parsed.dropped) this.count(`mdns.dropped.${reason}`, `mDNS: dropped part of a response from ${from.address}: ${reason}`);
    if (parsed.own > 0) this.count('mdns.own', undefined, parsed.own);
    for (const peer of parsed.peers) {
      const onLink = peer.addresses.filter((host) => link.contains(host));
      if (onLink.length < peer.addresses.length) this.count('mdns.dropped.endpoint_off_link', `mDNS: ${peer.id} announced off-link addresses (from ${from.address})`, peer.addresses.length - onLink.length);
      if (onLink.length === 0) continue;
      const verdict = this.hints.admit(peer.id, onLink.map((host) => ({ host, port: peer.port })), now);
      if (verdict.limitedEndpoints > 0) this.count('mdns.dropped.endpoint_limited', undefined, verdict.limitedEndpoints);
      if (!verdict.ok) {
        this.count(`mdns.hints_limited.${verdict.reason}`);
        continue;
      }
      const endpoints = verdict.endpoints;
      this.count('mdns.hints');
      this.opts.log.debug(`mDNS: ${peer.id} announced ${endpoints.map((e) => `${e.host}:${e.port}`).join(', ')} (from ${from.address})`);
      try {
        this.opts.onPeer(peer.id, endpoints);
      } catch (err) {
        this.opts.log.warn(`mDNS: onPeer failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Our interfaces' subnets, read again when older than {@link INTERFACES_REFRESH_MS}. */
  private subnets(now: number): LinkSubnets {
    if (this.link === undefined || now - this.link.at >= INTERFACES_REFRESH_MS) {
      this.link = { at: now, subnets: LinkSubnets.of((this.opts.interfaces ?? networkInterfaces)()) };
    }
    return this.link.subnets;
  }

  /** Runs `fn`, turning a throw (a bad packet, a closed socket) into a counted debug line. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.count('mdns.errors', `mDNS: ${errorMessage(err)}`);
    }
  }

  private count(name: string, debug?: string, by = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + by);
    this.opts.counters?.inc(name, by);
    if (debug !== undefined) this.opts.log.debug(debug);
  }
}

/** A record for a legacy unicast answer: TTL capped, no cache-flush bit (RFC 6762 §6.7). */
function legacy(r: MdnsRecordOut): MdnsRecordOut {
  return { name: r.name, type: r.type, ttl: Math.min(r.ttl, LEGACY_UNICAST_TTL_S), data: r.data };
}

/**
 * Whether a response must be dropped whole for where it came from (RFC 6762 §11): a
 * source outside our subnets, or a known TTL other than 255 (the packet was routed).
 */
export function sourceDrop(from: MdnsRemote, link: LinkSubnets): SourceDrop | null {
  if (!link.contains(from.address)) return 'off_link';
  if (from.ttl !== undefined && from.ttl !== MDNS_TTL) return 'ttl';
  return null;
}
