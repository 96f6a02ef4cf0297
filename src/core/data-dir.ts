/**
 * The node's (and the signaler's) data directory: created private when missing, checked
 * for safe ownership and permissions (rules in permissions.ts), and proven writable,
 * before anything (the key first) is read from it.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errorCode, errorMessage, SentinelError } from '../errors.js';
import { currentUser, dataDirProblem, type RunningUser } from './permissions.js';
import { safeLine } from './text.js';

/**
 * Prepare `dir` for use: create it (and missing parents) with mode 0700 when missing;
 * refuse (E_KEY_PERMISSIONS, one line with the fixing command) a dir that is group- or
 * world-writable or owned by an untrusted user; prove it writable (E_DATA_DIR otherwise).
 * `user` is whom the rules trust: by default the running process ({@link currentUser});
 * null skips the ownership and mode rules, as on platforms without uids.
 */
export async function prepareDataDir(dir: string, user?: RunningUser | null): Promise<void> {
  const who = user === undefined ? currentUser() : user;
  const unusable = (err: unknown): SentinelError =>
    new SentinelError('E_DATA_DIR', `${safeLine(dir)} is not a writable directory (${errorCode(err) ?? errorMessage(err)})`, { cause: err });
  let st;
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    st = await fs.stat(dir);
  } catch (err) {
    throw unusable(err);
  }
  if (!st.isDirectory()) throw unusable('ENOTDIR');
  const problem = who ? dataDirProblem(dir, st, who) : undefined;
  if (problem) throw problem;
  try {
    const probe = join(dir, `.write-test-${process.pid}`);
    await fs.writeFile(probe, '');
    await fs.rm(probe);
  } catch (err) {
    throw unusable(err);
  }
}
