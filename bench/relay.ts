/**
 * Relayed sessions through the signaler, in the NAT lab (root only), with the real
 * `sentinel-signaler`, `sentinel-node` and `sentinel` executables: two nodes behind
 * symmetric ("hard") NATs cannot punch, so their dial by id ends on a circuit through the
 * signaler's relay. In one run: how long that dial takes (fresh dialers), the round trip
 * and VPN TCP throughput it adds compared with a direct (punched) session between two
 * easy-NAT nodes, messages over both, and the relay's per-node byte rate at its default.
 *
 * Without the lab (not root, no nft, ...) or without iperf3 the benchmark reports why and
 * measures nothing.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DialResult, SendResult } from '../src/api.js';
import { connectControl } from '../src/control/client.js';
import { buildLab, canRunLab, cutLink, findTool, healLink, spawnIn, tryExec, type Lab, type LabProcess } from '../test/lab/index.js';
import { NODE_READY_TIMEOUT_MS, SIGNALER_BIN, STOP_GRACE_MS, SentinelLab, type LabNode, type LabSignaler } from '../test/lab/sentinel-procs.js';
import { goalRow, infoRow, type BenchResult, type BenchRow } from './report.js';
import { percentile, percentiles, round, sleep, type Percentiles } from './util.js';
import { cpuSeconds, pingRtt, startIperfServer, type IperfServer, type PingResult } from './vpn-tools.js';

/** Options of {@link runRelayBench}. */
export interface RelayBenchOptions {
  /** Fresh-dialer dials through hard x hard NATs (default 10). */
  dials?: number;
  /** Length of each iperf3 test in seconds (default 5). */
  seconds?: number;
  /** Pings per path (default 20, 50 ms apart). */
  pings?: number;
  /** Messages sent one after another over each session (default 200). */
  messages?: number;
  /** Relay-to-direct upgrades, each with a fresh easy x easy pair (default 5). */
  upgrades?: number;
}

const NAME = 'relay';
const TITLE = 'Relayed sessions through the signaler (NAT lab, real binaries)';
const GOAL_DIAL_P50_MS = 1000;
const MTU = 1400;
/** Relay rate of the signaler the main figures use: high enough not to be the limit. */
const FAST_RATE = '1G';
/** Default relay rate (src/signaler/limits.ts RELAY_RATE), for the expected-figure note. */
const DEFAULT_RATE_BPS = 1024 * 1024;
const DEFAULT_BURST_BYTES = 2 * 1024 * 1024;
/** Seconds iperf3 leaves out at the start of the default-rate test (`-O`): the relay's 2 MiB burst goes there. */
const DEFAULT_RATE_OMIT_S = 3;
const FAST_SIG_PORT = 8888;
const DEFAULT_SIG_PORT = 8889;
/** Node ports: the pairs, the dial-series target, and the pair on the default-rate signaler. */
const PORTS = { h1: 24_001, h2: 24_002, e1: 24_003, e2: 24_004, target: 24_005, h1Default: 24_006, h2Default: 24_007 } as const;
/** Each dialer gets its own port, so no conntrack entry of an earlier dial is reused. */
const DIALER_BASE_PORT = 24_100;
/** Ports of the upgrade trials' pairs (one pair per trial, for the same reason). */
const UPGRADE_BASE_PORTS = { a: 24_200, b: 24_300 } as const;
/** How often the upgrade trials ask the dialer for its peers (control socket, no process). */
const UPGRADE_POLL_MS = 50;
/** Bound on one trial's wait for the direct path after the heal. */
const UPGRADE_WAIT_MS = 30_000;
const NODE_LOG_LEVEL = 'warn';
const IPERF_PORT = 5201;
const IPERF_SLACK_MS = 20_000;
const RETRY_PAUSE_MS = 1_000;
const SESSION_WAIT_MS = 10_000;
const MESSAGE_TIMEOUT_MS = 60_000;

const tun = ['--tun', '--mtu', String(MTU)];
const mbit = (bps: number): string => `${(bps / 1e6).toFixed(1)} Mbit/s`;
const fmtMs = (p: Percentiles): string => (p.n === 0 ? 'no successful dial' : `p50 ${p.p50.toFixed(0)} / p95 ${p.p95.toFixed(0)} / max ${p.max.toFixed(0)} ms`);
const pingText = (p: PingResult): string => `avg ${p.avg.toFixed(3)} ms (min ${p.min.toFixed(3)} / max ${p.max.toFixed(3)}, ${p.received}/${p.sent} replies)`;
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n').slice(0, 4).join(' | ');

// ---- signaler with extra flags ------------------------------------------------------

/**
 * `sentinel-signaler` on a lab host with extra flags (SentinelLab.startSignaler takes none);
 * the same command line and readiness check otherwise. Returns it and its `relaying:` line.
 */
async function startSignalerWith(sl: SentinelLab, hostName: string, port: number, extra: readonly string[]): Promise<{ sig: LabSignaler; relaying: string }> {
  const host = sl.lab.host(hostName);
  const dataDir = await sl.tempDir(`sig${port}`);
  const args = [SIGNALER_BIN, '--port', String(port), '--host', '0.0.0.0', '--data-dir', dataDir, '--log-level', 'warn', ...extra];
  const proc = spawnIn(host.ns, process.execPath, args, { graceMs: STOP_GRACE_MS });
  try {
    const [, id] = (await proc.waitFor(/^signaler (\S+)$/m, NODE_READY_TIMEOUT_MS)) as [string, string];
    await proc.waitFor(/^listening on /m, NODE_READY_TIMEOUT_MS);
    const [, relaying] = (await proc.waitFor(/^relaying: (.+)$/m, NODE_READY_TIMEOUT_MS)) as [string, string];
    return { sig: { host, port, id, address: `${host.ip}:${port}`, proc, stop: () => proc.stop() }, relaying };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

// ---- sessions -----------------------------------------------------------------------

/** The peer may see the session a moment after the dialer's `dial` returned. */
async function waitForSession(node: LabNode, peer: string): Promise<void> {
  const deadline = Date.now() + SESSION_WAIT_MS;
  while (!(await node.peers()).some((p) => p.id === peer && p.connected)) {
    if (Date.now() > deadline) throw new Error(`${node.host.name} has no session with ${peer} ${SESSION_WAIT_MS} ms after the dial`);
    await sleep(100);
  }
}

/** A pair with a session from `a` to `b`, both allowed on each other's VPN and contacts of each other. */
interface Pair {
  a: LabNode;
  b: LabNode;
  dial: DialResult;
  /** `b`'s VPN IPv4. */
  dst: string;
}

/** Counters of the relay-to-direct upgrade (src/relay/upgrade.ts) on a node, `name value` joined. */
async function upgradeCounters(node: LabNode): Promise<string> {
  const c = (await node.status()).counters;
  const keys = ['relay.upgrade_attempts', 'relay.upgrade_failed', 'sessions_upgraded_to_direct'];
  return keys.map((k) => `${k} ${c[k] ?? 0}`).join(', ');
}

async function connectPair(a: LabNode, b: LabNode, wantPath: 'direct' | 'relay'): Promise<Pair> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    await x.json(['allow', y.id]);
    await x.json(['accept', y.id]);
  }
  const st = await b.status();
  if (st.vpn.state !== 'up') throw new Error(`${b.host.name}: VPN is ${st.vpn.state}: ${st.vpn.reason ?? 'no reason given'}`);
  const d = await a.dial(b.id);
  if (!d.ok) throw new Error(`dial ${a.host.name} -> ${b.host.name} failed: ${d.reason}`);
  if (d.result.path !== wantPath) throw new Error(`dial ${a.host.name} -> ${b.host.name} took path ${d.result.path} (method ${d.result.method}), expected ${wantPath}`);
  await waitForSession(b, a.id);
  // A first packet through a fresh TUN route may pay for neighbour set-up: not measured.
  await tryExec(a.host.ns, 'ping', ['-n', '-q', '-c', '2', '-i', '0.2', '-W', '2', st.vpn.ipv4], { timeoutMs: 10_000 });
  return { a, b, dial: d.result, dst: st.vpn.ipv4 };
}

// ---- iperf3 -------------------------------------------------------------------------

interface Tcp {
  bitsPerSecond: number;
  retransmits: number;
  /** CPU cores used during the test: signaler (if any), sender, receiver. */
  cores: { signaler: number | null; sender: number; receiver: number };
}

/** `iperf3 -c` with `-O omit` (seconds left out of the figure); rejects with iperf3's error. */
async function iperf(ns: string, ip: string, seconds: number, omit: number): Promise<{ bitsPerSecond: number; retransmits: number }> {
  const args = ['-c', ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-O', String(omit), '-P', '1', '-J', '--connect-timeout', '5000'];
  const r = await tryExec(ns, 'iperf3', args, { timeoutMs: (seconds + omit) * 1000 + IPERF_SLACK_MS });
  let j: { error?: string; end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } } };
  try {
    j = JSON.parse(r.stdout) as typeof j;
  } catch {
    throw new Error(`iperf3 to ${ip} printed no JSON (exit ${String(r.code ?? r.signal)}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const bps = j.end?.sum_received?.bits_per_second;
  if (j.error !== undefined || bps === undefined) throw new Error(`iperf3 to ${ip}: ${j.error ?? 'no end.sum_received in its report'}`);
  return { bitsPerSecond: bps, retransmits: j.end?.sum_sent?.retransmits ?? 0 };
}

/**
 * One 1-stream TCP test from `pair.a` to `pair.b`'s VPN address, with the CPU the tunnel
 * processes used; retried once (iperf3 sometimes resets its control connection at the end
 * of a test, esnet/iperf#499), the retry noted.
 */
async function tcpTest(pair: Pair, server: IperfServer, signaler: LabProcess | null, seconds: number, omit: number, notes: string[]): Promise<Tcp> {
  const procs = [signaler, pair.a.proc, pair.b.proc];
  const run = async (): Promise<Tcp> => {
    await server.idle();
    const before = await Promise.all(procs.map((p) => (p === null ? NaN : cpuSeconds(p.pid))));
    const t0 = performance.now();
    const r = await iperf(pair.a.host.ns, pair.dst, seconds, omit);
    const wall = (performance.now() - t0) / 1000;
    const after = await Promise.all(procs.map((p) => (p === null ? NaN : cpuSeconds(p.pid))));
    const core = (i: number): number => ((after[i] as number) - (before[i] as number)) / wall;
    return { ...r, cores: { signaler: signaler === null ? null : core(0), sender: core(1), receiver: core(2) } };
  };
  try {
    return await run();
  } catch (err) {
    notes.push(`The TCP test ${pair.a.host.name} -> ${pair.b.host.name} failed once (${firstLine(err)}); its figure comes from a second attempt.`);
    await sleep(RETRY_PAUSE_MS);
    return run();
  }
}

// ---- messages -----------------------------------------------------------------------

interface Messages {
  /** Per-message time from the `send` call to its result (the receiver's ACK, durably stored at both ends). */
  latency: Percentiles;
  totalMs: number;
  delivered: number;
  sent: number;
}

/** `count` messages a -> b, one after another, over one control connection (no `sentinel` process per message). */
async function sendMessages(pair: Pair, count: number): Promise<Messages> {
  const client = await connectControl(join(pair.a.dataDir, 'control.sock'));
  const lat: number[] = [];
  let delivered = 0;
  const began = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const r: SendResult = await client.call('send', { target: pair.b.id, text: `relay benchmark message ${i}` });
      lat.push(performance.now() - t0);
      if (r.status === 'delivered') delivered += 1;
      if (performance.now() - began > MESSAGE_TIMEOUT_MS) break;
    }
  } finally {
    client.close();
  }
  return { latency: percentiles(lat), totalMs: performance.now() - began, delivered, sent: lat.length };
}

// ---- the measurements ---------------------------------------------------------------

interface DialSample {
  ok: boolean;
  ms: number;
  wallMs: number;
  method: string;
  path: string;
  reason: string;
}

/** `count` dials to `target`, each from a fresh node (new identity, stranger) on `host`. */
async function dialSeries(sl: SentinelLab, signaler: LabSignaler, host: string, target: LabNode, count: number): Promise<{ samples: DialSample[]; startMs: number[] }> {
  const samples: DialSample[] = [];
  const startMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const dialer = await sl.startNode(host, { port: DIALER_BASE_PORT + i, signaler, logLevel: NODE_LOG_LEVEL });
    startMs.push(performance.now() - t0);
    try {
      const o = await dialer.dial(target.id);
      samples.push(
        o.ok
          ? { ok: true, ms: o.result.ms, wallMs: o.elapsedMs, method: o.result.method, path: o.result.path, reason: '' }
          : { ok: false, ms: NaN, wallMs: o.elapsedMs, method: '', path: '', reason: o.reason },
      );
    } finally {
      await dialer.stop();
    }
  }
  return { samples, startMs };
}

/** What one session (relayed or direct) measured. */
interface PathFigures {
  dial: DialResult;
  ping: PingResult;
  tcp: Tcp | null;
  messages: Messages | null;
  notes: string[];
}

type Outcome<T> = { ok: true; v: T } | { ok: false; reason: string };

async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, v: await fn() };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

/** Starts a --tun node on `aHost` and on `bHost`, connects a -> b, measures, stops both. */
async function measurePath(
  sl: SentinelLab,
  signaler: LabSignaler,
  hosts: { a: string; b: string; aPort: number; bPort: number },
  want: 'direct' | 'relay',
  what: { pings: number; seconds: number; omit: number; messages: number },
): Promise<PathFigures> {
  const [a, b] = await Promise.all([
    sl.startNode(hosts.a, { port: hosts.aPort, signaler, logLevel: NODE_LOG_LEVEL, extraArgs: tun }),
    sl.startNode(hosts.b, { port: hosts.bPort, signaler, logLevel: NODE_LOG_LEVEL, extraArgs: tun }),
  ]);
  let server: IperfServer | undefined;
  try {
    const pair = await connectPair(a, b, want);
    const ping = what.pings > 0 ? await pingRtt(a.host.ns, pair.dst, what.pings) : null;
    if (ping !== null && ping.received === 0) throw new Error(`no ping reply from ${pair.dst}`);
    const notes: string[] = [];
    server = await startIperfServer(b.host.ns);
    const tcp = await tcpTest(pair, server, want === 'relay' ? signaler.proc : null, what.seconds, what.omit, notes);
    const messages = what.messages > 0 ? await sendMessages(pair, what.messages) : null;
    const peer = (await a.peers()).find((p) => p.id === b.id);
    if (peer?.path !== want || !peer.connected) notes.push(`After the run ${a.host.name} lists ${b.host.name} with path ${String(peer?.path)}, connected ${String(peer?.connected)} (expected ${want}, connected).`);
    if (want === 'relay') notes.push(`Relayed pair ${a.host.name} -> ${b.host.name} (${signaler.port === FAST_SIG_PORT ? `relay rate ${FAST_RATE}` : 'default relay rate'}), upgrade counters on the dialer after the run: ${await upgradeCounters(a)}.`);
    return { dial: pair.dial, ping: ping ?? { sent: 0, received: 0, min: NaN, avg: NaN, max: NaN, mdev: NaN }, tcp, messages, notes };
  } catch (err) {
    const logs = [a, b].map((n) => `${n.host.name}: ${n.stderr().trim().split('\n').slice(-3).join(' / ')}`).join('; ');
    throw new Error(`${firstLine(err)} (node logs: ${logs})`);
  } finally {
    await server?.stop();
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}

// ---- relay -> direct upgrade --------------------------------------------------------

interface UpgradeSample {
  ok: boolean;
  /** Heal → the dialer lists the peer with path `direct` (ms). */
  ms: number;
  /** Heal → the target is asked to punch (its `wants to connect` log line), if seen (ms). */
  punchAskedMs: number | null;
  /** The dialer's `relay.upgrade_attempts` when the path was direct. */
  attempts: number;
  method: string;
  reason: string;
}

/**
 * One upgrade trial: fresh nodes behind the easy NATs E1 and E2 (new identities and ports),
 * the path between the two routers cut (an nft drop in both, before NAT: `cutLink`), a dial
 * by id that therefore ends relayed once the punch times out, then the cut healed at once
 * and the time until the dialer lists the peer as `direct` (its control socket polled every
 * UPGRADE_POLL_MS).
 */
async function upgradeTrial(sl: SentinelLab, lab: Lab, signaler: LabSignaler, i: number): Promise<UpgradeSample> {
  const cut = [
    { ns: lab.router('E1').ns, peer: lab.router('E2').wanIp },
    { ns: lab.router('E2').ns, peer: lab.router('E1').wanIp },
  ];
  const [a, b] = await Promise.all([
    sl.startNode('e1', { port: UPGRADE_BASE_PORTS.a + i, signaler, logLevel: 'info' }),
    sl.startNode('e2', { port: UPGRADE_BASE_PORTS.b + i, signaler, logLevel: 'info' }),
  ]);
  const client = await connectControl(join(a.dataDir, 'control.sock'));
  const fail = (reason: string): UpgradeSample => ({ ok: false, ms: NaN, punchAskedMs: null, attempts: 0, method: '', reason });
  try {
    for (const c of cut) await cutLink(c.ns, c.peer);
    const d = await a.dial(b.id);
    if (!d.ok) return fail(`dial: ${d.reason}`);
    if (d.result.path !== 'relay') return fail(`the dial with the path cut ended ${d.result.path} (${d.result.method})`);
    for (const c of cut) await healLink(c.ns, c.peer);
    const healedAt = Date.now();
    const t0 = performance.now();
    for (;;) {
      const peer = (await client.call('peers', {})).find((p) => p.id === b.id);
      if (peer?.path === 'direct') {
        const ms = performance.now() - t0;
        const asked = [...b.stderr().matchAll(new RegExp(`^(\\S+) INFO +signaler: ${a.id} wants to connect; punching`, 'gm'))].map((m) => Date.parse(m[1] as string)).find((t) => t >= healedAt);
        const attempts = (await a.status()).counters['relay.upgrade_attempts'] ?? 0;
        return { ok: true, ms, punchAskedMs: asked === undefined ? null : asked - healedAt, attempts, method: peer.method ?? '', reason: '' };
      }
      if (performance.now() - t0 > UPGRADE_WAIT_MS) return fail(`still ${String(peer?.path)} ${UPGRADE_WAIT_MS} ms after the heal (${await upgradeCounters(a)})`);
      await sleep(UPGRADE_POLL_MS);
    }
  } finally {
    client.close();
    for (const c of cut) await healLink(c.ns, c.peer).catch(() => undefined);
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}

async function upgradeSeries(sl: SentinelLab, lab: Lab, signaler: LabSignaler, trials: number): Promise<UpgradeSample[]> {
  const samples: UpgradeSample[] = [];
  for (let i = 0; i < trials; i++) samples.push(await upgradeTrial(sl, lab, signaler, i).catch((err: unknown) => ({ ok: false, ms: NaN, punchAskedMs: null, attempts: 0, method: '', reason: firstLine(err) })));
  return samples;
}

function upgradeRows(o: Outcome<UpgradeSample[]>): BenchRow[] {
  const metric = 'easy x easy, relayed while the direct path was cut: cut healed → peer listed `direct`';
  if (!o.ok) return [infoRow(`${metric}: failed`, o.reason)];
  const ok = o.v.filter((s) => s.ok);
  const fmt = (xs: number[]): string => {
    const sorted = [...xs].sort((x, y) => x - y);
    return sorted.length === 0 ? 'no sample' : `p50 ${percentile(sorted, 50).toFixed(0)} / p90 ${percentile(sorted, 90).toFixed(0)} / max ${(sorted[sorted.length - 1] as number).toFixed(0)} ms`;
  };
  const asked = ok.map((s) => s.punchAskedMs).filter((x): x is number => x !== null);
  const punched = ok.filter((s) => s.punchAskedMs !== null).map((s) => s.ms - (s.punchAskedMs as number));
  return [
    infoRow(`${metric} (${ok.length}/${o.v.length} upgraded)`, fmt(ok.map((s) => s.ms))),
    infoRow('… of which: heal → the upgrader\'s punch request reaches the peer (first-attempt delay, known addresses first)', fmt(asked)),
    infoRow('… of which: punch request → direct session listed', fmt(punched)),
  ];
}

function upgradeNotes(o: Outcome<UpgradeSample[]>): string[] {
  if (!o.ok) return [];
  const notes = [
    `Upgrade trials: ${o.v.length} fresh pairs; methods ${[...new Set(o.v.filter((s) => s.ok).map((s) => s.method))].join(', ') || 'none'}; upgrade attempts by the dialer until direct: ${o.v.filter((s) => s.ok).map((s) => s.attempts).join(', ') || 'none'}. ` +
      'The cut is healed right after the relayed dial returns, so the figure is the upgrader\'s first attempt (5 s after the relayed session came up, plus 0-20% jitter; src/relay/upgrade.ts) plus that attempt: ' +
      'known addresses first (the peer\'s public address is tried for up to 1.5 s and dropped by its NAT), then a coordinated punch. A path that opens later waits for the next attempt of the backoff (10 s, 20 s, ... up to 5 min after the previous one).',
  ];
  const bad = o.v.filter((s) => !s.ok);
  if (bad.length > 0) notes.push(`Upgrade trials: ${bad.length} did not reach a direct path, e.g.: ${bad[0]?.reason}`);
  return notes;
}

// ---- report -------------------------------------------------------------------------

function dialRows(samples: readonly DialSample[]): BenchRow[] {
  const ok = samples.filter((s) => s.ok && s.path === 'relay');
  const ms = percentiles(ok.map((s) => s.ms));
  const wall = percentiles(ok.map((s) => s.wallMs));
  const metric = `hard x hard: dial start → relayed session (node's own \`ms\`, ${ok.length}/${samples.length} relayed)`;
  return [
    ms.n > 0 ? goalRow(metric, `p50 ≤ ${GOAL_DIAL_P50_MS} ms`, fmtMs(ms), `${round(ms.p50 / GOAL_DIAL_P50_MS, 2)}x budget (p50)`, ms.p50 <= GOAL_DIAL_P50_MS) : goalRow(metric, `p50 ≤ ${GOAL_DIAL_P50_MS} ms`, 'no relayed dial', '', false),
    infoRow('hard x hard: wall clock of `sentinel dial <id> --json`', fmtMs(wall)),
  ];
}

function dialNotes(samples: readonly DialSample[], startMs: readonly number[]): string[] {
  const methods = [...new Set(samples.filter((s) => s.ok).map((s) => `${s.method}/${s.path}`))].join(', ') || 'none';
  const notes = [`Dial series: method/path ${methods}; fresh dialer start until registered with the signaler: ${fmtMs(percentiles([...startMs]))} (not part of the dial).`];
  const bad = samples.filter((s) => !s.ok || s.path !== 'relay');
  if (bad.length > 0) notes.push(`Dial series: ${bad.length} dial(s) failed or did not end relayed, e.g. after ${bad[0]?.wallMs} ms: ${bad[0]?.reason || `path ${bad[0]?.path}`}`);
  return notes;
}

function pathRows(relayed: Outcome<PathFigures>, direct: Outcome<PathFigures>, underlay: Outcome<PingResult>): BenchRow[] {
  const rows: BenchRow[] = [];
  const r = relayed.ok ? relayed.v : null;
  const d = direct.ok ? direct.v : null;
  if (!relayed.ok) rows.push(infoRow('relayed pair (hard x hard): failed', relayed.reason));
  if (!direct.ok) rows.push(infoRow('direct pair (easy x easy): failed', direct.reason));
  // Round trip.
  if (r) rows.push(infoRow('VPN ping RTT, relayed (hard x hard, through the signaler)', pingText(r.ping)));
  if (d) rows.push(infoRow(`VPN ping RTT, direct (easy x easy, ${d.dial.method})`, pingText(d.ping)));
  if (r && d) rows.push(infoRow('RTT added by the relay (relayed avg − direct avg)', `${(r.ping.avg - d.ping.avg).toFixed(3)} ms`, `${round(r.ping.avg / d.ping.avg, 2)}x direct`));
  if (underlay.ok) rows.push(infoRow('underlay ping RTT, relayed host → signaler host (no tunnel)', pingText(underlay.v)));
  // Throughput.
  if (r?.tcp) rows.push(infoRow(`VPN TCP, 1 stream, relayed (\`--relay-rate ${FAST_RATE}\`)`, `${mbit(r.tcp.bitsPerSecond)} (${r.tcp.retransmits} retransmits)`));
  if (d?.tcp) rows.push(infoRow('VPN TCP, 1 stream, direct', `${mbit(d.tcp.bitsPerSecond)} (${d.tcp.retransmits} retransmits)`));
  if (r?.tcp && d?.tcp) rows.push(infoRow('relayed / direct TCP throughput', `${mbit(r.tcp.bitsPerSecond)} vs ${mbit(d.tcp.bitsPerSecond)}`, `${round(r.tcp.bitsPerSecond / d.tcp.bitsPerSecond, 2)}x direct`));
  // Messages.
  const msgRow = (label: string, m: Messages): BenchRow =>
    infoRow(
      `${m.sent} messages one after another, ${label} (send → delivered)`,
      `p50 ${m.latency.p50.toFixed(1)} / p95 ${m.latency.p95.toFixed(1)} / max ${m.latency.max.toFixed(1)} ms; ${(m.sent / (m.totalMs / 1000)).toFixed(0)} msg/s; ${m.delivered}/${m.sent} delivered`,
    );
  if (r?.messages) rows.push(msgRow('relayed', r.messages));
  if (d?.messages) rows.push(msgRow('direct', d.messages));
  if (r?.messages && d?.messages) rows.push(infoRow('relayed / direct message latency (p50)', `${r.messages.latency.p50.toFixed(1)} vs ${d.messages.latency.p50.toFixed(1)} ms`, `${round(r.messages.latency.p50 / d.messages.latency.p50, 2)}x direct`));
  return rows;
}

function defaultRateRows(o: Outcome<PathFigures>): BenchRow[] {
  if (!o.ok) return [infoRow('VPN TCP, 1 stream, relayed at the default relay rate: failed', o.reason)];
  const t = o.v.tcp;
  if (!t) return [];
  const limit = DEFAULT_RATE_BPS * 8;
  return [infoRow(`VPN TCP, 1 stream, relayed at the default relay rate (1 MiB/s per node = ${mbit(limit)})`, `${mbit(t.bitsPerSecond)} (${t.retransmits} retransmits)`, `${round(t.bitsPerSecond / limit, 2)}x the rate`)];
}

function cpuNote(label: string, o: Outcome<PathFigures>): string[] {
  const c = o.ok ? o.v.tcp?.cores : undefined;
  if (!c) return [];
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  return [`${label}, during the TCP test: sender node ${pct(c.sender)}, receiver node ${pct(c.receiver)}${c.signaler !== null ? `, signaler (relaying) ${pct(c.signaler)}` : ''} of one core (user + system, from /proc).`];
}

function skipped(reason: string, began: number, fix: string): BenchResult {
  return {
    name: NAME,
    title: TITLE,
    method: 'Needs the NAT lab (Linux network namespaces and nftables, as root; see docs/NAT-LAB.md) and iperf3.',
    rows: [infoRow('skipped', reason)],
    notes: [`Nothing was measured. ${fix}`],
    durationMs: performance.now() - began,
  };
}

/** Runs the relay benchmark (or reports why it cannot) and returns its table. */
export async function runRelayBench(opts: RelayBenchOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return skipped(`NAT lab unavailable: ${check.reason}`, began, 'Run `node dist/bench/run.js relay` as root with `ip`, `nft` and `ping` installed.');
  if (findTool('iperf3') === null) return skipped('missing iperf3: run `apt-get install -y iperf3`', began, 'Install iperf3, then run `node dist/bench/run.js relay` as root.');
  const dials = opts.dials ?? 10;
  const seconds = opts.seconds ?? 5;
  const pings = opts.pings ?? 20;
  const messages = opts.messages ?? 200;
  const upgrades = opts.upgrades ?? 5;
  let lab: Lab | undefined;
  let sl: SentinelLab | undefined;
  const signalers: LabSignaler[] = [];
  try {
    const l = (lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'H1', nat: 'hard', hosts: ['h1'] },
        { name: 'H2', nat: 'hard', hosts: ['h2'] },
        { name: 'D', nat: 'hard', hosts: ['hd'] },
        { name: 'E1', nat: 'easy', hosts: ['e1'] },
        { name: 'E2', nat: 'easy', hosts: ['e2'] },
      ],
    }));
    const s = (sl = new SentinelLab(l));
    const fast = await startSignalerWith(s, 'sig', FAST_SIG_PORT, ['--relay-rate', FAST_RATE]);
    signalers.push(fast.sig);
    const slow = await startSignalerWith(s, 'sig', DEFAULT_SIG_PORT, []);
    signalers.push(slow.sig);

    // 1. Time to a relayed session, fresh dialers (strangers) behind one hard NAT to a target behind another.
    const series = await attempt(async () => {
      const target = await s.startNode('h2', { port: PORTS.target, signaler: fast.sig, logLevel: NODE_LOG_LEVEL });
      try {
        return await dialSeries(s, fast.sig, 'hd', target, dials);
      } finally {
        await target.stop();
      }
    });

    // 2-4. Relayed pair (hard x hard) and direct pair (easy x easy), same signaler; then a relayed pair at the default rate.
    const what = { pings, seconds, omit: 0, messages };
    const underlay = await attempt(() => pingRtt(l.host('h1').ns, l.host('sig').ip, pings));
    const relayed = await attempt(() => measurePath(s, fast.sig, { a: 'h1', b: 'h2', aPort: PORTS.h1, bPort: PORTS.h2 }, 'relay', what));
    const direct = await attempt(() => measurePath(s, fast.sig, { a: 'e1', b: 'e2', aPort: PORTS.e1, bPort: PORTS.e2 }, 'direct', what));
    const limited = await attempt(() =>
      measurePath(s, slow.sig, { a: 'h1', b: 'h2', aPort: PORTS.h1Default, bPort: PORTS.h2Default }, 'relay', { pings: 0, seconds, omit: DEFAULT_RATE_OMIT_S, messages: 0 }),
    );

    // 5. Relay to direct: a relayed easy x easy pair whose cut direct path is healed.
    const upgrade = await attempt(() => upgradeSeries(s, l, fast.sig, upgrades));

    const rows: BenchRow[] = [
      ...(series.ok ? dialRows(series.v.samples) : [goalRow('hard x hard: dial start → relayed session', `p50 ≤ ${GOAL_DIAL_P50_MS} ms`, `failed: ${series.reason}`, '', false)]),
      ...pathRows(relayed, direct, underlay),
      ...defaultRateRows(limited),
      ...upgradeRows(upgrade),
    ];
    return {
      name: NAME,
      title: TITLE,
      method:
        `The NAT lab (docs/NAT-LAB.md): two \`sentinel-signaler\`s on one public host, one started with \`--relay-rate ${FAST_RATE}\` (so the relay's byte rate is not the limit) and one with the default ` +
        `(1 MiB/s per node, burst 2 MiB); hosts behind three symmetric ("hard": a new public port per destination) NATs and two easy (endpoint-independent) NATs; every router drops unsolicited inbound packets. ` +
        `(1) ${dials} dials by id, each by a freshly started \`sentinel-node\` (new identity, a stranger to the target) behind one hard NAT to a target behind another: punching is impossible, so the dial ` +
        `goes straight to a circuit through the signaler's relay and a mutual TLS 1.3 session inside it; \`ms\` is the node's own dial-start → authenticated-session time, the wall clock adds the \`sentinel\` client process. ` +
        `(2-4) Two \`sentinel-node --tun --mtu ${MTU}\` behind the two hard NATs (relayed session, method \`relay\`; the relay-to-direct upgrade keeps trying and must fail between two hard NATs, see its counters) and, after them, two behind the easy NATs (direct session, hole-punched), ` +
        `each pair \`allow\`ed and \`accept\`ed on both sides, then \`sentinel dial\`: \`ping -c ${pings} -i 0.05\` between the VPN IPv4 addresses (after 2 unmeasured pings), ` +
        `\`iperf3 -t ${seconds}\` with 1 TCP stream to the receiver's VPN address (iperf3's received bits per second), and ${messages} messages sent one after another through the sender's control socket ` +
        `(a \`send\` call returns once the receiver's ACK is back: signed, stored durably at both ends). The underlay ping (relayed host → signaler host, no tunnel, NAT on the way) is for scale: a relayed packet crosses that path twice. ` +
        `Last, a relayed pair registered with the default-rate signaler runs the same TCP test with \`-O ${DEFAULT_RATE_OMIT_S}\` (the first ${DEFAULT_RATE_OMIT_S} s, where the 2 MiB burst is spent, are left out). ` +
        `(5) ${upgrades} relay-to-direct upgrades: each time two fresh \`sentinel-node\`s behind the two easy NATs, the path between the two routers cut (an nft drop in both, before NAT), \`sentinel dial\` by id (relayed once the punch times out), ` +
        `the cut healed at once, then the time until the dialer's \`peers\` (its control socket, polled every ${UPGRADE_POLL_MS} ms) lists the peer with path \`direct\`; split at the moment the peer logs the upgrader's punch request. Each pair is stopped before the next starts.`,
      rows,
      notes: [
        ...(series.ok ? dialNotes(series.v.samples, series.v.startMs) : []),
        ...(relayed.ok ? relayed.v.notes : []),
        ...(direct.ok ? direct.v.notes : []),
        ...(limited.ok ? limited.v.notes : []),
        ...cpuNote('Relayed (hard x hard)', relayed),
        ...cpuNote('Direct (easy x easy)', direct),
        ...cpuNote('Relayed at the default rate', limited),
        ...upgradeNotes(upgrade),
        `Signalers: "${fast.relaying}" and "${slow.relaying}". The relay counts RELAY_DATA bytes per sending node, so at the default rate the figure should sit just under ${mbit(DEFAULT_RATE_BPS * 8)} of ` +
          `payload less TLS, TCP/IP and framing overhead (the inner TCP's ACKs are charged to the receiver). Without \`-O\` the ${DEFAULT_BURST_BYTES / 2 ** 20} MiB burst would add about ${mbit((DEFAULT_BURST_BYTES * 8) / seconds)} to a ${seconds} s test.`,
        'What the relay adds: every inner packet goes sender node → signaler → receiver node over two TLS 1.3 sessions (node-signaler) with the end-to-end TLS session inside, so it is encrypted twice on ' +
          'each node and decrypted and re-encrypted by the signaler, which also runs the per-circuit credit flow control (256 KiB window per direction). With the rate out of the way the signaler\'s CPU ' +
          'and the extra hop are the cost; on 2 shared cores the signaler competes with both nodes and iperf3.',
        'The lab has no latency emulation (no netem): every link is a veth pair on this machine, so RTTs are the processes\' and kernel\'s cost, not internet distances; on a real network the relay adds ' +
          'the signaler\'s detour (sender → signaler → receiver) on top of that.',
        'All processes (signalers, nodes, iperf3, ping, clients) and the benchmark share this machine\'s 2 cores with whatever else runs; each figure is one sample, so they move from run to run.',
      ],
      durationMs: performance.now() - began,
    };
  } finally {
    await Promise.allSettled(signalers.map((x) => x.stop()));
    await sl?.cleanup();
    await lab?.destroy();
  }
}
