/**
 * Small network probes run inside lab namespaces, each as a tiny Node script started with
 * `process.execPath -e` (no files, no dependencies): a server that tells a client which
 * address it sees, a client that connects from a fixed local port, a connect probe that
 * tells a drop from a refusal, a TCP simultaneous open, and ping.
 */

import { exec, spawnIn, tryExec, type LabProcess, type Ns } from './netns.js';

/** Where to connect. */
export interface Target {
  host: string;
  port: number;
}

// Scripts are CommonJS (the default for `node -e`); their arguments start at argv[1].

const ADDRESS_ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer((s) => {
  s.on('error', () => {});
  s.end(JSON.stringify({ address: s.remoteAddress, port: s.remotePort }) + '\\n');
});
server.listen(Number(process.argv[1]), '0.0.0.0', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

const CONNECT_FROM = `
const net = require('node:net');
const [localPort, timeoutMs, ...targets] = process.argv.slice(1);
function one(t) {
  const i = t.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: t.slice(0, i), port: Number(t.slice(i + 1)), localPort: Number(localPort) || undefined });
    let buf = '';
    let local = 0;
    const timer = setTimeout(() => { s.destroy(); reject(new Error(t + ': timeout')); }, Number(timeoutMs));
    s.setEncoding('utf8');
    s.on('connect', () => { local = s.localPort; });
    s.on('data', (d) => { buf += d; });
    s.on('error', (e) => { clearTimeout(timer); reject(new Error(t + ': ' + (e.code || e.message))); });
    s.on('end', () => {
      clearTimeout(timer);
      try { resolve({ target: t, localPort: local, observed: JSON.parse(buf) }); } catch (e) { reject(e); }
    });
  });
}
Promise.all(targets.map(one)).then(
  (r) => console.log(JSON.stringify(r)),
  (e) => { console.error(e.message); process.exitCode = 1; },
);
`;

const PROBE = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
const done = (word) => { console.log(word); s.destroy(); process.exit(0); };
setTimeout(() => done('timeout'), Number(timeoutMs));
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + (e.code || e.message)));
`;

const SIMULTANEOUS_OPEN = `
const net = require('node:net');
const [localPort, host, port, tag, startAt, attemptMs, attempts] = process.argv.slice(1).map((v, i) => (i === 1 || i === 3 ? v : Number(v)));
function attempt() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localPort });
    let buf = '';
    let connected = false;
    const finish = (r) => { clearTimeout(timer); s.removeAllListeners('data'); resolve(r); };
    const timer = setTimeout(() => { s.destroy(); finish({ ok: false, error: connected ? 'no tag' : 'timeout' }); }, attemptMs);
    s.setEncoding('utf8');
    s.on('connect', () => { connected = true; s.write(tag + '\\n'); });
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\\n');
      if (i < 0) return;
      finish({ ok: true, local: s.localAddress + ':' + s.localPort, remote: s.remoteAddress + ':' + s.remotePort, got: buf.slice(0, i) });
      s.end();
    });
    s.on('error', (e) => { s.destroy(); finish({ ok: false, error: e.code || e.message }); });
  });
}
async function main() {
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  let last = { ok: false, error: 'no attempt' };
  for (let n = 0; n < attempts; n++) {
    const t0 = Date.now();
    last = await attempt();
    if (last.ok) break;
    // A quick failure (a RST) must not turn into a busy loop.
    await new Promise((r) => setTimeout(r, Math.max(0, attemptMs - (Date.now() - t0))));
  }
  console.log(JSON.stringify(last));
}
main();
`;

/** Starts a server on `0.0.0.0:port` in `ns` that answers each connection with the address it sees. */
export async function startAddressEchoServer(ns: Ns, port: number): Promise<LabProcess> {
  const p = spawnIn(ns, process.execPath, ['-e', ADDRESS_ECHO_SERVER, String(port)]);
  await p.waitFor(/listening \d+/);
  return p;
}

/** One connection made by {@link connectFrom}. */
export interface ObservedConnection {
  /** `host:port` connected to. */
  target: string;
  /** The client's own local port. */
  localPort: number;
  /** The client's address as the address echo server saw it. */
  observed: { address: string; port: number };
}

/**
 * From `ns`, opens one connection from `localPort` (0: any) to each target at the same
 * time, and returns what each {@link startAddressEchoServer} saw.
 */
export async function connectFrom(ns: Ns, localPort: number, targets: readonly Target[], timeoutMs = 5_000): Promise<ObservedConnection[]> {
  const args = ['-e', CONNECT_FROM, String(localPort), String(timeoutMs), ...targets.map((t) => `${t.host}:${t.port}`)];
  const out = await exec(ns, process.execPath, args, { timeoutMs: timeoutMs + 5_000 });
  return JSON.parse(out) as ObservedConnection[];
}

/** What a connect attempt ran into. */
export type ProbeResult = 'connected' | 'refused' | 'timeout' | `error:${string}`;

/**
 * Tries a TCP connect from `ns` and reports how it ended: `timeout` means the SYN was
 * dropped somewhere, `refused` that something answered with a RST.
 */
export async function probeTcp(ns: Ns, target: Target, timeoutMs = 1_500): Promise<ProbeResult> {
  const out = await exec(ns, process.execPath, ['-e', PROBE, target.host, String(target.port), String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 });
  return out.trim() as ProbeResult;
}

/** One side of a {@link simultaneousOpen}. */
export interface SimOpenSide {
  ns: string;
  /** Where the other side is reachable (its public address). */
  peerHost: string;
  /** Sent to the other side once connected. */
  tag: string;
}

/** Options of {@link simultaneousOpen}. */
export interface SimOpenOptions {
  /** Local and remote port on both sides. */
  port: number;
  attemptMs?: number;
  attempts?: number;
  /** Both sides start this long from now, so process start-up skew does not matter. Default 500. */
  startInMs?: number;
}

/** How one side of a {@link simultaneousOpen} ended. */
export interface SimOpenResult {
  ok: boolean;
  /** `ip:port` of each end, as this side's socket saw them (when ok). */
  local?: string;
  remote?: string;
  /** The tag the other side sent (when ok). */
  got?: string;
  error?: string;
}

/**
 * Both sides `connect()` from `port` to the other's `peerHost:port` at the same moment,
 * with no listener anywhere: TCP simultaneous open. Each side then sends its tag and
 * reads the other's. Only plain Node sockets are needed, since each side binds its port
 * once.
 */
export async function simultaneousOpen(a: SimOpenSide, b: SimOpenSide, opts: SimOpenOptions): Promise<[SimOpenResult, SimOpenResult]> {
  const attemptMs = opts.attemptMs ?? 4_000;
  const attempts = opts.attempts ?? 2;
  const startAt = Date.now() + (opts.startInMs ?? 500);
  const run = async (side: SimOpenSide): Promise<SimOpenResult> => {
    const args = ['-e', SIMULTANEOUS_OPEN, String(opts.port), side.peerHost, String(opts.port), side.tag, String(startAt), String(attemptMs), String(attempts)];
    const out = await exec(side.ns, process.execPath, args, { timeoutMs: attemptMs * attempts + 10_000 });
    return JSON.parse(out) as SimOpenResult;
  };
  return Promise.all([run(a), run(b)]);
}

/** One ping from `ns` to `ip`; true if it was answered within `waitS` seconds. */
export async function ping(ns: Ns, ip: string, waitS = 2): Promise<boolean> {
  const r = await tryExec(ns, 'ping', ['-n', '-q', '-c', '1', '-W', String(waitS), ip], { timeoutMs: (waitS + 5) * 1_000 });
  return r.code === 0;
}
