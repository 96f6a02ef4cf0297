/**
 * Builds a small internet out of network namespaces: one "internet" namespace holding a
 * bridge, public hosts plugged straight into it, and sites whose hosts sit on a LAN behind
 * a NAT router namespace. See docs/NAT-LAB.md for the picture and the rules.
 *
 * Addresses come from documentation ranges only: 203.0.113.0/24 for the internet,
 * 192.168.<n>.0/24 for the LAN of the n-th NATed site. Traffic never leaves the
 * namespaces the lab made.
 */

import {
  deleteNamespace,
  deleteNamespaceSync,
  exec,
  ifName,
  registerCleanup,
  setSysctl,
  uniquePrefix,
} from './netns.js';
import { loadRuleset, routerRuleset, type RouterNat } from './nft.js';

/** `public`: directly on the internet; `easy`/`hard`: behind a NAT router (see {@link RouterNat}). */
export type NatKind = 'public' | RouterNat;

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

/** The NAT router of a site. */
export interface LabRouter {
  site: string;
  nat: RouterNat;
  ns: string;
  wanIf: string;
  wanIp: string;
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
  /** The router of site `site`; throws if there is none. */
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

async function addRouter(b: Build, site: SiteSpec, nat: RouterNat): Promise<LabRouter> {
  const ns = await addNamespace(b, `rt-${site.name}`);
  const wanIp = b.alloc.publicIp();
  const wanIf = await plugIntoInternet(b, ns, wanIp);
  const net = b.alloc.lanNet();
  const lanIf = ifName(`${b.prefix}lan`);
  const lanIp = `${net}.${ROUTER_LAN_HOST}`;
  await exec(null, 'ip', ['-n', ns, 'link', 'add', lanIf, 'type', 'bridge']);
  await exec(null, 'ip', ['-n', ns, 'addr', 'add', `${lanIp}/${PREFIX_LEN}`, 'dev', lanIf]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', lanIf, 'up']);
  await setSysctl(ns, 'net.ipv4.ip_forward', 1);
  await loadRuleset(ns, routerRuleset({ nat, wanIf }));
  return { site: site.name, nat, ns, wanIf, wanIp, lanIf, lanIp, lanCidr: `${net}.0/${PREFIX_LEN}` };
}

async function addLanHost(b: Build, router: LabRouter, name: string, hostIndex: number): Promise<void> {
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
  b.hosts[name] = { name, site: router.site, nat: router.nat, ns, ip, publicIp: router.wanIp };
}

async function addSite(b: Build, site: SiteSpec): Promise<void> {
  if (site.nat === 'public') {
    for (const h of site.hosts) await addPublicHost(b, site, h);
    return;
  }
  const router = await addRouter(b, site, site.nat);
  b.routers[site.name] = router;
  for (const [i, h] of site.hosts.entries()) await addLanHost(b, router, h, i);
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
  const unregister = registerCleanup(() => {
    for (const ns of [...b.made].reverse()) deleteNamespaceSync(ns);
  });
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      // Hosts before routers before the internet: the reverse of creation.
      for (const ns of [...b.made].reverse()) await deleteNamespace(ns);
      unregister();
    })();
    return destroyed;
  };
  try {
    await addNamespace(b, 'inet');
    await exec(null, 'ip', ['-n', b.inet, 'link', 'add', b.bridge, 'type', 'bridge']);
    await exec(null, 'ip', ['-n', b.inet, 'link', 'set', b.bridge, 'up']);
    for (const site of spec.sites) await addSite(b, site);
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
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
