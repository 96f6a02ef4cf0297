/**
 * The abuse suite at the issue's full scale (issue 8, "Prove it stays fixed"): every
 * finding replayed with the real binaries in the NAT lab (test/lab/abuse, docs/ABUSE.md),
 * reporting per attack a contact's dial time idle and during the attack (goal: within 2x),
 * the victim's memory and descriptors at the end, whether it crashed or hung (SIGTERM must
 * stop it by itself), and acknowledged messages lost.
 *
 *   node dist/bench/run.js abuse            as part of the report (prints; `run.js` alone writes all of BENCHMARKS.md)
 *   node dist/bench/abuse.js [id ...]       prints, and rewrites the abuse section of BENCHMARKS.md (all ids only)
 *
 * Needs root (network namespaces, nftables, TUN, tmpfs); without the lab it reports why
 * and measures nothing. Figures only: nothing here passes or fails on time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunLab } from '../test/lab/index.js';
import type { DialSample } from '../test/lab/abuse/harness.js';
import type { AbuseReport } from '../test/lab/abuse/phases.js';
import { SCENARIOS, type Scenario } from '../test/lab/abuse/scenarios/index.js';
import { goalRow, infoRow, machineFacts, renderConsole, type BenchResult, type BenchRow } from './report.js';
import { percentiles, round } from './util.js';

const NAME = 'abuse';
/** BENCHMARKS.md at the repository root (this file runs from dist/bench/). */
const REPORT_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'BENCHMARKS.md');
export const ABUSE_TITLE = 'Abuse suite: the findings of issue 8 replayed (NAT lab, real binaries)';
/** The goal of the issue: a contact still connects within this factor of its idle dial time. */
const GOAL_RATIO = 2;
const MiB = 1024;

const okMs = (xs: readonly DialSample[]): number[] => xs.filter((x) => x.ok).map((x) => x.ms);

/** The table rows of one attack. */
function rowsOf(r: AbuseReport): BenchRow[] {
  const label = `${r.findings.map((f) => `#${f}`).join('+')} ${r.id}`;
  const rows: BenchRow[] = [];
  if (r.idle.length > 0) {
    const idle = percentiles(okMs(r.idle));
    const during = percentiles(okMs(r.during));
    const ratio = during.p50 / idle.p50;
    const result = `${idle.p50} → ${Number.isNaN(during.p50) ? 'no dial' : during.p50} ms (p95 ${idle.p95} → ${during.p95} ms, max during ${during.max} ms; ${during.n}/${r.during.length} ok)`;
    rows.push(Number.isNaN(ratio) ? infoRow(`${label}: contact dial p50, idle → during`, result) : goalRow(`${label}: contact dial p50, idle → during`, `≤ ${GOAL_RATIO}x idle`, result, `${round(ratio, 2)}x`, ratio <= GOAL_RATIO && during.n === r.during.length));
  }
  if (r.stop === null) {
    rows.push(infoRow(`${label}: victim`, 'no node runs in this replay (see the notes)'));
    return rows;
  }
  const crashed = !r.alive || r.stop.signal !== null || r.stop.code !== 0;
  const hung = r.stop.killed;
  const lost = r.messages ? r.messages.lost.length + r.messages.duplicates.length : 0;
  const end = r.end ? `RSS ${round(r.end.rssKiB / MiB, 0)} MiB (peak ${round(r.peaks.peakRssKiB / MiB, 0)}), ${r.end.fds} fds (peak ${r.peaks.peakFds})` : 'no reading';
  const how = `crash ${crashed ? 'YES' : 'no'}, hang ${hung ? 'YES' : 'no'} (SIGTERM → exit ${r.stop.code ?? r.stop.signal} in ${round(r.stop.ms, 0)} ms)`;
  const msgs = r.messages ? `${r.messages.lost.length} of ${r.messages.acknowledged} acknowledged messages lost, ${r.messages.duplicates.length} stored twice` : '';
  rows.push(goalRow(`${label}: victim at the end`, 'no crash, no hang, 0 lost', [end, how, msgs].filter((x) => x !== '').join('; '), '', !crashed && !hung && lost === 0 && r.attackError === null));
  return rows;
}

/** The note of one attack: what the defences did, then the raw counts (attacker, victim counters, figures). */
function notesOf(s: Scenario, r: AbuseReport): string {
  // Leave out the counters every run has (the contact's messages, the control socket, the store).
  const counters = Object.entries(r.counters).filter(([k]) => !/^(control\.|store\.|chat_stored$)/.test(k));
  return (
    `**${r.findings.map((f) => `#${f}`).join('+')} ${r.id}** (${r.title}): ${s.headline(r)}. ` +
    `Raw: attacker ${r.attacks.map((a) => JSON.stringify(a.counts)).join(', ') || 'none'}; ` +
    `victim counters ${JSON.stringify(Object.fromEntries(counters))}; figures ${JSON.stringify(r.figures)}` +
    (r.attackError ? `; ATTACK FAILED: ${r.attackError}` : '') +
    (r.notes.length > 0 ? `; ${r.notes.join('; ')}` : '')
  );
}

function skipped(reason: string, began: number): BenchResult {
  return {
    name: NAME,
    title: ABUSE_TITLE,
    method: 'Needs the NAT lab (Linux network namespaces, nftables, TUN and tmpfs, as root); see docs/ABUSE.md.',
    rows: [infoRow('skipped', `NAT lab unavailable: ${reason}`)],
    notes: ['Nothing was measured. Run `node dist/bench/run.js abuse` as root.'],
    durationMs: performance.now() - began,
  };
}

/** Runs the scenarios `ids` (default all) at full scale, one after the other. */
export async function runAbuseBench(ids: readonly string[] = SCENARIOS.map((s) => s.id)): Promise<BenchResult> {
  const began = performance.now();
  const check = await canRunLab();
  if (!check.ok) return skipped(check.reason, began);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const id of ids) {
    const s = SCENARIOS.find((x) => x.id === id);
    if (!s) throw new Error(`unknown abuse scenario "${id}"; choose from: ${SCENARIOS.map((x) => x.id).join(', ')}`);
    console.log(`   ${s.id} ...`);
    const t0 = performance.now();
    try {
      const r = await s.run('full');
      rows.push(...rowsOf(r));
      notes.push(`${notesOf(s, r)} (${round((performance.now() - t0) / 1000, 1)} s)`);
    } catch (err) {
      rows.push(goalRow(`${s.findings.map((f) => `#${f}`).join('+')} ${s.id}`, 'runs', `FAILED: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, '', false));
    }
  }
  return {
    name: NAME,
    title: ABUSE_TITLE,
    method:
      'Each finding of issue 8 replayed at the issue\'s scale in its own NAT lab (test/lab/abuse; docs/ABUSE.md says what each attack does): real `sentinel-node` (and `sentinel-signaler`) processes in network namespaces, ' +
      'the attacker toolkit (throw-away identities, raw mutual-TLS sessions speaking our frames, TCP drips, forged mDNS, signaler clients) run as separate processes in attacker namespaces. ' +
      'A contact C of the victim V dials V by address 10 times idle and up to 10 times while the attack runs (each dial is a new TCP + TLS 1.3 session that V must admit; `ms` is C\'s own measurement from dial start to the session); ' +
      'C also sends V 10 messages during the attack, and every one C acknowledged must be in V\'s history exactly once afterwards. V\'s RSS and descriptors are read from /proc (sampled every 100 ms for the peaks), ' +
      '`sentinel status` must answer after the attack, and SIGTERM must stop V by itself within its 10 s shutdown deadline (the HELLO flood stops it mid-flood). ' +
      'Command: `node dist/bench/run.js abuse` (or `node dist/bench/abuse.js`, which also rewrites this section), as root.',
    rows,
    notes: [
      ...notes,
      'Dial times are a few milliseconds on these veth links, so a ratio above 2x can be a few milliseconds of noise on this shared 2-core machine; the per-attack p95 shows the spread.',
      ...machineFacts().map((f) => `Machine: ${f}`),
    ],
    durationMs: performance.now() - began,
  };
}

function table(rows: readonly BenchRow[]): string[] {
  const verdict = (v: BenchRow['verdict']): string => (v === null ? '' : v === 'met' ? 'met' : '**missed**');
  return ['| Metric | Goal | Result | Ratio | Goal met |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.metric} | ${r.goal} | ${r.result} | ${r.ratio} | ${verdict(r.verdict)} |`)];
}

/** This result as one BENCHMARKS.md section (the layout bench/report.ts gives every section). */
export function renderSection(r: BenchResult, at: Date): string {
  return [`## ${r.title}`, '', `${r.method} Run on ${at.toISOString()}.`, '', ...table(r.rows), '', ...r.notes.map((n) => `- ${n}`), '', `(${(r.durationMs / 1000).toFixed(1)} s)`, ''].join('\n');
}

/** Replaces the section titled `title` in `text` (up to the next `## `), or appends it. */
export function replaceSection(text: string, title: string, section: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return `${text.trimEnd()}\n\n${section}`;
  const next = text.indexOf('\n## ', start + 1);
  return `${text.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ids = process.argv.slice(2);
  const at = new Date();
  runAbuseBench(ids.length > 0 ? ids : undefined).then(
    async (r) => {
      console.log(renderConsole(r));
      if (ids.length === 0 && r.rows.every((row) => !row.result.startsWith('NAT lab unavailable'))) {
        await writeFile(REPORT_PATH, replaceSection(await readFile(REPORT_PATH, 'utf8'), ABUSE_TITLE, renderSection(r, at)));
        console.log(`wrote the "${ABUSE_TITLE}" section of ${REPORT_PATH}`);
      }
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
