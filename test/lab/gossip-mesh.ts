/**
 * A sparse mesh of real `sentinel-node` processes for gossip tests and the gossip-mesh
 * benchmark: every node on its own public host of one lab bridge (one namespace each),
 * no signaler, no mDNS, `--min-peers 0` (so nobody dials beyond the edges given), joined
 * by explicit dials along a ring (or a line) plus seeded random chords. Most pairs are
 * then not directly connected, and a record reaches them only by being forwarded.
 *
 * The nodes are driven over their control sockets (files in their data dirs, reachable
 * from this namespace) instead of by spawning `sentinel` each time: polling 30 nodes
 * several times a second then costs the nodes one status call each, not 30 processes.
 *
 * A node issues a new record (a higher seq) when its addresses change: {@link Mesh.bump}
 * adds a fresh address to its host's interface, which the node sees at
 * its next gossip round. Records held are observed through the `gossip.accepted` counter
 * (each accepted record, our own re-signed one included, adds one).
 */
import { join } from 'node:path';
import type { StatusInfo } from '../../src/api.js';
import { connectControl, type ControlClient } from '../../src/control/index.js';
import { CONTROL_SOCKET_NAME } from '../../src/control/index.js';
import { exec } from './netns.js';
import { SentinelLab, type LabNode } from './sentinel-procs.js';
import { buildLab, type Lab } from './topology.js';
import { seededRandom as prng } from '../helpers/seeded-random.js';

/** Options of {@link startMesh}. */
export interface MeshOptions {
  size: number;
  /** Ring (default) or a line (no edge from the last node back to the first). */
  shape?: 'ring' | 'line';
  /** Random extra edges between nodes not already linked. */
  chords?: number;
  seed?: number;
  /** Default `warn`. */
  logLevel?: string;
  /** Identity port of every node (each has its own address). */
  port?: number;
  /** Nodes started at once. */
  startBatch?: number;
}

export interface Mesh {
  readonly lab: Lab;
  readonly nodes: readonly LabNode[];
  readonly edges: ReadonlyArray<readonly [number, number]>;
  /** `status` of every node, in order. */
  statuses(): Promise<StatusInfo[]>;
  /** One named counter of every node (0 when absent). */
  counters(name: string): Promise<number[]>;
  /** Makes node `i` issue a new record: a fresh address on its host's interface. */
  bump(i: number): Promise<void>;
  /** Hop counts from node `from` to every node along the mesh's edges. */
  hops(from: number): number[];
  /** Bytes each node's host sent on its interfaces so far (TCP/IP and TLS included). */
  txBytes(): Promise<number[]>;
  /** Stops every node and deletes the lab. */
  close(): Promise<void>;
}

const COUNTER = 'gossip.accepted';
export { COUNTER as ACCEPTED_COUNTER };


/** The edges: a ring or a line, plus `chords` random extra ones. */
export function meshEdges(size: number, shape: 'ring' | 'line', chords: number, seed: number): Array<[number, number]> {
  const edges: Array<[number, number]> = [];
  const has = new Set<string>();
  const add = (a: number, b: number): boolean => {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (a === b || has.has(key)) return false;
    has.add(key);
    edges.push([a, b]);
    return true;
  };
  for (let i = 0; i + 1 < size; i++) add(i, i + 1);
  if (shape === 'ring' && size > 2) add(size - 1, 0);
  const rand = prng(seed);
  for (let made = 0, tries = 0; made < chords && tries < chords * 50; tries++) {
    if (add(Math.floor(rand() * size), Math.floor(rand() * size))) made++;
  }
  return edges;
}

/** Breadth-first hop counts from `from` (-1: unreachable). */
export function hopCounts(size: number, edges: ReadonlyArray<readonly [number, number]>, from: number): number[] {
  const adj = Array.from({ length: size }, () => [] as number[]);
  for (const [a, b] of edges) {
    adj[a]?.push(b);
    adj[b]?.push(a);
  }
  const dist = Array.from({ length: size }, () => -1);
  dist[from] = 0;
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift() as number;
    for (const w of adj[v] ?? []) {
      if (dist[w] === -1) {
        dist[w] = (dist[v] as number) + 1;
        queue.push(w);
      }
    }
  }
  return dist;
}

/** Builds the lab, starts the nodes and dials the edges. Cleans up everything if any step fails. */
export async function startMesh(opts: MeshOptions): Promise<Mesh> {
  const shape = opts.shape ?? 'ring';
  const edges = meshEdges(opts.size, shape, opts.chords ?? 0, opts.seed ?? 1);
  const names = Array.from({ length: opts.size }, (_, i) => `g${i}`);
  const lab = await buildLab({ sites: [{ name: 'pub', nat: 'public', hosts: names }] });
  const sl = new SentinelLab(lab);
  const controls: ControlClient[] = [];
  const bumps = new Map<number, number>();
  const close = async (): Promise<void> => {
    for (const c of controls) c.close();
    await sl.cleanup();
    await lab.destroy();
  };
  try {
    const port = opts.port ?? 7400;
    const nodes: LabNode[] = [];
    const batch = opts.startBatch ?? 6;
    for (let i = 0; i < names.length; i += batch) {
      const started = await Promise.all(
        names.slice(i, i + batch).map((h) =>
          sl.startNode(h, { port, signaler: 'none', waitForSignaler: false, logLevel: opts.logLevel ?? 'warn', readyTimeoutMs: 60_000, extraArgs: ['--no-mdns', '--min-peers', '0'] }),
        ),
      );
      nodes.push(...started);
    }
    for (const n of nodes) controls.push(await connectControl(join(n.dataDir, CONTROL_SOCKET_NAME)));
    const control = (i: number): ControlClient => controls[i] as ControlClient;
    for (const [a, b] of edges) {
      const target = nodes[b] as LabNode;
      await control(a).call('dial', { target: `${target.host.ip}:${target.port}` });
    }
    const statuses = (): Promise<StatusInfo[]> => Promise.all(controls.map((c) => c.call('status', {})));
    return {
      lab,
      nodes,
      edges,
      statuses,
      counters: async (name) => (await statuses()).map((s) => s.counters[name] ?? 0),
      async bump(i) {
        const node = nodes[i] as LabNode;
        const k = (bumps.get(i) ?? 0) + 1;
        bumps.set(i, k);
        // A secondary address on the host's own interface (this kernel has no dummy links).
        const links = JSON.parse(await exec(node.host.ns, 'ip', ['-j', '-4', 'addr', 'show'])) as Array<{ ifname: string; addr_info?: Array<{ local?: string }> }>;
        const dev = links.find((l) => l.addr_info?.some((a) => a.local === node.host.ip))?.ifname;
        if (dev === undefined) throw new Error(`no interface holds ${node.host.ip} in ${node.host.ns}`);
        await exec(node.host.ns, 'ip', ['addr', 'add', `10.77.${k}.${i + 1}/32`, 'dev', dev]);
      },
      hops: (from) => hopCounts(opts.size, edges, from),
      async txBytes() {
        return Promise.all(
          nodes.map(async (n) => {
            const links = JSON.parse(await exec(n.host.ns, 'ip', ['-s', '-j', 'link', 'show'])) as Array<{ ifname: string; stats64?: { tx?: { bytes?: number } } }>;
            return links.filter((l) => l.ifname !== 'lo').reduce((sum, l) => sum + (l.stats64?.tx?.bytes ?? 0), 0);
          }),
        );
      },
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
