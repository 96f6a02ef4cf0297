/**
 * The real TUN device: a Linux TUN interface opened through the native addon, configured
 * with iproute2 (MTU, link up, one IPv4 and one IPv6 address), read in batches from the
 * event loop. Needs CAP_NET_ADMIN and /dev/net/tun; every failure to get there is a
 * SentinelError('E_TUN') whose message says why in one line.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { SentinelError, errorCode, errorMessage, isSentinelError } from '../errors.js';
import { TUN_NAME_MAX, TUN_OFFLOAD_READ_SIZE, openTunFd, type TunFd } from '../native/tun.js';
import { GSO_NONE, VNET_F_NEEDS_CSUM, VNET_HDR_SIZE, readVnetHeader, writeVnetHeader, type VnetHeader } from './offload.js';
import type { TunDevice } from './types.js';

export const DEFAULT_TUN_NAME = 'sentinel0';
export const DEFAULT_TUN_MTU = 1400;
/** The kernel turns IPv6 off on a link with a smaller MTU. */
export const MIN_TUN_MTU = 1280;
export const MAX_TUN_MTU = 65535;
/**
 * The TUN's transmit queue: packets the kernel holds for us to read (the kernel default is
 * 500), dropped when it is full. The kernel's TCP does not see this queue (the TUN
 * orphans what it queues), so an inner TCP fills it until a drop: it is standing latency.
 * Entries are packets, not bytes: with offloads one may be a 64 KiB super-segment, but a
 * shorter queue drops bursts of small packets (UDP) whenever the node is a moment late,
 * so the length stays; the queue stays short as long as the node reads on time (it reads
 * whatever is there and drops at its own, byte-bounded, queues instead).
 * SENTINEL_TUN_TXQUEUELEN overrides it (for measurements).
 */
export const TUN_TXQUEUELEN = 1000;

function txQueueLen(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['SENTINEL_TUN_TXQUEUELEN']);
  return Number.isInteger(n) && n > 0 ? n : TUN_TXQUEUELEN;
}

/** Offloads are on unless SENTINEL_TUN_OFFLOAD=0 (a switch for comparisons and tests). */
export function offloadByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['SENTINEL_TUN_OFFLOAD'] !== '0';
}

export interface NativeTunOptions {
  /** Interface name, at most 15 bytes; '' lets the kernel pick. Default 'sentinel0'. */
  name?: string;
  /** Default 1400. Also the read buffer size. */
  mtu?: number;
  /** Our dotted IPv4 address. */
  ipv4: string;
  /** Default 10 (100.64.0.0/10). */
  ipv4Prefix?: number;
  /** Our IPv6 address. */
  ipv6: string;
  /** Default 48 (Sentinel's ULA /48). */
  ipv6Prefix?: number;
  /**
   * Ask for TUN offloads (IFF_VNET_HDR, checksum + TSO4/6: 64 KiB TCP super-segments per
   * read and write). Default: on unless SENTINEL_TUN_OFFLOAD=0. A kernel that refuses
   * them gives a plain device (`offload` false).
   */
  offload?: boolean;
  /** Told when reading stops on an error or a write finds the fd unusable. Default: a process warning. */
  onError?: (err: SentinelError) => void;
}

/** Counters of a native TUN device. */
export interface NativeTunStats {
  /** Packets delivered to the onPackets handler. */
  packetsRead: number;
  /** Read callbacks (batches) delivered. */
  batches: number;
  /** Packets the kernel accepted from write(). */
  packetsWritten: number;
  /** Packets write() was given that the kernel refused (or that came after close). */
  writeDrops: number;
  /** Reads too short to hold a virtio_net_hdr (offload devices; dropped). */
  shortReads: number;
}

/** A {@link TunDevice} backed by a kernel TUN interface. */
export interface NativeTunDevice extends TunDevice {
  readonly stats: Readonly<NativeTunStats>;
}

const OPEN_FAILURES: Readonly<Record<string, (name: string) => string>> = {
  EPERM: () => 'needs root (CAP_NET_ADMIN)',
  EACCES: () => 'needs root (CAP_NET_ADMIN)',
  ENOENT: () => '/dev/net/tun is missing (load the tun module; in a container, pass the device in)',
  ENODEV: () => 'the kernel has no TUN support (load the tun module)',
  ENXIO: () => 'the kernel has no TUN support (load the tun module)',
  ENOSYS: () => 'TUN devices are supported on Linux only',
  EBUSY: (name) => `interface ${name} is already in use by another process`,
  EINVAL: (name) => `invalid interface name ${JSON.stringify(name)}, or it names a device that is not a TUN`,
  EMFILE: () => 'too many open files',
  ENFILE: () => 'too many open files',
};

/**
 * Map a failure to open the TUN (an errno error from the addon, or E_NATIVE_UNAVAILABLE)
 * to SentinelError('E_TUN') with a one-line reason, e.g. 'needs root (CAP_NET_ADMIN)'.
 */
export function tunOpenError(err: unknown, name: string): SentinelError {
  const code = errorCode(err);
  const known = code === undefined ? undefined : OPEN_FAILURES[code];
  let detail: string;
  if (isSentinelError(err, 'E_NATIVE_UNAVAILABLE')) detail = `native addon unavailable (${errorMessage(err)})`;
  else if (known) detail = known(name);
  else detail = errorMessage(err);
  return new SentinelError('E_TUN', `cannot open ${name || 'a TUN interface'}: ${detail}`, { cause: err });
}

/** Map a failed `ip` command to SentinelError('E_TUN'), naming the command and the reason. */
export function ipCommandError(args: readonly string[], err: unknown, stderr: string): SentinelError {
  const said = stderr.trim().split('\n').pop() ?? '';
  const command = `ip ${args.join(' ')}`;
  let detail: string;
  if (errorCode(err) === 'ENOENT') detail = 'iproute2 is not installed (no `ip` command)';
  else if (/Operation not permitted/i.test(said)) detail = 'needs root (CAP_NET_ADMIN)';
  else if (args[0] === '-6' && /Permission denied/i.test(said)) detail = 'IPv6 is disabled on this host (sysctl net.ipv6.conf.*.disable_ipv6)';
  else detail = said || errorMessage(err);
  return new SentinelError('E_TUN', `${command}: ${detail}`, { cause: err });
}

function runIp(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(ipCommandError(args, err, String(stderr)));
      else resolve();
    });
  });
}

/** The iproute2 commands that bring the interface up with our MTU and addresses. */
export function ipCommands(
  name: string,
  opts: Required<Pick<NativeTunOptions, 'mtu' | 'ipv4' | 'ipv4Prefix' | 'ipv6' | 'ipv6Prefix'>> & { txqueuelen?: number },
): string[][] {
  return [
    ['link', 'set', 'dev', name, 'mtu', String(opts.mtu), 'txqueuelen', String(opts.txqueuelen ?? TUN_TXQUEUELEN), 'up'],
    ['addr', 'add', `${opts.ipv4}/${opts.ipv4Prefix}`, 'dev', name],
    ['-6', 'addr', 'add', `${opts.ipv6}/${opts.ipv6Prefix}`, 'dev', name],
  ];
}

function checkInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${value}`);
}

class NativeTun implements NativeTunDevice {
  readonly stats: NativeTunStats = { packetsRead: 0, batches: 0, packetsWritten: 0, writeDrops: 0, shortReads: 0 };
  private handler: ((packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void) | undefined;
  private closed = false;

  constructor(
    private readonly tun: TunFd,
    readonly mtu: number,
    private readonly onError: (err: SentinelError) => void,
  ) {}

  get name(): string {
    return this.tun.name;
  }

  get offload(): boolean {
    return this.tun.offload;
  }

  onPackets(handler: (packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void): void {
    if (this.handler) throw new Error(`onPackets: ${this.name} already has a handler`);
    this.handler = handler;
    if (this.closed) return;
    const offload = this.tun.offload;
    this.tun.startReading(offload ? TUN_OFFLOAD_READ_SIZE : this.mtu, (packets, err) => {
      if (packets.length > 0) {
        this.stats.batches++;
        this.stats.packetsRead += packets.length;
        if (offload) this.deliverOffload(handler, packets);
        else handler(packets);
      }
      if (err) this.onError(new SentinelError('E_TUN', `reading ${this.name} stopped: ${err.message}`, { cause: err }));
    });
  }

  /** Splits each read into its header (kept when it asks for something) and packet. */
  private deliverOffload(handler: (packets: Buffer[], vnet?: readonly (VnetHeader | undefined)[]) => void, raw: Buffer[]): void {
    const packets: Buffer[] = [];
    const vnet: (VnetHeader | undefined)[] = [];
    for (const r of raw) {
      if (r.length <= VNET_HDR_SIZE) {
        this.stats.shortReads++;
        continue;
      }
      const h = readVnetHeader(r);
      packets.push(r.subarray(VNET_HDR_SIZE));
      vnet.push(h.gsoType !== GSO_NONE || (h.flags & VNET_F_NEEDS_CSUM) !== 0 ? h : undefined);
    }
    if (packets.length > 0) handler(packets, vnet);
  }

  write(packets: readonly Buffer[], vnet?: readonly (VnetHeader | undefined)[]): void {
    let written = 0;
    let headers: Buffer | undefined;
    if (this.tun.offload) {
      headers = Buffer.alloc(VNET_HDR_SIZE * packets.length);
      if (vnet) vnet.forEach((h, i) => h && writeVnetHeader(headers!, i * VNET_HDR_SIZE, h));
    }
    try {
      written = this.tun.write(packets, headers);
    } catch (err) {
      this.onError(new SentinelError('E_TUN', `writing to ${this.name} failed: ${errorMessage(err)}`, { cause: err }));
    }
    this.stats.packetsWritten += written;
    this.stats.writeDrops += packets.length - written;
  }

  close(): Promise<void> {
    this.closed = true;
    this.tun.close(); // stops the reader; the kernel removes the interface with its last fd
    return Promise.resolve();
  }
}

function warn(err: SentinelError): void {
  process.emitWarning(err.message, { code: err.code });
}

/**
 * Open and configure a TUN interface: `ip link set dev <name> mtu <mtu> up`, then the IPv4
 * and IPv6 addresses. Misuse (bad address, prefix, MTU or name) throws at once; anything
 * the system refuses rejects with SentinelError('E_TUN') and leaves no interface behind.
 * Reading starts with the first onPackets() call; close() removes the interface.
 */
export function openNativeTun(opts: NativeTunOptions): Promise<NativeTunDevice> {
  const name = opts.name ?? DEFAULT_TUN_NAME;
  const config = { mtu: opts.mtu ?? DEFAULT_TUN_MTU, ipv4: opts.ipv4, ipv4Prefix: opts.ipv4Prefix ?? 10, ipv6: opts.ipv6, ipv6Prefix: opts.ipv6Prefix ?? 48 };
  if (Buffer.byteLength(name) > TUN_NAME_MAX) throw new RangeError(`TUN name must be at most ${TUN_NAME_MAX} bytes, got ${JSON.stringify(name)}`);
  checkInt(config.mtu, MIN_TUN_MTU, MAX_TUN_MTU, 'mtu');
  if (!net.isIPv4(config.ipv4)) throw new TypeError(`ipv4 must be a dotted IPv4 address, got ${JSON.stringify(config.ipv4)}`);
  if (!net.isIPv6(config.ipv6)) throw new TypeError(`ipv6 must be an IPv6 address, got ${JSON.stringify(config.ipv6)}`);
  checkInt(config.ipv4Prefix, 0, 32, 'ipv4Prefix');
  checkInt(config.ipv6Prefix, 0, 128, 'ipv6Prefix');
  let tun: TunFd;
  try {
    tun = openTunFd(name, undefined, opts.offload ?? offloadByDefault());
  } catch (err) {
    return Promise.reject(tunOpenError(err, name));
  }
  return configure(tun, { ...config, txqueuelen: txQueueLen() }).then(
    () => new NativeTun(tun, config.mtu, opts.onError ?? warn),
    (err: unknown) => {
      tun.close();
      throw err;
    },
  );
}

async function configure(tun: TunFd, config: Parameters<typeof ipCommands>[1]): Promise<void> {
  for (const args of ipCommands(tun.name, config)) await runIp(args);
}
