/**
 * Signaler failover on loopback: how long a node with `--signaler a,b` takes to be
 * registered at b after a (a `sentinel-signaler` child process) is SIGKILLed, and how
 * long a node whose first entry refuses connections takes to register at the second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generateIdentity } from '../src/identity/index.js';
import { createLogger } from '../src/log.js';
import { startNode, type SentinelNode } from '../src/node.js';
import { SignalerServer } from '../src/signaler/index.js';
import { infoRow, type BenchResult } from './report.js';
import { LOOPBACK, percentiles, sleep, withTimeout } from './util.js';

export interface SignalerFailoverOptions {
  /** SIGKILL rounds (default 10). */
  rounds?: number;
}

const SIGNALER_BIN = fileURLToPath(new URL('../src/cli/sentinel-signaler.js', import.meta.url));
const TIMEOUT_MS = 15_000;
/** Status is polled this often while waiting; it bounds the resolution of the figures. */
const POLL_MS = 2;
const silent = createLogger(process.env['SENTINEL_BENCH_LOG'] === '1' ? 'info' : 'silent', (l) => process.stderr.write(`${l}\n`));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, LOOPBACK, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function childSignaler(dataDir: string): Promise<{ port: number; child: ChildProcess; exited: Promise<unknown> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SIGNALER_BIN, '--port', String(port), '--host', LOOPBACK, '--data-dir', dataDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'ignore'] });
  // Attached now: the exit may come before anyone waits for it.
  const exited = once(child, 'exit').catch(() => {});
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  await withTimeout(
    (async () => {
      while (!/listening on/.test(out)) await sleep(10);
    })(),
    TIMEOUT_MS,
    'sentinel-signaler start',
  );
  return { port, child, exited };
}

/** Resolves with the ms from `since` until the node is registered at `address`. */
async function registeredAt(node: SentinelNode, address: string, since: number): Promise<number> {
  return withTimeout(
    (async () => {
      for (;;) {
        const s = node.status().signaler;
        if (s.state === 'connected' && s.address === address) return performance.now() - since;
        await sleep(POLL_MS);
      }
    })(),
    TIMEOUT_MS,
    `registration at ${address}`,
  );
}

export async function runSignalerFailoverBench(opts: SignalerFailoverOptions = {}): Promise<BenchResult> {
  const started = performance.now();
  const rounds = opts.rounds ?? 10;
  const root = await mkdtemp(join(tmpdir(), 'sntl-fo-'));
  const b = new SignalerServer({ identity: generateIdentity(), log: silent });
  await b.listen(0, LOOPBACK);
  const addrB = `${LOOPBACK}:${b.port}`;
  const killed: number[] = [];
  const refused: number[] = [];
  let child: ChildProcess | undefined;
  let node: SentinelNode | undefined;
  try {
    for (let i = 0; i < rounds; i++) {
      const a = await childSignaler(join(root, `sig${i}`));
      child = a.child;
      node = await startNode({ dataDir: join(root, `node${i}`), port: 0, host: LOOPBACK, signaler: `${LOOPBACK}:${a.port},${addrB}`, mdns: false, minPeers: 0, reconnect: false, log: silent });
      await registeredAt(node, `${LOOPBACK}:${a.port}`, performance.now());
      const t0 = performance.now();
      a.child.kill('SIGKILL');
      killed.push(await registeredAt(node, addrB, t0));
      await a.exited;
      await node.close();
      node = undefined;
      // A first entry nobody listens on (connection refused), then b.
      const dead = await freePort();
      const t1 = performance.now();
      node = await startNode({ dataDir: join(root, `fresh${i}`), port: 0, host: LOOPBACK, signaler: `${LOOPBACK}:${dead},${addrB}`, mdns: false, minPeers: 0, reconnect: false, log: silent });
      refused.push(await registeredAt(node, addrB, t1));
      await node.close();
      node = undefined;
    }
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await node?.close();
    await b.close();
    await rm(root, { recursive: true, force: true });
  }
  const k = percentiles(killed);
  const r = percentiles(refused);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  return {
    name: 'signaler-failover',
    title: 'Signaler failover',
    method:
      `${rounds} rounds. A node runs with \`--signaler a,b\`: a is a \`sentinel-signaler\` child process, b an in-process SignalerServer, both on loopback. ` +
      `Once the node is registered at a, a is SIGKILLed; the figure is the time from the kill until the node's status says it is registered at b (the kernel closes a's sockets, the node's session ends, it connects to b at once, TLS 1.3, REGISTER, REGISTERED). ` +
      `Second figure: a fresh node whose first entry refuses connections, from startNode() until it is registered at b (node start included). Status is polled every ${POLL_MS} ms.`,
    rows: [
      infoRow('re-registered at b after SIGKILL of a', `p50 ${ms(k.p50)} / p95 ${ms(k.p95)} / max ${ms(k.max)}`),
      infoRow('fresh node, first entry refused: registered at b', `p50 ${ms(r.p50)} / p95 ${ms(r.p95)} / max ${ms(r.max)}`),
    ],
    notes: [`Rounds, ms (SIGKILL): ${killed.map((v) => v.toFixed(1)).join(', ')}.`, `Rounds, ms (refused first): ${refused.map((v) => v.toFixed(1)).join(', ')}.`],
    durationMs: performance.now() - started,
  };
}
