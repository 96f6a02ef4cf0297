/**
 * Typed access to the addon's TUN functions (native/tun.c). A TUN fd carries whole
 * IPv4/IPv6 packets (IFF_TUN | IFF_NO_PI); an offload fd (IFF_VNET_HDR, TUNSETOFFLOAD with
 * checksum and TSO4/6) puts a 10-byte virtio_net_hdr before each packet, in both
 * directions, and reads TCP super-segments of up to 64 KiB. Reading runs on the event loop
 * (a uv_poll_t on the fd) and delivers packets in batches of up to {@link TUN_BATCH};
 * writing is one non-blocking write(2) (writev(2) with a header) per packet. Interface configuration (addresses, MTU, link up) is
 * not done here: see src/vpn/native-tun.ts.
 */
import { SentinelError } from '../errors.js';
import { requireNative } from './load.js';
import type { NativeErrnoError } from './types.js';

/** Most packets the addon delivers in one read callback. */
export const TUN_BATCH = 64;

/** Read size of an offload fd: the 10-byte header and a 64 KiB super-segment. */
export const TUN_OFFLOAD_READ_SIZE = 10 + 65536;

/** Longest interface name Linux accepts (IFNAMSIZ - 1). */
export const TUN_NAME_MAX = 15;

/**
 * One batch of packets read from a TUN fd (each Buffer one whole packet, owned by the
 * callee). `err` is set, at most once and possibly with a final non-empty batch, when a
 * read failed; reading has then stopped.
 */
export type TunReadCallback = (packets: Buffer[], err?: NativeErrnoError) => void;

/** The addon's TUN exports. Errno failures throw {@link NativeErrnoError}. */
export interface TunNative {
  /**
   * Open /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attach it to interface `name`
   * ('' = kernel-chosen) with TUNSETIFF. Returns the fd and the actual interface name.
   * With `offload`, asks for the offloads; `offload` in the result says whether they are
   * on (an older addon omits it: off).
   */
  tunOpen(name: string, offload?: boolean): { fd: number; name: string; offload?: boolean };
  /** Watch fd for readability; `cb` gets each batch. Throws EBUSY if fd is already read. */
  tunStartReading(fd: number, mtu: number, cb: TunReadCallback): void;
  /** Stop reading fd (the fd stays open). True if it was being read. */
  tunStopReading(fd: number): boolean;
  /**
   * Write each packet; returns how many the kernel took (refused ones are dropped). An
   * offload fd needs `headers`: 10 bytes (a virtio_net_hdr) per packet.
   */
  tunWrite(fd: number, packets: readonly Uint8Array[], headers?: Uint8Array): number;
  /** close(2), stopping a reader on fd first. */
  close(fd: number): void;
}

const TUN_EXPORTS = ['tunOpen', 'tunStartReading', 'tunStopReading', 'tunWrite', 'close'] as const;

function hasTun(mod: object): mod is TunNative {
  return TUN_EXPORTS.every((k) => typeof (mod as Record<string, unknown>)[k] === 'function');
}

/** The addon's TUN functions, or SentinelError('E_NATIVE_UNAVAILABLE') saying why not. */
export function requireTunNative(): TunNative {
  const native = requireNative();
  if (!hasTun(native)) throw new SentinelError('E_NATIVE_UNAVAILABLE', 'the addon has no TUN support (rebuild it with `npm run install`)');
  return native;
}

/** An open TUN fd. Every method is safe after close() (no-op, or 0 written). */
export class TunFd {
  private open = true;
  private reading = false;

  constructor(
    private readonly native: TunNative,
    /** The fd (non-blocking, close-on-exec). */
    readonly fd: number,
    /** The interface name the kernel gave. */
    readonly name: string,
    /** Offloads on: every read and write carries a virtio_net_hdr first. */
    readonly offload = false,
  ) {}

  /** Start batch reads; `mtu` is the read buffer size (longer packets are truncated). */
  startReading(mtu: number, cb: TunReadCallback): void {
    if (!this.open) return;
    this.native.tunStartReading(this.fd, mtu, (packets, err) => {
      if (err) this.reading = false;
      cb(packets, err);
    });
    this.reading = true;
  }

  stopReading(): void {
    if (this.reading) this.native.tunStopReading(this.fd);
    this.reading = false;
  }

  /** Packets the kernel accepted; 0 once closed. Throws only for an unusable fd. */
  write(packets: readonly Uint8Array[], headers?: Uint8Array): number {
    if (!this.open) return 0;
    return headers ? this.native.tunWrite(this.fd, packets, headers) : this.native.tunWrite(this.fd, packets);
  }

  /** Stop reading and close the fd; the kernel then removes a non-persistent interface. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.reading = false;
    this.native.close(this.fd);
  }
}

/**
 * Open a TUN interface through the addon. Throws NativeErrnoError ('EPERM' / 'EACCES'
 * without CAP_NET_ADMIN, 'ENOENT' without /dev/net/tun, 'EBUSY' when the name is held),
 * TypeError for a name longer than {@link TUN_NAME_MAX} bytes, or
 * SentinelError('E_NATIVE_UNAVAILABLE') without the addon.
 */
export function openTunFd(name: string, native: TunNative = requireTunNative(), offload = false): TunFd {
  const opened = offload ? native.tunOpen(name, true) : native.tunOpen(name);
  return new TunFd(native, opened.fd, opened.name, opened.offload === true);
}
