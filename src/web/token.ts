/**
 * The dashboard token file, `web.token` in the data dir: created once (mode 0600, never
 * overwriting one that appeared meanwhile) and read back on later starts, with the same
 * ownership, mode and no-symlink rules as the identity key (core/permissions.ts).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { currentUser, type RunningUser } from '../core/permissions.js';
import { readPrivateFile } from '../core/private-file.js';
import { safeLine } from '../core/text.js';
import { SentinelError, errorCode } from '../errors.js';
import { isTokenText, newToken } from './auth.js';

/** File name of the token inside the data dir. */
export const TOKEN_FILE = 'web.token';

/**
 * The dashboard token of a data dir, created when missing. `user` as for the key
 * ({@link currentUser} by default; null skips the ownership and mode rules).
 */
export async function loadOrCreateWebToken(dataDir: string, user?: RunningUser | null): Promise<{ token: string; created: boolean }> {
  const file = join(dataDir, TOKEN_FILE);
  const who = user === undefined ? currentUser() : (user ?? undefined);
  const existing = await readTokenFile(file, who);
  if (existing !== undefined) return { token: existing, created: false };
  const token = newToken();
  try {
    await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    if (errorCode(err) === 'EEXIST') {
      const theirs = await readTokenFile(file, who);
      if (theirs !== undefined) return { token: theirs, created: false };
    }
    throw new SentinelError('E_DATA_DIR', `cannot write ${safeLine(file)}: ${errorCode(err) ?? String(err)}`, { cause: err });
  }
  return { token, created: true };
}

/** The token in `file`, undefined when there is none; refused when the file holds something else. */
async function readTokenFile(file: string, user: RunningUser | undefined): Promise<string | undefined> {
  // Only a token's worth is read: the file is ours, but a huge one must not be slurped.
  const text = (await readPrivateFile(file, user, { code: 'E_DATA_DIR', maxBytes: 128 }))?.trim();
  if (text === undefined || isTokenText(text)) return text;
  throw new SentinelError('E_DATA_DIR', `${safeLine(file)} does not hold a token (delete it to make a new one)`);
}
