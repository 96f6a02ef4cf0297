/** `sentinel-node --web`: the start line, the token file, usage errors and the warning. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT_USAGE } from '../../src/cli/args.js';
import { TOKEN_FILE } from '../../src/web/token.js';
import { useProcs, waitUntil, type Procs } from '../helpers/procs.js';

const START_LINE = /^web: (http:\/\/127\.0\.0\.1:(\d+)\/)\?token=([A-Za-z0-9_-]{43})$/m;

/** Starts a headless node with `--web` and waits for its start line. */
async function startWithWeb(procs: Procs, dataDir: string, web: string) {
  const node = procs.spawnNode(['--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1', '--signaler', 'none', '--web', web]);
  const m = await waitUntil(async () => START_LINE.exec(node.output().stdout) ?? undefined, { what: 'the web start line', timeoutMs: 10_000 });
  return { node, url: m[1] as string, token: m[3] as string };
}

describe('sentinel-node --web', () => {
  it('prints the URL with the token kept in web.token, serves it, and keeps the token across restarts', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir();
    const first = await startWithWeb(procs, dir, '127.0.0.1:0');
    assert.equal((await readFile(join(dir, TOKEN_FILE), 'utf8')).trim(), first.token);
    assert.equal((await fetch(first.url)).status, 401);
    const page = await fetch(first.url, { headers: { Authorization: `Bearer ${first.token}` } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Sentinel<\/title>/);
    first.node.child.kill('SIGTERM');
    assert.equal((await first.node.done).code, 0);
    const second = await startWithWeb(procs, dir, '0');
    assert.equal(second.token, first.token);
  });

  it('a bad --web is a usage error; a non-loopback address is served with a warning', async (t) => {
    const procs = useProcs(t);
    const bad = await procs.runNode(['--data-dir', await procs.tempDir(), '--signaler', 'none', '--web', 'example.com:80']);
    assert.equal(bad.code, EXIT_USAGE);
    assert.match(bad.stderr, /--web must be PORT, IPV4:PORT or \[IPV6\]:PORT/);
    const node = procs.spawnNode(['--data-dir', await procs.tempDir(), '--port', '0', '--host', '127.0.0.1', '--signaler', 'none', '--web', '0.0.0.0:0']);
    await waitUntil(async () => /^web: http:\/\/0\.0\.0\.0:\d+\//m.test(node.output().stdout) || undefined, { what: 'the web start line', timeoutMs: 10_000 });
    assert.match(node.output().stderr, /warning: --web 0\.0\.0\.0:0: the dashboard is reachable from other machines/);
  });

  it('--help describes --web', async (t) => {
    const r = await useProcs(t).runNode(['--help']);
    assert.match(r.stdout, /--web \[ADDR:\]PORT/);
    assert.match(r.stdout, /web\.token/);
  });
});
