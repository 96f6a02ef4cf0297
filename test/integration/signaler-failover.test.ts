/**
 * Failover across a list of signalers, on loopback with real independent signalers: one a
 * `sentinel-signaler` child process that is SIGKILLed, one in-process `SignalerServer`.
 * The time a node takes to register again is printed, not asserted (timings belong in
 * bench/).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { StatusInfo } from '../../src/api.js';
import { EXIT_USAGE } from '../../src/cli/args.js';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { NODE_BIN, freePort, runScript, waitUntil } from '../helpers/procs.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));
const silent = createLogger('silent', () => {});
const net0 = testnet();
const servers: SignalerServer[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.close()));
  await net0.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function inProcessSignaler(): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

/** A `sentinel-signaler` child on a free loopback port; resolves once it listens. */
async function childSignaler(): Promise<{ port: number; id: string; child: ChildProcess; exited: Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sntl-sig-'));
  dirs.push(dataDir);
  const port = await freePort();
  const child = spawn(process.execPath, [SIGNALER_BIN, '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.resume();
  const id = await waitUntil(async () => /listening on/.test(out) && /^signaler (\S+)$/m.exec(out)?.[1], { what: `sentinel-signaler on port ${port}` });
  return { port, id, child, exited };
}

const entry = (s: StatusInfo, address: string) => s.signaler.list?.find((e) => e.address === address);

describe('signaler failover', () => {
  it('moves to the next signaler when its signaler is SIGKILLed; a node registered only there then dials it by id', async () => {
    const a = await childSignaler();
    const b = await inProcessSignaler();
    const addrA = `127.0.0.1:${a.port}`;
    const addrB = `127.0.0.1:${b.port}`;
    const x = await net0.node({ signaler: `${addrA},${addrB}` });
    await waitFor(() => x.status().signaler.state === 'connected', 5_000, 'X registered');
    let s = x.status();
    assert.equal(s.signaler.address, addrA, 'the first one that answers');
    assert.equal(s.signaler.id, a.id);
    assert.equal(s.signaler.endpoint, addrA);
    assert.equal(entry(s, addrB)?.state, 'standby', 'the second waits');
    assert.equal(b.lookup(x.identity.id), undefined, 'X is not registered at b yet');

    const y = await net0.node({ signaler: addrB });
    await waitFor(() => y.status().signaler.state === 'connected', 5_000, 'Y registered at b');

    const killedAt = performance.now();
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => x.status().signaler.state === 'connected' && x.status().signaler.address === addrB, 10_000, 'X registered at b');
    const tookMs = performance.now() - killedAt;
    console.log(`# failover: re-registered at the second signaler ${tookMs.toFixed(0)} ms after SIGKILL of the first`);

    s = x.status();
    assert.equal(s.signaler.id, b.id);
    assert.equal(entry(s, addrA)?.state, 'unreachable');
    assert.ok(entry(s, addrA)?.lastError, 'the first one says why');
    assert.equal(entry(s, addrB)?.state, 'connected');
    assert.ok(b.lookup(x.identity.id), 'b knows X now');
    assert.ok((x.status().counters['signaler_failovers'] ?? 0) >= 1);

    // Y knows X only through b: lookup, then punch or relay, whatever the host allows.
    const r = await y.dial(x.identity.id);
    assert.equal(r.id, x.identity.id);
    assert.equal((await y.send(x.identity.id, 'found you through b')).status, 'delivered');
  });

  it('re-issues its peer record naming the new signaler', async () => {
    const a = await inProcessSignaler();
    const b = await inProcessSignaler();
    const addrA = `127.0.0.1:${a.port}`;
    const addrB = `127.0.0.1:${b.port}`;
    const x = await net0.node({ signaler: `${addrA},${addrB}`, gossipIntervalMs: 200 });
    const z = await net0.node({ gossipIntervalMs: 200 });
    await waitFor(() => x.status().signaler.state === 'connected', 5_000, 'X registered at a');
    await z.dial(`127.0.0.1:${x.port}`);
    await waitFor(() => z.peers().find((p) => p.id === x.identity.id)?.signaler === addrA, 5_000, 'Z learns that X uses a');
    await a.close();
    await waitFor(() => x.status().signaler.address === addrB && x.status().signaler.state === 'connected', 10_000, 'X at b');
    await waitFor(() => z.peers().find((p) => p.id === x.identity.id)?.signaler === addrB, 5_000, 'Z learns that X moved to b');
  });

  it('skips an untrusted first entry (wrong pin) and uses the second; status lists both', async () => {
    const a = await inProcessSignaler();
    const b = await inProcessSignaler();
    const addrA = `127.0.0.1:${a.port}`;
    const addrB = `127.0.0.1:${b.port}`;
    const wrongPin = generateIdentity().id;
    const x = await net0.node({ signaler: `${addrA}#${wrongPin},${addrB}` });
    await waitFor(() => x.status().signaler.state === 'connected', 5_000, 'X registered');
    const s = x.status();
    assert.equal(s.signaler.address, addrB);
    assert.equal(s.signaler.id, b.id, 'trusted on first use, per address');
    assert.equal(a.lookup(x.identity.id), undefined, 'never registered at the untrusted one');
    assert.deepEqual(
      s.signaler.list?.map((e) => [e.address, e.state, e.id, e.pinned]),
      [
        [addrA, 'untrusted', wrongPin, true],
        [addrB, 'connected', b.id, false],
      ],
    );
    assert.match(entry(s, addrA)?.lastError ?? '', /./);
  });

  it('sentinel-node: a bad --signaler entry is a usage error naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sntl-sig-'));
    dirs.push(dataDir);
    const r = await runScript(NODE_BIN, ['--data-dir', dataDir, '--no-mdns', '--signaler', '127.0.0.1:8888,sig.example']);
    assert.equal(r.code, EXIT_USAGE, r.stderr);
    assert.match(r.stderr, /entry 2 "sig\.example"/);
  });
});
