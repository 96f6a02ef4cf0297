/**
 * The nftables side of the lab: the NAT router rulesets, cutting and healing the path
 * between a namespace and a peer, and the conntrack timeout that bounds a NAT mapping.
 */

import { exec, getSysctl, setSysctl, tryExec, type Ns } from './netns.js';

/**
 * How a router maps LAN hosts to its WAN address, and what it does with unsolicited
 * packets arriving on the WAN side (anything that is not a reply to a connection from the
 * LAN: conntrack state `new`, and for the kinds that answer, `invalid` too).
 * - `easy`: `masquerade`. Linux keeps the LAN port when it is free, and one LAN
 *   ip:port keeps one public port for every destination (endpoint-independent mapping).
 *   Unsolicited packets are dropped.
 * - `hard`: `masquerade random`. Every new connection gets a randomised public port, so
 *   each destination sees a different port (endpoint-dependent mapping, a "symmetric"
 *   NAT). Unsolicited packets are dropped.
 * - `rst`: mapping as `easy`; an unsolicited TCP segment is answered with a TCP reset
 *   (`reject with tcp reset`), anything else unsolicited is dropped.
 * - `icmp`: mapping as `easy`; anything unsolicited is answered with ICMP destination
 *   unreachable, "administratively prohibited" (`reject with icmpx type admin-prohibited`,
 *   what firewalld's reject does).
 * - `tcp443`: a network that lets out only TCP to port 443: mapping as `easy`; a
 *   connection from the LAN to any other port (or any non-TCP packet) is refused on the
 *   spot, with a TCP reset for TCP; unsolicited packets from outside are answered as `rst`.
 */
export type RouterNat = 'easy' | 'hard' | 'rst' | 'icmp' | 'tcp443';

/** Every router kind, for tests that go through all of them. */
export const ROUTER_NATS: readonly RouterNat[] = ['easy', 'hard', 'rst', 'icmp', 'tcp443'];

/** Interfaces a router ruleset refers to. */
export interface RouterRules {
  nat: RouterNat;
  wanIf: string;
}

/** The rules for packets from the WAN side that are not replies. */
function unsolicited(nat: RouterNat, wan: string): string[] {
  const replies = `iifname "${wan}" ct state established,related accept`;
  switch (nat) {
    case 'easy':
    case 'hard':
      return [replies, `iifname "${wan}" ct state new drop`];
    case 'rst':
    case 'tcp443':
      return [replies, `iifname "${wan}" meta l4proto tcp reject with tcp reset`, `iifname "${wan}" drop`];
    case 'icmp':
      return [replies, `iifname "${wan}" reject with icmpx type admin-prohibited`];
  }
}

/** Forward-chain rules for packets from the LAN side going out (only `tcp443` restricts them). */
function egress(nat: RouterNat, wan: string): string[] {
  if (nat !== 'tcp443') return [];
  return [`oifname "${wan}" tcp dport 443 accept`, `oifname "${wan}" meta l4proto tcp reject with tcp reset`, `oifname "${wan}" reject with icmpx type admin-prohibited`];
}

/**
 * The whole ruleset of a NAT router namespace: source NAT out of the WAN interface, and a
 * firewall that accepts only replies on the WAN side and treats everything else as its
 * kind says ({@link RouterNat}), in the input hook (to the router itself) and in the
 * forward hook (towards the LAN).
 */
export function routerRuleset(r: RouterRules): string {
  const masquerade = r.nat === 'hard' ? 'masquerade random' : 'masquerade';
  const wanGuard = unsolicited(r.nat, r.wanIf);
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
    ...[...wanGuard, ...egress(r.nat, r.wanIf)].map((l) => `    ${l}`),
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
