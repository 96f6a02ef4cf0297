/**
 * What a user sees when something is wrong, with the real executables: one line, a
 * non-zero exit, no stack trace, and nothing destroyed (the key file stays as it was).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, test } from 'node:test';
import type { StatusInfo } from '../../src/api.js';
import {
  NODE_BIN,
  Procs,
  REPO_ROOT,
  binariesBuilt,
  clientJson,
  messageLines,
  run,
  runClient,
  runScript,
  stackLines,
  useProcs,
  type ExitResult,
  type NodeProc,
} from '../helpers/procs.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** Compiled `sentinel-signaler` entry point. */
const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));

/** Common flags so an error case fails for its own reason only. */
function nodeArgs(dataDir: string, port = 0): string[] {
  return ['--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1', '--signaler', 'none'];
}

/** Asserts a failed run: exit `code`, exactly one user-facing stderr line matching `pattern`, no stack. */
function assertOneLineFailure(r: ExitResult, code: number, pattern: RegExp): string {
  assert.equal(r.code, code, `exit status; stderr:\n${r.stderr}`);
  const lines = messageLines(r.stderr);
  assert.equal(lines.length, 1, `exactly one message line, got:\n${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.deepEqual(stackLines(r.stderr + r.stdout), [], 'no stack trace');
  return lines[0] ?? '';
}

before(() => assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first'));

describe('identity key file', () => {
  it('a corrupt key stops the node with one line naming the key, and is left untouched', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('corrupt');
    const keyFile = join(dir, 'node.key');
    const garbage = Buffer.from('-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n\x00\xff\n');
    await writeFile(keyFile, garbage, { mode: 0o600 });

    const r = await procs.runNode(nodeArgs(dir));
    const line = assertOneLineFailure(r, EXIT_FAILURE, /key/i);
    assert.ok(line.includes(keyFile), `the message names the file: ${line}`);
    assert.deepEqual(await readFile(keyFile), garbage, 'the key file was not replaced');
    assert.equal(existsSync(join(dir, 'control.sock')), false);
  });

  it('an unreadable key (a directory named node.key) is an error too, not a new identity', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('unreadable');
    await mkdir(join(dir, 'node.key'));
    const r = await procs.runNode(nodeArgs(dir));
    assertOneLineFailure(r, EXIT_FAILURE, /key/i);
    assert.ok((await stat(join(dir, 'node.key'))).isDirectory());
  });

  it('the key is created with mode 0600 and reused on the next start', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('fresh');
    const node = await procs.startNode({ dataDir: dir });
    const keyFile = join(dir, 'node.key');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const pem = await readFile(keyFile, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal((await node.stop()).code, 0);

    const again = await procs.startNode({ dataDir: dir });
    assert.equal(again.id, node.id);
    assert.equal(await readFile(keyFile, 'utf8'), pem);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  });
});

describe('unsafe key and data dir permissions', () => {
  it('a 0644 key stops the node with one line naming the chmod that fixes it; the key is kept', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('loose-key');
    const first = await procs.startNode({ dataDir: dir });
    assert.equal((await first.stop()).code, 0);
    const keyFile = join(dir, 'node.key');
    const pem = await readFile(keyFile, 'utf8');
    await chmod(keyFile, 0o644);

    const r = await procs.runNode(nodeArgs(dir));
    const line = assertOneLineFailure(r, EXIT_FAILURE, /is readable by others \(mode 0644\); run: chmod 600 /);
    assert.ok(line.endsWith(`run: chmod 600 ${keyFile}`), line);
    assert.equal(await readFile(keyFile, 'utf8'), pem);
    assert.equal(existsSync(join(dir, 'control.sock')), false);

    await chmod(keyFile, 0o600);
    const again = await procs.startNode({ dataDir: dir });
    assert.equal(again.id, first.id, 'the same identity once fixed');
  });

  it('a world-writable data dir stops the node with one line naming the chmod', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('open-dir');
    await chmod(dir, 0o777);
    const r = await procs.runNode(nodeArgs(dir));
    const line = assertOneLineFailure(r, EXIT_FAILURE, /writable by everyone \(mode 0777\); run: chmod 700 /);
    assert.ok(line.endsWith(`run: chmod 700 ${dir}`), line);
    assert.equal(existsSync(join(dir, 'node.key')), false, 'no key was written into it');
  });

  it('the signaler applies the same rules to its data dir and key', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('signaler-dir');
    await chmod(dir, 0o770);
    const args = ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1'];
    const r1 = await runScript(SIGNALER_BIN, args);
    assertOneLineFailure(r1, EXIT_FAILURE, /^sentinel-signaler: .*writable by its group \(mode 0770\); run: chmod 700 /);
    await chmod(dir, 0o700);
    await writeFile(join(dir, 'node.key'), 'not even a key', { mode: 0o640 });
    await chmod(join(dir, 'node.key'), 0o640);
    const r2 = await runScript(SIGNALER_BIN, args);
    assertOneLineFailure(r2, EXIT_FAILURE, /readable by others \(mode 0640\); run: chmod 600 /);
  });

  it('the signaler refuses a bad --redis URL (usage) and says why it cannot reach Redis (one line, exit 1)', async (t) => {
    const procs = useProcs(t);
    const dir = await procs.tempDir('signaler-redis');
    const base = ['--data-dir', dir, '--port', '0', '--host', '127.0.0.1'];
    assertOneLineFailure(await runScript(SIGNALER_BIN, [...base, '--redis', 'http://x:1']), EXIT_USAGE, /--redis: the Redis URL must start with redis:\/\/ or rediss:\/\//);
    assertOneLineFailure(await runScript(SIGNALER_BIN, [...base, '--redis-prefix', 'x:']), EXIT_USAGE, /--redis-prefix needs --redis/);
    const line = assertOneLineFailure(await runScript(SIGNALER_BIN, [...base, '--redis', 'redis://:hunter2@127.0.0.1:1']), EXIT_FAILURE, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/);
    assert.ok(!line.includes('hunter2'), 'the password is not printed');
  });
});

describe('user errors', () => {
  const procs = new Procs();
  let a: NodeProc;
  before(async () => {
    a = await procs.startNode();
  });
  after(() => procs.cleanup());

  it('the identity port already in use', async () => {
    const r = await procs.runNode(nodeArgs(await procs.tempDir('second'), a.port));
    assertOneLineFailure(r, EXIT_FAILURE, new RegExp(`port ${a.port}.*in use`));
  });

  it('a data dir another node is using; that node keeps running', async () => {
    const r = await procs.runNode(nodeArgs(a.dataDir));
    assertOneLineFailure(r, EXIT_FAILURE, /another node/);
    const s = await clientJson<StatusInfo>(a.dataDir, ['status']);
    assert.equal(s.id, a.id);
  });

  it('a data dir under a regular file', async () => {
    const file = join(await procs.tempDir('plain'), 'file');
    await writeFile(file, 'x');
    const r = await procs.runNode(nodeArgs(join(file, 'sub')));
    assertOneLineFailure(r, EXIT_FAILURE, /not a writable directory/);
  });

  it('an unknown flag', async () => {
    const r = await procs.runNode(['--bogus']);
    assertOneLineFailure(r, EXIT_USAGE, /--bogus/);
  });

  it('a port that is not a number', async () => {
    const r = await procs.runNode(['--port', 'abc', '--data-dir', await procs.tempDir('abc')]);
    assertOneLineFailure(r, EXIT_USAGE, /--port.*abc/);
  });

  it('--help exits 0 and documents --port and --data-dir', async () => {
    const r = await runScript(NODE_BIN, ['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--port\b/);
    assert.match(r.stdout, /--data-dir\b/);
    assert.equal(r.stderr, '');
  });

  it('sentinel against a data dir with no node', async () => {
    const r = await runClient(await procs.tempDir('empty'), ['status', '--json']);
    assertOneLineFailure(r, EXIT_FAILURE, /no node is running/);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(doc.ok, false, 'with --json the failure is a JSON document on stdout');
    assert.equal(doc.error.code, 'E_NOT_RUNNING');
    assert.match(doc.error.message, /no node is running/);
  });

  it('sentinel send to an unknown id prefix', async () => {
    const r = await runClient(a.dataDir, ['send', 'z'.repeat(16), 'x', '--json']);
    assertOneLineFailure(r, EXIT_FAILURE, /unknown/i);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string } };
    assert.deepEqual([doc.ok, doc.error.code], [false, 'E_UNKNOWN_ID']);
  });

  it('sentinel send to a prefix that is too short, or not an id at all', async () => {
    const short = await runClient(a.dataDir, ['send', 'zzzzz', 'x']);
    assertOneLineFailure(short, EXIT_FAILURE, /too short.*at least 6/);
    const noContact = await runClient(a.dataDir, ['send', 'zzzzzzzz', 'x']);
    assertOneLineFailure(noContact, EXIT_FAILURE, /no contact matches "zzzzzzzz"; a peer that is not a contact needs at least 16 characters/);
    const bad = await runClient(a.dataDir, ['send', 'bob\u001b]0;x\u0007', 'x']);
    const line = assertOneLineFailure(bad, EXIT_FAILURE, /not a valid node id: "bob\\x1b\]0;x\\x07"/);
    assert.ok(!line.includes('\u001b'), 'no ESC byte on the terminal');
  });

  it('sentinel with an unknown flag is a usage error', async () => {
    const r = await runClient(a.dataDir, ['status', '--bogus']);
    assertOneLineFailure(r, EXIT_USAGE, /--bogus/);
  });
});

/** True when an executable `name` is on PATH. */
function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)));
}

test('`npx sentinel-node --help` works from the repository root', async (t) => {
  if (!onPath('npx')) {
    t.skip('npx is not on PATH');
    return;
  }
  // --no-install: use this package's own bin, never fetch anything from the registry.
  // Scripts off: npx links the repository and would otherwise run its install script (a
  // node-gyp rebuild of the addon) in the repository while other tests use the addon.
  const r = await run('npx', ['--no-install', 'sentinel-node', '--help'], { cwd: REPO_ROOT, timeoutMs: 30_000, env: { ...process.env, npm_config_ignore_scripts: 'true' } });
  assert.equal(r.code, 0, `stderr:\n${r.stderr}`);
  assert.match(r.stdout, /^Usage: sentinel-node/m);
  assert.match(r.stdout, /--data-dir\b/);
});
