/**
 * Reads a private file of the data dir (the identity key, the web token). The file is
 * opened without following a symbolic link and without blocking on a FIFO. The checks run
 * on the open descriptor, so what is checked is what is read: a regular file and, with a
 * user, a trusted owner and mode 0600 or 0400 (permissions.ts). At most `maxBytes` are
 * read, so a huge file put in its place costs nothing.
 */
import { constants, promises as fs } from 'node:fs';
import { SentinelError, errorCode, type ErrorCode } from '../errors.js';
import { keyFileProblem, keyIsLink, shellWord, type RunningUser } from './permissions.js';
import { safeLine } from './text.js';

/** What a caller decides: the error code of an unreadable file, and the read bound. */
export interface PrivateFileRules {
  /** Code of a file that cannot be read or is not a regular file (e.g. E_KEY_CORRUPT). */
  code: ErrorCode;
  /** Bytes read at most; a longer file is cut there (its parser then refuses it). */
  maxBytes: number;
}

/** The file's text, or undefined when it does not exist. */
export async function readPrivateFile(file: string, user: RunningUser | undefined, rules: PrivateFileRules): Promise<string | undefined> {
  const name = safeLine(file);
  let fh;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw keyIsLink(file);
    if (code === 'EACCES' && user) {
      throw new SentinelError('E_KEY_PERMISSIONS', `cannot read ${name} (EACCES): it belongs to another user; run: sudo chown ${user.uid} ${shellWord(file)}`, { cause: err });
    }
    throw new SentinelError(rules.code, `cannot read ${name}: ${code ?? String(err)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SentinelError(rules.code, `${name} is not a regular file`);
    const problem = user ? keyFileProblem(file, st, user) : undefined;
    if (problem) throw problem;
    const buf = Buffer.alloc(rules.maxBytes);
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buf.subarray(0, length).toString('utf8');
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError(rules.code, `cannot read ${name}: ${errorCode(err) ?? String(err)}`, { cause: err });
  } finally {
    await fh.close();
  }
}
