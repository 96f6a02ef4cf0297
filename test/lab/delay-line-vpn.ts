/**
 * Sentinel across the delay lab (delay-line.ts): a `sentinel-node --tun` on each host, a
 * signaler on the router, the two allowed to each other and connected; and a hashed TCP
 * transfer through the tunnel (a source that sends N random bytes and prints their SHA-256,
 * a sink that prints the SHA-256 of what it got). Used by test/lab/vpn-loss.test.ts and
 * bench/vpn-loss.ts.
 */
import type { StatusInfo } from '../../src/api.js';
import { routerIpFor, type DelayLab } from './delay-line.js';
import { exec, spawnIn } from './netns.js';
import { SentinelLab, tail, type LabNode } from './sentinel-procs.js';

/** A connected Sentinel VPN pair: `tx` dialled `rx`. */
export interface SentinelPair {
  rx: LabNode;
  tx: LabNode;
  /** The receiver's VPN IPv4 (where traffic through the tunnel goes). */
  rxVpnIp: string;
  /** Stops both nodes and the signaler and removes their data dirs. */
  stop(): Promise<void>;
}

/** Options of {@link startSentinelPair}. */
export interface SentinelPairOptions {
  mtu: number;
  /** Identity port of both nodes. */
  port: number;
  logLevel?: string;
  /** Interface names are `<prefix><suffix>` (`snr`, `snt`): unique on the machine. */
  tunSuffixes?: readonly [string, string];
  /** Node.js flags for the receiver (e.g. `--cpu-prof`). */
  rxNodeArgs?: readonly string[];
  /** Extra environment of both nodes (e.g. `{ SENTINEL_VPN_DATAGRAM: 'always' }`). */
  env?: Readonly<Record<string, string>>;
}

const SESSION_WAIT_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitForSession(node: LabNode, peer: string): Promise<void> {
  const deadline = Date.now() + SESSION_WAIT_MS;
  while (!(await node.peers()).some((p) => p.id === peer && p.connected)) {
    if (Date.now() > deadline) throw new Error(`${node.host.name} has no session with ${peer} ${SESSION_WAIT_MS} ms after the dial`);
    await sleep(100);
  }
}

/** Starts and connects the pair; on failure stops what it started and throws with the nodes' logs. */
export async function startSentinelPair(lab: DelayLab, opts: SentinelPairOptions): Promise<SentinelPair> {
  const sl = new SentinelLab(lab);
  const stop = (): Promise<void> => sl.cleanup();
  try {
    const logLevel = opts.logLevel ?? 'warn';
    const sig = await sl.startSignaler('sig', { logLevel });
    const [rxTun, txTun] = opts.tunSuffixes ?? ['snr', 'snt'];
    const tun = (s: string): string[] => ['--tun', '--tun-name', `${lab.prefix}${s}`, '--mtu', String(opts.mtu)];
    const signaler = (h: 'tx' | 'rx'): string => `${routerIpFor(h)}:${sig.port}`;
    const [rx, tx] = await Promise.all([
      sl.startNode('rx', { port: opts.port, signaler: signaler('rx'), logLevel, extraArgs: tun(rxTun), nodeArgs: opts.rxNodeArgs ?? [], ...(opts.env ? { env: opts.env } : {}) }),
      sl.startNode('tx', { port: opts.port, signaler: signaler('tx'), logLevel, extraArgs: tun(txTun), ...(opts.env ? { env: opts.env } : {}) }),
    ]);
    await rx.json(['allow', tx.id]);
    await tx.json(['allow', rx.id]);
    const st = await rx.status();
    if (st.vpn.state !== 'up') throw new Error(`receiver VPN is ${st.vpn.state}: ${st.vpn.reason ?? 'no reason given'}`);
    const dial = await tx.dial(rx.id);
    if (!dial.ok) throw new Error(`sentinel dial failed: ${dial.reason}\n${tail(tx.stderr())}`);
    await waitForSession(rx, tx.id);
    return { rx, tx, rxVpnIp: st.vpn.ipv4, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sentinel's per-peer VPN counters at `node` for `peer` (zeros if none yet). */
export async function vpnPeerCounters(node: LabNode, peer: string): Promise<StatusInfo['vpn']['peers'][string]> {
  const st = await node.status();
  return st.vpn.peers[peer] ?? { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, drops: {} };
}

// ---- a hashed transfer -----------------------------------------------------------

const SINK = `
const net = require('node:net');
const { createHash } = require('node:crypto');
const server = net.createServer((s) => {
  const h = createHash('sha256');
  let n = 0;
  s.on('data', (d) => { n += d.length; h.update(d); });
  s.on('end', () => { console.log('received ' + n + ' ' + h.digest('hex')); server.close(); });
});
server.listen(Number(process.argv[2]), process.argv[1], () => console.log('listening'));
`;

const SOURCE = `
const net = require('node:net');
const { createHash, randomBytes } = require('node:crypto');
const data = randomBytes(Number(process.argv[3]));
console.log('sent ' + data.length + ' ' + createHash('sha256').update(data).digest('hex'));
const s = net.connect(Number(process.argv[2]), process.argv[1], () => s.end(data));
s.on('close', (hadError) => process.exit(hadError ? 1 : 0));
`;

/** What a {@link hashedTransfer} sent and what arrived. */
export interface TransferResult {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string };
  ms: number;
}

function parseLine(out: string, word: string): { bytes: number; sha256: string } {
  const m = new RegExp(`^${word} (\\d+) ([0-9a-f]{64})$`, 'm').exec(out);
  if (m === null) throw new Error(`no "${word}" line in ${JSON.stringify(out)}`);
  return { bytes: Number(m[1]), sha256: m[2] as string };
}

/** Sends `bytes` random bytes over TCP from `fromNs` to `toIp:port` (a sink in `toNs`); both ends hash. */
export async function hashedTransfer(fromNs: string, toNs: string, toIp: string, port: number, bytes: number, timeoutMs: number): Promise<TransferResult> {
  const sink = spawnIn(toNs, process.execPath, ['-e', SINK, toIp, String(port)]);
  try {
    await sink.waitFor(/listening/, 5_000);
    const started = Date.now();
    const out = await exec(fromNs, process.execPath, ['-e', SOURCE, toIp, String(port), String(bytes)], { timeoutMs });
    let timer: NodeJS.Timeout | undefined;
    const end = await Promise.race([sink.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
    clearTimeout(timer);
    if (end === null) throw new Error(`the sink got no end of stream within ${timeoutMs} ms: ${sink.output().stdout}`);
    return { sent: parseLine(out, 'sent'), received: parseLine(end.stdout, 'received'), ms: Date.now() - started };
  } finally {
    await sink.stop();
  }
}
