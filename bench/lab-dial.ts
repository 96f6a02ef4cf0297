/**
 * First-contact dial latency through real NATs: the NAT lab (test/lab, network
 * namespaces with nftables NAT; root only) with a signaler on a public host, and the real
 * `sentinel-signaler`, `sentinel-node` and `sentinel` executables. Every dial is made by
 * a freshly started node (new identity, empty store) to a target node by id alone, so
 * each one is a lookup + coordinated hole punch, never a cached address or session.
 *
 * Without the lab (not root, no nft, ...) the benchmark reports why and measures nothing.
 */
import { performance } from 'node:perf_hooks';
import { buildLab, canRunLab, type Lab } from '../test/lab/index.js';
import { SentinelLab, type LabNode, type LabSignaler } from '../test/lab/sentinel-procs.js';
import { goalRow, infoRow, type BenchResult, type BenchRow } from './report.js';
import { percentiles, round, type Percentiles } from './util.js';
import { STRANGER_BIRTHDAY_RATE } from '../src/punch/guard.js';

const birthdayRate = (): string => `${STRANGER_BIRTHDAY_RATE.burst} in a row, then once per ${Math.round(1 / STRANGER_BIRTHDAY_RATE.perSecond)} s`;

export interface LabDialOptions {
  /** Dials through easy x easy NATs (default 50). */
  easyDials?: number;
  /** Dials through easy x hard NATs (default 10). */
  hardDials?: number;
  /** Stop starting new dials after this long, so the run stays bounded (default 85 s). */
  budgetMs?: number;
}

const NAME = 'lab-dial';
const TITLE = 'Dial by id through NATs (NAT lab, real binaries)';
const GOAL_P50_MS = 150;
/** Share of the budget the easy x easy series may use; the rest is for easy x hard. */
const EASY_SHARE = 0.75;
const TARGET_EASY_PORT = 21_000;
const TARGET_HARD_PORT = 21_001;
/** Each dialer gets its own port, so no conntrack entry of an earlier dial is reused. */
const DIALER_BASE_PORT = 22_000;
/** Nodes log at info: enough to explain a failure, little to pipe. */
const NODE_LOG_LEVEL = 'info';

/** One dial: the node's own `ms` and the wall time of the `sentinel dial` command. */
interface DialSample {
  ok: boolean;
  ms: number;
  wallMs: number;
  method: string;
  reason: string;
}

interface Series {
  samples: DialSample[];
  /** Time from spawning a dialer until it was registered with the signaler. */
  startMs: number[];
  /** Dials not made because the time budget ran out. */
  skipped: number;
}

/**
 * `count` dials to `target`, each from a fresh node on the host `dialer`, until `deadline`.
 * `asContact`: the target's user first accepts the dialer's id (`sentinel accept`), as two
 * users who exchanged ids would; otherwise the dialer is a stranger to the target.
 */
async function series(sl: SentinelLab, signaler: LabSignaler, target: LabNode, count: number, firstPort: number, deadline: number, asContact: boolean): Promise<Series> {
  const out: Series = { samples: [], startMs: [], skipped: 0 };
  for (let i = 0; i < count; i++) {
    if (performance.now() > deadline) {
      out.skipped = count - i;
      break;
    }
    const t0 = performance.now();
    const dialer = await sl.startNode('dialer', { port: firstPort + i, signaler, logLevel: NODE_LOG_LEVEL });
    out.startMs.push(performance.now() - t0);
    try {
      if (asContact) {
        const r = await target.client(['accept', dialer.id]);
        if (r.code !== 0) throw new Error(`sentinel accept on the target failed: ${r.stderr}`);
      }
      const o = await dialer.dial(target.id);
      out.samples.push(
        o.ok
          ? { ok: true, ms: o.result.ms, wallMs: o.elapsedMs, method: o.result.method, reason: '' }
          : { ok: false, ms: NaN, wallMs: o.elapsedMs, method: '', reason: o.reason },
      );
    } finally {
      await dialer.stop();
    }
  }
  return out;
}

const fmt = (p: Percentiles): string => (p.n === 0 ? 'no successful dial' : `p50 ${p.p50.toFixed(0)} / p95 ${p.p95.toFixed(0)} / max ${p.max.toFixed(0)} ms`);

/** Table rows and notes for one series. */
function describeSeries(label: string, s: Series, goal: boolean): { rows: BenchRow[]; notes: string[] } {
  const ok = s.samples.filter((x) => x.ok);
  const ms = percentiles(ok.map((x) => x.ms));
  const wall = percentiles(ok.map((x) => x.wallMs));
  const methods = [...new Set(ok.map((x) => x.method))].join(', ') || 'none';
  const node = `${label}: dial start → authenticated session (node's own \`ms\`, ${ok.length}/${s.samples.length} ok)`;
  const rows = [
    goal && ms.n > 0 ? goalRow(node, `p50 ≤ ${GOAL_P50_MS} ms`, fmt(ms), `${round(ms.p50 / GOAL_P50_MS, 2)}x budget (p50)`, ms.p50 <= GOAL_P50_MS) : infoRow(node, fmt(ms)),
    infoRow(`${label}: wall clock of \`sentinel dial <id> --json\``, fmt(wall)),
  ];
  const failures = s.samples.filter((x) => !x.ok);
  const notes = [`${label}: methods ${methods}; fresh dialer start until registered with the signaler: ${fmt(percentiles(s.startMs))} (not part of the dial).`];
  if (failures.length > 0) notes.push(`${label}: ${failures.length} dial(s) failed, e.g. after ${failures[0]?.wallMs} ms: ${failures[0]?.reason}`);
  if (s.skipped > 0) notes.push(`${label}: ${s.skipped} planned dial(s) not made: the time budget ran out.`);
  return { rows, notes };
}

function skipped(reason: string, began: number): BenchResult {
  return {
    name: NAME,
    title: TITLE,
    method: 'Needs the NAT lab (Linux network namespaces and nftables, as root); see docs/NAT-LAB.md.',
    rows: [infoRow('skipped', `NAT lab unavailable: ${reason}`)],
    notes: ['Nothing was measured. Run `npm run bench` (or `node dist/bench/run.js lab-dial`) as root with `ip`, `nft` and `ping` installed.'],
    durationMs: performance.now() - began,
  };
}

/** Runs the NAT-lab dial benchmark (or reports why it cannot) and returns its table. */
export async function runLabDialBench(opts: LabDialOptions = {}): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return skipped(check.reason, began);
  const easyDials = opts.easyDials ?? 50;
  const hardDials = opts.hardDials ?? 10;
  const budgetMs = opts.budgetMs ?? 85_000;
  let lab: Lab | undefined;
  let sl: SentinelLab | undefined;
  try {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'A', nat: 'easy', hosts: ['dialer'] },
        { name: 'B', nat: 'easy', hosts: ['easy'] },
        { name: 'H', nat: 'hard', hosts: ['hard'] },
      ],
    });
    sl = new SentinelLab(lab);
    const signaler = await sl.startSignaler('sig', { logLevel: 'warn' });
    const [easyTarget, hardTarget] = await Promise.all([
      sl.startNode('easy', { port: TARGET_EASY_PORT, signaler, logLevel: NODE_LOG_LEVEL }),
      sl.startNode('hard', { port: TARGET_HARD_PORT, signaler, logLevel: NODE_LOG_LEVEL }),
    ]);
    const easy = await series(sl, signaler, easyTarget, easyDials, DIALER_BASE_PORT, began + budgetMs * EASY_SHARE, false);
    const hard = await series(sl, signaler, hardTarget, hardDials, DIALER_BASE_PORT + easyDials, began + budgetMs, true);
    const e = describeSeries('easy x easy', easy, true);
    const h = describeSeries('easy x hard', hard, false);
    return {
      name: NAME,
      title: TITLE,
      method:
        `The NAT lab (docs/NAT-LAB.md): \`sentinel-signaler\` on a public host; a target \`sentinel-node\` behind an easy NAT (endpoint-independent, port-preserving) and one behind a hard NAT ` +
        `(a new public port per destination); dialers behind another easy NAT. Every router drops unsolicited inbound packets. For each dial a fresh \`sentinel-node\` (new identity, empty ` +
        `data dir, its own port) is started and waited for until \`sentinel status --json\` says the signaler is connected (not timed); then \`sentinel dial <target id> --json\` runs in its ` +
        `namespace: lookup and punch request at the signaler, coordinated TCP simultaneous open (easy x hard: the birthday technique), mutual TLS 1.3. ` +
        `\`ms\` is the node's own measurement from dial start to authenticated session; the wall clock adds starting the \`sentinel\` client (a Node.js process) and its control-socket round trip. ` +
        `The dialer is stopped after each dial. ${easyDials} easy x easy dials, then ${hardDials} easy x hard dials. ` +
        `Easy x easy: the dialer is a stranger to the target (first contact). Easy x hard: the target's user accepted the dialer's id first (\`sentinel accept\`, not timed), ` +
        `as two users who exchanged ids would: a node runs the 800-socket birthday technique for strangers at most ${birthdayRate()} (docs/SECURITY.md), which a series of fresh dialers seconds apart would exhaust.`,
      rows: [...e.rows, ...h.rows],
      notes: [
        ...e.notes,
        ...h.notes,
        'The lab has no latency emulation (no netem): every link is a veth pair on this machine, so these figures are the protocol and process cost, not internet RTTs.',
        'All processes (signaler, nodes, clients) and the benchmark share this machine\'s cores.',
      ],
      durationMs: performance.now() - began,
    };
  } finally {
    await sl?.cleanup();
    await lab?.destroy();
  }
}
