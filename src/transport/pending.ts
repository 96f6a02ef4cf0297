/**
 * Inbound connections still in their TLS handshake: at most `perIp` from one source IP
 * (beyond it refused) and `total` in all. When the total is reached the *oldest* pending
 * connection is dropped for the newcomer: a real handshake completes in milliseconds, long
 * before a flood of new connections can push it out, while a connection that drips its
 * ClientHello (to hold a slot) is exactly what goes. Bookkeeping only: the caller owns the
 * sockets' lifetime.
 */

export type PendingRefusal = 'pending_per_ip';

export class PendingHandshakes<S> {
  private readonly byIp = new Map<string, number>();
  /** Pending connections, oldest first. */
  private readonly order = new Map<S, string>();

  constructor(private readonly limits: { perIp: number; total: number }) {}

  get size(): number {
    return this.order.size;
  }

  /**
   * Admit `sock` from `ip`: the refusal, or the connection it displaced (to be destroyed,
   * when the total was full), or null.
   */
  admit(sock: S, ip: string): { refused: PendingRefusal } | { evicted: S | null } {
    if ((this.byIp.get(ip) ?? 0) >= this.limits.perIp) return { refused: 'pending_per_ip' };
    let evicted: S | null = null;
    if (this.order.size >= this.limits.total) {
      evicted = this.order.keys().next().value as S;
      this.done(evicted);
    }
    this.order.set(sock, ip);
    this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
    return { evicted };
  }

  /** The handshake of `sock` ended (either way). Idempotent. */
  done(sock: S): void {
    const ip = this.order.get(sock);
    if (ip === undefined) return;
    this.order.delete(sock);
    const n = (this.byIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.byIp.delete(ip);
    else this.byIp.set(ip, n);
  }
}
