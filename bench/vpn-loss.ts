/**
 * The VPN under underlay loss and delay (root only): iperf3 TCP, one stream, through
 * Sentinel (`sentinel-node --tun`, real binaries) and through userspace WireGuard
 * (`wireguard-go`), both up at once between the same two hosts, which are joined through a
 * router namespace (test/lab/delay-line.ts) that drops a random share of what it forwards
 * (nftables `numgen random`) and, for the delay rows, holds every packet D ms each way in a
 * userspace delay line (the lab has no netem). Every condition measures both tunnels back
 * to back; the plain link through the same router is the ceiling.
 *
 * Without the lab, or without iperf3 / wireguard-go / wg, the benchmark reports what is
 * missing and measures nothing.
 */
import { performance } from 'node:perf_hooks';
import { canRunLab, exec, getSysctl } from '../test/lab/index.js';
import { buildDelayLab, lossDrops, setLoss, startDelayLine, type DelayLab, type DelayLine } from '../test/lab/delay-line.js';
import type { DelayLineStats } from '../test/lab/delay-line-proc.js';
import { startSentinelPair, type SentinelPair } from '../test/lab/delay-line-vpn.js';
import { goalRow, infoRow, type BenchResult, type BenchRow } from './report.js';
import { round, tempDir } from './util.js';
import {
  cpuSeconds,
  iperfClient,
  missingTools,
  pingRtt,
  startIperfServer,
  startWireGuardPair,
  toolVersions,
  VPN_BENCH_TOOLS,
  type IperfResult,
  type IperfServer,
  type WgPair,
} from './vpn-tools.js';

/** Options of {@link runVpnLossBench}. */
export interface VpnLossBenchOptions {
  /** Length of each iperf3 test without added delay, in seconds (default 5). */
  seconds?: number;
  /** Length of each iperf3 test through the delay line, in seconds (default 8: slow start takes longer at 80 ms). */
  delaySeconds?: number;
  /** Times the whole plan is run; each figure is the mean (default 2). */
  rounds?: number;
}

const NAME = 'vpn-loss';
const TITLE = 'VPN under loss and delay: Sentinel vs wireguard-go (delay lab, real binaries)';
const GOAL_RATIO = 1;
const MTU = 1400;
const NODE_PORT = 23_200;
const WG_NET = '10.99.0';
const PINGS = 5;
const RETRY_PAUSE_MS = 1_000;

type PathName = 'plain' | 'Sentinel' | 'wireguard-go';

/** One row of the measurement plan: loss per mille both ways; delayMs null = no delay line at all. */
interface Condition {
  key: string;
  label: string;
  lossPermille: number;
  delayMs: number | null;
  paths: readonly PathName[];
}

const TUNNELS: readonly PathName[] = ['Sentinel', 'wireguard-go'];
const ALL: readonly PathName[] = ['plain', ...TUNNELS];
const CC_SYSCTL = 'net.ipv4.tcp_congestion_control';

/**
 * What limits Sentinel under loss (from the counters of these runs and, for the datagram
 * path, a loopback profile: docs/VPN-LOSS.md run G). Re-check when the data path changes.
 */
const LIMITS_NOTE =
  'What limits Sentinel under loss (believed, from the counters above; "sent as datagrams" says which path carried each sample). ' +
  'On the session (TCP inside TCP): not CPU but the outer TCP: each lost wire packet is a lost segment of the session, every inner packet behind the hole waits at least one round trip (head-of-line blocking) and the outer congestion control slows down, while the inner TCP sees only stalls. ' +
  'On the datagram path (SENTINEL_VPN_DATAGRAM=auto moves there when the session\'s TCP retransmits > 0.5% of its segments): a loss is one lost inner packet, as with wireguard-go, and the limit is CPU (one AES-GCM seal or open per inner packet, in the addon with one reused OpenSSL context; sends batched with sendmmsg and receives read 64 per wake-up, native/dgram.c) and the receiver\'s UDP buffer when the sender\'s bursts outrun it, plus the switch itself in short tests (about a second of loss before auto moves, and reordering as the session\'s queue drains). See docs/VPN-LOSS.md.';

/** In run order. The no-loss, no-delay-line condition is every path's reference. */
const PLAN: readonly Condition[] = [
  { key: 'ref', label: 'no loss, no delay line', lossPermille: 0, delayMs: null, paths: ALL },
  { key: 'l1', label: '1% loss, no added delay', lossPermille: 10, delayMs: null, paths: TUNNELS },
  { key: 'l3', label: '3% loss, no added delay', lossPermille: 30, delayMs: null, paths: TUNNELS },
  { key: 'd0', label: 'delay line at 0 ms, no loss', lossPermille: 0, delayMs: 0, paths: ALL },
  { key: 'd20', label: '20 ms RTT, no loss', lossPermille: 0, delayMs: 10, paths: ALL },
  { key: 'd20l1', label: '20 ms RTT, 1% loss', lossPermille: 10, delayMs: 10, paths: ALL },
  { key: 'd80', label: '80 ms RTT, no loss', lossPermille: 0, delayMs: 40, paths: ALL },
  { key: 'd80l1', label: '80 ms RTT, 1% loss', lossPermille: 10, delayMs: 40, paths: ALL },
];

/** One iperf3 test: received rate, inner retransmits, and what else moved meanwhile. */
interface Sample {
  bps: number;
  retransmits: number;
  /** TCP segments the sender's namespace retransmitted beyond iperf3's own: Sentinel's outer TCP. */
  outerRetransmits: number | null;
  /** Share of one core: the delay line's process; the tunnel's two processes together. */
  lineCores: number | null;
  tunnelCores: number | null;
  /** Sentinel: share of the tunnel's bytes the sender sent as UDP datagrams (vpn.dgram.sent_bytes / bytesOut). */
  udpShare: number | null;
  /** Tunnels: datagrams the receiver's kernel dropped for a full socket buffer (`Udp: RcvbufErrors` growth). */
  rcvbufErrors: number | null;
}

interface Cell {
  samples: Sample[];
  failures: string[];
}

interface ConditionResult {
  cond: Condition;
  cells: Map<PathName, Cell>;
  /** Idle pings over the plain link under this condition (the RTT actually emulated), one per round. */
  rtts: string[];
  /** The delay line's final counters, one per round. */
  lines: DelayLineStats[];
  lossDropped: number;
}

interface Setup {
  lab: DelayLab;
  server: IperfServer;
  sentinel: SentinelPair;
  wg: WgPair;
  dst: Record<PathName, string>;
}

const gbit = (bps: number): string => `${(bps / 1e9).toFixed(3)} Gbit/s`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** iperf3 once the server is idle; a failed test is tried once more (iperf3's end-of-test race, esnet/iperf#499). */
async function iperf(s: Setup, dst: string, seconds: number): Promise<IperfResult> {
  const tx = s.lab.host('tx').ns;
  await s.server.idle();
  try {
    return await iperfClient(tx, dst, seconds, 1);
  } catch {
    await sleep(RETRY_PAUSE_MS);
    await s.server.idle();
    return iperfClient(tx, dst, seconds, 1);
  }
}

async function cpuOf(pids: readonly number[]): Promise<number> {
  const each = await Promise.all(pids.map((p) => cpuSeconds(p)));
  return each.reduce((a, b) => a + b, 0);
}

/** A `/proc/net/snmp` counter of namespace `ns` (e.g. Tcp RetransSegs: every TCP socket in it); NaN if unreadable. */
async function snmp(ns: string, proto: 'Tcp' | 'Udp', field: string): Promise<number> {
  try {
    const [names, values] = (await exec(ns, 'cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith(`${proto}:`)).map((l) => l.split(/\s+/));
    return Number(values?.[names?.indexOf(field) ?? -1]);
  } catch {
    return NaN;
  }
}

const retransSegs = (ns: string): Promise<number> => snmp(ns, 'Tcp', 'RetransSegs');

function tunnelPids(s: Setup, path: PathName): number[] {
  if (path === 'Sentinel') return [s.sentinel.rx.proc.pid, s.sentinel.tx.proc.pid];
  if (path === 'wireguard-go') return s.wg.procs.map((p) => p.pid);
  return [];
}

/** Sentinel's datagram path counters at both ends after the run (vpn.dgram.*). */
async function datagramCounters(s: Setup): Promise<string> {
  const text = async (n: SentinelPair['tx'], label: string): Promise<string> => {
    const c = Object.entries((await n.status()).counters).filter(([k]) => k.startsWith('vpn.dgram.'));
    return `${label}: ${c.length === 0 ? 'none' : c.map(([k, v]) => `${k.slice(10)} ${v}`).join(', ')}`;
  };
  const mode = process.env['SENTINEL_VPN_DATAGRAM'] || 'auto';
  return `Sentinel's datagram path (SENTINEL_VPN_DATAGRAM=${mode}), counters after the run: ${await text(s.sentinel.tx, 'sender')}; ${await text(s.sentinel.rx, 'receiver')}.`;
}

/** Bytes the Sentinel sender put in the tunnel, and those it sent as datagrams. */
async function sentinelBytes(s: Setup): Promise<{ total: number; udp: number }> {
  const st = await s.sentinel.tx.status();
  return { total: st.vpn.peers[s.sentinel.rx.id]?.bytesOut ?? 0, udp: st.counters['vpn.dgram.sent_bytes'] ?? 0 };
}

async function measureSample(s: Setup, path: PathName, seconds: number, line: DelayLine | null): Promise<Sample> {
  const linePids = line === null ? [] : [line.proc.pid];
  const txNs = s.lab.host('tx').ns;
  const b0 = path === 'Sentinel' ? await sentinelBytes(s) : null;
  const rxNs = s.lab.host('rx').ns;
  const u0 = await snmp(rxNs, 'Udp', 'RcvbufErrors');
  const [l0, t0, r0, w0] = [await cpuOf(linePids), await cpuOf(tunnelPids(s, path)), await retransSegs(txNs), performance.now()];
  const r = await iperf(s, s.dst[path], seconds);
  const wall = (performance.now() - w0) / 1000;
  const [l1, t1, r1] = [await cpuOf(linePids), await cpuOf(tunnelPids(s, path)), await retransSegs(txNs)];
  const b1 = path === 'Sentinel' ? await sentinelBytes(s) : null;
  const u1 = await snmp(rxNs, 'Udp', 'RcvbufErrors');
  const outer = r1 - r0 - r.retransmits;
  return {
    bps: r.bitsPerSecond,
    retransmits: r.retransmits,
    outerRetransmits: path === 'Sentinel' && Number.isFinite(outer) ? Math.max(0, outer) : null,
    lineCores: line === null ? null : (l1 - l0) / wall,
    tunnelCores: path === 'plain' ? null : (t1 - t0) / wall,
    udpShare: b0 && b1 && b1.total > b0.total ? (b1.udp - b0.udp) / (b1.total - b0.total) : null,
    rcvbufErrors: path !== 'plain' && Number.isFinite(u1 - u0) ? u1 - u0 : null,
  };
}

/** One round of one condition, added to `into`. `flip` reverses the order of the paths. */
async function runCondition(s: Setup, into: ConditionResult, flip: boolean, opts: Required<VpnLossBenchOptions>): Promise<void> {
  const cond = into.cond;
  const line = cond.delayMs === null ? null : await startDelayLine(s.lab, { delayMs: cond.delayMs });
  try {
    await setLoss(s.lab, cond.lossPermille);
    const ping = await pingRtt(s.lab.host('tx').ns, s.lab.host('rx').ip, PINGS).catch(() => null);
    into.rtts.push(ping === null ? 'ping failed' : `${ping.min.toFixed(1)} / ${ping.avg.toFixed(1)} ms min / avg (${ping.received}/${ping.sent})`);
    // Alternate which path goes first, so none always runs on a fresher machine.
    for (const path of flip ? [...cond.paths].reverse() : cond.paths) {
      const cell = into.cells.get(path) ?? { samples: [], failures: [] };
      into.cells.set(path, cell);
      try {
        cell.samples.push(await measureSample(s, path, cond.delayMs === null ? opts.seconds : opts.delaySeconds, line));
      } catch (err) {
        cell.failures.push(firstLine(err));
      }
    }
    into.lossDropped += await lossDrops(s.lab);
  } finally {
    await setLoss(s.lab, 0);
    const stats = line === null ? null : await line.stop().catch(() => null);
    if (stats !== null) into.lines.push(stats);
  }
}

// ---- report ----------------------------------------------------------------------

function cellText(c: Cell | undefined): string {
  if (c === undefined) return 'not measured';
  const failed = c.failures.length === 0 ? '' : `; ${c.failures.length} failed: ${c.failures[0]}`;
  if (c.samples.length === 0) return `failed: ${c.failures[0] ?? 'no sample'}`;
  const each = c.samples.length > 1 ? `mean of ${c.samples.map((x) => (x.bps / 1e9).toFixed(3)).join(', ')}; ` : '';
  const outer = c.samples.every((x) => x.outerRetransmits !== null) ? `, outer TCP ${c.samples.map((x) => x.outerRetransmits).join(' + ')}` : '';
  const udp = c.samples.some((x) => x.udpShare !== null) ? `; sent as datagrams: ${c.samples.map((x) => (x.udpShare === null ? '?' : `${Math.round(x.udpShare * 100)}%`)).join(' + ')}` : '';
  const rcvbuf = c.samples.some((x) => x.rcvbufErrors) ? `; receiver's UDP buffer overflows: ${c.samples.map((x) => x.rcvbufErrors ?? '?').join(' + ')}` : '';
  return `${gbit(mean(c.samples.map((x) => x.bps)))} (${each}retransmits: inner ${c.samples.map((x) => x.retransmits).join(' + ')}${outer}${udp}${rcvbuf}${failed})`;
}

function bps(res: readonly ConditionResult[], key: string, path: PathName): number | null {
  const c = res.find((r) => r.cond.key === key)?.cells.get(path);
  return c === undefined || c.samples.length === 0 ? null : mean(c.samples.map((x) => x.bps));
}

/** The same path with no loss and the same delay (or no delay line): the reference of a lossy cell. */
function referenceKey(cond: Condition): string | null {
  if (cond.lossPermille === 0) return cond.delayMs === null ? null : 'ref';
  return cond.delayMs === null ? 'ref' : `d${cond.delayMs * 2}`;
}

function ratioRow(res: readonly ConditionResult[], r: ConditionResult): BenchRow {
  const [s, w] = [bps(res, r.cond.key, 'Sentinel'), bps(res, r.cond.key, 'wireguard-go')];
  const metric = `${r.cond.label}: Sentinel / wireguard-go`;
  const goal = r.cond.lossPermille > 0 && r.cond.delayMs === null;
  if (s === null || w === null) return goal ? goalRow(metric, `≥ ${GOAL_RATIO}x`, 'not both measured', '', false) : infoRow(metric, 'not both measured');
  const [result, ratio] = [`${gbit(s)} vs ${gbit(w)}`, `${round(s / w, 2)}x`];
  return goal ? goalRow(metric, `≥ ${GOAL_RATIO}x`, result, ratio, s / w >= GOAL_RATIO) : infoRow(metric, result, ratio);
}

function rows(res: readonly ConditionResult[]): BenchRow[] {
  const out: BenchRow[] = [];
  for (const r of res) if (r.cond.paths.includes('Sentinel') && r.cond.key !== 'd0') out.push(ratioRow(res, r));
  for (const r of res) {
    for (const path of ALL) {
      const c = r.cells.get(path);
      if (c === undefined) continue;
      const refKey = referenceKey(r.cond);
      const [v, ref] = [bps(res, r.cond.key, path), refKey === null ? null : bps(res, refKey, path)];
      const ratio = v !== null && ref !== null ? `${round(v / ref, 2)}x its ${res.find((x) => x.cond.key === refKey)?.cond.label}` : '';
      out.push(infoRow(`${r.cond.label}: ${path === 'plain' ? 'no tunnel' : path}`, cellText(c), ratio));
    }
    if (r.cond.delayMs !== null) out.push(infoRow(`${r.cond.label}: ping over the plain link`, r.rtts.join('; ')));
  }
  return out;
}

function pct(xs: ReadonlyArray<number | null>): string | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : `${Math.round(mean(v) * 100)}%`;
}

function conditionNotes(res: readonly ConditionResult[]): string[] {
  return res.map((r) => {
    const cpu = [...r.cells].flatMap(([p, c]) => {
      const [t, l] = [pct(c.samples.map((x) => x.tunnelCores)), pct(c.samples.map((x) => x.lineCores))];
      const parts = [t === null ? null : `tunnel ${t}`, l === null ? null : `delay line ${l}`].filter((x) => x !== null);
      return parts.length === 0 ? [] : [`${p}: ${parts.join(', ')}`];
    });
    const sum = (f: (d: DelayLineStats[string]) => number): number => r.lines.reduce((a, st) => a + Object.values(st).reduce((b, d) => b + f(d), 0), 0);
    const most = Math.max(0, ...r.lines.flatMap((st) => Object.values(st).map((d) => d.maxQueuedBytes)));
    const line = r.lines.length === 0 ? '' : ` Delay line: ${sum((d) => d.packets)} packets, ${sum((d) => d.dropped)} dropped by its bound, ${sum((d) => d.writeFailed)} refused on write, at most ${(most / 1e6).toFixed(1)} MB held in one direction.`;
    const loss = r.cond.lossPermille > 0 ? ` The loss rule dropped ${r.lossDropped} packets.` : '';
    return `${r.cond.label}: CPU, mean share of one core (both ends of a tunnel together; the delay line's process): ${cpu.length === 0 ? 'not measured' : cpu.join('; ')}.${loss}${line}`;
  });
}

function unavailable(reason: string, fix: string, began: number): BenchResult {
  return {
    name: NAME,
    title: TITLE,
    method: 'Needs the lab (Linux network namespaces, TUN and nftables, as root; see docs/NAT-LAB.md "Delay line") and iperf3, wireguard-go and wg.',
    rows: [infoRow('skipped', reason)],
    notes: [`Nothing was measured. ${fix}`],
    durationMs: performance.now() - began,
  };
}

const METHOD =
  'Two hosts joined through a router namespace (test/lab/delay-line.ts, docs/NAT-LAB.md "Delay line"); veth links, MTU 1500. Loss: an nftables rule in the router\'s forward hook, ' +
  '`oifname { <both legs> } numgen random mod 1000 < N counter drop` (N = 10 for 1%, 30 for 3%), so both directions lose that share; every veth has `gso_max_segs 1`, so the rule draws once per wire packet (with TSO/GSO a TCP sender\'s 64 KB burst is one skb there, and a TCP-carried tunnel would lose far fewer packets than a UDP one). Delay: every forwarded packet is policy-routed into one ' +
  'TUN per direction of a userspace delay line (Node.js, the project\'s addon) that holds it D ms in a FIFO (bound 32 MiB per direction) and writes it back; 20 ms RTT is D = 10 ms, 80 ms is D = 40 ms. ' +
  `Sentinel (\`sentinel-node --tun --mtu ${MTU}\` on both hosts, a signaler on the router, \`allow\` both ways, \`dial\`) and wireguard-go (MTU ${MTU}, \`wg set\`) are both up for the whole run; ` +
  'for each condition, `iperf3 -c <receiver> -P 1 -J` from the sender to `iperf3 -s` on the receiver, through each tunnel back to back (the plain link, no tunnel, for the ceiling rows); ' +
  'the figure is iperf3\'s received bits per second. Inner retransmits are iperf3\'s; Sentinel\'s outer TCP retransmits are the sender namespace\'s `Tcp: RetransSegs` growth minus those. The goal rows are the issue\'s: under 1% and 3% loss, Sentinel ≥ wireguard-go in the same run.';

/** Runs the loss and delay benchmark (or reports why it cannot) and returns its table. */
export async function runVpnLossBench(opts: VpnLossBenchOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return unavailable(`lab unavailable: ${check.reason}`, `Run \`node dist/bench/run.js ${NAME}\` as root with \`ip\`, \`nft\` and \`ping\` installed.`, began);
  const missing = missingTools();
  if (missing.length > 0) {
    const cmds = [...new Set(missing.map((t) => VPN_BENCH_TOOLS[t]))].join(' && ');
    return unavailable(`missing ${missing.join(', ')}: run \`${cmds}\``, `Install the tools (\`${cmds}\`), then run \`node dist/bench/run.js ${NAME}\` as root.`, began);
  }
  const o: Required<VpnLossBenchOptions> = { seconds: opts.seconds ?? 5, delaySeconds: opts.delaySeconds ?? 8, rounds: opts.rounds ?? Number(process.env['SENTINEL_BENCH_VPN_LOSS_ROUNDS'] ?? 2) };
  const lab = await buildDelayLab();
  const keys = await tempDir('wg-keys');
  let server: IperfServer | undefined;
  let sentinel: SentinelPair | undefined;
  let wg: WgPair | undefined;
  try {
    const [rx, tx] = [lab.host('rx'), lab.host('tx')];
    server = await startIperfServer(rx.ns);
    sentinel = await startSentinelPair(lab, { mtu: MTU, port: NODE_PORT });
    const wgRx = { ns: rx.ns, ip: rx.ip, ifname: `${lab.prefix}wgr`, tunnelIp: `${WG_NET}.1` };
    wg = await startWireGuardPair(wgRx, { ns: tx.ns, ip: tx.ip, ifname: `${lab.prefix}wgt`, tunnelIp: `${WG_NET}.2` }, keys.path, MTU);
    const s: Setup = { lab, server, sentinel, wg, dst: { plain: rx.ip, Sentinel: sentinel.rxVpnIp, 'wireguard-go': wgRx.tunnelIp } };
    const cc = await getSysctl(tx.ns, CC_SYSCTL);
    const res: ConditionResult[] = PLAN.map((cond) => ({ cond, cells: new Map(), rtts: [], lines: [], lossDropped: 0 }));
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, r] of res.entries()) await runCondition(s, r, (round + i) % 2 === 1, o);
    }
    const dgram = await datagramCounters(s);
    return {
      name: NAME,
      title: TITLE,
      method: `${METHOD} Tests last ${o.seconds} s without the delay line and ${o.delaySeconds} s through it; the plan runs ${o.rounds} times (the delay line restarted for each condition) and each figure is the mean.`,
      rows: rows(res),
      notes: [
        ...conditionNotes(res),
        dgram,
        `Congestion control of every TCP connection in the run (inner, outer, plain): ${cc}, the hosts' default (\`${CC_SYSCTL}\`, inherited from the machine; CUBIC cannot be made a namespace default on this kernel).`,
        LIMITS_NOTE,
        'The delay line is a Node.js process reading and writing one packet per system call: "delay line at 0 ms" measures it as the ceiling of every delayed row (compare each tunnel there with its figure without the delay line).',
        'Why TCP inside TCP degrades with loss and delay, and what we would do about it: docs/VPN-LOSS.md.',
        `Tools: ${(await toolVersions()).join('; ')}.`,
        'Both tunnels, iperf3, the delay line and the kernel share this machine\'s cores, and the tunnels are measured one after the other; a figure is the mean of few samples, so ratios move from run to run with the load.',
      ],
      durationMs: performance.now() - began,
    };
  } finally {
    await Promise.allSettled([wg?.stop(), sentinel?.stop(), server?.stop()]);
    await lab.destroy();
    await keys.cleanup();
  }
}
