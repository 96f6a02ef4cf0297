/** The dashboard token file (`web.token`): created once, 0600, checked like the key. */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { isTokenText } from '../../src/web/auth.js';
import { loadOrCreateWebToken, TOKEN_FILE } from '../../src/web/token.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sentinel-web-token-'));
  dirs.push(d);
  return d;
}

describe('web.token', () => {
  it('is created at first start with mode 0600 and read back unchanged later', async () => {
    const d = await dir();
    const first = await loadOrCreateWebToken(d);
    assert.equal(first.created, true);
    assert.ok(isTokenText(first.token));
    assert.equal((await stat(join(d, TOKEN_FILE))).mode & 0o777, 0o600);
    assert.equal((await readFile(join(d, TOKEN_FILE), 'utf8')).trim(), first.token);
    assert.deepEqual(await loadOrCreateWebToken(d), { token: first.token, created: false });
  });

  it('a token file readable by others is refused with the fixing command', async () => {
    const d = await dir();
    await loadOrCreateWebToken(d);
    await chmod(join(d, TOKEN_FILE), 0o644);
    await assert.rejects(loadOrCreateWebToken(d), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS') && /chmod 600/.test(e.message));
  });

  it('a symbolic link or a file without a token is refused, never replaced', async () => {
    const d = await dir();
    await writeFile(join(d, 'elsewhere'), 'x', { mode: 0o600 });
    await symlink(join(d, 'elsewhere'), join(d, TOKEN_FILE));
    await assert.rejects(loadOrCreateWebToken(d), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS'));
    const d2 = await dir();
    await writeFile(join(d2, TOKEN_FILE), 'short\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateWebToken(d2), (e) => isSentinelError(e, 'E_DATA_DIR'));
    assert.equal(await readFile(join(d2, TOKEN_FILE), 'utf8'), 'short\n');
  });
});
