/**
 * An in-memory TUN device for tests and simulations: no root, no kernel.
 *
 * {@link MemoryTun.inject} plays local programs sending packets (they reach the
 * onPackets handler, queued until one is set, like a kernel queue); {@link MemoryTun.written}
 * collects what was written to the device (delivered to local programs).
 */
import type { VnetHeader } from './offload.js';
import type { TunDevice } from './types.js';

/** Options for {@link MemoryTun}. */
export interface MemoryTunOptions {
  /** Interface name reported by `name` (default `'mem0'`). */
  name?: string;
  /** MTU reported by `mtu` (default 1420). */
  mtu?: number;
  /** Act as an offload device: take super-segments with their header (recorded in `writtenVnet`). */
  offload?: boolean;
}

/** Default MTU of a memory TUN. */
export const MEMORY_TUN_MTU = 1420;

/** A TunDevice backed by arrays. */
export class MemoryTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly offload: boolean;
  /** Every packet written to the device, in order (copies). */
  readonly written: Buffer[] = [];
  /** With offload: the header each written packet came with (undefined: plain), in step with `written`. */
  readonly writtenVnet: (VnetHeader | undefined)[] = [];
  private handler: ((packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void) | undefined;
  private readonly queued: Array<[Buffer[], (VnetHeader | undefined)[] | undefined]> = [];
  private isClosed = false;

  constructor(options: MemoryTunOptions = {}) {
    this.name = options.name ?? 'mem0';
    this.mtu = options.mtu ?? MEMORY_TUN_MTU;
    this.offload = options.offload ?? false;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Sets the reader; throws if one is already set (local misuse). Flushes queued batches. */
  onPackets(handler: (packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void): void {
    if (this.handler) throw new Error('MemoryTun: onPackets handler already set');
    this.handler = handler;
    for (const [batch, vnet] of this.queued.splice(0)) handler(batch, vnet);
  }

  /**
   * Simulates local programs sending one batch (copied, so callers may reuse their
   * buffers). `vnet` (offload devices) gives packets the header a kernel read would have.
   */
  inject(packets: readonly Uint8Array[], vnet?: readonly (VnetHeader | undefined)[]): void {
    if (this.isClosed || packets.length === 0) return;
    const batch = packets.map((p) => Buffer.from(p));
    const headers = this.offload && vnet ? [...vnet] : undefined;
    if (this.handler) this.handler(batch, headers);
    else this.queued.push([batch, headers]);
  }

  /** Records the packets (copies) and, with offload, their headers; ignored after close. */
  write(packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): void {
    if (this.isClosed) return;
    packets.forEach((p, i) => {
      this.written.push(Buffer.from(p));
      this.writtenVnet.push(this.offload ? vnet?.[i] : undefined);
    });
  }

  /** Returns and clears {@link written} (and {@link writtenVnet}). */
  drain(): Buffer[] {
    this.writtenVnet.length = 0;
    return this.written.splice(0);
  }

  /** Stops delivering and recording. Idempotent. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.queued.length = 0;
  }
}
