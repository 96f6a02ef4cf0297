/**
 * An in-memory TUN device for tests and simulations: no root, no kernel.
 *
 * {@link MemoryTun.inject} plays local programs sending packets (they reach the
 * onPackets handler, queued until one is set, like a kernel queue); {@link MemoryTun.written}
 * collects what was written to the device (delivered to local programs).
 */
import type { TunDevice } from './types.js';

/** Options for {@link MemoryTun}. */
export interface MemoryTunOptions {
  /** Interface name reported by `name` (default `'mem0'`). */
  name?: string;
  /** MTU reported by `mtu` (default 1420). */
  mtu?: number;
}

/** Default MTU of a memory TUN. */
export const MEMORY_TUN_MTU = 1420;

/** A TunDevice backed by arrays. */
export class MemoryTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  /** Every packet written to the device, in order (copies). */
  readonly written: Buffer[] = [];
  private handler: ((packets: Buffer[]) => void) | undefined;
  private readonly queued: Buffer[][] = [];
  private isClosed = false;

  constructor(options: MemoryTunOptions = {}) {
    this.name = options.name ?? 'mem0';
    this.mtu = options.mtu ?? MEMORY_TUN_MTU;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Sets the reader; throws if one is already set (local misuse). Flushes queued batches. */
  onPackets(handler: (packets: Buffer[]) => void): void {
    if (this.handler) throw new Error('MemoryTun: onPackets handler already set');
    this.handler = handler;
    for (const batch of this.queued.splice(0)) handler(batch);
  }

  /** Simulates local programs sending one batch (copied, so callers may reuse their buffers). */
  inject(packets: readonly Uint8Array[]): void {
    if (this.isClosed || packets.length === 0) return;
    const batch = packets.map((p) => Buffer.from(p));
    if (this.handler) this.handler(batch);
    else this.queued.push(batch);
  }

  /** Records the packets (copies); ignored after close. */
  write(packets: readonly Buffer[]): void {
    if (this.isClosed) return;
    for (const p of packets) this.written.push(Buffer.from(p));
  }

  /** Returns and clears {@link written}. */
  drain(): Buffer[] {
    return this.written.splice(0);
  }

  /** Stops delivering and recording. Idempotent. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.queued.length = 0;
  }
}
