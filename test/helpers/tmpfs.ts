/**
 * A small tmpfs for disk-full tests: a real filesystem that really fills up. Mounting
 * needs root; without it {@link tmpfsUnavailable} says why, so the test skips with that
 * reason (or fails when SENTINEL_LAB=required, like the lab tests). Every mount is
 * unmounted and its directory removed by the returned cleanup, which tests register
 * with `t.after` so it runs whatever the outcome.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why a tmpfs cannot be mounted here, or null when it can. */
export async function tmpfsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'tmpfs tests need Linux';
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (run the suite as root)';
  const probe = await mountTmpfs(64 * 1024).catch((err: Error) => err);
  if (probe instanceof Error) return `cannot mount a tmpfs: ${probe.message.split('\n')[0]}`;
  await probe.cleanup();
  return null;
}

/** True when tests that cannot run must fail instead of skipping. */
export function tmpfsRequired(): boolean {
  return process.env['SENTINEL_LAB'] === 'required';
}

/** A mounted tmpfs. */
export interface Tmpfs {
  dir: string;
  /** Bytes an unprivileged writer may still use there. */
  free(): Promise<number>;
  /** Writes a file of zeros until the filesystem has at most `leaveBytes` free (ENOSPC ends it early). Returns its path. */
  fill(name: string, leaveBytes: number): Promise<string>;
  /** Unmounts (lazily if busy) and removes the directory. Idempotent. */
  cleanup(): Promise<void>;
}

/** Mounts a tmpfs of `sizeBytes` on a fresh directory under the temp dir. */
export async function mountTmpfs(sizeBytes: number): Promise<Tmpfs> {
  const dir = await mkdtemp(join(tmpdir(), 'sntl-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
  } catch (err) {
    await rmdir(dir).catch(() => {});
    throw err;
  }
  let cleaned = false;
  const free = async (): Promise<number> => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    async fill(name, leaveBytes) {
      const path = join(dir, name);
      const fh = await open(path, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) {
          const left = (await free()) - leaveBytes;
          if (left <= 0) break;
          await fh.write(chunk, 0, Math.min(chunk.length, left));
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await fh.close();
      }
      return path;
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
