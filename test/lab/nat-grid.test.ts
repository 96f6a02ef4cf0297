/**
 * The NAT traversal grid (root only; skipped with the reason otherwise, or failed when
 * SENTINEL_LAB=required): for every ordered pair of site kinds (dialer, target) in
 * {public, easy, hard, rst, icmp, cgnat, tcp443} (docs/NAT-LAB.md), plus two hosts behind
 * one NAT, fresh nodes (new identities, nothing cached) dial each other by id through the
 * lab's real nftables NATs and firewalls, coordinated by a signaler on a public host on
 * port 443 (the only port a tcp443 network lets out). Each cell runs SENTINEL_GRID_TRIALS
 * trials (default 2; docs/NAT-GRID.md is generated with 3). The outcome is asserted
 * against {@link EXPECT}; docs/NAT-GRID.md is written when every cell ran.
 * SENTINEL_GRID_CELLS=rst>rst,same-nat runs only those cells (and writes nothing).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/procs.js';
import { buildLab, type Lab, type NatKind } from './index.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable } from './gate.js';

/** Site kinds of the grid (docs/NAT-LAB.md). */
export const KINDS = ['public', 'easy', 'hard', 'rst', 'icmp', 'cgnat', 'tcp443'] as const satisfies readonly NatKind[];
export type Kind = (typeof KINDS)[number];
/** The cell of two hosts behind one (symmetric) NAT. */
export const SAME_NAT = 'same-nat';
/** A grid cell: `<dialer kind>><target kind>`, or {@link SAME_NAT}. */
export type Cell = `${Kind}>${Kind}` | typeof SAME_NAT;

/**
 * What a cell must do: every trial direct (the NATs leave a path), or every trial relayed:
 * two symmetric NATs (no hole punch can work: the signaler relays at once), or a tcp443
 * network on either side (nothing but TCP 443 gets out, and the peer does not listen there).
 */
function expected(cell: Cell): 'direct' | 'relay' {
  if (cell === SAME_NAT) return 'direct';
  const [d, t] = cell.split('>') as [Kind, Kind];
  if (d === 'tcp443' || t === 'tcp443') return 'relay';
  return d === 'hard' && t === 'hard' ? 'relay' : 'direct';
}

const allCells = (): Cell[] => [...KINDS.flatMap((d) => KINDS.map((t): Cell => `${d}>${t}`)), SAME_NAT];

export const EXPECT: Readonly<Record<Cell, 'direct' | 'relay'>> = Object.fromEntries(allCells().map((c) => [c, expected(c)])) as Record<Cell, 'direct' | 'relay'>;

/**
 * Cells whose expectation the product does not meet yet: their test is a node:test
 * `todo` (reported, never failing the suite). Remove an entry once the cell passes.
 */
export const PENDING: Readonly<Partial<Record<Cell, string>>> = {
  // e.g. 'easy>hard': 'birthday-style punching for one symmetric NAT is being implemented',
};

/** A relayed dial where punching is impossible must be up within this long (a requirement, not a benchmark). */
export const RELAY_WITHIN_MS = 10_000;

const TRIALS = Number(process.env['SENTINEL_GRID_TRIALS'] ?? '2');
const ONLY = process.env['SENTINEL_GRID_CELLS']?.split(',').map((c) => c.trim()).filter((c) => c !== '');
const DOC_PATH = join(REPO_ROOT, 'docs', 'NAT-GRID.md');
const BASE_PORT = 20_000;
/** Where the signaler listens: the one port a tcp443 network lets out. */
const SIGNALER_PORT = 443;
const DIALER_HOST = (k: Kind): string => `${k}-d`;
const TARGET_HOST = (k: Kind): string => `${k}-t`;
/** The hosts of the same-NAT cell, both behind one hard NAT. */
const SAME_HOSTS = ['same-d', 'same-t'] as const;

/** One dial of one cell. */
interface Trial {
  ok: boolean;
  /** The dial result's `ms` when ok, else the wall time until the client gave up. */
  ms: number;
  elapsedMs: number;
  method?: string;
  path?: string | null;
  address?: string;
  reason?: string;
}

const labOk = await labAvailable('NAT traversal grid');


const cells = (): Cell[] => allCells().filter((c) => ONLY === undefined || ONLY.includes(c));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One grid cell as text: "3/3 direct (method), median X ms" and/or "failed: reason". */
export function summarize(trials: readonly Trial[]): string {
  if (trials.length === 0) return 'not run';
  const ok = trials.filter((x) => x.ok);
  const failed = trials.filter((x) => !x.ok);
  const parts: string[] = [];
  for (const path of ['direct', 'relay'] as const) {
    const these = ok.filter((x) => (x.path ?? 'direct') === path);
    if (these.length === 0) continue;
    const methods = [...new Set(these.map((x) => x.method))].join(', ');
    parts.push(`${these.length}/${trials.length} ${path} (${methods}), median ${Math.round(median(these.map((x) => x.ms)))} ms`);
  }
  if (failed.length > 0) {
    const reasons = [...new Set(failed.map((x) => x.reason))].join(' / ');
    const count = ok.length > 0 ? `${failed.length}/${trials.length} ` : '';
    parts.push(`${count}failed after median ${(median(failed.map((x) => x.elapsedMs)) / 1000).toFixed(1)} s: ${reasons}`);
  }
  return parts.join('; ');
}

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The whole of docs/NAT-GRID.md. */
function renderDoc(results: ReadonlyMap<Cell, Trial[]>, started: Date): string {
  const header = `| dialer \\ target | ${KINDS.join(' | ')} |`;
  const rule = `|---|${KINDS.map(() => '---').join('|')}|`;
  const rows = KINDS.map((d) => `| **${d}** | ${KINDS.map((t) => escapeCell(summarize(results.get(`${d}>${t}`) ?? []))).join(' | ')} |`);
  const expectRows = KINDS.map((d) => `| **${d}** | ${KINDS.map((t) => `${EXPECT[`${d}>${t}`]}${PENDING[`${d}>${t}`] ? ' (pending)' : ''}`).join(' | ')} |`);
  const same = escapeCell(summarize(results.get(SAME_NAT) ?? []));
  const details = cells().flatMap((c) =>
    (results.get(c) ?? []).map((x, i) =>
      x.ok ? `- ${c} #${i + 1}: ${x.path ?? 'direct'}, ${x.method}, ${x.ms} ms, peer at ${x.address}` : `- ${c} #${i + 1}: failed after ${x.elapsedMs} ms: ${x.reason}`,
    ),
  );
  const sameHosts = `${SAME_HOSTS[0]} dials ${SAME_HOSTS[1]}, both on the LAN of one hard NAT, mDNS off: the LAN address comes from the signaler`;
  return `# NAT traversal grid

Generated by \`test/lab/nat-grid.test.ts\` on ${started.toISOString().slice(0, 10)}
(Node.js ${process.version}, Linux ${release()}); ${TRIALS} trial(s) per cell. Do not edit by hand.

Each trial starts two fresh nodes (new identities, empty stores: no cached address) in
the NAT lab (docs/NAT-LAB.md), both registered with one signaler on a public host on port
${SIGNALER_PORT}, and the dialer runs \`sentinel dial <target id> --json\`. Kinds (every NATed
site reaches the internet through an ISP router, one routed hop):
**public** = a host with its own internet address;
**easy** = behind a port-preserving, endpoint-independent NAT (\`masquerade\`) that drops
unsolicited packets, as home routers do;
**hard** = behind a symmetric NAT, a new public port per destination (\`masquerade random\`);
**rst** = as easy, but unsolicited TCP is answered with a TCP reset;
**icmp** = as easy, but unsolicited packets are answered with ICMP administratively prohibited;
**cgnat** = behind an easy home NAT in 100.64.0.0/10 behind an easy carrier-grade NAT;
**tcp443** = as rst, and only TCP to port 443 may leave (everything else is reset).
Times are the node's own \`ms\` from dial start to the authenticated session (for a relayed
one: punching given up, circuit through the signaler's relay, end-to-end TLS), and the
wall time until \`sentinel\` gave up for a failure. A direct session names how it came up:
\`tcp-simultaneous-open\` (a punched socket on both ends), \`inbound\` (the peer's punch SYN
reached this node's listener).

## Results

${header}
${rule}
${rows.join('\n')}

Same NAT (${sameHosts}): ${same}

## Expected

${header}
${rule}
${expectRows.join('\n')}

Same NAT: ${EXPECT[SAME_NAT]}, on the LAN address.

${Object.keys(PENDING).length > 0 ? '"pending": not yet required (a \`todo\` test). ' : ''}"relay": no direct path exists: two symmetric
NATs (the session must run through the signaler's relay and be up within ${RELAY_WITHIN_MS / 1000} s), or a
tcp443 network on either side (nothing but TCP to port 443 leaves it, and no peer listens
there).

IPv6 is a cell of its own lab (\`test/lab/ipv6.test.ts\`, docs/NAT-LAB.md "IPv6 cell"): both
sites behind hard IPv4 NATs and stateful IPv6 firewalls that drop unsolicited inbound
traffic; expected and asserted there: direct over IPv6 by simultaneous open.

## Reproduce

As root, from the repository root:

\`\`\`
npx tsc -p tsconfig.json && SENTINEL_GRID_TRIALS=${TRIALS} node --test dist/test/lab/nat-grid.test.js
\`\`\`

## Every trial

${details.join('\n')}
`;
}

if (labOk) describe('NAT traversal grid', { timeout: 900_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  const results = new Map<Cell, Trial[]>();
  const started = new Date();

  before(async () => {
    assert.ok(Number.isInteger(TRIALS) && TRIALS >= 1, `SENTINEL_GRID_TRIALS must be a positive integer, got ${String(process.env['SENTINEL_GRID_TRIALS'])}`);
    for (const c of ONLY ?? []) assert.ok((allCells() as string[]).includes(c), `SENTINEL_GRID_CELLS: no cell ${c}`);
    // One dialer host and one target host per kind, each on its own site (two hosts
    // behind one NAT is the same-NAT cell, on a site of its own).
    lab = await buildLab({
      sites: [
        { name: 'core', nat: 'public', hosts: ['sig'] },
        ...KINDS.flatMap((k) => [
          { name: `${k}D`, nat: k, hosts: [DIALER_HOST(k)] },
          { name: `${k}T`, nat: k, hosts: [TARGET_HOST(k)] },
        ]),
        { name: 'same', nat: 'hard', hosts: [...SAME_HOSTS] },
      ],
    });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig', { port: SIGNALER_PORT });
  });

  after(async () => {
    try {
      if (ONLY === undefined && results.size === cells().length) await writeFile(DOC_PATH, renderDoc(results, started));
    } finally {
      await sl?.cleanup();
      await lab?.destroy();
    }
  });

  /** The dialer's and the target's host of a cell. */
  function hostsOf(cell: Cell): [string, string] {
    if (cell === SAME_NAT) return [...SAME_HOSTS];
    const [d, t] = cell.split('>') as [Kind, Kind];
    return [DIALER_HOST(d), TARGET_HOST(t)];
  }

  /** Fresh dialer and target, one dial by id, both stopped again. */
  async function trial(cell: Cell, n: number, ports: { dialer: number; target: number }): Promise<Trial> {
    const [dh, th] = hostsOf(cell);
    // Same NAT: without mDNS, so the LAN path has to come from the signaler (the local
    // endpoints it passes between nodes behind one public address), not from discovery.
    const extraArgs = cell === SAME_NAT ? ['--no-mdns'] : [];
    const started = await Promise.allSettled([
      sl.startNode(dh, { port: ports.dialer, signaler, extraArgs }),
      sl.startNode(th, { port: ports.target, signaler, extraArgs }),
    ]);
    const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      const [dialer, target] = nodes as [LabNode, LabNode];
      const o = await dialer.dial(target.id);
      if (!o.ok) {
        // Keep what a person debugging this cell needs.
        process.stderr.write(`\n### ${cell} trial ${n}: ${o.reason}\n--- dialer stderr:\n${o.stderr}\n--- dialer log:\n${tail(dialer.stderr())}\n--- target log:\n${tail(target.stderr())}\n`);
        return { ok: false, ms: o.elapsedMs, elapsedMs: o.elapsedMs, reason: o.reason };
      }
      const peer = (await dialer.peers()).find((p) => p.id === target.id);
      return { ok: true, ms: o.result.ms, elapsedMs: o.elapsedMs, method: o.result.method, path: peer?.path ?? null, address: o.result.address };
    } finally {
      await Promise.allSettled(nodes.map((x) => x.stop()));
    }
  }

  for (const [i, cell] of allCells().entries()) {
    if (!cells().includes(cell)) continue;
    const pending = PENDING[cell];
    const title = cell === SAME_NAT ? `two hosts behind one NAT: ${EXPECT[cell]} on the LAN` : `${cell.replace('>', ' dials ')}: ${EXPECT[cell]}`;
    it(title, pending !== undefined ? { todo: pending } : {}, async (ctx) => {
      const trials: Trial[] = [];
      results.set(cell, trials);
      for (let n = 0; n < TRIALS; n++) {
        // Fresh ports per trial, so no conntrack entry of an earlier trial is reused.
        const port = BASE_PORT + 2 * (i * TRIALS + n);
        trials.push(await trial(cell, n + 1, { dialer: port, target: port + 1 }));
      }
      ctx.diagnostic(`${cell}: ${summarize(trials)}`);
      for (const [n, x] of trials.entries()) {
        assert.ok(x.ok, `${cell} trial ${n + 1} failed: ${x.reason}`);
        assert.equal(x.path, EXPECT[cell], `${cell} trial ${n + 1}`);
        if (cell === 'hard>hard') assert.ok(x.elapsedMs < RELAY_WITHIN_MS, `${cell} trial ${n + 1} took ${x.elapsedMs} ms`);
        if (cell === SAME_NAT) assert.match(x.address ?? '', new RegExp(`^${lab.host(SAME_HOSTS[1]).ip.replace(/\./g, '\\.')}:`), 'reached on its LAN address');
      }
    });
  }
});
