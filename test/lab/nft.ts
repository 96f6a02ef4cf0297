/**
 * The nftables side of the lab: the NAT router rulesets, cutting and healing the path
 * between a namespace and a peer, and the conntrack timeout that bounds a NAT mapping.
 */

import { exec, getSysctl, setSysctl, tryExec, type Ns } from './netns.js';

/**
 * How a router maps LAN hosts to its WAN address.
 * - `easy`: `masquerade`. Linux keeps the LAN port when it is free, and one LAN
 *   ip:port keeps one public port for every destination (endpoint-independent mapping).
 * - `hard`: `masquerade random`. Every new connection gets a randomised public port, so
 *   each destination sees a different port (endpoint-dependent mapping, a "symmetric"
 *   NAT).
 */
export type RouterNat = 'easy' | 'hard';

/** Interfaces a router ruleset refers to. */
export interface RouterRules {
  nat: RouterNat;
  wanIf: string;
}

/**
 * The whole ruleset of a NAT router namespace: source NAT out of the WAN interface, and a
 * home-router firewall that accepts only replies on the WAN side. Unsolicited packets are
 * dropped silently (not answered with a RST), in the input hook (to the router itself)
 * and in the forward hook (towards the LAN).
 */
export function routerRuleset(r: RouterRules): string {
  const masquerade = r.nat === 'hard' ? 'masquerade random' : 'masquerade';
  const wanGuard = [`iifname "${r.wanIf}" ct state established,related accept`, `iifname "${r.wanIf}" ct state new drop`];
  return [
    'table ip lab_nat {',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "${r.wanIf}" ${masquerade}`,
    '  }',
    '}',
    'table inet lab_fw {',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    ...wanGuard.map((l) => `    ${l}`),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...wanGuard.map((l) => `    ${l}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Loads an nft ruleset (the text of an `nft -f` file) into `ns`. */
export async function loadRuleset(ns: Ns, ruleset: string): Promise<void> {
  await exec(ns, 'nft', ['-f', '-'], { input: ruleset });
}

// ---- cut / heal ------------------------------------------------------------------

const CUT_TABLE = 'lab_cut';
// Before the router's own filter chains, so a cut also hides established traffic.
const CUT_PRIORITY = -10;

const CUT_RULESET = [
  `table inet ${CUT_TABLE} {`,
  '  set peers { type ipv4_addr; }',
  `  chain input { type filter hook input priority ${CUT_PRIORITY}; policy accept; ip saddr @peers drop; }`,
  `  chain output { type filter hook output priority ${CUT_PRIORITY}; policy accept; ip daddr @peers drop; }`,
  `  chain forward { type filter hook forward priority ${CUT_PRIORITY}; policy accept; ip saddr @peers drop; ip daddr @peers drop; }`,
  '}',
  '',
].join('\n');

// Calls on one namespace run one after another, so two cuts cannot both create the table.
const queues = new Map<string, Promise<unknown>>();

function serial<T>(ns: string, task: () => Promise<T>): Promise<T> {
  const next = (queues.get(ns) ?? Promise.resolve()).then(task, task);
  queues.set(ns, next.catch(() => undefined));
  return next;
}

async function ensureCutTable(ns: string): Promise<void> {
  const exists = await tryExec(ns, 'nft', ['list', 'table', 'inet', CUT_TABLE]);
  if (exists.code !== 0) await loadRuleset(ns, CUT_RULESET);
}

/**
 * Silently drops every packet between namespace `ns` and `peerIp`, both ways, including
 * those of established connections (a pulled cable, not a refusal). In a router namespace
 * it also drops forwarded traffic to and from that address. Cutting twice is harmless.
 */
export function cutLink(ns: string, peerIp: string): Promise<void> {
  return serial(ns, async () => {
    await ensureCutTable(ns);
    await exec(ns, 'nft', ['add', 'element', 'inet', CUT_TABLE, 'peers', `{ ${peerIp} }`]);
  });
}

/** Undoes {@link cutLink}. Healing a link that is not cut is harmless. */
export function healLink(ns: string, peerIp: string): Promise<void> {
  return serial(ns, async () => {
    const exists = await tryExec(ns, 'nft', ['list', 'table', 'inet', CUT_TABLE]);
    if (exists.code !== 0) return;
    const r = await tryExec(ns, 'nft', ['delete', 'element', 'inet', CUT_TABLE, 'peers', `{ ${peerIp} }`]);
    if (r.code !== 0 && !/no such file|does not exist/i.test(r.stderr)) {
      throw new Error(`cannot heal the link from ${ns} to ${peerIp}: ${r.stderr.trim()}`);
    }
  });
}

// ---- conntrack -------------------------------------------------------------------

const ESTABLISHED_TIMEOUT_SYSCTL = 'net.netfilter.nf_conntrack_tcp_timeout_established';

/** Something that runs in a namespace: a router or host of a lab, or a namespace name. */
export type NsLike = string | { ns: string };

function nsOf(x: NsLike): string {
  return typeof x === 'string' ? x : x.ns;
}

/**
 * Sets how long conntrack (and so the NAT mapping) keeps an idle established TCP
 * connection in this namespace only (the kernel default is 5 days). After that, the
 * mapping is gone: the next packet from outside is unsolicited and dropped.
 */
export async function setConntrackEstablishedTimeout(router: NsLike, seconds: number): Promise<void> {
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`conntrack timeout must be a positive integer number of seconds, got ${seconds}`);
  await setSysctl(nsOf(router), ESTABLISHED_TIMEOUT_SYSCTL, seconds);
}

/** Reads the value {@link setConntrackEstablishedTimeout} sets (`null` ns: this namespace). */
export async function getConntrackEstablishedTimeout(router: NsLike | null): Promise<number> {
  return Number(await getSysctl(router === null ? null : nsOf(router), ESTABLISHED_TIMEOUT_SYSCTL));
}
