/**
 * The DNS responder as a node runs it: the names of the peer directory (names.ts), the
 * VPN addresses of the nodes they name, and the server on this node's VPN IPv4. Only
 * queries from this machine are answered (the source is loopback or one of our VPN
 * addresses): an allowed peer reaching the address through the tunnel gets REFUSED, so
 * the user's aliases stay private.
 */
import type { NodeId } from '../api.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { PeerRecord } from '../store/types.js';
import type { VpnAddresses } from '../vpn/types.js';
import { NAME_TABLE_REFRESH_MS, type DnsLimits } from './limits.js';
import { NameTable } from './names.js';
import { answerQuery } from './resolver.js';
import { DnsServer } from './server.js';

export interface VpnNamesOptions {
  self: { id: NodeId; name: string | null };
  /** The peer directory's records (a snapshot). */
  peers(): ReadonlyArray<Pick<PeerRecord, 'id' | 'alias' | 'name' | 'trust'>>;
  /** This node's VPN addresses. */
  selfAddresses(): VpnAddresses;
  /** A peer's VPN addresses (as routed, announced or derived: VpnService.addressesOf). */
  addressesOf(peer: NodeId): VpnAddresses;
  clock: Pick<Clock, 'now'>;
}

/**
 * Name -> VPN addresses. The table is rebuilt from the directory at most once per
 * NAME_TABLE_REFRESH_MS, so a flood of queries costs no directory scans; a new alias
 * answers within that time.
 */
export class VpnNames {
  private table: NameTable | undefined;
  private builtAt = 0;

  constructor(private readonly opts: VpnNamesOptions) {}

  /** The addresses `key` (lower case, without `.sentinel`) stands for. */
  lookup(key: string): VpnAddresses | undefined {
    const id = this.current().lookup(key);
    if (id === undefined) return undefined;
    return id === this.opts.self.id ? this.opts.selfAddresses() : this.opts.addressesOf(id);
  }

  private current(): NameTable {
    const now = this.opts.clock.now();
    if (!this.table || now - this.builtAt >= NAME_TABLE_REFRESH_MS || now < this.builtAt) {
      this.table = NameTable.build({ self: this.opts.self, peers: this.opts.peers() });
      this.builtAt = now;
    }
    return this.table;
  }
}

/** True for loopback and for `self`'s addresses: queries from this machine. */
export function isLocalSource(self: () => VpnAddresses): (address: string) => boolean {
  return (address) => {
    const a = address.toLowerCase();
    const mine = self();
    return a === mine.ipv4 || a === mine.ipv6 || a.startsWith('127.') || a === '::1';
  };
}

export interface DnsResponderOptions {
  host: string;
  port: number;
  names: VpnNames;
  /** Whose queries are answered; default {@link isLocalSource} of `self`. */
  isAllowedSource?: (address: string) => boolean;
  self: () => VpnAddresses;
  clock: Clock;
  counters: { inc(name: string, by?: number): void };
  log: Logger;
  limits?: Partial<DnsLimits>;
}

/** Starts the responder for `<name>.sentinel` on `host:port`. */
export function startDnsResponder(o: DnsResponderOptions): Promise<DnsServer> {
  return DnsServer.start({
    host: o.host,
    port: o.port,
    answer: (query, ctx) => answerQuery(query, ctx, (key) => o.names.lookup(key)),
    isAllowedSource: o.isAllowedSource ?? isLocalSource(o.self),
    clock: o.clock,
    counters: o.counters,
    log: o.log,
    ...(o.limits ? { limits: o.limits } : {}),
  });
}
