/**
 * The jazzer engine: coverage-guided fuzzing with @jazzer.js/core (libFuzzer inside Node).
 *
 * Its prebuilt addon needs glibc 2.38 and libstdc++ from GCC 13; Debian 12 has 2.36 and
 * GCC 12. test/fuzz/jazzer-runtime.sh unpacks Debian 13's libc6, libstdc++6 and libgcc-s1
 * into .fuzz/runtime/ (nothing is installed system-wide), and jazzer runs as a child
 * process started by that private loader:
 *
 *   .fuzz/runtime/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path <same dir> \
 *     node node_modules/@jazzer.js/core/dist/cli.js dist/test/fuzz/jazzer-entry.js <corpus> <seeds> --sync ...
 *
 * On a system whose own glibc is new enough, jazzer runs under plain node. Only the child
 * uses the private libraries: the test runner and the node under test never do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUZZ_TARGETS, findTarget } from './targets.js';
import { HANG_SECONDS, MAX_INPUT_BYTES } from './limits.js';
import type { FuzzRun } from './fast-check.js';

/** The repository root (this file runs from dist/test/fuzz/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Everything fuzzing writes (runtime, corpora, crashes) lives under here; it is gitignored. */
export const FUZZ_DIR = join(REPO_ROOT, '.fuzz');
/** Where jazzer-runtime.sh unpacks the private glibc (SENTINEL_FUZZ_RUNTIME overrides). */
export const RUNTIME_DIR = process.env['SENTINEL_FUZZ_RUNTIME'] ?? join(FUZZ_DIR, 'runtime');
/** Target name that multiplexes every target in one process: the first input byte picks one. */
export const ALL_TARGETS = 'all';

const LIB_DIR = join(RUNTIME_DIR, 'root', 'usr', 'lib', 'x86_64-linux-gnu');
const ENTRY = join(REPO_ROOT, 'dist', 'test', 'fuzz', 'jazzer-entry.js');
/** Extra seconds a jazzer child may take beyond its budget (start-up, instrumentation) before it is killed. */
const STARTUP_GRACE_S = 90;

/** How to start a node that can load jazzer's addon. */
export interface JazzerLaunch {
  command: string;
  /** Arguments before the script (the loader's, then node's path). */
  prefix: string[];
  cli: string;
  /** 'private glibc' or 'system glibc', for reports. */
  runtime: string;
}

export type JazzerCheck = { ok: true; launch: JazzerLaunch } | { ok: false; reason: string };

/** Whether jazzer can run here, and how; never throws. */
export function jazzerAvailable(): JazzerCheck {
  const require = createRequire(import.meta.url);
  let cli: string;
  let addon: string;
  try {
    const core = dirname(require.resolve('@jazzer.js/core/package.json'));
    cli = join(core, 'dist', 'cli.js');
    addon = createRequire(join(core, 'package.json')).resolve('@jazzer.js/fuzzer');
  } catch {
    return { ok: false, reason: '@jazzer.js/core is not installed (run npm ci)' };
  }
  if (!existsSync(ENTRY)) return { ok: false, reason: `${ENTRY} is missing (run npx tsc -p tsconfig.json)` };
  const loader = join(LIB_DIR, 'ld-linux-x86-64.so.2');
  const launch: JazzerLaunch = existsSync(loader)
    ? { command: loader, prefix: ['--library-path', LIB_DIR, process.execPath], cli, runtime: 'private glibc (Debian 13 libc6, libstdc++6)' }
    : { command: process.execPath, prefix: [], cli, runtime: 'system glibc' };
  const probe = spawnSync(launch.command, [...launch.prefix, '-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status === 0) return { ok: true, launch };
  const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).split('\n').find((l) => /error|not found/i.test(l)) ?? 'addon did not load';
  return { ok: false, reason: `jazzer's addon does not load with the ${launch.runtime} (${why.trim()}); install it with npm run fuzz:runtime` };
}

/** Options of {@link runJazzer}. */
export interface JazzerRunOptions {
  /** A target name, or {@link ALL_TARGETS}. */
  target: string;
  seconds: number;
  /** Directory the corpus grows in (kept between runs by `npm run fuzz`). */
  corpusDir: string;
  /** Directory crashing inputs are written to. */
  crashDir: string;
  /** libFuzzer seed (0 = random), for reproducing a run. */
  seed?: number;
}

/** What a jazzer run gave, with per-target input counts in {@link ALL_TARGETS} mode. */
export interface JazzerRun extends FuzzRun {
  perTarget: Record<string, number>;
  /** The last lines jazzer printed (for failures). */
  outputTail: string;
}

/** The seed corpus of `target` (in ALL mode each seed is prefixed with its target's index). */
export function seedsOf(target: string): Uint8Array[] {
  if (target !== ALL_TARGETS) return findTarget(target).seeds();
  return FUZZ_TARGETS.flatMap((t, i) => t.seeds().map((s) => Buffer.concat([Buffer.from([i]), s])));
}

async function writeSeeds(dir: string, seeds: readonly Uint8Array[]): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await Promise.all(seeds.map((s, i) => writeFile(join(dir, `seed-${String(i).padStart(3, '0')}`), s)));
}

function lastMatch(text: string, re: RegExp): RegExpExecArray | null {
  let m: RegExpExecArray | null = null;
  for (const x of text.matchAll(new RegExp(re.source, `${re.flags.replace('g', '')}g`))) m = x as RegExpExecArray;
  return m;
}

/** Runs jazzer on one target (or all) for `seconds`; resolves when the child has exited. */
export async function runJazzer(launch: JazzerLaunch, opts: JazzerRunOptions): Promise<JazzerRun> {
  const seedDir = join(opts.corpusDir, '..', `${opts.target}.seeds`);
  await writeSeeds(seedDir, seedsOf(opts.target));
  await mkdir(opts.corpusDir, { recursive: true });
  await mkdir(opts.crashDir, { recursive: true });
  const statsFile = join(opts.corpusDir, '..', `${opts.target}.stats.json`);
  await rm(statsFile, { force: true });
  const crashesBefore = new Set(await listFiles(opts.crashDir));
  const args = [
    ...launch.prefix,
    launch.cli,
    ENTRY,
    opts.corpusDir,
    seedDir,
    '--sync',
    `--timeout=${HANG_SECONDS * 1000}`,
    // Coverage of our code and of dns-packet (guides the mDNS target to well-formed packets).
    '-i',
    join(REPO_ROOT, 'dist', 'src'),
    '-i',
    'node_modules/dns-packet/',
    '--',
    `-max_total_time=${opts.seconds}`,
    `-max_len=${MAX_INPUT_BYTES}`,
    `-artifact_prefix=${opts.crashDir}/`,
    '-print_final_stats=1',
    `-seed=${opts.seed ?? 0}`,
  ];
  const started = performance.now();
  const child = spawn(launch.command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, SENTINEL_FUZZ_TARGET: opts.target, SENTINEL_FUZZ_STATS: statsFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let seed: string | undefined;
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
    seed ??= /Seed: (\d+)/.exec(output)?.[1];
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + STARTUP_GRACE_S) * 1000);
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  clearTimeout(killer);
  const seconds = (performance.now() - started) / 1000;
  const tail = output.split('\n').slice(-40).join('\n');
  const execs = Number(lastMatch(output, /stat::number_of_executed_units: (\d+)/)?.[1] ?? lastMatch(output, /^#(\d+)\s/m)?.[1] ?? NaN);
  const status = lastMatch(output, /^#\d+\s+\w+\s+cov: (\d+) ft: \d+ corp: (\d+)\//m);
  // libFuzzer names the file it wrote, but the line may be lost when the process exits: look at the folder too.
  const artifact = lastMatch(output, /Test unit written to (\S+)/)?.[1] ?? (await listFiles(opts.crashDir)).find((f) => !crashesBefore.has(f));
  if (Number.isNaN(execs) || (code !== 0 && artifact === undefined)) {
    throw new Error(`jazzer on ${opts.target} exited with ${code ?? 'a signal'} without fuzzing:\n${tail}`);
  }
  const run: JazzerRun = {
    target: opts.target,
    engine: 'jazzer',
    execs,
    seconds,
    perSecond: Number(lastMatch(output, /stat::average_exec_per_sec: (\d+)/)?.[1] ?? execs / seconds),
    crashes: artifact === undefined ? 0 : 1,
    replay: `SENTINEL_FUZZ_TARGET=${opts.target} jazzer ${ENTRY} -- -seed=${seed ?? '?'}`,
    perTarget: await readStats(statsFile),
    outputTail: tail,
  };
  if (status) {
    run.coverage = Number(status[1]);
    run.corpus = Number(status[2]);
  }
  if (artifact !== undefined) {
    run.crashInput = await readFile(artifact);
    run.crashMessage = `${findingLine(output)} (input saved to ${artifact})`;
  }
  return run;
}

/** The line of jazzer's output that says what broke. */
function findingLine(output: string): string {
  const lines = output.split('\n');
  const i = lines.findIndex((l) => /Uncaught Exception|ALARM|Out-of-memory|timeout|deadly signal/i.test(l));
  if (i < 0) return 'crash';
  const next = lines[i + 1]?.trim() ?? '';
  return `${lines[i]!.replace(/^==\d+==\s*/, '').trim()} ${next}`.trim();
}

async function readStats(file: string): Promise<Record<string, number>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** Files in `dir` (crash artifacts), or none. */
async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).map((f) => join(dir, f));
  } catch {
    return [];
  }
}
