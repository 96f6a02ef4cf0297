/**
 * The delay line's process (`node dist/test/lab/delay-line-proc.js --tun <name> ...`), run
 * by {@link startDelayLine} inside a router namespace of the lab. For each `--tun` it opens
 * a TUN interface through the project's addon (src/native/tun.ts) and, for every packet the
 * kernel routes into it, holds the packet for `--delay-ms` in a byte-bounded FIFO
 * ({@link DelayQueue}, one per interface, so one per direction) and then writes it back
 * into the same interface, where the kernel routes it on by its destination.
 *
 *   --tun <name>          an interface to open (repeat: one per direction)
 *   --delay-ms <ms>       one-way delay added to every packet (default 0)
 *   --limit-bytes <n>     bound on the bytes held per interface (default 32 MiB)
 *
 * Prints `ready <name> ...` once reading, `stats <json>` on SIGUSR1, and `stats <json>`
 * on SIGTERM before exiting 0. With no arguments it does nothing (`node --test` loads every
 * file under dist/test/).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openTunFd, type TunFd } from '../../src/native/tun.js';
import { DelayQueue, type DelayQueueStats } from './delay-line-queue.js';

export const DELAY_LINE_PROC = fileURLToPath(import.meta.url);

/** Default bound on the bytes held per direction. */
export const DEFAULT_LIMIT_BYTES = 32 * 1024 * 1024;
/** Read buffer per packet: larger than any MTU the lab uses. */
const READ_BYTES = 65_535;

/** One direction's counters as printed: the queue's, plus packets the TUN refused on write. */
export interface DirectionStats extends DelayQueueStats {
  writeFailed: number;
}

/** The JSON after `stats `: counters per interface name. */
export type DelayLineStats = Record<string, DirectionStats>;

interface Direction {
  tun: TunFd;
  queue: DelayQueue<Buffer>;
  timer: NodeJS.Timeout | null;
  writeFailed: number;
}

function parseArgs(argv: readonly string[]): { tuns: string[]; delayMs: number; limitBytes: number } {
  const tuns: string[] = [];
  let delayMs = 0;
  let limitBytes = DEFAULT_LIMIT_BYTES;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${String(flag)} needs a value`);
    if (flag === '--tun') tuns.push(value);
    else if (flag === '--delay-ms') delayMs = Number(value);
    else if (flag === '--limit-bytes') limitBytes = Number(value);
    else throw new Error(`unknown flag ${String(flag)}`);
  }
  if (tuns.length === 0) throw new Error('at least one --tun is needed');
  return { tuns, delayMs, limitBytes };
}

function write(d: Direction, packets: Buffer[]): void {
  if (packets.length === 0) return;
  d.writeFailed += packets.length - d.tun.write(packets);
}

/** Writes what is due, then sleeps until the next packet is (never early: see DelayQueue.due). */
function arm(d: Direction): void {
  const next = d.queue.nextDueAt();
  if (d.timer !== null || next === null) return;
  d.timer = setTimeout(() => {
    d.timer = null;
    write(d, d.queue.due(performance.now()));
    arm(d);
  }, Math.max(0, Math.ceil(next - performance.now())));
}

function stats(dirs: ReadonlyMap<string, Direction>): DelayLineStats {
  const out: DelayLineStats = {};
  for (const [name, d] of dirs) out[name] = { ...d.queue.stats(), writeFailed: d.writeFailed };
  return out;
}

function main(argv: readonly string[]): void {
  const { tuns, delayMs, limitBytes } = parseArgs(argv);
  const dirs = new Map<string, Direction>();
  for (const name of tuns) {
    const d: Direction = { tun: openTunFd(name), queue: new DelayQueue<Buffer>({ delayMs, limitBytes }), timer: null, writeFailed: 0 };
    dirs.set(d.tun.name, d);
    d.tun.startReading(READ_BYTES, (packets, err) => {
      const now = performance.now();
      for (const p of packets) d.queue.push(p, now);
      if (delayMs === 0) write(d, d.queue.due(now));
      else arm(d);
      if (err) {
        process.stderr.write(`delay line: reading ${d.tun.name} failed: ${err.message}\n`);
        process.exit(1);
      }
    });
  }
  const print = (): boolean => process.stdout.write(`stats ${JSON.stringify(stats(dirs))}\n`);
  process.on('SIGUSR1', print);
  process.on('SIGTERM', () => {
    for (const d of dirs.values()) d.tun.close();
    process.stdout.write(`stats ${JSON.stringify(stats(dirs))}\n`, () => process.exit(0));
  });
  process.stdout.write(`ready ${[...dirs.keys()].join(' ')}\n`);
}

if (process.argv[1] === DELAY_LINE_PROC && process.argv.length > 2) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`delay line: ${String(err)}\n`);
    process.exit(1);
  }
}
