/**
 * Benchmark entry point (`npm run bench` builds, then runs `node dist/bench/run.js`).
 *
 *   node dist/bench/run.js                 every benchmark, then writes BENCHMARKS.md
 *   node dist/bench/run.js dial messaging  only those; prints figures, leaves the file alone
 *   node dist/bench/run.js --update relay  only those, and replaces their sections in BENCHMARKS.md
 *                                          (marked with the command and date; the rest is kept)
 *
 * Figures only: nothing passes or fails on time. Exit status 1 means a benchmark broke.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runAbuseBench } from './abuse.js';
import { runDialBench } from './dial.js';
import { runDnsBench } from './dns.js';
import { runFaultsBench } from './faults.js';
import { keepFuzzSection } from './fuzz.js';
import { runGossipSim } from './gossip-sim.js';
import { runSessionsBench } from './sessions.js';
import { runGossipMeshBench } from './gossip-mesh.js';
import { runHandshakeBench } from './handshake.js';
import { runLabDialBench } from './lab-dial.js';
import { runMessagingBench } from './messaging.js';
import { runMetricsBench } from './metrics.js';
import { machineFacts, renderConsole, renderMarkdown, replaceSections, type BenchResult } from './report.js';
import { runRelayBench } from './relay.js';
import { runSignalerBench } from './signaler.js';
import { runSignalerFailoverBench } from './signaler-failover.js';
import { runSignalerLoadBench } from './signaler-load.js';
import { runClusterRelayBench } from './cluster-relay.js';
import { runTextBench } from './text.js';
import { runPingBench } from './ping.js';
import { runStoreTable } from './store-table.js';
import { runThroughputBench } from './throughput.js';
import { runVpnBench } from './vpn.js';
import { runVpnLossBench } from './vpn-loss.js';
import { runWebBench } from './web.js';

/** Every benchmark by command-line name, in report order. */
export const BENCHMARKS: Readonly<Record<string, () => Promise<BenchResult>>> = {
  throughput: () => runThroughputBench(),
  dial: () => runDialBench(),
  handshake: () => runHandshakeBench(),
  messaging: () => runMessagingBench(),
  store: () => runStoreTable(),
  signaler: () => runSignalerBench(),
  'signaler-failover': () => runSignalerFailoverBench(),
  'signaler-load': () => runSignalerLoadBench(),
  'cluster-relay': () => runClusterRelayBench(),
  'lab-dial': () => runLabDialBench(),
  vpn: () => runVpnBench(),
  'vpn-loss': () => runVpnLossBench(),
  relay: () => runRelayBench(),
  gossip: () => runGossipSim(),
  sessions: () => runSessionsBench(),
  'gossip-mesh': () => runGossipMeshBench(),
  text: () => runTextBench(),
  dns: () => runDnsBench(),
  faults: () => runFaultsBench(),
  abuse: () => runAbuseBench(),
  ping: () => runPingBench(),
  web: () => runWebBench(),
  metrics: () => runMetricsBench(),
};

/** Where the report goes: the repository root (run.js lives in dist/bench/). */
export const REPORT_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'BENCHMARKS.md');

/** How busy this process and the machine were while one benchmark ran. */
function contextNote(loadBefore: number, used: NodeJS.CpuUsage, ms: number): string {
  const share = (used.user + used.system) / 1000 / ms;
  const loadAfter = loadavg()[0] ?? 0;
  return (
    `This process used ${(share * 100).toFixed(0)}% of one core on average (all threads); 1-minute load average ` +
    `${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, on ${availableParallelism()} cores.`
  );
}

/** Runs the named benchmarks in order, printing each result as it arrives. */
export async function runBenchmarks(names: readonly string[]): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const name of names) {
    const bench = BENCHMARKS[name];
    if (!bench) throw new Error(`unknown benchmark "${name}"; choose from: ${Object.keys(BENCHMARKS).join(', ')}`);
    console.log(`-- running ${name} ...`);
    const load = loadavg()[0] ?? 0;
    const cpu = process.cpuUsage();
    const r = await bench();
    r.notes.push(contextNote(load, process.cpuUsage(cpu), r.durationMs));
    console.log(renderConsole(r));
    results.push(r);
  }
  return results;
}

async function main(argv: readonly string[]): Promise<void> {
  const update = argv.includes('--update');
  const args = argv.filter((a) => a !== '--update');
  if (update && args.length === 0) throw new Error('--update needs the names of the benchmarks to run');
  const all = Object.keys(BENCHMARKS);
  const names = args.length === 0 ? all : args;
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.map((n) => `"${n}"`).join(', ')}; choose from: ${all.join(', ')}`);
  const startedAt = new Date();
  const facts = machineFacts();
  const began = performance.now();
  const results = await runBenchmarks(names);
  if (update) {
    const provenance = `This section is from a separate run on ${startedAt.toISOString()}: \`node dist/bench/run.js --update ${args.join(' ')}\` (${facts.join('; ')}).`;
    await writeFile(REPORT_PATH, replaceSections(await readFile(REPORT_PATH, 'utf8'), results, provenance));
    console.log(`updated ${names.join(', ')} in ${REPORT_PATH}`);
    return;
  }
  if (args.length > 0) return;
  // The fuzzing section comes from `npm run fuzz` (a separate, longer run): kept as it is.
  const previous = await readFile(REPORT_PATH, 'utf8').catch(() => '');
  await writeFile(REPORT_PATH, keepFuzzSection(previous, renderMarkdown(results, facts, startedAt, performance.now() - began)));
  console.log(`wrote ${REPORT_PATH}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    // Unref'd timers and closed sockets let the process end by itself; this is a backstop.
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
