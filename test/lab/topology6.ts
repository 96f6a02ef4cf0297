/**
 * A dual-stack lab: the IPv4 internet of topology.ts plus an IPv6 one, for the IPv6 cell
 * (docs/NAT-LAB.md "IPv6 cell"). Sites sit behind a router namespace that NATs IPv4 (easy
 * or hard, as in nft.ts) and *routes* IPv6 without any NAT: every host has its own global
 * IPv6 address, and the router's stateful firewall drops unsolicited inbound traffic of
 * both families, like a home router with IPv6. Public hosts (the signaler's) have one
 * address of each family straight on the internet.
 *
 * Addresses come from documentation ranges only:
 * - internet: 203.0.113.0/24 and 2001:db8:ff::/64, both handed out from .10 / ::10;
 * - LAN of the n-th routed site: 192.168.<n>.0/24 and 2001:db8:<n>::/64, router .1 / ::1,
 *   hosts from .10 / ::10.
 * The kernel gives 2001:db8::/32 global scope and Sentinel treats it as global IPv6 (see
 * src/core/ip-scope.ts), so these addresses are announced like real ones. Duplicate
 * address detection is off in every namespace so addresses are usable at once.
 *
 * The result satisfies topology.ts's {@link Lab}, so SentinelLab runs nodes in it; the IPv6
 * side is in `host6()` / `router6()`.
 */
import { exec, ifName, setSysctl, uniquePrefix, withNamespaces } from './netns.js';
import { loadRuleset, type RouterNat } from './nft.js';
import type { Lab, LabHost, LabRouter } from './topology.js';

/** A site: `public` hosts sit on the internet; otherwise a router with that IPv4 NAT, and IPv6 routed. */
export interface Site6Spec {
  name: string;
  v4: 'public' | RouterNat;
  hosts: readonly string[];
  /** Give the site's hosts IPv6 (default true). False: an IPv4-only site. */
  ipv6?: boolean;
}

export interface Lab6Spec {
  sites: readonly Site6Spec[];
  prefix?: string;
}

/** The IPv6 side of a host: its global address, or null for an IPv4-only host. */
export interface LabHost6 extends LabHost {
  ip6: string | null;
}

/** The IPv6 side of a router (plugged straight into the internet: no ISP hop, no CGN). */
export interface LabRouter6 extends LabRouter {
  wanIp6: string;
  /** The router's own LAN address (the hosts' IPv6 gateway), or null for an IPv4-only site. */
  lanIp6: string | null;
  /** `2001:db8:<n>::/64`, or null. */
  lanCidr6: string | null;
}

export interface Lab6 extends Lab {
  host6(name: string): LabHost6;
  router6(site: string): LabRouter6;
}

const INET4 = '203.0.113';
const INET6 = '2001:db8:ff::';
const FIRST_HOST = 10;
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,23}$/i;

/**
 * The router's ruleset: IPv4 source NAT out of the WAN (`masquerade`, or `masquerade
 * random` for hard), no IPv6 NAT, and a firewall for both families that accepts only
 * replies (and IPv6 neighbour discovery, without which nothing on the WAN link resolves)
 * and silently drops new inbound connections, to the router and towards the LAN.
 */
export function dualStackRouterRuleset(r: { nat: RouterNat; wanIf: string }): string {
  const masquerade = r.nat === 'hard' ? 'masquerade random' : 'masquerade';
  const guard = (nd: boolean): string[] => [
    `iifname "${r.wanIf}" ct state established,related accept`,
    ...(nd ? [`iifname "${r.wanIf}" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept`] : []),
    `iifname "${r.wanIf}" ct state new drop`,
  ];
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
    ...guard(true).map((l) => `    ${l}`),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...guard(false).map((l) => `    ${l}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

interface Build {
  prefix: string;
  inet: string;
  bridge: string;
  made: string[];
  next4: number;
  next6: number;
  link: number;
  lanNext: number;
  hosts: Record<string, LabHost6>;
  routers: Record<string, LabRouter6>;
}

function checkSpec(spec: Lab6Spec): void {
  const names = new Set<string>();
  for (const site of spec.sites) {
    if (!NAME_PATTERN.test(site.name)) throw new Error(`lab6: bad site name ${JSON.stringify(site.name)}`);
    if (site.hosts.length === 0) throw new Error(`lab6: site ${site.name} has no hosts`);
    for (const h of site.hosts) {
      if (!NAME_PATTERN.test(h) || names.has(h)) throw new Error(`lab6: bad or repeated host name ${JSON.stringify(h)}`);
      names.add(h);
    }
  }
  if (new Set(spec.sites.map((s) => s.name)).size !== spec.sites.length) throw new Error('lab6: site names must be unique');
  if (spec.prefix !== undefined && spec.prefix.length > 7) throw new Error('lab6: prefix must be 7 characters or fewer');
}

async function addNamespace(b: Build, suffix: string): Promise<string> {
  const ns = `${b.prefix}${suffix}`;
  await exec(null, 'ip', ['netns', 'add', ns]);
  b.made.push(ns);
  // Before any interface exists, so every one inherits it: addresses usable at once.
  await setSysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
  await setSysctl(ns, 'net.ipv6.conf.all.accept_dad', 0);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

function public4(b: Build): string {
  if (b.next4 > 254) throw new Error('lab6: out of public addresses');
  return `${INET4}.${b.next4++}`;
}

function public6(b: Build): string {
  return `${INET6}${(b.next6++).toString(16)}`;
}

async function addAddress(ns: string, dev: string, cidr: string): Promise<void> {
  const v6 = cidr.includes(':');
  await exec(null, 'ip', ['-n', ns, ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
}

/** A veth pair from `ns` into the internet bridge with one address of each family. */
async function plugIntoInternet(b: Build, ns: string, ip: string, ip6: string): Promise<string> {
  const i = b.link++;
  const inside = ifName(`${b.prefix}e${i}`);
  const port = ifName(`${b.prefix}u${i}`);
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', port, 'netns', b.inet]);
  await exec(null, 'ip', ['-n', b.inet, 'link', 'set', port, 'master', b.bridge, 'up']);
  await addAddress(ns, inside, `${ip}/24`);
  await addAddress(ns, inside, `${ip6}/64`);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', inside, 'up']);
  return inside;
}

async function addPublicHost(b: Build, site: Site6Spec, name: string): Promise<void> {
  const ns = await addNamespace(b, `h-${name}`);
  const [ip, ip6] = [public4(b), public6(b)];
  await plugIntoInternet(b, ns, ip, ip6);
  b.hosts[name] = { name, site: site.name, nat: 'public', ns, ip, publicIp: ip, ip6 };
}

async function addRouter(b: Build, site: Site6Spec, nat: RouterNat): Promise<LabRouter6> {
  const ns = await addNamespace(b, `rt-${site.name}`);
  const [wanIp, wanIp6] = [public4(b), public6(b)];
  const wanIf = await plugIntoInternet(b, ns, wanIp, wanIp6);
  const n = b.lanNext++;
  const lanIf = ifName(`${b.prefix}lan`);
  const withV6 = site.ipv6 !== false;
  await exec(null, 'ip', ['-n', ns, 'link', 'add', lanIf, 'type', 'bridge']);
  await addAddress(ns, lanIf, `192.168.${n}.1/24`);
  if (withV6) await addAddress(ns, lanIf, `2001:db8:${n}::1/64`);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', lanIf, 'up']);
  await setSysctl(ns, 'net.ipv4.ip_forward', 1);
  await setSysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
  await loadRuleset(ns, dualStackRouterRuleset({ nat, wanIf }));
  return {
    site: site.name,
    nat,
    ns,
    wanIf,
    wanIp,
    publicIp: wanIp,
    isp: null,
    cgn: null,
    lanIf,
    lanIp: `192.168.${n}.1`,
    lanCidr: `192.168.${n}.0/24`,
    wanIp6,
    lanIp6: withV6 ? `2001:db8:${n}::1` : null,
    lanCidr6: withV6 ? `2001:db8:${n}::/64` : null,
  };
}

async function addLanHost(b: Build, router: LabRouter6, name: string, index: number): Promise<void> {
  const ns = await addNamespace(b, `h-${name}`);
  const i = b.link++;
  const inside = ifName(`${b.prefix}h${i}`);
  const port = ifName(`${b.prefix}p${i}`);
  const net4 = router.lanIp.slice(0, router.lanIp.lastIndexOf('.'));
  const ip = `${net4}.${FIRST_HOST + index}`;
  const ip6 = router.lanIp6 === null ? null : `${router.lanIp6.slice(0, -1)}${(FIRST_HOST + index).toString(16)}`;
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', port, 'netns', router.ns]);
  await exec(null, 'ip', ['-n', router.ns, 'link', 'set', port, 'master', router.lanIf, 'up']);
  await addAddress(ns, inside, `${ip}/24`);
  if (ip6 !== null) await addAddress(ns, inside, `${ip6}/64`);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', inside, 'up']);
  await exec(null, 'ip', ['-n', ns, 'route', 'add', 'default', 'via', router.lanIp]);
  if (router.lanIp6 !== null) await exec(null, 'ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', router.lanIp6]);
  b.hosts[name] = { name, site: router.site, nat: router.nat, ns, ip, publicIp: router.wanIp, ip6 };
}

/** Every router and public host learns the route to every IPv6 LAN (via that site's router). */
async function addRoutes(b: Build): Promise<void> {
  const lans = Object.values(b.routers).filter((r) => r.lanCidr6 !== null);
  const routers = Object.values(b.routers).map((r) => ({ ns: r.ns, own: r.lanCidr6 }));
  const hosts = Object.values(b.hosts).filter((h) => h.nat === 'public').map((h) => ({ ns: h.ns, own: null as string | null }));
  for (const at of [...routers, ...hosts]) {
    for (const lan of lans) {
      if (lan.lanCidr6 === at.own) continue;
      await exec(null, 'ip', ['-n', at.ns, '-6', 'route', 'add', lan.lanCidr6 as string, 'via', lan.wanIp6]);
    }
  }
}

/**
 * Builds the dual-stack lab. Every namespace is registered for deletion on exit or
 * SIGINT/SIGTERM as soon as it exists; a half-built lab is deleted before the error is
 * rethrown.
 */
export async function buildLab6(spec: Lab6Spec): Promise<Lab6> {
  checkSpec(spec);
  const prefix = spec.prefix ?? uniquePrefix();
  const b: Build = { prefix, inet: `${prefix}inet`, bridge: ifName(`${prefix}br`), made: [], next4: FIRST_HOST, next6: FIRST_HOST, link: 0, lanNext: 1, hosts: {}, routers: {} };
  const destroy = await withNamespaces(b.made, async () => {
    await addNamespace(b, 'inet');
    await exec(null, 'ip', ['-n', b.inet, 'link', 'add', b.bridge, 'type', 'bridge']);
    await exec(null, 'ip', ['-n', b.inet, 'link', 'set', b.bridge, 'up']);
    for (const site of spec.sites) {
      if (site.v4 === 'public') {
        for (const h of site.hosts) await addPublicHost(b, site, h);
        continue;
      }
      const router = await addRouter(b, site, site.v4);
      b.routers[site.name] = router;
      for (const [i, h] of site.hosts.entries()) await addLanHost(b, router, h, i);
    }
    await addRoutes(b);
  });
  const host6 = (name: string): LabHost6 => {
    const h = b.hosts[name];
    if (h === undefined) throw new Error(`lab6: no host ${name}`);
    return h;
  };
  const router6 = (site: string): LabRouter6 => {
    const r = b.routers[site];
    if (r === undefined) throw new Error(`lab6: site ${site} has no router`);
    return r;
  };
  return { prefix, inet: b.inet, hosts: b.hosts, routers: b.routers, namespaces: b.made, host: host6, router: router6, host6, router6, destroy };
}
