/**
 * scripts/vpn-demo.sh, the README's way to see the VPN on one machine (root only; skipped
 * with the reason otherwise, failed when SENTINEL_LAB=required): two nodes in two network
 * namespaces, a ping across the TUN, and nothing left behind, whether the script ends by
 * itself or is interrupted with Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/procs.js';
import { labAvailable } from './gate.js';
import { tryExec } from './index.js';

const labOk = await labAvailable('scripts/vpn-demo.sh');
const SCRIPT = join(REPO_ROOT, 'scripts', 'vpn-demo.sh');
const COUNT = 3;

interface DemoResult {
  count: number;
  received: number;
  pingExit: number;
  aFromB: { packetsIn?: number; packetsOut?: number };
  bFromA: { packetsIn?: number; packetsOut?: number };
  aPacketsInDuringPing: number;
  namespaces: string[];
  pids: number[];
  work: string;
}

/** A fresh prefix and /24 per run, so runs in parallel (or a leftover) never collide. */
function env(): NodeJS.ProcessEnv {
  const tag = randomBytes(2).toString('hex');
  return { ...process.env, SENTINEL_DEMO_PREFIX: `sd${tag}-`, SENTINEL_DEMO_SUBNET: `10.${232 + (parseInt(tag, 16) % 20)}.${parseInt(tag.slice(0, 2), 16)}` };
}

/** Runs the script; `interrupt`: send SIGINT once the result line is out (it then waits for Enter). */
function runDemo(args: string[], e: NodeJS.ProcessEnv, interrupt = false): Promise<{ code: number | null; out: string; result: DemoResult | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let result: DemoResult | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vpn-demo.sh did not finish in time; output:\n${out}`));
    }, 120_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /^vpn-demo-result: (.*)$/m.exec(out);
      if (m && !result) {
        result = JSON.parse(m[1] as string) as DemoResult;
        if (interrupt) setTimeout(() => child.kill('SIGINT'), 200);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, result });
    });
  });
}

async function namespaces(): Promise<string> {
  return (await tryExec(null, 'ip', ['netns', 'list'])).stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Nothing the run made is left: namespaces, node processes, the temp dir. */
async function assertCleanedUp(r: DemoResult, prefix: string): Promise<void> {
  const left = await namespaces();
  for (const ns of r.namespaces) assert.ok(!left.split('\n').some((l) => l.startsWith(ns)), `namespace ${ns} left behind:\n${left}`);
  assert.ok(!left.includes(prefix), left);
  for (const pid of r.pids) assert.equal(alive(pid), false, `node process ${pid} still running`);
  assert.equal(existsSync(r.work), false, `temp dir ${r.work} left behind`);
  const links = (await tryExec(null, 'ip', ['-o', 'link'])).stdout;
  assert.ok(!links.includes(prefix), `an interface named ${prefix}* is left in the root namespace`);
}

describe('scripts/vpn-demo.sh', { skip: labOk ? false : 'lab unavailable' }, () => {
  it('pings across the TUN between two namespaces and leaves nothing behind', async () => {
    const e = env();
    const r = await runDemo(['--non-interactive', '--count', String(COUNT)], e);
    assert.equal(r.code, 0, r.out);
    const res = r.result;
    assert.ok(res, `no result line:\n${r.out}`);
    assert.equal(res.pingExit, 0, r.out);
    assert.equal(res.received, COUNT, r.out);
    // The echo requests reached A through its TUN, counted per peer by A's VPN router, and
    // the replies went back the same way: not loopback.
    assert.ok(res.aPacketsInDuringPing >= COUNT, `A counted ${res.aPacketsInDuringPing} packets from B during the ping`);
    assert.ok((res.aFromB.packetsOut ?? 0) >= COUNT, JSON.stringify(res.aFromB));
    assert.ok((res.bFromA.packetsIn ?? 0) >= COUNT, JSON.stringify(res.bFromA));
    assert.match(r.out, /^vpn: +up on sentinel0, mtu 1400$/m, 'sentinel status shows the VPN up');
    await assertCleanedUp(res, e['SENTINEL_DEMO_PREFIX'] as string);
  });

  it('cleans up on Ctrl-C while it waits', async () => {
    const e = env();
    const r = await runDemo(['--count', '1'], e, true);
    assert.equal(r.code, 130, r.out);
    assert.ok(r.result, r.out);
    assert.match(r.out, /Press Enter or Ctrl-C to stop/);
    assert.match(r.out, /vpn-demo: cleaned up/);
    await assertCleanedUp(r.result, e['SENTINEL_DEMO_PREFIX'] as string);
  });
});
