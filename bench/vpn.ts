/**
 * VPN throughput and round trip in the NAT lab (root only): iperf3 TCP and ping through
 * Sentinel's tunnel (`sentinel-node --tun`, real binaries) and through userspace WireGuard
 * (Debian's `wireguard-go`, configured with `wg`) between the same two public hosts, over
 * the same veth links, in one run. The plain link without a tunnel is measured too, as
 * the ceiling.
 *
 * Without the lab, or without iperf3 / wireguard-go / wg, the benchmark reports what is
 * missing and how to install it, and measures nothing.
 */
import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { buildLab, canRunLab, type Lab, type LabHost, type LabProcess } from '../test/lab/index.js';
import { SentinelLab, type LabNode } from '../test/lab/sentinel-procs.js';
import { hotFunctions, newestProfile } from './cpu-profile.js';
import { goalRow, infoRow, type BenchResult, type BenchRow } from './report.js';
import { round, tempDir } from './util.js';
import {
  cpuSeconds,
  iperfClient,
  linkDrops,
  udpRcvbufErrors,
  missingTools,
  socketQueues,
  pingRtt,
  startIperfServer,
  startWireGuardPair,
  toolVersions,
  VPN_BENCH_TOOLS,
  type IperfResult,
  type IperfServer,
  type PingResult,
  type SocketQueues,
} from './vpn-tools.js';

/** Options of {@link runVpnBench}. */
export interface VpnBenchOptions {
  /** Length of each iperf3 test in seconds (default 5). */
  seconds?: number;
  /** Pings per path (default 20, 50 ms apart). */
  pings?: number;
  /**
   * Write a CPU profile of the receiving Sentinel node here and list its hottest functions
   * in the notes. Default: `$SENTINEL_BENCH_VPN_PROFILE`, else no profile (it slows the node).
   */
  profileDir?: string;
}

const NAME = 'vpn';
const TITLE = 'VPN throughput: Sentinel vs wireguard-go (NAT lab, real binaries)';
const GOAL_RATIO = 2.5;
/** Sentinel's 1-stream figure must also reach this on its own. */
const GOAL_BPS = 1e9;
const MTU = 1400;
const STREAMS = [1, 4] as const;
const NODE_PORT = 23_000;
const WG_NET = '10.99.0';
const NODE_LOG_LEVEL = 'warn';
/**
 * What limits the figures, from profiles and the counters of runs on this machine. Re-check
 * it when the TUN path changes: `SENTINEL_BENCH_VPN_PROFILE=<dir>` lists the receiver's
 * hottest functions.
 */
const LIMITS_NOTE =
  'What limits Sentinel (1 stream): with TUN offloads (IFF_VNET_HDR, TSO4/6) one read on the sender is a TCP super-segment of up to 64 KiB, carried whole in a PACKETS_GSO frame and ' +
  'written whole on the receiver: about 45 packets per system call instead of one (the offload counters above), and the receiving kernel\'s TCP path runs once per super-segment. ' +
  'At a 1-minute load of 4-7 on the 2 cores the nodes reach 0.85-1.24 Gbit/s (2.3-3.2x wireguard-go) using about half a core each, so their own CPU is not the limit there; ' +
  'at a load of 10-18 (other benchmarks on the same cores) the two single-threaded nodes wait for a core and fall to 0.2-0.5 Gbit/s, much more than wireguard-go, whose Go runtime ' +
  'spreads over both cores. The ping under load: small packets (pings, TCP ACKs) are framed apart and written to the session at once, while the bulk waits in the node\'s ' +
  'per-peer send queue (src/vpn/send-queue.ts: the socket is fed 64 KiB at a time) and the kernel holds at most 128 KiB unsent per session (TCP_NOTSENT_LOWAT on fighter ' +
  'sockets), so a ping waits behind about 192 KiB of a bulk transfer instead of the kernel\'s autotuned send buffer (several MB): 4.7 and 4.9 ms in two runs on a quiet ' +
  'machine (wireguard-go 3.0 and 4.7 ms) against 9.9 ms before (wireguard-go 3.2 ms); 12-25 ms with other builds running (wireguard-go 4-7 ms). What is left is believed to be node wake-ups rather than bytes queued: a ping crosses four of them (the sender\'s ' +
  'TUN read, the receiver\'s socket read, and back), each behind whatever bulk data that node processes first (a profile of the receiver: TUN writes 23%, garbage collection ' +
  '23%, Buffer creation and copies ~10%); even idle, a Sentinel ping takes 1.3-1.8 ms against wireguard-go\'s 0.4-0.6 ms here. A queue delay control (CoDel, ' +
  '`SENTINEL_VPN_AQM=on`) cut throughput without lowering the ping, so it is off. What would help further: the packet loop (TUN reads and writes, framing) on a worker thread ' +
  'next to the session\'s TLS, so that a busy or starved main thread does not hold small packets; fewer allocations per frame (GC); and measuring on a machine that is not shared.';
/** When the pings under load start, after the 1-stream test (slow start over). */
const LOADED_PING_DELAY_MS = 1_500;
/** Pause before retrying a failed iperf3 test. */
const RETRY_PAUSE_MS = 1_000;
/** Bound on both ends reporting the session after `sentinel dial`. */
const SESSION_WAIT_MS = 10_000;

/** What one path (plain link, WireGuard or Sentinel) measured. */
interface PathFigures {
  ping: PingResult;
  /** Pings sent while the 1-stream test ran (queueing inside the tunnel shows here); null if not measured. */
  loadedPing: PingResult | null;
  /** iperf3 results by stream count. */
  tcp: Map<number, IperfResult>;
  /** Cores the tunnel processes used during the 1-stream test (receiver, sender). */
  cores: [number, number] | null;
  /** Path-specific observations for the notes. */
  notes: string[];
}

type Outcome = { ok: true; fig: PathFigures } | { ok: false; reason: string };

const gbit = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/** Settings shared by every path of one run. */
interface RunConfig {
  seconds: number;
  pings: number;
  server: IperfServer;
}

/** One path to measure: from the sender `client` to `dst`, served on the receiver. */
interface PathSpec {
  client: LabHost;
  dst: string;
  streams: readonly number[];
  /** The tunnel processes (receiver, sender) whose CPU time is reported; empty for none. */
  procs: readonly LabProcess[];
  /** Sample the TCP queues of this port (the session) in these namespaces (receiver, sender) during the 1-stream test. */
  queues?: { port: number; ns: readonly [string, string] };
}

/** Samples of the session's socket queues while the 1-stream test ran. */
const QUEUE_SAMPLES = 10;
const QUEUE_SAMPLE_GAP_MS = 100;

async function sampleQueues(path: PathSpec, run: RunConfig): Promise<string | null> {
  const q = path.queues;
  if (q === undefined || run.seconds * 1000 < LOADED_PING_DELAY_MS + QUEUE_SAMPLES * QUEUE_SAMPLE_GAP_MS + 1000) return null;
  await new Promise((r) => setTimeout(r, LOADED_PING_DELAY_MS));
  const samples: Array<[SocketQueues | null, SocketQueues | null]> = [];
  for (let i = 0; i < QUEUE_SAMPLES; i++) {
    samples.push((await Promise.all(q.ns.map((ns) => socketQueues(ns, q.port)))) as [SocketQueues | null, SocketQueues | null]);
    await new Promise((r) => setTimeout(r, QUEUE_SAMPLE_GAP_MS));
  }
  const avg = (pick: (s: [SocketQueues | null, SocketQueues | null]) => number | undefined): string => {
    const v = samples.map(pick).filter((x): x is number => x !== undefined);
    return v.length === 0 ? '?' : `${Math.round(v.reduce((a, b) => a + b, 0) / v.length / 1024)} KiB`;
  };
  return (
    `Session socket queues during the 1-stream test (\`ss -tn\`, average of ${QUEUE_SAMPLES} samples): sender Send-Q ${avg((s) => s[1]?.sendQ)}, ` +
    `receiver Recv-Q ${avg((s) => s[0]?.recvQ)} (bytes the kernel holds between the two nodes; at the tunnel's rate they are queueing delay).`
  );
}

/**
 * One iperf3 test, once the server is idle; tried a second time if the first fails, and
 * the retry is noted. iperf3 has a known race at the end of a test that resets the control
 * connection now and then ("unable to receive control message: Connection reset by peer",
 * esnet/iperf#499).
 */
async function iperfOnce(path: PathSpec, run: RunConfig, streams: number, notes: string[]): Promise<IperfResult> {
  await run.server.idle();
  try {
    return await iperfClient(path.client.ns, path.dst, run.seconds, streams);
  } catch (err) {
    notes.push(`The ${streams}-stream test to ${path.dst} failed once (${(err as Error).message.split('\n')[0]}); its figure comes from a second attempt.`);
    await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    await run.server.idle();
    return iperfClient(path.client.ns, path.dst, run.seconds, streams);
  }
}

/** Pings starting a moment into a running iperf3 test; null if the test is too short or ping failed. */
async function pingUnderLoad(path: PathSpec, run: RunConfig): Promise<PingResult | null> {
  // The pings (50 ms apart) must end well before the test does.
  if (run.seconds * 1000 < LOADED_PING_DELAY_MS + run.pings * 50 + 1000) return null;
  await new Promise((r) => setTimeout(r, LOADED_PING_DELAY_MS));
  return pingRtt(path.client.ns, path.dst, run.pings).catch(() => null);
}

/** Ping, then iperf3 with each stream count (pinging again during the 1-stream test). */
async function measurePath(path: PathSpec, run: RunConfig): Promise<PathFigures> {
  const ping = await pingRtt(path.client.ns, path.dst, run.pings);
  if (ping.received === 0) throw new Error(`no ping reply from ${path.dst}`);
  const fig: PathFigures = { ping, loadedPing: null, tcp: new Map(), cores: null, notes: [] };
  for (const n of path.streams) {
    const before = await Promise.all(path.procs.map((p) => cpuSeconds(p.pid)));
    const t0 = performance.now();
    const underLoad = n === 1 ? pingUnderLoad(path, run) : Promise.resolve(null);
    const queues = n === 1 ? sampleQueues(path, run) : Promise.resolve(null);
    fig.tcp.set(n, await iperfOnce(path, run, n, fig.notes));
    fig.loadedPing = (await underLoad) ?? fig.loadedPing;
    const queueNote = await queues;
    if (queueNote) fig.notes.push(queueNote);
    const wall = (performance.now() - t0) / 1000;
    const after = await Promise.all(path.procs.map((p) => cpuSeconds(p.pid)));
    if (n === 1 && path.procs.length === 2) fig.cores = [0, 1].map((i) => ((after[i] as number) - (before[i] as number)) / wall) as [number, number];
  }
  return fig;
}

async function attempt(fn: () => Promise<PathFigures>): Promise<Outcome> {
  try {
    return { ok: true, fig: await fn() };
  } catch (err) {
    return { ok: false, reason: (err instanceof Error ? err.message : String(err)).split('\n').slice(0, 6).join(' | ') };
  }
}

/** wireguard-go on both hosts, tunnel addresses 10.99.0.1 (receiver) and 10.99.0.2. */
async function measureWireGuard(lab: Lab, keyDir: string, run: RunConfig): Promise<PathFigures> {
  const [rx, tx] = [lab.host('rx'), lab.host('tx')];
  const ends = [
    { ns: rx.ns, ip: rx.ip, ifname: `${lab.prefix}wgr`, tunnelIp: `${WG_NET}.1` },
    { ns: tx.ns, ip: tx.ip, ifname: `${lab.prefix}wgt`, tunnelIp: `${WG_NET}.2` },
  ] as const;
  const wg = await startWireGuardPair(ends[0], ends[1], keyDir, MTU);
  try {
    const fig = await measurePath({ client: tx, dst: ends[0].tunnelIp, streams: STREAMS, procs: wg.procs }, run);
    const udp = await udpRcvbufErrors(rx.ns);
    fig.notes.push(
      `${await queueDropsNote('wireguard-go', tx.ns, ends[1].ifname)} The receiver's kernel dropped ${udp ?? 'an unknown number of'} ` +
        'WireGuard datagrams because wireguard-go\'s UDP socket buffer was full (`Udp: RcvbufErrors`).',
    );
    return fig;
  } finally {
    await wg.stop();
  }
}

/** A `sentinel-node --tun` on each host, allowed to each other; the sender dials the receiver. */
async function measureSentinel(sl: SentinelLab, run: RunConfig, profileDir: string | undefined): Promise<PathFigures> {
  const signaler = await sl.startSignaler('sig', { logLevel: 'warn' });
  const tun = (name: string): string[] => ['--tun', '--tun-name', `${sl.lab.prefix}${name}`, '--mtu', String(MTU)];
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const [rx, tx] = await Promise.all([
    sl.startNode('rx', { port: NODE_PORT, signaler, logLevel: NODE_LOG_LEVEL, extraArgs: tun('snr'), nodeArgs: profile }),
    sl.startNode('tx', { port: NODE_PORT, signaler, logLevel: NODE_LOG_LEVEL, extraArgs: tun('snt') }),
  ]);
  try {
    return await sentinelPath(rx, tx, run);
  } catch (err) {
    const logs = [rx, tx].map((n) => `${n.host.name}: ${n.stderr().trim().split('\n').slice(-3).join(' / ')}`).join('; ');
    throw new Error(`${(err as Error).message} (node logs: ${logs})`);
  } finally {
    // Stopped here (SIGTERM) so a --cpu-prof receiver exits normally and writes its profile.
    await Promise.allSettled([rx.stop(), tx.stop()]);
  }
}

async function sentinelPath(rx: LabNode, tx: LabNode, run: RunConfig): Promise<PathFigures> {
  await rx.json(['allow', tx.id]);
  await tx.json(['allow', rx.id]);
  const st = await rx.status();
  if (st.vpn.state !== 'up') throw new Error(`receiver VPN is ${st.vpn.state}: ${st.vpn.reason ?? 'no reason given'}`);
  const dial = await tx.dial(rx.id);
  if (!dial.ok) throw new Error(`sentinel dial failed: ${dial.reason}`);
  await waitForSession(rx, tx.id);
  const queues = { port: NODE_PORT, ns: [rx.host.ns, tx.host.ns] as const };
  const fig = await measurePath({ client: tx.host, dst: st.vpn.ipv4, streams: STREAMS, procs: [rx.proc, tx.proc], queues }, run);
  fig.notes.push(await dropsNote(rx, tx), await offloadNote(rx, tx), await datagramNote(rx, tx));
  const txTun = (await tx.status()).vpn.tun;
  if (txTun !== null) fig.notes.push(await queueDropsNote('Sentinel', tx.host.ns, txTun));
  return fig;
}

/**
 * The sender's tunnel interface drops packets its tunnel process does not read in time
 * (the TUN queue is full); the inner TCP sees them as losses and retransmits.
 */
async function queueDropsNote(label: string, ns: string, dev: string): Promise<string> {
  const d = await linkDrops(ns, dev);
  const n = d === null ? 'unknown' : String(d.tx);
  return `${label}: packet loss inside the tunnel (each loss is an inner TCP retransmit): the sender's TUN queue overflowed ${n} times over the run (\`ip -s link\` TX dropped: the tunnel process did not read fast enough).`;
}

/** Sentinel's own VPN drop counters at both ends after the run. */
async function dropsNote(rx: LabNode, tx: LabNode): Promise<string> {
  const text = async (n: LabNode): Promise<string> => {
    const drops = Object.entries((await n.status()).vpn.drops).filter(([, c]) => c > 0);
    return `${n.host.name === 'rx' ? 'receiver' : 'sender'} ${drops.length === 0 ? 'none' : drops.map(([k, c]) => `${k} ${c}`).join(', ')}`;
  };
  return `Sentinel's VPN drop counters after the run (\`status --json\` .vpn.drops): ${await text(rx)}; ${await text(tx)}.`;
}

/** The offload counters (src/vpn/router.ts) at both ends after the run. */
async function offloadNote(rx: LabNode, tx: LabNode): Promise<string> {
  const [r, t] = await Promise.all([rx.status(), tx.status()]);
  const c = (st: typeof r, k: string): number => st.counters[`vpn.gso.${k}`] ?? 0;
  return (
    `TUN offloads after the run (\`status --json\` counters vpn.gso.*): the sender passed ${c(t, 'sent')} TCP super-segments whole (PACKETS_GSO) and segmented ${c(t, 'segmented_out')} itself; ` +
    `the receiver wrote ${c(r, 'written')} whole to its TUN and segmented ${c(r, 'segmented_in')} itself; the ACK direction: receiver sent ${c(r, 'sent')}, sender wrote ${c(t, 'written')}.`
  );
}

/** Which path carried the tunnel (SENTINEL_VPN_DATAGRAM, default auto): the datagram counters at both ends. */
async function datagramNote(rx: LabNode, tx: LabNode): Promise<string> {
  const [r, t] = await Promise.all([rx.status(), tx.status()]);
  const c = (st: typeof r, k: string): number => st.counters[`vpn.dgram.${k}`] ?? 0;
  const mode = process.env['SENTINEL_VPN_DATAGRAM'] || 'auto';
  return (
    `Datagram path (SENTINEL_VPN_DATAGRAM=${mode}; counters vpn.dgram.*): the sender sent ${c(t, 'sent')} datagrams (${(c(t, 'sent_bytes') / 1e6).toFixed(1)} MB) of ${((t.vpn.peers[rx.id]?.bytesOut ?? 0) / 1e6).toFixed(1)} MB through the tunnel, ` +
    `moved to datagrams ${c(t, 'route_udp')} time(s); path up ${c(t, 'path_up')} / down ${c(t, 'path_down')} time(s); the receiver got ${c(r, 'received')} datagrams.`
  );
}

/** The receiver may see the session a moment after the dialer's `dial` returned. */
async function waitForSession(node: LabNode, peer: string): Promise<void> {
  const deadline = Date.now() + SESSION_WAIT_MS;
  while (!(await node.peers()).some((p) => p.id === peer && p.connected)) {
    if (Date.now() > deadline) throw new Error(`receiver has no session with the sender ${SESSION_WAIT_MS} ms after the dial`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- report ----------------------------------------------------------------------

function pingText(p: PingResult): string {
  return `avg ${p.avg.toFixed(3)} ms (min ${p.min.toFixed(3)} / max ${p.max.toFixed(3)}, ${p.received}/${p.sent} replies)`;
}

function pathRows(label: string, o: Outcome, raw: Outcome): BenchRow[] {
  if (!o.ok) return [infoRow(`${label}: failed`, o.reason)];
  const rows: BenchRow[] = [];
  for (const [n, r] of o.fig.tcp) {
    const base = raw.ok ? raw.fig.tcp.get(n) : undefined;
    const ratio = base === undefined || label === 'no tunnel' ? '' : `${round(r.bitsPerSecond / base.bitsPerSecond, 2)}x no tunnel`;
    rows.push(infoRow(`${label}: TCP, ${n} stream${n > 1 ? 's' : ''}`, `${gbit(r.bitsPerSecond)} (${r.retransmits} retransmits)`, ratio));
  }
  rows.push(infoRow(`${label}: ping RTT, idle`, pingText(o.fig.ping)));
  if (o.fig.loadedPing) rows.push(infoRow(`${label}: ping RTT during the 1-stream test`, pingText(o.fig.loadedPing)));
  return rows;
}

function ratioRows(sentinel: Outcome, wg: Outcome): BenchRow[] {
  const rows: BenchRow[] = [];
  const s1 = sentinel.ok ? sentinel.fig.tcp.get(1) : undefined;
  rows.push(
    s1 === undefined
      ? goalRow('Sentinel, TCP 1 stream', `≥ ${GOAL_BPS / 1e9} Gbit/s`, 'Sentinel was not measured', '', false)
      : goalRow('Sentinel, TCP 1 stream', `≥ ${GOAL_BPS / 1e9} Gbit/s`, gbit(s1.bitsPerSecond), `${round(s1.bitsPerSecond / GOAL_BPS, 2)}x goal`, s1.bitsPerSecond >= GOAL_BPS),
  );
  const sp = sentinel.ok ? sentinel.fig.loadedPing : null;
  const wp = wg.ok ? wg.fig.loadedPing : null;
  const pingMetric = 'ping RTT during the 1-stream test, Sentinel vs wireguard-go';
  if (sp && wp) {
    rows.push(goalRow(pingMetric, '≤ wireguard-go', `avg ${sp.avg.toFixed(2)} ms vs ${wp.avg.toFixed(2)} ms`, `${round(sp.avg / wp.avg, 2)}x`, sp.avg <= wp.avg));
  } else {
    rows.push(goalRow(pingMetric, '≤ wireguard-go', 'not measured on both', '', false));
  }
  for (const n of STREAMS) {
    const metric = `Sentinel / wireguard-go, TCP ${n} stream${n > 1 ? 's' : ''}`;
    const s = sentinel.ok ? sentinel.fig.tcp.get(n) : undefined;
    const w = wg.ok ? wg.fig.tcp.get(n) : undefined;
    const goal = n === 1 ? `≥ ${GOAL_RATIO}x` : '—';
    if (s === undefined || w === undefined) {
      const why = sentinel.ok ? 'wireguard-go was not measured' : 'Sentinel was not measured';
      rows.push(n === 1 ? goalRow(metric, goal, why, '', false) : infoRow(metric, why));
      continue;
    }
    const ratio = s.bitsPerSecond / w.bitsPerSecond;
    const result = `${gbit(s.bitsPerSecond)} vs ${gbit(w.bitsPerSecond)}`;
    rows.push(n === 1 ? goalRow(metric, goal, result, `${round(ratio, 2)}x`, ratio >= GOAL_RATIO) : infoRow(metric, result, `${round(ratio, 2)}x`));
  }
  return rows;
}

/** CPU use of the tunnel processes, then the path's own observations. */
function pathNotes(label: string, o: Outcome): string[] {
  if (!o.ok) return [];
  const cores = o.fig.cores?.map((c) => `${(c * 100).toFixed(0)}%`);
  const cpu = cores ? [`${label}, 1 stream: the receiving process used ${cores[0]} of one core and the sending one ${cores[1]} (user + system time, all threads, from /proc).`] : [];
  return [...cpu, ...o.fig.notes];
}

async function profileNotes(dir: string | undefined): Promise<string[]> {
  if (dir === undefined) return ['Profile of the receiving Sentinel node: run with `SENTINEL_BENCH_VPN_PROFILE=<dir>` to write one and list its hottest functions here.'];
  const file = await newestProfile(dir);
  if (file === null) return [`No CPU profile was written to ${dir} (the receiving node did not exit normally).`];
  const hot = await hotFunctions(file, 10);
  return [`Receiving node's CPU profile (${file}, whole run, idle left out), self time: ${hot.map((h) => `${h.label} ${h.selfPercent.toFixed(1)}%`).join('; ')}.`];
}

function unavailable(reason: string, fix: string, began: number): BenchResult {
  return {
    name: NAME,
    title: TITLE,
    method: 'Needs the NAT lab (Linux network namespaces and nftables, as root; see docs/NAT-LAB.md) and iperf3, wireguard-go and wg.',
    rows: [infoRow('skipped', reason)],
    notes: [`Nothing was measured. ${fix}`],
    durationMs: performance.now() - began,
  };
}

/** Runs the VPN throughput benchmark (or reports why it cannot) and returns its table. */
export async function runVpnBench(opts: VpnBenchOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return unavailable(`NAT lab unavailable: ${check.reason}`, 'Run `node dist/bench/run.js vpn` as root with `ip`, `nft` and `ping` installed.', began);
  const missing = missingTools();
  if (missing.length > 0) {
    const cmds = [...new Set(missing.map((t) => VPN_BENCH_TOOLS[t]))].join(' && ');
    return unavailable(`missing ${missing.join(', ')}: run \`${cmds}\``, `Install the tools (\`${cmds}\`), then run \`node dist/bench/run.js vpn\` as root.`, began);
  }
  const seconds = opts.seconds ?? 5;
  const pings = opts.pings ?? 20;
  const profileDir = opts.profileDir ?? process.env['SENTINEL_BENCH_VPN_PROFILE'];
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  let lab: Lab | undefined;
  let sl: SentinelLab | undefined;
  const keys = await tempDir('wg-keys');
  try {
    const l = (lab = await buildLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['sig', 'rx', 'tx'] }] }));
    const s = (sl = new SentinelLab(l));
    const server = await startIperfServer(l.host('rx').ns);
    const run: RunConfig = { seconds, pings, server };
    try {
      const raw = await attempt(() => measurePath({ client: l.host('tx'), dst: l.host('rx').ip, streams: [1], procs: [] }, run));
      const wg = await attempt(() => measureWireGuard(l, keys.path, run));
      const sentinel = await attempt(() => measureSentinel(s, run, profileDir));
      return {
        name: NAME,
        title: TITLE,
        method:
          `Three public hosts of the NAT lab (docs/NAT-LAB.md) on one bridge: a signaler, a receiver and a sender, joined by veth links (no NAT, no latency emulation). ` +
          `In one run, over the same links: the plain link (no tunnel, the ceiling); userspace WireGuard (Debian's \`wireguard-go\`, keys and peers set with \`wg\`, MTU ${MTU}); ` +
          `and Sentinel (\`sentinel-node --tun --mtu ${MTU}\` on both hosts, each \`sentinel allow\`s the other, the sender runs \`sentinel dial <receiver id>\`, traffic goes to the receiver's VPN IPv4; ` +
          `TUN offloads on, so TCP super-segments cross in PACKETS_GSO frames). ` +
          `For each: \`ping -c ${pings} -i 0.05\` from the sender, then \`iperf3 -c <receiver> -t ${seconds} -J\` with ${STREAMS.join(' and ')} TCP stream(s) to \`iperf3 -s\` on the receiver ` +
          `(the same pings again ${LOADED_PING_DELAY_MS / 1000} s into the 1-stream test); ` +
          `the figure is iperf3's received bits per second. Each tunnel is stopped before the next one starts.`,
        rows: [...ratioRows(sentinel, wg), ...pathRows('Sentinel', sentinel, raw), ...pathRows('wireguard-go', wg, raw), ...pathRows('no tunnel', raw, raw)],
        notes: [
          ...pathNotes('Sentinel', sentinel),
          ...pathNotes('wireguard-go', wg),
          ...(sentinel.ok ? [LIMITS_NOTE, ...(await profileNotes(profileDir))] : []),
          `Tools: ${(await toolVersions()).join('; ')}.`,
          'Both ends of each tunnel, iperf3 and the kernel all share this machine\'s cores, so a tunnel process that needs a whole core per end competes with the other end and with iperf3. ' +
            `Each figure is one ${seconds} s sample and the tunnels are measured one after the other, so on a shared machine the ratio moves from run to run with the load.`,
        ],
        durationMs: performance.now() - began,
      };
    } finally {
      await server.stop();
    }
  } finally {
    await sl?.cleanup();
    await lab?.destroy();
    await keys.cleanup();
  }
}
