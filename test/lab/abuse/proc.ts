/**
 * What a running process costs, read from /proc (Linux; the lab runs as root, so any pid
 * is readable): resident memory, its peak, open file descriptors, and CPU time. The
 * parsers are pure; a sampler polls them while an attack runs and keeps the peaks.
 */
import { readFile, readdir } from 'node:fs/promises';

/** Resident memory now and at its highest (`VmRSS`, `VmHWM` of /proc/<pid>/status), KiB. */
export interface Memory {
  rssKiB: number;
  peakRssKiB: number;
}

/** One look at a process. */
export interface Usage extends Memory {
  fds: number;
  /** User + system CPU time so far, ms. */
  cpuMs: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux ABI Node runs on). */
export const CLOCK_TICKS_PER_S = 100;

/** `VmRSS` and `VmHWM` from the text of /proc/<pid>/status. */
export function parseStatus(text: string): Memory {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${name} in /proc status`);
    return Number(m[1]);
  };
  return { rssKiB: field('VmRSS'), peakRssKiB: field('VmHWM') };
}

/** utime + stime (fields 14 and 15) of /proc/<pid>/stat, in ms. The command name may hold spaces: fields count from its closing parenthesis. */
export function parseStatCpuMs(text: string): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable /proc stat');
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_S;
}

/** Reads everything {@link Usage} holds for `pid`; rejects when the process is gone. */
export async function usage(pid: number): Promise<Usage> {
  const [status, stat, fds] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8'), readdir(`/proc/${pid}/fd`)]);
  return { ...parseStatus(status), fds: fds.length, cpuMs: parseStatCpuMs(stat) };
}

/** Peaks seen by a {@link Sampler}. */
export interface Peaks {
  samples: number;
  peakRssKiB: number;
  peakFds: number;
}

/** Polls {@link usage} of `pid` every `intervalMs` until stopped; keeps the peaks. */
export class Sampler {
  private readonly timer: NodeJS.Timeout;
  private peaks: Peaks = { samples: 0, peakRssKiB: 0, peakFds: 0 };
  private busy = false;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.timer = setInterval(() => void this.sample(), intervalMs);
    // Never what keeps a test process alive (a sampler left running after a failure).
    this.timer.unref();
    void this.sample();
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const u = await usage(this.pid);
      this.peaks = { samples: this.peaks.samples + 1, peakRssKiB: Math.max(this.peaks.peakRssKiB, u.peakRssKiB), peakFds: Math.max(this.peaks.peakFds, u.fds) };
    } catch {
      // the process is gone (or going): keep what was seen
    } finally {
      this.busy = false;
    }
  }

  /** Stops polling; returns the peaks. */
  stop(): Peaks {
    clearInterval(this.timer);
    return { ...this.peaks };
  }
}
