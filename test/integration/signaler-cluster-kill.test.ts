/**
 * A signaler cluster of three real `sentinel-signaler --redis` processes on a real
 * redis-server: one instance is killed with SIGKILL. Its nodes must stop being found
 * (stale presence is not served) once its heartbeat expires, and a node that moves to
 * another instance is found from everywhere again.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FrameType, SignalErrorCode, decodeLookupResult } from '../../src/wire/index.js';
import { INSTANCE_TTL_MS } from '../../src/cluster/link.js';
import { TestRedis, redisSkipReason } from '../helpers/redis.js';
import { destroyRawClients, rawClient, type RawClient } from '../helpers/signal-client.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));
const skip = redisSkipReason();
let redis: TestRedis;
let dir: string;
const procs: ChildProcess[] = [];
const net0 = testnet();

before(async () => {
  if (skip) return;
  redis = await TestRedis.start();
  dir = await mkdtemp(join(tmpdir(), 'sentinel-cluster-kill-'));
});
after(async () => {
  destroyRawClients();
  await net0.close();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts one instance; resolves with its port once it prints where it listens. */
async function instance(name: string): Promise<{ proc: ChildProcess; port: number; exited: Promise<void> }> {
  const proc = spawn(process.execPath, [SIGNALER_BIN, '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, name), '--redis', redis.url, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on .*:(\d+)\n/.exec(out);
      if (m && /cluster: Redis at/.test(out)) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
  return { proc, port, exited };
}

/** Asks `c` to look up `target` until `done` says the answer is what we wait for; resolves with that time. */
async function lookupUntil(c: RawClient, target: string, want: 'found' | 'not_found', ms: number): Promise<number> {
  const start = Date.now();
  let req = Math.floor(Math.random() * 1e6) + 1;
  let asked = 0;
  const answered = (r: number): 'found' | 'not_found' | 'other' | undefined => {
    if (c.of(FrameType.LOOKUP_RESULT).some((p) => decodeLookupResult(p).reqId === r)) return 'found';
    const e = c.errors(r);
    if (e.length === 0) return undefined;
    return e[0] === SignalErrorCode.NOT_FOUND ? 'not_found' : 'other';
  };
  await waitFor(
    () => {
      const a = answered(req);
      if (a === want) return true;
      // Ask again once the previous answer came (at most 4 per second: the request rate).
      if (asked === 0 || (a !== undefined && Date.now() - asked > 250)) {
        req++;
        asked = Date.now();
        c.lookup(req, target);
      }
      return false;
    },
    ms,
    `lookup of ${target} ${want}`,
  );
  return Date.now() - start;
}

describe('signaler cluster: an instance killed with SIGKILL', { skip }, () => {
  it("stops serving the dead instance's nodes and finds a node that moved, from every instance", async () => {
    const [i1, i2, i3] = await Promise.all([instance('s1'), instance('s2'), instance('s3')]);
    const a = await rawClient(i1.port);
    const b = await rawClient(i2.port);
    const c = await rawClient(i3.port);
    assert.equal(await lookupUntil(b, a.id.id, 'found', 5_000) >= 0, true);
    i1.proc.kill('SIGKILL');
    await a.closed;
    const stale = await lookupUntil(b, a.id.id, 'not_found', 3 * INSTANCE_TTL_MS);
    // a fails over to s3 (as `sentinel-node --signaler s1,s3` would) and is found from s2 again.
    const moved = Date.now();
    const a2 = await rawClient(i3.port, { identity: a.id });
    const again = await lookupUntil(b, a.id.id, 'found', 5_000);
    process.stdout.write(`# dead instance's node no longer served after ${stale} ms; found again ${Date.now() - moved} ms after it re-registered (lookup loop ${again} ms)\n`);
    // And from the instance it is registered at.
    await lookupUntil(c, a2.id.id, 'found', 3_000);
  });
});

describe('signaler cluster: real nodes fail over and are dialed by id across instances', { skip }, () => {
  it('a node whose instance is SIGKILLed moves to the next one and is dialed by id from a third instance', async () => {
    const [i1, i2, i3] = await Promise.all([instance('n1'), instance('n2'), instance('n3')]);
    const [a1, a2, a3] = [i1, i2, i3].map((i) => `127.0.0.1:${i.port}`);
    const x = await net0.node({ signaler: `${a1},${a3}` });
    const y = await net0.node({ signaler: a2 });
    await waitFor(() => x.status().signaler.state === 'connected' && y.status().signaler.state === 'connected', 10_000, 'registered');
    assert.equal(x.status().signaler.address, a1);
    // Across instances: y (at 2) finds x (at 1) by id alone.
    assert.equal((await y.dial(x.identity.id)).id, x.identity.id);
    assert.equal((await y.send(x.identity.id, 'across instances')).status, 'delivered');
    const killed = Date.now();
    i1.proc.kill('SIGKILL');
    await i1.exited;
    await waitFor(() => x.status().signaler.address === a3 && x.status().signaler.state === 'connected', 10_000, 'x registered at instance 3');
    const reRegistered = Date.now() - killed;
    // A node that never met x, at instance 2, dials it by id.
    const z = await net0.node({ signaler: a2 });
    await waitFor(() => z.status().signaler.state === 'connected', 10_000, 'z registered');
    const d = await z.dial(x.identity.id);
    assert.equal(d.id, x.identity.id);
    assert.equal((await z.send(x.identity.id, 'found you after failover')).status, 'delivered');
    process.stdout.write(`# node re-registered at the next instance ${reRegistered} ms after SIGKILL; dialed by id ${Date.now() - killed} ms after it\n`);
  });
});
