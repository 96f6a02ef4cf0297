/**
 * The outside tools the VPN benchmark drives inside lab namespaces: iperf3 (throughput),
 * ping (round trip), per-process CPU time from /proc, and a userspace WireGuard tunnel
 * (Debian's `wireguard-go` configured with `wg`) as the baseline to compare against.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec, findTool, spawnIn, tryExec, type LabProcess } from '../test/lab/index.js';

/** Tools the benchmark runs, with the command that installs each on Debian/Ubuntu. */
export const VPN_BENCH_TOOLS: Readonly<Record<string, string>> = {
  iperf3: 'apt-get install -y iperf3',
  'wireguard-go': 'apt-get install -y wireguard-go',
  wg: 'apt-get install -y wireguard-tools',
};

/** Names of the {@link VPN_BENCH_TOOLS} not found on this machine. */
export function missingTools(): string[] {
  return Object.keys(VPN_BENCH_TOOLS).filter((t) => findTool(t) === null);
}

/** First line of `<tool> --version` for each benchmark tool, e.g. `wireguard-go v0.0.20220316`. */
export async function toolVersions(): Promise<string[]> {
  const one = async (tool: string): Promise<string> => {
    const r = await tryExec(null, tool, ['--version']).catch(() => null);
    return (r?.stdout ?? '').split('\n').find((l) => l.trim() !== '')?.trim() ?? `${tool} (version unknown)`;
  };
  return Promise.all(['wireguard-go', 'wg', 'iperf3'].map(one));
}

const IPERF_PORT = 5201;
/** Bound on iperf3 or wireguard-go coming up. */
const READY_MS = 10_000;
/** Slack on top of a test's own duration before iperf3 is killed. */
const IPERF_SLACK_MS = 20_000;
const POLL_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- iperf3 ----------------------------------------------------------------------

/** An `iperf3 -s` running in a namespace; it serves one test after another. */
export interface IperfServer {
  readonly proc: LabProcess;
  /**
   * Resolves once the server is listening again after its last test. A client that comes
   * while the server still finishes the previous test is refused with a reset.
   */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether the server's last word was "Server listening" (not a test in progress). */
function listening(stdout: string): boolean {
  return stdout.lastIndexOf('Server listening') > stdout.lastIndexOf('Accepted connection');
}

/** Starts `iperf3 -s` in `ns` and waits until it listens. */
export async function startIperfServer(ns: string): Promise<IperfServer> {
  const proc = spawnIn(ns, 'iperf3', ['-s', '-p', String(IPERF_PORT), '--forceflush']);
  try {
    await proc.waitFor(/Server listening/, READY_MS);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const idle = async (): Promise<void> => {
    const deadline = Date.now() + READY_MS;
    while (!listening(proc.output().stdout)) {
      if (Date.now() > deadline) throw new Error(`iperf3 server still busy with the previous test after ${READY_MS} ms`);
      await sleep(POLL_MS);
    }
  };
  return { proc, idle, stop: async () => void (await proc.stop()) };
}

/** One iperf3 TCP test as the receiver saw it. */
export interface IperfResult {
  bitsPerSecond: number;
  /** TCP retransmissions counted by the sender. */
  retransmits: number;
}

interface IperfJson {
  error?: string;
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
}

/** `iperf3 -c <ip> -t <seconds> -P <streams> -J` from `ns`; rejects with iperf3's own error. */
export async function iperfClient(ns: string, ip: string, seconds: number, streams: number): Promise<IperfResult> {
  const args = ['-c', ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-P', String(streams), '-J', '--connect-timeout', '5000'];
  const r = await tryExec(ns, 'iperf3', args, { timeoutMs: seconds * 1000 + IPERF_SLACK_MS });
  let j: IperfJson;
  try {
    j = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 to ${ip} printed no JSON (exit ${String(r.code ?? r.signal)}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const bps = j.end?.sum_received?.bits_per_second;
  if (j.error !== undefined || bps === undefined) throw new Error(`iperf3 to ${ip}: ${j.error ?? 'no end.sum_received in its report'}`);
  return { bitsPerSecond: bps, retransmits: j.end?.sum_sent?.retransmits ?? 0 };
}

// ---- ping ------------------------------------------------------------------------

/** Round trips of one `ping` run, in ms. */
export interface PingResult {
  sent: number;
  received: number;
  min: number;
  avg: number;
  max: number;
  mdev: number;
}

/** `ping -c <count> -i 0.05 <ip>` from `ns` (an interval under 0.2 s needs root, which the lab has). */
export async function pingRtt(ns: string, ip: string, count: number): Promise<PingResult> {
  const r = await tryExec(ns, 'ping', ['-n', '-q', '-c', String(count), '-i', '0.05', '-W', '2', ip], { timeoutMs: count * 2000 + 5000 });
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(r.stdout);
  if (counts === null || rtt === null) throw new Error(`ping ${ip} from ${ns}: ${r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`}`);
  const [sent, received] = [Number(counts[1]), Number(counts[2])];
  const [min, avg, max, mdev] = rtt.slice(1, 5).map(Number) as [number, number, number, number];
  return { sent, received, min, avg, max, mdev };
}

// ---- CPU time of a process -------------------------------------------------------

let clockTicks: Promise<number> | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every common Linux). */
function ticksPerSecond(): Promise<number> {
  clockTicks ??= exec(null, 'getconf', ['CLK_TCK']).then(
    (s) => Number(s.trim()) || 100,
    () => 100,
  );
  return clockTicks;
}

/** User + system CPU seconds a process (all its threads) has used so far; NaN if it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based 11, 12).
    return (Number(fields[11]) + Number(fields[12])) / (await ticksPerSecond());
  } catch {
    return NaN;
  }
}

// ---- interface counters ----------------------------------------------------------

/** Packets the kernel dropped on an interface, from `ip -s -j link`. */
export interface LinkDrops {
  /** Queued for the device but dropped: for a TUN, the reader (the tunnel process) fell behind. */
  tx: number;
  rx: number;
}

/** Drop counters of interface `dev` in `ns`; null if they cannot be read. */
export async function linkDrops(ns: string, dev: string): Promise<LinkDrops | null> {
  try {
    const [link] = JSON.parse(await exec(ns, 'ip', ['-s', '-j', 'link', 'show', 'dev', dev])) as Array<{ stats64?: { rx?: { dropped?: number }; tx?: { dropped?: number } } }>;
    const st = link?.stats64;
    return st === undefined ? null : { tx: st.tx?.dropped ?? 0, rx: st.rx?.dropped ?? 0 };
  } catch {
    return null;
  }
}

/** `Udp: RcvbufErrors` in `ns` (datagrams dropped because a socket's receive buffer was full); null if unreadable. */
export async function udpRcvbufErrors(ns: string): Promise<number | null> {
  try {
    const [names, values] = (await exec(ns, 'cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp:')).map((l) => l.split(/\s+/));
    const i = names?.indexOf('RcvbufErrors') ?? -1;
    return i < 0 || values?.[i] === undefined ? null : Number(values[i]);
  } catch {
    return null;
  }
}

/** Bytes queued on the TCP sockets of `ns` that use local or remote port `port`, from `ss -tn`. */
export interface SocketQueues {
  /** Received by the kernel, not yet read by the process (Recv-Q), summed. */
  recvQ: number;
  /** Written by the process, not yet acknowledged by the peer (Send-Q), summed. */
  sendQ: number;
}

/** Recv-Q and Send-Q of the established TCP sockets on `port` in `ns`; null if unreadable. */
export async function socketQueues(ns: string, port: number): Promise<SocketQueues | null> {
  try {
    const out = await exec(ns, 'ss', ['-Htn', 'state', 'established']);
    let recvQ = 0;
    let sendQ = 0;
    for (const line of out.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || !(f[2]!.endsWith(`:${port}`) || f[3]!.endsWith(`:${port}`))) continue;
      recvQ += Number(f[0]);
      sendQ += Number(f[1]);
    }
    return { recvQ, sendQ };
  } catch {
    return null;
  }
}

// ---- wireguard-go ----------------------------------------------------------------

/** One end of a WireGuard tunnel: a lab namespace and the address others reach it at. */
export interface WgEnd {
  ns: string;
  /** Underlay address (on the lab's veth links). */
  ip: string;
  /** Interface name; unique on the machine, since wireguard-go's control socket is a file. */
  ifname: string;
  /** Tunnel address, e.g. `10.99.0.1`. */
  tunnelIp: string;
}

/** A running wireguard-go pair. */
export interface WgPair {
  /** The two wireguard-go processes (for CPU figures), in the order of the ends. */
  readonly procs: readonly LabProcess[];
  /** SIGTERMs both (wireguard-go then removes its interface and control socket). */
  stop(): Promise<void>;
}

const WG_PORT = 51820;
const WG_SOCKET_DIR = '/var/run/wireguard';

/** Polls until `wg show <ifname>` answers (wireguard-go's control socket is up). */
async function waitForWg(end: WgEnd, proc: LabProcess): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`wireguard-go ${end.ifname} exited: ${proc.output().stderr.trim()}`);
    if ((await tryExec(end.ns, 'wg', ['show', end.ifname])).code === 0) return;
    if (Date.now() > deadline) throw new Error(`wireguard-go ${end.ifname} not up within ${READY_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** A fresh key pair from `wg genkey` / `wg pubkey`; the private key goes to a 0600 file. */
async function keyPair(file: string): Promise<string> {
  const priv = (await exec(null, 'wg', ['genkey'])).trim();
  await writeFile(file, `${priv}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return (await exec(null, 'wg', ['pubkey'], { input: `${priv}\n` })).trim();
}

/** Configures `self` to reach `peer` (whose public key is `peerKey`) and brings the interface up. */
async function configure(self: WgEnd, keyFile: string, peer: WgEnd, peerKey: string, mtu: number): Promise<void> {
  await exec(self.ns, 'wg', [
    'set', self.ifname, 'private-key', keyFile, 'listen-port', String(WG_PORT),
    'peer', peerKey, 'endpoint', `${peer.ip}:${WG_PORT}`, 'allowed-ips', `${peer.tunnelIp}/32`,
  ]);
  await exec(self.ns, 'ip', ['addr', 'add', `${self.tunnelIp}/24`, 'dev', self.ifname]);
  await exec(self.ns, 'ip', ['link', 'set', self.ifname, 'mtu', String(mtu), 'up']);
}

/**
 * Starts userspace WireGuard (`wireguard-go`, kept in the foreground so it is a child
 * we can stop) at both ends and points them at each other. `keyDir` holds the private
 * keys. On failure everything started is stopped before the error is rethrown.
 */
export async function startWireGuardPair(a: WgEnd, b: WgEnd, keyDir: string, mtu: number): Promise<WgPair> {
  const env = { ...process.env, WG_PROCESS_FOREGROUND: '1' };
  const procs = [a, b].map((e) => spawnIn(e.ns, 'wireguard-go', [e.ifname], { env }));
  const stop = async (): Promise<void> => {
    await Promise.allSettled(procs.map((p) => p.stop()));
    // Only left behind if wireguard-go was SIGKILLed.
    await Promise.allSettled([a, b].map((e) => rm(join(WG_SOCKET_DIR, `${e.ifname}.sock`), { force: true })));
  };
  try {
    await Promise.all([waitForWg(a, procs[0] as LabProcess), waitForWg(b, procs[1] as LabProcess)]);
    const [keyA, keyB] = [join(keyDir, 'wg-a.key'), join(keyDir, 'wg-b.key')];
    const [pubA, pubB] = [await keyPair(keyA), await keyPair(keyB)];
    await configure(a, keyA, b, pubB, mtu);
    await configure(b, keyB, a, pubA, mtu);
  } catch (err) {
    await stop();
    throw err;
  }
  return { procs, stop };
}
