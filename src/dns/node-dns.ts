/**
 * The responder's life in a node: configured at build time, started once the VPN address
 * exists (the TUN is up), closed with the node. It is an extra: when it cannot start (port
 * 53 taken, no permission) the node runs without it and `status` says why.
 */
import type { NodeId } from '../api.js';
import type { Clock } from '../core/clock.js';
import { formatHostPort } from '../core/host-port.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { PeerRecord } from '../store/types.js';
import type { VpnAddresses } from '../vpn/types.js';
import { DEFAULT_DNS_PORT, type DnsLimits } from './limits.js';
import type { DnsServer } from './server.js';
import { VpnNames, startDnsResponder } from './service.js';

/** `--dns-port` and, for tests, another listen address than the VPN IPv4. */
export interface DnsOptions {
  port: number;
  /** Default: this node's VPN IPv4. */
  host?: string;
  limits?: Partial<DnsLimits>;
}

/** The `dns` part of the VPN status. */
export interface DnsStatus {
  /** `off`: not asked for (or no VPN); `up`: answering on `address`; `failed`: could not start (`reason`). */
  state: 'off' | 'up' | 'failed';
  address: string | null;
  reason: string | null;
}

export interface NodeDnsOptions {
  /** null: off. */
  config: DnsOptions | null;
  self: { id: NodeId; name: string | null };
  peers(): ReadonlyArray<Pick<PeerRecord, 'id' | 'alias' | 'name' | 'trust'>>;
  selfAddresses(): VpnAddresses;
  addressesOf(peer: NodeId): VpnAddresses;
  clock: Clock;
  counters: { inc(name: string, by?: number): void };
  log: Logger;
}

export class NodeDns {
  readonly names: VpnNames;
  private server: DnsServer | undefined;
  private state: DnsStatus = { state: 'off', address: null, reason: null };

  constructor(private readonly opts: NodeDnsOptions) {
    this.names = new VpnNames({ self: opts.self, peers: opts.peers, selfAddresses: opts.selfAddresses, addressesOf: opts.addressesOf, clock: opts.clock });
  }

  /** Starts answering (call once the VPN address is up). Never throws: a failure is logged and shown in status. */
  async start(): Promise<void> {
    const c = this.opts.config;
    if (c === null || this.server) return;
    const host = c.host ?? this.opts.selfAddresses().ipv4;
    try {
      this.server = await startDnsResponder({
        host,
        port: c.port,
        names: this.names,
        self: this.opts.selfAddresses,
        clock: this.opts.clock,
        counters: this.opts.counters,
        log: this.opts.log,
        ...(c.limits ? { limits: c.limits } : {}),
      });
      const address = formatHostPort(host, this.server.address.port);
      this.state = { state: 'up', address, reason: null };
      this.opts.log.info(`DNS for *.sentinel on ${address}`);
    } catch (err) {
      this.state = { state: 'failed', address: null, reason: errorMessage(err) };
      this.opts.counters.inc('dns.start_failed');
      this.opts.log.warn(`DNS for *.sentinel not started on ${formatHostPort(host, c.port)}: ${errorMessage(err)}; the node runs without it`);
    }
  }

  status(): DnsStatus {
    return { ...this.state };
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}

export { DEFAULT_DNS_PORT };
