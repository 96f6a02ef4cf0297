/**
 * Queue delay control for the VPN's inbound direction: CoDel (RFC 8289) on the one-way
 * delay of PACKETS_GSO frames.
 *
 * Between two nodes the packets of the tunnel sit in the sender's socket queues, the
 * session's TCP buffers on both kernels and the receiver's socket until the receiving node
 * reads them. The inner TCP keeps growing its window until something drops, so without a
 * signal these buffers fill and every packet behind them (a ping, a DNS answer) waits: at
 * 1 Gbit/s each MiB queued is 8 ms. The sender stamps each frame with its own clock
 * (microseconds, modulo 2^32); the receiver subtracts it from its own clock. The clocks'
 * offset is unknown but constant, so the smallest such difference over a window is the
 * path without queue, and anything above it is queueing delay. When that stays above
 * TARGET for INTERVAL, CoDel's control law asks for drops (one inner TCP segment each,
 * see router.ts), more often the longer it lasts, and the inner TCP slows down; the queue
 * drains to about TARGET while the link stays busy.
 *
 * Pure: the caller passes both clocks. Modulo 2^32 arithmetic keeps it right across wraps.
 */

/** Queueing delay CoDel keeps the standing queue under. */
export const AQM_TARGET_US = 3_000;
/** How long the delay must stay above target before drops start; also the drop spacing. */
export const AQM_INTERVAL_US = 50_000;
/** The base (no-queue) delay is the minimum over the last one or two windows of this length. */
export const AQM_BASE_WINDOW_US = 4_000_000;

/** Signed difference a - b of two u32 clock readings. */
function diff32(a: number, b: number): number {
  return ((a - b) | 0);
}

/** CoDel state for one peer's inbound frames. */
export class DelayAqm {
  /** min of (now - stamp) in the current and the previous window. */
  private baseCur: number | undefined;
  private basePrev: number | undefined;
  private windowStart = 0;
  private firstAbove = 0;
  private dropping = false;
  private dropNext = 0;
  private count = 0;
  /** Queueing delay of the last frame, in microseconds. */
  delayUs = 0;
  /** A drop asked for and not made yet (the caller's bookkeeping: 0 or 1). */
  owed = 0;

  constructor(
    private readonly targetUs = AQM_TARGET_US,
    private readonly intervalUs = AQM_INTERVAL_US,
  ) {}

  /**
   * A frame stamped `sentUs` (sender's clock, u32) arrived at `nowUs` (our clock, any
   * monotonic microseconds). True when one packet of it should be dropped.
   */
  onFrame(sentUs: number, nowUs: number): boolean {
    const owd = (nowUs - sentUs) >>> 0;
    const now = Math.floor(nowUs);
    this.updateBase(owd, now);
    const base = this.base();
    this.delayUs = Math.max(0, diff32(owd, base));
    return this.decide(now);
  }

  private updateBase(owd: number, now: number): void {
    if (this.baseCur === undefined || now - this.windowStart >= AQM_BASE_WINDOW_US) {
      this.basePrev = this.baseCur;
      this.baseCur = owd;
      this.windowStart = now;
    } else if (diff32(owd, this.baseCur) < 0) {
      this.baseCur = owd;
    }
  }

  private base(): number {
    const cur = this.baseCur!;
    return this.basePrev !== undefined && diff32(this.basePrev, cur) < 0 ? this.basePrev : cur;
  }

  private decide(now: number): boolean {
    if (this.delayUs < this.targetUs) {
      this.firstAbove = 0;
      this.dropping = false;
      return false;
    }
    if (!this.dropping) {
      if (this.firstAbove === 0) {
        this.firstAbove = now + this.intervalUs;
        return false;
      }
      if (now < this.firstAbove) return false;
      this.dropping = true;
      // Resume near the last drop rate if the last episode ended recently (RFC 8289 5.5).
      const recent = this.count > 2 && now - this.dropNext < 16 * this.intervalUs;
      this.count = recent ? this.count - 2 : 1;
      this.dropNext = now + this.intervalUs / Math.sqrt(this.count);
      return true;
    }
    if (now < this.dropNext) return false;
    this.count++;
    this.dropNext += this.intervalUs / Math.sqrt(this.count);
    return true;
  }
}

/**
 * The settings from the environment. Off by default: on this shared 2-core machine it cost
 * throughput (0.89 against 1.05-1.24 Gbit/s in one series) without lowering the ping under
 * load, which was dominated by the nodes waiting for a core (see bench/vpn.ts).
 * SENTINEL_VPN_AQM=on turns it on with the defaults, SENTINEL_VPN_AQM=<target_us>,<interval_us>
 * with those. Null when off.
 */
export function aqmSettings(env: NodeJS.ProcessEnv = process.env): { targetUs: number; intervalUs: number } | null {
  const v = env['SENTINEL_VPN_AQM'];
  if (v === undefined || v === '' || v === 'off') return null;
  const [t, i] = v.split(',').map(Number);
  const ok = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n > 0;
  return { targetUs: ok(t) ? t : AQM_TARGET_US, intervalUs: ok(i) ? i : AQM_INTERVAL_US };
}
