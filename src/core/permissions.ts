/**
 * Ownership and mode rules for the data dir and the identity key. Pure decisions (facts
 * from `stat` in, a coded error out) plus {@link currentUser}, the one read of the process.
 *
 * Rules:
 * - Trusted owners: the effective user, root, and, when running as root under sudo, the
 *   user who ran sudo (`SUDO_UID`): `sudo sentinel-node --data-dir ./.nodeA` uses the
 *   invoking user's dir. Anyone else who owns the data dir could swap the key (and know it),
 *   edit the store, or plant links that a root process would write through.
 * - The data dir must have a trusted owner and no group or other write bit (a sticky
 *   world-writable dir such as /tmp is refused too): whoever can write it can replace the
 *   key or squat the control socket. Read bits are allowed (the key has its own mode).
 * - The key file must have a trusted owner and no group or other bit at all (0600 or
 *   0400): it is the node's identity. It must be a regular file, not a symbolic link
 *   (checked when opening, see identity.ts): a link would let its target's directory, which
 *   nobody checked, decide our identity.
 *
 * Each refusal is one line with the command that fixes it.
 */
import { SentinelError } from '../errors.js';
import { safeLine } from './text.js';

/** Who runs the process, as far as file ownership goes. */
export interface RunningUser {
  /** Effective uid. */
  readonly uid: number;
  /** Only when `uid` is 0: the uid that ran sudo (`SUDO_UID`), trusted like root. */
  readonly sudoUid?: number;
}

/** The stat fields the rules read. */
export interface OwnerAndMode {
  readonly uid: number;
  readonly mode: number;
}

/**
 * The running user, from the process; undefined where there are no uids (not POSIX),
 * in which case no ownership or mode rule applies.
 */
export function currentUser(env: NodeJS.ProcessEnv = process.env): RunningUser | undefined {
  if (typeof process.geteuid !== 'function') return undefined;
  const uid = process.geteuid();
  const sudo = env.SUDO_UID;
  if (uid === 0 && sudo !== undefined && /^\d{1,10}$/.test(sudo)) return { uid, sudoUid: Number(sudo) };
  return { uid };
}

/** True when `owner` may own our data dir and key (see the rules above). */
export function isTrustedOwner(owner: number, user: RunningUser): boolean {
  return owner === user.uid || owner === 0 || (user.uid === 0 && owner === user.sudoUid);
}

/** A path as a shell word, quoted when needed, so the suggested command can be pasted. */
export function shellWord(path: string): string {
  const shown = safeLine(path);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}

/** `0644`-style mode (permission and special bits). */
export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function chownHint(user: RunningUser, target: string, recursive: boolean): string {
  return `${user.uid === 0 ? '' : 'sudo '}chown ${recursive ? '-R ' : ''}${user.uid} ${shellWord(target)}`;
}

/** Why the data dir `dir` may not be used (E_KEY_PERMISSIONS), or undefined when it may. */
export function dataDirProblem(dir: string, st: OwnerAndMode, user: RunningUser): SentinelError | undefined {
  if (!isTrustedOwner(st.uid, user)) {
    return new SentinelError(
      'E_KEY_PERMISSIONS',
      `${safeLine(dir)} is owned by uid ${st.uid}, not by the user running this (uid ${user.uid}); run: ${chownHint(user, dir, true)} (or use a data dir of your own)`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    const who = (st.mode & 0o002) !== 0 ? 'everyone' : 'its group';
    return new SentinelError('E_KEY_PERMISSIONS', `${safeLine(dir)} is writable by ${who} (mode ${modeText(st.mode)}); run: chmod 700 ${shellWord(dir)}`);
  }
  return undefined;
}

/** Why the key file `file` may not be used (E_KEY_PERMISSIONS), or undefined when it may. */
export function keyFileProblem(file: string, st: OwnerAndMode, user: RunningUser): SentinelError | undefined {
  if (!isTrustedOwner(st.uid, user)) {
    return new SentinelError(
      'E_KEY_PERMISSIONS',
      `${safeLine(file)} is owned by uid ${st.uid}, not by the user running this (uid ${user.uid}); run: ${chownHint(user, file, false)}`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const how = [(st.mode & 0o044) !== 0 && 'readable', (st.mode & 0o022) !== 0 && 'writable'].filter((x) => x).join(' and ') || 'accessible';
    return new SentinelError('E_KEY_PERMISSIONS', `${safeLine(file)} is ${how} by others (mode ${modeText(st.mode)}); run: chmod 600 ${shellWord(file)}`);
  }
  return undefined;
}

/** The refusal of a private file (key, token) that is a symbolic link. */
export function keyIsLink(file: string): SentinelError {
  return new SentinelError(
    'E_KEY_PERMISSIONS',
    `${safeLine(file)} is a symbolic link; it must be a regular file in the data dir (replace the link with a copy of its target, mode 0600)`,
  );
}
