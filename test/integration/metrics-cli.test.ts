/**
 * `--metrics` as a user meets it, with the real executables: a bad address or a port in use
 * is one line and a non-zero exit (no stack trace); an address beyond loopback starts with
 * a warning; `--help` describes the flag.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { binariesBuilt, messageLines, runScript, stackLines, useProcs, waitUntil, type ExitResult } from '../helpers/procs.js';
import { httpGet } from '../helpers/scrape.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));

/** A port held by another listener for the whole file. */
let blocker: Server;
let taken = 0;
before(async () => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  taken = (blocker.address() as { port: number }).port;
});
after(() => blocker.close());

function assertOneLine(r: ExitResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit status; stderr:\n${r.stderr}`);
  const lines = messageLines(r.stderr);
  assert.equal(lines.length, 1, `exactly one message line, got:\n${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.deepEqual(stackLines(r.stderr + r.stdout), [], 'no stack trace');
}

const nodeArgs = (dir: string): string[] => ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1', '--signaler', 'none', '--log-level', 'warn'];

describe('sentinel-node --metrics', () => {
  it('a bad address is a usage error naming the forms', async (t) => {
    const procs = useProcs(t);
    for (const bad of ['localhost:9464', '1.2.3.4', '70000']) {
      const r = await procs.runNode([...nodeArgs(await procs.tempDir()), '--metrics', bad]);
      assertOneLine(r, EXIT_USAGE, /^sentinel-node: --metrics .*(PORT, IPV4:PORT or \[IPV6\]:PORT|IP address|0-65535)/);
    }
  });

  it('a port in use stops the start with one line naming the address', async (t) => {
    const procs = useProcs(t);
    const r = await procs.runNode([...nodeArgs(await procs.tempDir()), '--metrics', String(taken)]);
    assertOneLine(r, EXIT_FAILURE, new RegExp(`^sentinel-node: port is already in use: --metrics 127\\.0\\.0\\.1:${taken}: another exporter or program holds it`));
  });

  it('an address beyond loopback serves, with a warning that anyone who reaches it can read the metrics', async (t) => {
    const procs = useProcs(t);
    const { child, output } = procs.spawnNode([...nodeArgs(await procs.tempDir()), '--log-level', 'info', '--metrics', '0.0.0.0:0']);
    const url = await waitUntil(async () => /metrics at (http:\/\/0\.0\.0\.0:\d+\/metrics)/.exec(output().stderr)?.[1], { what: 'the metrics URL', timeoutMs: 10_000 });
    assert.match(output().stderr, /WARN .*metrics on 0\.0\.0\.0:\d+ are readable by anyone who can reach that address/);
    const r = await httpGet(url.replace('0.0.0.0', '127.0.0.1'));
    assert.equal(r.status, 200);
    assert.match(r.body, /^sentinel_node_info\{id="[a-z2-7]{56}"\} 1$/m);
    child.kill('SIGTERM');
  });

  it('--help describes the flag', async (t) => {
    const r = await useProcs(t).runNode(['--help']);
    assert.match(r.stdout, /--metrics ADDR\s+serve Prometheus metrics at http:\/\/ADDR\/metrics \(off by default\)/);
  });
});

describe('sentinel-signaler --metrics', () => {
  const sigArgs = (dir: string): string[] => ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'];

  it('a bad address is a usage error; a port in use is one line; --help describes it', async (t) => {
    const procs = useProcs(t);
    const bad = await runScript(SIGNALER_BIN, [...sigArgs(await procs.tempDir()), '--metrics', 'example.com:80']);
    assertOneLine(bad, EXIT_USAGE, /^sentinel-signaler: --metrics must be PORT, IPV4:PORT or \[IPV6\]:PORT/);
    const inUse = await runScript(SIGNALER_BIN, [...sigArgs(await procs.tempDir()), '--metrics', `127.0.0.1:${taken}`]);
    assertOneLine(inUse, EXIT_FAILURE, new RegExp(`^sentinel-signaler: port is already in use: --metrics 127\\.0\\.0\\.1:${taken}`));
    const help = await runScript(SIGNALER_BIN, ['--help']);
    assert.match(help.stdout, /--metrics ADDR\s+serve Prometheus metrics/);
  });
});
