/**
 * Builds a small internet out of network namespaces: one "internet" namespace holding a
 * bridge, public hosts plugged straight into it, and sites whose hosts sit on a LAN behind
 * a NAT router namespace. See docs/NAT-LAB.md for the picture and the rules.
 *
 * Addresses come from documentation ranges only: 203.0.113.0/24 for the internet,
 * 192.168.<n>.0/24 for the LAN of the n-th NATed site, 100.64.<n>.0/24 (RFC 6598 shared
 * space) between a home router and its carrier-grade NAT. Traffic never leaves the
 * namespaces the lab made.
 *
 * Every NATed site reaches the internet through an ISP router (one routed hop that
 * decrements the TTL, as every real access network has), and a `cgnat` site's home NAT
 * sits behind a carrier-grade NAT in front of that: see {@link NatKind}.
 */

import { exec, ifName, setSysctl, uniquePrefix, withNamespaces } from './netns.js';
import { loadRuleset, routerRuleset, type RouterNat } from './nft.js';

/**
 * Where a site's hosts are:
 * - `public`: directly on the internet bridge;
 * - `easy`, `hard`, `rst`, `icmp`, `tcp443`: on a LAN behind a NAT router of that kind
 *   ({@link RouterNat}) with a public WAN address, reached through the site's ISP router
 *   (`<p>isp-<site>`: no NAT, no filtering, one routed hop; proxy ARP on both sides, so
 *   the router's public address is on the internet's /24 and nobody needs a route);
 * - `cgnat`: on a LAN behind an `easy` home router whose WAN is in 100.64.<n>.0/24, behind
 *   a carrier-grade NAT (`<p>cgn-<site>`) that maps that to its own public address, again
 *   endpoint-independent and port-preserving when it can (`masquerade`), and drops what is
 *   unsolicited (RFC 6888 asks CGNs for endpoint-independent mapping; filtering is theirs);
 *   the CGN reaches the internet through the site's ISP router.
 */
export type NatKind = 'public' | RouterNat | 'cgnat';

/** Every site kind. */
export const NAT_KINDS: readonly NatKind[] = ['public', 'easy', 'hard', 'rst', 'icmp', 'cgnat', 'tcp443'];

/** One site: a NAT kind and its hosts. Every host of a `public` site gets its own public address. */
export interface SiteSpec {
  name: string;
  nat: NatKind;
  hosts: readonly string[];
}

/** What {@link buildLab} builds. */
export interface LabSpec {
  sites: readonly SiteSpec[];
  /** Name prefix; default a fresh {@link uniquePrefix}. Must be 7 characters or fewer. */
  prefix?: string;
}

/** A host of the lab. */
export interface LabHost {
  name: string;
  site: string;
  nat: NatKind;
  /** Its namespace. */
  ns: string;
  /** Its own address: public for `public` hosts, on the LAN otherwise. */
  ip: string;
  /** The address the internet sees it from: its router's WAN address, or {@link ip}. */
  publicIp: string;
}

/** A router between a site's home router and the internet: its ISP hop, or a CGN. */
export interface LabUpstream {
  role: 'isp' | 'cgn';
  ns: string;
  /** Its interface towards the internet and its public address. */
  wanIf: string;
  wanIp: string;
  /** Its interface towards the home router. */
  downIf: string;
  /** Its address towards the home router (the CGN's 100.64.<n>.1; the ISP hop has none of its own). */
  downIp: string | null;
}

/** The NAT router of a site (for `cgnat`, the home router behind the CGN). */
export interface LabRouter {
  site: string;
  nat: RouterNat;
  ns: string;
  /** Its WAN interface (towards its ISP router, or its CGN). */
  wanIf: string;
  /** Public, except behind a CGN (100.64.<n>.2). */
  wanIp: string;
  /** The address the internet sees this site's hosts from (this router's, or the CGN's). */
  publicIp: string;
  /**
   * The site's ISP router, between the outermost NAT and the internet; null for a router
   * plugged straight into the internet (the IPv6 lab, topology6.ts).
   */
  isp: LabUpstream | null;
  /** The carrier-grade NAT of a `cgnat` site, else null. */
  cgn: LabUpstream | null;
  /** The LAN bridge, holding {@link lanIp}. */
  lanIf: string;
  lanIp: string;
  /** `192.168.<n>.0/24`. */
  lanCidr: string;
}

/** A running lab. */
export interface Lab {
  readonly prefix: string;
  /** The internet namespace (holds the bridge). */
  readonly inet: string;
  readonly hosts: Readonly<Record<string, LabHost>>;
  /** Routers by site name (NATed sites only). */
  readonly routers: Readonly<Record<string, LabRouter>>;
  /** Every namespace the lab made, in creation order. */
  readonly namespaces: readonly string[];
  /** The host called `name`; throws on an unknown name. */
  host(name: string): LabHost;
  /** The router of site `site` (for `cgnat`, the home router); throws if there is none. */
  router(site: string): LabRouter;
  /** Kills every process in the lab's namespaces and deletes them. Idempotent. */
  destroy(): Promise<void>;
}

const INET_NET = '203.0.113';
const FIRST_PUBLIC_HOST = 10;
const LAST_HOST = 254;
const ROUTER_LAN_HOST = 1;
const FIRST_LAN_HOST = 10;
const PREFIX_LEN = 24;
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,23}$/i;

/** Hands out addresses and interface indices while the lab is built. */
class Allocator {
  private publicNext = FIRST_PUBLIC_HOST;
  private lanNext = 1;
  private linkNext = 0;

  publicIp(): string {
    if (this.publicNext > LAST_HOST) throw new Error('lab: out of public addresses');
    return `${INET_NET}.${this.publicNext++}`;
  }

  lanNet(): string {
    if (this.lanNext > LAST_HOST) throw new Error('lab: out of LAN subnets');
    return `192.168.${this.lanNext++}`;
  }

  /** The CGN subscriber network of the n-th LAN (same n as its 192.168.<n>). */
  sharedNet(lanNet: string): string {
    return `100.64.${lanNet.split('.')[2]}`;
  }

  link(): number {
    return this.linkNext++;
  }
}

/** Mutable state of a lab under construction. */
interface Build {
  prefix: string;
  inet: string;
  bridge: string;
  made: string[];
  alloc: Allocator;
  hosts: Record<string, LabHost>;
  routers: Record<string, LabRouter>;
}

function checkSpec(spec: LabSpec): void {
  const names = new Set<string>();
  for (const site of spec.sites) {
    if (!NAME_PATTERN.test(site.name)) throw new Error(`lab: bad site name ${JSON.stringify(site.name)}`);
    if (site.hosts.length === 0) throw new Error(`lab: site ${site.name} has no hosts`);
    for (const h of site.hosts) {
      if (!NAME_PATTERN.test(h)) throw new Error(`lab: bad host name ${JSON.stringify(h)}`);
      if (names.has(h)) throw new Error(`lab: host name ${h} used twice`);
      names.add(h);
    }
  }
  const siteNames = spec.sites.map((s) => s.name);
  if (new Set(siteNames).size !== siteNames.length) throw new Error('lab: site names must be unique');
  if (spec.prefix !== undefined && spec.prefix.length > 7) throw new Error('lab: prefix must be 7 characters or fewer');
}

async function addNamespace(b: Build, suffix: string): Promise<string> {
  const ns = `${b.prefix}${suffix}`;
  await exec(null, 'ip', ['netns', 'add', ns]);
  // Recorded before anything else can fail, so destroy deletes it.
  b.made.push(ns);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

/** A veth pair from `ns` into the internet bridge; returns the interface name in `ns`. */
async function plugIntoInternet(b: Build, ns: string, ip: string): Promise<string> {
  const i = b.alloc.link();
  const inside = ifName(`${b.prefix}e${i}`);
  const port = ifName(`${b.prefix}u${i}`);
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', port, 'netns', b.inet]);
  await exec(null, 'ip', ['-n', b.inet, 'link', 'set', port, 'master', b.bridge, 'up']);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${ip}/${PREFIX_LEN}`, 'dev', inside]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', inside, 'up']);
  return inside;
}

async function addPublicHost(b: Build, site: SiteSpec, name: string): Promise<void> {
  const ns = await addNamespace(b, `h-${name}`);
  const ip = b.alloc.publicIp();
  await plugIntoInternet(b, ns, ip);
  b.hosts[name] = { name, site: site.name, nat: 'public', ns, ip, publicIp: ip };
}

/** A veth pair from `ns` to `upNs`; returns both interface names. */
async function linkTo(b: Build, ns: string, upNs: string): Promise<{ inside: string; up: string }> {
  const i = b.alloc.link();
  const inside = ifName(`${b.prefix}e${i}`);
  const up = ifName(`${b.prefix}d${i}`);
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', up, 'netns', upNs]);
  await exec(null, 'ip', ['-n', upNs, 'link', 'set', up, 'up']);
  return { inside, up };
}

/**
 * An ISP hop: a router namespace on the internet bridge that forwards to and from the
 * public address `innerIp` of the namespace `innerNs` (a /32 route), answering ARP for
 * both sides (proxy ARP), so nothing else on the internet needs a route. It decrements the
 * TTL and sends ICMP errors (time exceeded) like any router. Returns the hop and the
 * interface of `innerNs` towards it (holding `innerIp`).
 */
async function addIspHop(b: Build, site: SiteSpec, innerNs: string, innerIp: string): Promise<{ hop: LabUpstream; innerIf: string }> {
  const ns = await addNamespace(b, `isp-${site.name}`);
  await setSysctl(ns, 'net.ipv4.conf.all.proxy_arp', 1);
  await setSysctl(ns, 'net.ipv4.ip_forward', 1);
  const ispIp = b.alloc.publicIp();
  const ispWan = await plugIntoInternet(b, ns, ispIp);
  const { inside, up } = await linkTo(b, innerNs, ns);
  // Proxy ARP answers at once instead of after a random delay of up to 0.8 s.
  for (const dev of [ispWan, up]) await setSysctl(ns, `net.ipv4.neigh.${dev}.proxy_delay`, 0);
  await exec(null, 'ip', ['-n', innerNs, 'addr', 'add', `${innerIp}/${PREFIX_LEN}`, 'dev', inside]);
  await exec(null, 'ip', ['-n', innerNs, 'link', 'set', inside, 'up']);
  await exec(null, 'ip', ['-n', ns, 'route', 'add', `${innerIp}/32`, 'dev', up]);
  return { hop: { role: 'isp', ns, wanIf: ispWan, wanIp: ispIp, downIf: up, downIp: null }, innerIf: inside };
}

/**
 * A carrier-grade NAT in front of the home router `routerNs`: 100.64.<n>.1/24 towards it
 * (the home router gets 100.64.<n>.2 and a default route through it), masquerading to its
 * own public address like an `easy` router, behind the site's ISP hop. Returns the CGN,
 * the ISP hop and the home router's WAN.
 */
async function addCgn(b: Build, site: SiteSpec, routerNs: string, net: string): Promise<{ cgn: LabUpstream; isp: LabUpstream; wanIf: string; wanIp: string }> {
  const ns = await addNamespace(b, `cgn-${site.name}`);
  await setSysctl(ns, 'net.ipv4.ip_forward', 1);
  const publicIp = b.alloc.publicIp();
  const { hop: isp, innerIf: cgnWan } = await addIspHop(b, site, ns, publicIp);
  const shared = b.alloc.sharedNet(net);
  const [downIp, homeIp] = [`${shared}.1`, `${shared}.2`];
  const { inside, up } = await linkTo(b, routerNs, ns);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${downIp}/${PREFIX_LEN}`, 'dev', up]);
  await exec(null, 'ip', ['-n', routerNs, 'addr', 'add', `${homeIp}/${PREFIX_LEN}`, 'dev', inside]);
  await exec(null, 'ip', ['-n', routerNs, 'link', 'set', inside, 'up']);
  await exec(null, 'ip', ['-n', routerNs, 'route', 'add', 'default', 'via', downIp]);
  await loadRuleset(ns, routerRuleset({ nat: 'easy', wanIf: cgnWan }));
  return { cgn: { role: 'cgn', ns, wanIf: cgnWan, wanIp: publicIp, downIf: up, downIp }, isp, wanIf: inside, wanIp: homeIp };
}

async function addRouter(b: Build, site: SiteSpec, kind: Exclude<NatKind, 'public'>): Promise<LabRouter> {
  const ns = await addNamespace(b, `rt-${site.name}`);
  const nat: RouterNat = kind === 'cgnat' ? 'easy' : kind;
  const net = b.alloc.lanNet();
  let wanIf: string;
  let wanIp: string;
  let isp: LabUpstream;
  let cgn: LabUpstream | null = null;
  if (kind === 'cgnat') {
    ({ wanIf, wanIp, isp, cgn } = await addCgn(b, site, ns, net));
  } else {
    wanIp = b.alloc.publicIp();
    const h = await addIspHop(b, site, ns, wanIp);
    wanIf = h.innerIf;
    isp = h.hop;
  }
  const lanIf = ifName(`${b.prefix}lan`);
  const lanIp = `${net}.${ROUTER_LAN_HOST}`;
  // The ISP routes the site's LAN to its router (never used by NAT traffic; it lets a test
  // route to the LAN through the router, as the mDNS reflection test does).
  if (cgn === null) await exec(null, 'ip', ['-n', isp.ns, 'route', 'add', `${net}.0/${PREFIX_LEN}`, 'via', wanIp, 'dev', isp.downIf]);
  await exec(null, 'ip', ['-n', ns, 'link', 'add', lanIf, 'type', 'bridge']);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${lanIp}/${PREFIX_LEN}`, 'dev', lanIf]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', lanIf, 'up']);
  await setSysctl(ns, 'net.ipv4.ip_forward', 1);
  await loadRuleset(ns, routerRuleset({ nat, wanIf }));
  const publicIp = cgn?.wanIp ?? wanIp;
  return { site: site.name, nat, ns, wanIf, wanIp, publicIp, isp, cgn, lanIf, lanIp, lanCidr: `${net}.0/${PREFIX_LEN}` };
}

async function addLanHost(b: Build, router: LabRouter, name: string, hostIndex: number, nat: NatKind): Promise<void> {
  const ns = await addNamespace(b, `h-${name}`);
  const i = b.alloc.link();
  const inside = ifName(`${b.prefix}h${i}`);
  const port = ifName(`${b.prefix}p${i}`);
  const net = router.lanIp.slice(0, router.lanIp.lastIndexOf('.'));
  const ip = `${net}.${FIRST_LAN_HOST + hostIndex}`;
  await exec(null, 'ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', port, 'netns', router.ns]);
  await exec(null, 'ip', ['-n', router.ns, 'link', 'set', port, 'master', router.lanIf, 'up']);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${ip}/${PREFIX_LEN}`, 'dev', inside]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', inside, 'up']);
  await exec(null, 'ip', ['-n', ns, 'route', 'add', 'default', 'via', router.lanIp]);
  b.hosts[name] = { name, site: router.site, nat, ns, ip, publicIp: router.publicIp };
}

async function addSite(b: Build, site: SiteSpec): Promise<void> {
  if (site.nat === 'public') {
    for (const h of site.hosts) await addPublicHost(b, site, h);
    return;
  }
  const router = await addRouter(b, site, site.nat);
  b.routers[site.name] = router;
  for (const [i, h] of site.hosts.entries()) await addLanHost(b, router, h, i, site.nat);
}

/**
 * Builds the lab described by `spec`. Every namespace is registered for deletion on
 * process exit or SIGINT/SIGTERM as soon as it is made; if building fails half-way,
 * everything made so far is deleted before the error is rethrown.
 */
export async function buildLab(spec: LabSpec): Promise<Lab> {
  checkSpec(spec);
  const prefix = spec.prefix ?? uniquePrefix();
  const b: Build = { prefix, inet: `${prefix}inet`, bridge: ifName(`${prefix}br`), made: [], alloc: new Allocator(), hosts: {}, routers: {} };
  const destroy = await withNamespaces(b.made, async () => {
    await addNamespace(b, 'inet');
    await exec(null, 'ip', ['-n', b.inet, 'link', 'add', b.bridge, 'type', 'bridge']);
    await exec(null, 'ip', ['-n', b.inet, 'link', 'set', b.bridge, 'up']);
    for (const site of spec.sites) await addSite(b, site);
  });
  return makeLab(b, destroy);
}

function makeLab(b: Build, destroy: () => Promise<void>): Lab {
  return {
    prefix: b.prefix,
    inet: b.inet,
    hosts: b.hosts,
    routers: b.routers,
    namespaces: b.made,
    host(name) {
      const h = b.hosts[name];
      if (h === undefined) throw new Error(`lab: no host ${name}`);
      return h;
    },
    router(site) {
      const r = b.routers[site];
      if (r === undefined) throw new Error(`lab: site ${site} has no router`);
      return r;
    },
    destroy,
  };
}
