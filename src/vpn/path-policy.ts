/**
 * Which path a peer's VPN packets take: the session (TLS over TCP) or the UDP datagram
 * path. Pure: fed samples and a clock reading, it answers 'tcp' or 'udp'.
 *
 * Settings (SENTINEL_VPN_DATAGRAM): 'off' never uses datagrams; 'always' uses them
 * whenever the datagram path is up; 'auto' (the default) keeps the session, which is the
 * fastest path without loss (TUN offloads: 64 KiB super-segments per frame), until the
 * session's own TCP shows loss:
 *
 *   on tcp: over each window (>= windowMs), retransmitted / sent segments of the outer TCP
 *           (TCP_INFO: tcpi_total_retrans, tcpi_segs_out) above lossThreshold, with at
 *           least minSegments sent (an idle session says nothing) -> udp
 *   on udp: after holdMs at least, over each window, if the datagram path's own loss (counter
 *           gaps seen by our replay window, i.e. the peer -> us direction, taken as the
 *           path's) is below returnLoss, or too few datagrams came to tell -> tcp
 *
 * Without TCP_INFO (no addon, a relayed session) 'auto' stays on tcp. Whatever the
 * choice, packets go over the session while the datagram path is not up.
 */

export type DatagramMode = 'off' | 'auto' | 'always';
export type PathChoice = 'tcp' | 'udp';

/** Parses SENTINEL_VPN_DATAGRAM (unset or empty: 'auto'); throws RangeError on anything else. */
export function datagramModeFrom(value: string | undefined): DatagramMode {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return 'auto';
  if (v === 'off' || v === 'auto' || v === 'always') return v;
  throw new RangeError(`SENTINEL_VPN_DATAGRAM must be off, auto or always, not "${value}"`);
}

/** Cumulative counters of the session's TCP socket. */
export interface TcpSample {
  segsOut: number;
  retrans: number;
}

/** Cumulative counters of the datagram path's receive side (ReplayWindow). */
export interface UdpSample {
  expected: number;
  received: number;
}

export interface PolicySettings {
  windowMs: number;
  lossThreshold: number;
  minSegments: number;
  holdMs: number;
  returnLoss: number;
}

export const DEFAULT_POLICY: PolicySettings = { windowMs: 1_000, lossThreshold: 0.005, minSegments: 200, holdMs: 30_000, returnLoss: 0.001 };

export class PathPolicy {
  private choice: PathChoice = 'tcp';
  private since = 0;
  private base: { at: number; tcp: TcpSample | null; udp: UdpSample } | null = null;

  constructor(
    readonly mode: DatagramMode,
    private readonly settings: PolicySettings = DEFAULT_POLICY,
  ) {}

  /** The current choice (as last decided). */
  get path(): PathChoice {
    return this.choice;
  }

  /**
   * Feeds one sample and returns the path to use now. `udpUp`: the datagram path is up.
   * `tcp` null: no TCP_INFO for this session.
   */
  decide(now: number, udpUp: boolean, tcp: TcpSample | null, udp: UdpSample): PathChoice {
    if (this.mode === 'off' || !udpUp) return this.set('tcp', now, tcp, udp);
    if (this.mode === 'always') return this.set('udp', now, tcp, udp);
    const b = this.base;
    if (!b || tcp === null || b.tcp === null) {
      this.base = { at: now, tcp, udp };
      return this.set(this.choice, now, tcp, udp);
    }
    if (now - b.at < this.settings.windowMs) return this.choice;
    this.base = { at: now, tcp, udp };
    if (this.choice === 'tcp') {
      const sent = tcp.segsOut - b.tcp.segsOut;
      const lost = tcp.retrans - b.tcp.retrans;
      if (sent >= this.settings.minSegments && lost / sent > this.settings.lossThreshold) return this.set('udp', now, tcp, udp);
      return 'tcp';
    }
    if (now - this.since < this.settings.holdMs) return 'udp';
    const expected = udp.expected - b.udp.expected;
    const missing = expected - (udp.received - b.udp.received);
    if (expected < this.settings.minSegments || missing / expected < this.settings.returnLoss) return this.set('tcp', now, tcp, udp);
    return 'udp';
  }

  private set(to: PathChoice, now: number, tcp: TcpSample | null, udp: UdpSample): PathChoice {
    if (to !== this.choice) {
      this.choice = to;
      this.since = now;
      this.base = { at: now, tcp, udp };
    }
    return to;
  }
}
