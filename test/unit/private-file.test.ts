/** readPrivateFile (core/private-file.ts): the one safe reader of the key and the web token. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { currentUser } from '../../src/core/permissions.js';
import { readPrivateFile } from '../../src/core/private-file.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sentinel-private-file-'));
  dirs.push(d);
  return d;
}
const RULES = { code: 'E_KEY_CORRUPT', maxBytes: 64 } as const;

describe('readPrivateFile', () => {
  it('reads a private file, and nothing past maxBytes of a large one', async () => {
    const d = await dir();
    await writeFile(join(d, 'small'), 'secret\n', { mode: 0o600 });
    assert.equal(await readPrivateFile(join(d, 'small'), currentUser(), RULES), 'secret\n');
    await writeFile(join(d, 'big'), 'x'.repeat(1 << 20), { mode: 0o600 });
    assert.equal(await readPrivateFile(join(d, 'big'), currentUser(), RULES), 'x'.repeat(64));
  });

  it('undefined when missing; a link, a group-readable file or a FIFO are refused with coded errors', async () => {
    const d = await dir();
    assert.equal(await readPrivateFile(join(d, 'none'), currentUser(), RULES), undefined);
    await writeFile(join(d, 'target'), 'secret', { mode: 0o600 });
    await symlink(join(d, 'target'), join(d, 'link'));
    await assert.rejects(readPrivateFile(join(d, 'link'), currentUser(), RULES), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS') && /symbolic link/.test(e.message));
    await writeFile(join(d, 'open'), 'secret', { mode: 0o640 });
    await assert.rejects(readPrivateFile(join(d, 'open'), currentUser(), RULES), (e) => isSentinelError(e, 'E_KEY_PERMISSIONS') && /chmod 600/.test(e.message));
    // Without a user the mode rules are skipped (tests, or a caller that checked already).
    assert.equal(await readPrivateFile(join(d, 'open'), undefined, RULES), 'secret');
    execFileSync('mkfifo', [join(d, 'fifo')]);
    await assert.rejects(readPrivateFile(join(d, 'fifo'), currentUser(), { code: 'E_DATA_DIR', maxBytes: 64 }), (e) => isSentinelError(e, 'E_DATA_DIR') && /not a regular file/.test(e.message));
  });
});
