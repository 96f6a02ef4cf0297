/**
 * A link with delay and loss for the lab (root only), since this kernel has no `tc netem`:
 * two hosts joined through a router namespace, where
 * - {@link startDelayLine} sends every forwarded packet through a userspace delay line
 *   (delay-line-proc.ts: one TUN per direction, a byte-bounded FIFO each), by policy
 *   routing (`ip rule add iif <leg> table N`, `ip route add default dev <tun> table N`);
 *   what the process writes back comes in on the TUN and is routed by its destination;
 * - {@link setLoss} drops a random share of the forwarded packets with nftables
 *   (`numgen random mod 1000 < N drop`, on the way out of the router, both directions).
 *   Every veth has `gso_max_segs 1`, so a "packet" there is one wire packet: with the
 *   default offloads a TCP sender hands the veth 64 KB GSO bursts, the router forwards each
 *   burst as one skb, and 1% of skbs is far less than 1% of a TCP flow's packets (while a
 *   UDP tunnel's datagrams are dropped one by one).
 *
 * ```
 *  <p>h-tx 203.0.113.10 ── <p>t0 | <p>rt 203.0.113.1, 198.51.100.1 | <p>r0 ── <p>h-rx 198.51.100.10
 *                                 |   iif <p>t0 → TUN <p>dl0 (→ rx)  |
 *                                 |   iif <p>r0 → TUN <p>dl1 (→ tx)  |
 * ```
 *
 * The router is also host `sig` (a signaler can run there; traffic to the router itself is
 * delivered locally and never delayed or dropped). See docs/NAT-LAB.md, "Delay line".
 */
import { DEFAULT_LIMIT_BYTES, DELAY_LINE_PROC, type DelayLineStats } from './delay-line-proc.js';
import { exec, ifName, setSysctl, spawnIn, tryExec, uniquePrefix, withNamespaces, type LabProcess } from './netns.js';
import type { Lab, LabHost } from './topology.js';

/** The two-host lab of this file; `host('sig')` is the router. */
export interface DelayLab extends Lab {
  /** The router namespace and its legs towards each host. */
  readonly rt: { ns: string; txLeg: string; rxLeg: string };
}

const TX_NET = '203.0.113';
const RX_NET = '198.51.100';
const ROUTER = 1;
const HOST = 10;
const LINK_MTU = 1500;
/** Routing tables and rule priorities of the two directions (before `main` at 32766). */
const TABLES = [101, 102] as const;
const TUN_TXQUEUELEN = 1000;
const READY_MS = 10_000;
const LOSS_TABLE = 'lab_loss';

async function addNs(made: string[], ns: string): Promise<void> {
  await exec(null, 'ip', ['netns', 'add', ns]);
  made.push(ns);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** A host namespace on a /24 with the router at .1. */
async function addHost(made: string[], p: string, name: string, net: string, rt: string, leg: string): Promise<LabHost> {
  const ns = `${p}h-${name}`;
  await addNs(made, ns);
  const inside = ifName(`${p}${name.slice(0, 1)}h`);
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', leg, 'netns', rt]);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${net}.${HOST}/24`, 'dev', inside]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', inside, 'mtu', String(LINK_MTU), 'up']);
  await exec(null, 'ip', ['-n', ns, 'route', 'add', 'default', 'via', `${net}.${ROUTER}`]);
  await exec(null, 'ip', ['-n', rt, 'addr', 'add', `${net}.${ROUTER}/24`, 'dev', leg]);
  await exec(null, 'ip', ['-n', rt, 'link', 'set', leg, 'mtu', String(LINK_MTU), 'up']);
  // One wire packet per skb (no TSO/GSO bursts of up to 64 KB): the loss rule then draws once
  // per packet, as on a real link, for TCP and UDP alike.
  for (const [n, dev] of [[ns, inside], [rt, leg]] as const) await exec(null, 'ip', ['-n', n, 'link', 'set', dev, 'gso_max_segs', '1']);
  const ip = `${net}.${HOST}`;
  return { name, site: 'pub', nat: 'public', ns, ip, publicIp: ip };
}

/** Builds tx — router — rx (no delay, no loss until asked). Deleted, processes and all, by `destroy()`. */
export async function buildDelayLab(prefix = uniquePrefix()): Promise<DelayLab> {
  const made: string[] = [];
  const rtNs = `${prefix}rt`;
  const [txLeg, rxLeg] = [ifName(`${prefix}t0`), ifName(`${prefix}r0`)];
  const hosts: Record<string, LabHost> = {};
  const destroy = await withNamespaces(made, async () => {
    await addNs(made, rtNs);
    await setSysctl(rtNs, 'net.ipv4.ip_forward', 1);
    // The delay line's TUNs receive packets whose source routes via another interface.
    for (const c of ['all', 'default']) await setSysctl(rtNs, `net.ipv4.conf.${c}.rp_filter`, 0);
    await setSysctl(rtNs, 'net.ipv6.conf.default.disable_ipv6', 1);
    hosts['tx'] = await addHost(made, prefix, 'tx', TX_NET, rtNs, txLeg);
    hosts['rx'] = await addHost(made, prefix, 'rx', RX_NET, rtNs, rxLeg);
    hosts['sig'] = { name: 'sig', site: 'pub', nat: 'public', ns: rtNs, ip: `${RX_NET}.${ROUTER}`, publicIp: `${RX_NET}.${ROUTER}` };
  });
  return {
    prefix,
    inet: rtNs,
    hosts,
    routers: {},
    namespaces: made,
    rt: { ns: rtNs, txLeg, rxLeg },
    host(name) {
      const h = hosts[name];
      if (h === undefined) throw new Error(`delay lab: no host ${name}`);
      return h;
    },
    router(site) {
      throw new Error(`delay lab: site ${site} has no NAT router`);
    },
    destroy,
  };
}

/** The router's address as seen from host `name` (`tx` or `rx`): where a signaler on the router is reached. */
export function routerIpFor(name: 'tx' | 'rx'): string {
  return `${name === 'tx' ? TX_NET : RX_NET}.${ROUTER}`;
}

// ---- delay -----------------------------------------------------------------------

/** Options of {@link startDelayLine}. */
export interface DelayLineOptions {
  /** One-way delay per direction, ms (the round trip grows by twice this). */
  delayMs: number;
  /** Bound on the bytes held per direction (default 32 MiB); more is dropped and counted. */
  limitBytes?: number;
}

/** A running delay line. */
export interface DelayLine {
  /** `<p>dl0` carries tx → rx, `<p>dl1` rx → tx. */
  readonly tuns: readonly [string, string];
  readonly proc: LabProcess;
  /** The counters so far (SIGUSR1). */
  stats(): Promise<DelayLineStats>;
  /** Puts the router back to plain forwarding, stops the process and returns its final counters. */
  stop(): Promise<DelayLineStats>;
}

function lastStats(stdout: string): DelayLineStats | null {
  const line = stdout.split('\n').filter((l) => l.startsWith('stats ')).at(-1);
  return line === undefined ? null : (JSON.parse(line.slice('stats '.length)) as DelayLineStats);
}

const statsLines = (p: LabProcess): number => p.output().stdout.split('\n').filter((l) => l.startsWith('stats ')).length;

async function unroute(ns: string): Promise<void> {
  for (const t of TABLES) {
    while ((await tryExec(ns, 'ip', ['rule', 'del', 'pref', String(t)])).code === 0);
  }
}

/** Starts the delay line in the router of `lab` and routes every forwarded packet through it. */
export async function startDelayLine(lab: DelayLab, opts: DelayLineOptions): Promise<DelayLine> {
  const { ns, txLeg, rxLeg } = lab.rt;
  const tuns = [ifName(`${lab.prefix}dl0`), ifName(`${lab.prefix}dl1`)] as const;
  const limit = opts.limitBytes ?? DEFAULT_LIMIT_BYTES;
  const args = [DELAY_LINE_PROC, '--tun', tuns[0], '--tun', tuns[1], '--delay-ms', String(opts.delayMs), '--limit-bytes', String(limit)];
  const proc = spawnIn(ns, process.execPath, args);
  const stop = async (): Promise<DelayLineStats> => {
    await unroute(ns);
    const r = await proc.stop();
    const s = lastStats(r.stdout);
    if (s === null) throw new Error(`delay line left no counters (exit ${String(r.code ?? r.signal)}): ${r.stderr.trim()}`);
    return s;
  };
  try {
    await proc.waitFor(/^ready /m, READY_MS);
    const legs: ReadonlyArray<readonly [string, string, number]> = [[txLeg, tuns[0], TABLES[0]], [rxLeg, tuns[1], TABLES[1]]];
    for (const [leg, tun, t] of legs) {
      const table = String(t);
      await exec(ns, 'ip', ['link', 'set', 'dev', tun, 'mtu', String(LINK_MTU), 'txqueuelen', String(TUN_TXQUEUELEN), 'up']);
      await setSysctl(ns, `net.ipv4.conf.${tun}.rp_filter`, 0);
      await exec(ns, 'ip', ['route', 'replace', 'default', 'dev', tun, 'table', table]);
      await exec(ns, 'ip', ['rule', 'add', 'pref', table, 'iif', leg, 'table', table]);
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return {
    tuns,
    proc,
    stop,
    async stats() {
      const before = statsLines(proc);
      proc.child.kill('SIGUSR1');
      const deadline = Date.now() + READY_MS;
      while (statsLines(proc) === before) {
        if (Date.now() > deadline) throw new Error('delay line did not answer SIGUSR1');
        await new Promise((r) => setTimeout(r, 20));
      }
      return lastStats(proc.output().stdout) as DelayLineStats;
    },
  };
}

// ---- loss ------------------------------------------------------------------------

/**
 * Drops `permille`/1000 of the packets the router forwards, at random, in both directions
 * (an nftables rule on the way out through either leg, so a packet that also passes the
 * delay line is counted once). 0 removes the rule. Replaces any earlier setting.
 */
export async function setLoss(lab: DelayLab, permille: number): Promise<void> {
  if (!Number.isInteger(permille) || permille < 0 || permille > 1000) throw new RangeError(`loss must be 0..1000 per mille, got ${permille}`);
  const { ns, txLeg, rxLeg } = lab.rt;
  await tryExec(ns, 'nft', ['delete', 'table', 'inet', LOSS_TABLE]);
  if (permille === 0) return;
  // Multi-line: nft 1.0.6 does not parse the one-line form of a table with a rule after the policy.
  const ruleset = [
    `table inet ${LOSS_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority -5; policy accept;',
    `    oifname { "${txLeg}", "${rxLeg}" } numgen random mod 1000 < ${permille} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
  await exec(ns, 'nft', ['-f', '-'], { input: ruleset });
}

/** Packets the loss rule has dropped since the last {@link setLoss}; 0 without a rule. */
export async function lossDrops(lab: DelayLab): Promise<number> {
  const r = await tryExec(lab.rt.ns, 'nft', ['list', 'table', 'inet', LOSS_TABLE]);
  const m = /counter packets (\d+)/.exec(r.stdout);
  return m === null ? 0 : Number(m[1]);
}
