/**
 * Data dir preparation and the ownership/mode rules, on real temp dirs. Cases that need
 * another owner use chown, so they run as root and skip (saying so) otherwise; the pure
 * rules cover every user.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { prepareDataDir } from '../../src/core/data-dir.js';
import { currentUser, dataDirProblem, isTrustedOwner, keyFileProblem, modeText, shellWord, type RunningUser } from '../../src/core/permissions.js';
import { isSentinelError, type ErrorCode } from '../../src/errors.js';

/** An unprivileged uid that exists on Linux systems (nobody). */
const OTHER_UID = 65534;
const isRoot = process.geteuid?.() === 0;
const NOT_ROOT = 'needs root (chown to another user); the pure rules below cover this case';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sentinel-dd-'));
  dirs.push(d);
  return d;
}

async function refused(p: Promise<unknown>, code: ErrorCode, pattern: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSentinelError(e, code), `expected ${code}, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    message = e.message;
    return true;
  });
  return message;
}

describe('prepareDataDir', () => {
  it('creates a missing dir, and its missing parents, with mode 0700', async () => {
    const dir = join(await tempRoot(), 'a', 'b');
    await prepareDataDir(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(dir), [], 'the write probe is gone');
  });

  it('accepts an existing private or world-readable dir', async () => {
    const dir = await tempRoot();
    for (const mode of [0o700, 0o750, 0o755, 0o711]) {
      await chmod(dir, mode);
      await prepareDataDir(dir);
    }
  });

  it('refuses a group- or world-writable dir with the chmod that fixes it', async () => {
    const dir = await tempRoot();
    await chmod(dir, 0o775);
    await refused(prepareDataDir(dir), 'E_KEY_PERMISSIONS', new RegExp(`${dir} is writable by its group \\(mode 0775\\); run: chmod 700 ${dir}$`));
    await chmod(dir, 0o777);
    await refused(prepareDataDir(dir), 'E_KEY_PERMISSIONS', /writable by everyone \(mode 0777\)/);
    await chmod(dir, 0o1777); // sticky, like /tmp: still refused
    await refused(prepareDataDir(dir), 'E_KEY_PERMISSIONS', /\(mode 1777\)/);
    await chmod(dir, 0o700);
    await prepareDataDir(dir);
  });

  it('says E_DATA_DIR for a path that is a file, or under one', async () => {
    const file = join(await tempRoot(), 'file');
    await writeFile(file, 'x');
    await refused(prepareDataDir(file), 'E_DATA_DIR', /is not a writable directory/);
    await refused(prepareDataDir(join(file, 'sub')), 'E_DATA_DIR', /is not a writable directory \(ENOTDIR\)/);
  });

  it('skips the rules where there are no uids (user null)', async () => {
    const dir = await tempRoot();
    await chmod(dir, 0o777);
    await prepareDataDir(dir, null);
  });

  it('refuses a dir owned by another user, with the chown that fixes it', { skip: isRoot ? false : NOT_ROOT }, async () => {
    const dir = join(await tempRoot(), 'theirs');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, OTHER_UID, OTHER_UID);
    await refused(prepareDataDir(dir), 'E_KEY_PERMISSIONS', new RegExp(`owned by uid ${OTHER_UID}, not by the user running this \\(uid 0\\); run: chown -R 0 ${dir}`));
  });

  it('as root under sudo, accepts the invoking user\'s dir (not if it is group-writable)', { skip: isRoot ? false : NOT_ROOT }, async () => {
    const dir = join(await tempRoot(), 'invoker');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, OTHER_UID, OTHER_UID);
    const sudo: RunningUser = { uid: 0, sudoUid: OTHER_UID };
    await prepareDataDir(dir, sudo);
    await chmod(dir, 0o770);
    await refused(prepareDataDir(dir, sudo), 'E_KEY_PERMISSIONS', /writable by its group/);
  });

  it('as another user, trusts a root-owned dir but not one owned by a third user', { skip: isRoot ? false : NOT_ROOT }, async () => {
    const dir = join(await tempRoot(), 'rootowned');
    await mkdir(dir, { mode: 0o755 });
    await prepareDataDir(dir, { uid: 1000 }); // root owns it; we are root, so the probe can write
    await chown(dir, OTHER_UID, OTHER_UID);
    await refused(prepareDataDir(dir, { uid: 1000 }), 'E_KEY_PERMISSIONS', new RegExp(`run: sudo chown -R 1000 ${dir}`));
  });
});

/** Runs prepareDataDir then loadOrCreateIdentity on `dir` in a child process as `uid`; its outcome. */
async function asUser(uid: number, dir: string): Promise<{ ok: boolean; code?: string; message?: string }> {
  const dataDir = new URL('../../src/core/data-dir.js', import.meta.url).href;
  const identity = new URL('../../src/identity/identity.js', import.meta.url).href;
  const script = `
    const { prepareDataDir } = await import(${JSON.stringify(dataDir)});
    const { loadOrCreateIdentity } = await import(${JSON.stringify(identity)});
    const dir = process.argv[1];
    try { await prepareDataDir(dir); await loadOrCreateIdentity(dir); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir], { uid, gid: uid, cwd: '/' });
  return JSON.parse(stdout) as { ok: boolean; code?: string; message?: string };
}

describe('as an unprivileged user (a real child process with uid 65534)', { skip: isRoot ? false : 'needs root to start a process as another user' }, () => {
  it('uses its own dir, refuses a third user\'s, and names the fix for a root-owned key it cannot read', async () => {
    const top = await tempRoot();
    await chmod(top, 0o755); // let the child reach the dirs below
    const own = join(top, 'own');
    await mkdir(own, { mode: 0o700 });
    await chown(own, OTHER_UID, OTHER_UID);
    assert.deepEqual(await asUser(OTHER_UID, own), { ok: true });
    const keyStat = await stat(join(own, 'node.key'));
    assert.equal(keyStat.uid, OTHER_UID);
    assert.equal(keyStat.mode & 0o777, 0o600);

    const third = join(top, 'third');
    await mkdir(third, { mode: 0o777 });
    await chmod(third, 0o755);
    await chown(third, 1000, 1000);
    const r3 = await asUser(OTHER_UID, third);
    assert.equal(r3.code, 'E_KEY_PERMISSIONS');
    assert.match(r3.message ?? '', new RegExp(`owned by uid 1000, not by the user running this \\(uid ${OTHER_UID}\\); run: sudo chown -R ${OTHER_UID} ${third}`));

    // A dir the user owns, holding a key root created (e.g. by an earlier sudo run).
    const mixed = join(top, 'mixed');
    await mkdir(mixed, { mode: 0o700 });
    await writeFile(join(mixed, 'node.key'), 'root only', { mode: 0o600 });
    await chown(mixed, OTHER_UID, OTHER_UID);
    const rMixed = await asUser(OTHER_UID, mixed);
    assert.equal(rMixed.code, 'E_KEY_PERMISSIONS');
    assert.match(rMixed.message ?? '', new RegExp(`cannot read ${mixed}/node.key \\(EACCES\\).*run: sudo chown ${OTHER_UID} ${mixed}/node.key$`));

    // Root's own dir: trusted, but not writable by this user.
    const rootDir = join(top, 'rootdir');
    await mkdir(rootDir, { mode: 0o755 });
    const rr = await asUser(OTHER_UID, rootDir);
    assert.equal(rr.code, 'E_DATA_DIR');
    assert.match(rr.message ?? '', /is not a writable directory \(EACCES\)/);
  });
});

describe('ownership and mode rules (pure)', () => {
  const alice: RunningUser = { uid: 1000 };
  const root: RunningUser = { uid: 0 };
  const sudo: RunningUser = { uid: 0, sudoUid: 1000 };

  it('trusts the user, root, and under sudo the invoking user', () => {
    assert.equal(isTrustedOwner(1000, alice), true);
    assert.equal(isTrustedOwner(0, alice), true);
    assert.equal(isTrustedOwner(1001, alice), false);
    assert.equal(isTrustedOwner(1000, root), false);
    assert.equal(isTrustedOwner(1000, sudo), true);
    assert.equal(isTrustedOwner(1001, sudo), false);
    // SUDO_UID means nothing to a process that is not root.
    assert.equal(isTrustedOwner(1001, { uid: 1000, sudoUid: 1001 }), false);
  });

  it('reads SUDO_UID only as root, and only when it is a number', () => {
    const uid = process.geteuid?.();
    assert.deepEqual(currentUser({}), { uid });
    assert.deepEqual(currentUser({ SUDO_UID: '1000' }), uid === 0 ? { uid: 0, sudoUid: 1000 } : { uid });
    assert.deepEqual(currentUser({ SUDO_UID: '1000; rm -rf /' }), { uid });
  });

  it('data dir: no group or other write bit, trusted owner', () => {
    assert.equal(dataDirProblem('/d', { uid: 1000, mode: 0o40755 }, alice), undefined);
    assert.equal(dataDirProblem('/d', { uid: 0, mode: 0o40700 }, alice), undefined);
    assert.match(dataDirProblem('/d', { uid: 1000, mode: 0o40720 }, alice)?.message ?? '', /writable by its group \(mode 0720\); run: chmod 700 \/d$/);
    assert.match(dataDirProblem('/d', { uid: 1000, mode: 0o40702 }, alice)?.message ?? '', /writable by everyone/);
    assert.match(dataDirProblem('/d', { uid: 1001, mode: 0o40700 }, alice)?.message ?? '', /owned by uid 1001, .*run: sudo chown -R 1000 \/d \(or use a data dir of your own\)$/);
    assert.equal(dataDirProblem('/d', { uid: 1000, mode: 0o40700 }, sudo), undefined);
    assert.equal(dataDirProblem('/d', { uid: 1000, mode: 0o40700 }, root)?.code, 'E_KEY_PERMISSIONS');
  });

  it('key file: no group or other bit at all, trusted owner', () => {
    for (const mode of [0o600, 0o400, 0o700]) assert.equal(keyFileProblem('/k', { uid: 1000, mode: 0o100000 | mode }, alice), undefined);
    const cases: Array<[number, RegExp]> = [
      [0o644, /^.*: \/k is readable by others \(mode 0644\); run: chmod 600 \/k$/],
      [0o640, /readable by others \(mode 0640\)/],
      [0o620, /writable by others \(mode 0620\)/],
      [0o666, /readable and writable by others \(mode 0666\)/],
      [0o601, /accessible by others \(mode 0601\)/],
    ];
    for (const [mode, pattern] of cases) {
      const problem = keyFileProblem('/k', { uid: 1000, mode: 0o100000 | mode }, alice);
      assert.equal(problem?.code, 'E_KEY_PERMISSIONS');
      assert.match(problem?.message ?? '', pattern);
    }
    assert.match(keyFileProblem('/k', { uid: 1001, mode: 0o100600 }, alice)?.message ?? '', /owned by uid 1001.*run: sudo chown 1000 \/k$/);
    assert.match(keyFileProblem('/k', { uid: 1001, mode: 0o100600 }, root)?.message ?? '', /run: chown 0 \/k$/);
  });

  it('quotes paths in the suggested command so it can be pasted', () => {
    assert.equal(shellWord('/home/a/.sentinel'), '/home/a/.sentinel');
    assert.equal(shellWord('/tmp/my dir'), "'/tmp/my dir'");
    assert.equal(shellWord("/tmp/it's"), "'/tmp/it'\\''s'");
    assert.equal(shellWord('/tmp/a\nb'), "'/tmp/a\\nb'", 'one line');
    assert.equal(modeText(0o41777), '1777');
  });
});
