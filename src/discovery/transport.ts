import type { DropReason } from './parse.js';

/**
 * The narrow socket interface discovery runs on: the part of a `multicast-dns` instance we
 * use. The real one is {@link createMulticastTransport}; tests use {@link FakeMdnsNetwork}.
 */

/** A record we send (multicast-dns / dns-packet record shape). */
export interface MdnsRecordOut {
  name: string;
  type: 'PTR' | 'SRV' | 'TXT' | 'A' | 'AAAA';
  ttl: number;
  /** Cache-flush bit (unique records: SRV, TXT, A, AAAA). */
  flush?: boolean;
  data: string | { port: number; target: string; priority: number; weight: number } | Buffer[];
}

/** A question we send. */
export interface MdnsQuestionOut {
  name: string;
  type: 'PTR' | 'SRV' | 'TXT' | 'A' | 'AAAA' | 'ANY';
}

/** A query we send. */
export interface MdnsQueryOut {
  questions: MdnsQuestionOut[];
}

/** A response we send; `id` and `questions` are echoed only in legacy unicast answers. */
export interface MdnsResponseOut {
  id?: number;
  questions?: MdnsQuestionOut[];
  answers: MdnsRecordOut[];
  additionals?: MdnsRecordOut[];
}

/**
 * A packet as received: decoded by dns-packet but otherwise untrusted, so every field is
 * `unknown` and the parser checks each one.
 */
export interface MdnsPacketIn {
  id?: unknown;
  questions?: unknown;
  answers?: unknown;
  additionals?: unknown;
  authorities?: unknown;
}

/** Where a packet came from, or where a unicast answer goes. */
export interface MdnsRemote {
  address: string;
  port: number;
  /** IP TTL (IPv6 hop limit) the packet arrived with, when the transport can read it. */
  ttl?: number;
}

/** Whether a transport reports the TTL of received packets, and if not, why not. */
export type TtlSupport = { ok: true } | { ok: false; reason: string };

/** Packet I/O for discovery. */
export interface MdnsTransport {
  /** Multicasts a query. */
  query(packet: MdnsQueryOut): void;
  /** Sends a response: multicast, or unicast to `to`. */
  respond(packet: MdnsResponseOut, to?: MdnsRemote): void;
  on(event: 'query' | 'response', listener: (packet: MdnsPacketIn, from: MdnsRemote) => void): void;
  /** `warning`: a packet that did not decode, or a send that failed; `error`: the socket failed (e.g. bind refused). */
  on(event: 'warning' | 'error', listener: (err: Error) => void): void;
  /** A packet refused from its raw bytes, before decoding (see parse.ts `checkPacketHeader`). */
  on(event: 'dropped', listener: (reason: DropReason) => void): void;
  /** Closes the socket. Idempotent. */
  destroy(): void;
  /** Whether `from.ttl` is filled in; absent means unknown (treated as not). */
  readonly ttlSupport?: TtlSupport;
}
