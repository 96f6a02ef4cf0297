/**
 * The long fuzzing run (`npm run fuzz`, which builds first):
 *
 *   node dist/bench/fuzz.js [--seconds N] [--engine jazzer|fast-check|both] [--targets a,b] [--no-report]
 *
 * Each target (test/fuzz/targets.ts) runs for N seconds under each engine; jazzer runs in
 * a child process while fast-check runs here, so a target takes about N seconds on two
 * cores. Jazzer's corpus grows in .fuzz/corpus/<target>/ from run to run. Crashing inputs
 * are saved under .fuzz/crashes/<target>/. Prints inputs, inputs/s and crashes per target
 * and, unless --no-report or only some targets ran, replaces the "Fuzzing" section of
 * BENCHMARKS.md (other sections are kept). Exit status 1 when anything crashed.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFastCheck, type FuzzRun } from '../test/fuzz/fast-check.js';
import { FUZZ_DIR, REPO_ROOT, jazzerAvailable, runJazzer, type JazzerLaunch } from '../test/fuzz/jazzer.js';
import { LONG_RUN_SECONDS } from '../test/fuzz/limits.js';
import { FUZZ_TARGETS, findTarget } from '../test/fuzz/targets.js';
import { machineFacts } from './report.js';

/** Heading of the section this run owns in BENCHMARKS.md. */
export const FUZZ_SECTION = '## Fuzzing: every parser of untrusted bytes';

interface Options {
  seconds: number;
  engines: Array<'jazzer' | 'fast-check'>;
  targets: string[];
  report: boolean;
}

function usage(message: string): never {
  throw new Error(`${message}\nusage: node dist/bench/fuzz.js [--seconds N] [--engine jazzer|fast-check|both] [--targets a,b] [--no-report]`);
}

function parseArgs(args: readonly string[]): Options & { engineAsked: boolean } {
  const o = { seconds: LONG_RUN_SECONDS, engines: ['jazzer', 'fast-check'] as Options['engines'], targets: FUZZ_TARGETS.map((t) => t.name), report: true, engineAsked: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => args[++i] ?? usage(`${a} needs a value`);
    if (a === '--seconds') {
      o.seconds = Number(value());
      if (!Number.isInteger(o.seconds) || o.seconds < 1) usage('--seconds must be a whole number >= 1');
    } else if (a === '--engine') {
      const e = value();
      if (e !== 'jazzer' && e !== 'fast-check' && e !== 'both') usage(`unknown engine "${e}"`);
      o.engines = e === 'both' ? ['jazzer', 'fast-check'] : [e];
      o.engineAsked = true;
    } else if (a === '--targets') {
      o.targets = value().split(',').filter(Boolean);
      o.targets.forEach(findTarget);
      o.report = false;
    } else if (a === '--no-report') o.report = false;
    else usage(`unknown argument "${a}"`);
  }
  return o;
}

/** Saves a fast-check counterexample beside jazzer's artifacts; returns its path. */
async function saveInput(target: string, input: Uint8Array): Promise<string> {
  const dir = join(FUZZ_DIR, 'crashes', target);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `fast-check-${createHash('sha1').update(input).digest('hex')}`);
  await writeFile(file, input);
  return file;
}

async function fuzzTarget(name: string, o: Options, launch: JazzerLaunch | null): Promise<FuzzRun[]> {
  const jazzer =
    launch && o.engines.includes('jazzer')
      ? runJazzer(launch, { target: name, seconds: o.seconds, corpusDir: join(FUZZ_DIR, 'corpus', name), crashDir: join(FUZZ_DIR, 'crashes', name) })
      : null;
  const runs: FuzzRun[] = [];
  if (o.engines.includes('fast-check')) {
    const r = runFastCheck(findTarget(name), { seconds: o.seconds });
    if (r.crashInput) r.crashMessage = `${r.crashMessage} (input saved to ${await saveInput(name, r.crashInput)})`;
    runs.push(r);
  }
  if (jazzer) runs.unshift(await jazzer);
  return runs;
}

const rate = (r: FuzzRun): number => r.perSecond;

function consoleLine(r: FuzzRun): string {
  const cov = r.coverage !== undefined ? `, coverage ${r.coverage}, corpus ${r.corpus}` : '';
  const crash = r.crashes > 0 ? `, CRASH: ${r.crashMessage}` : '';
  return `  ${r.engine.padEnd(10)} ${String(r.execs).padStart(9)} inputs, ${rate(r).toFixed(0).padStart(6)}/s, ${r.crashes} crash(es)${cov}${crash}`;
}

function section(runs: readonly FuzzRun[], o: Options, launch: JazzerLaunch | null, command: string, startedAt: Date, totalS: number): string {
  const total = (engine: string, f: (r: FuzzRun) => number): number => runs.filter((r) => r.engine === engine).reduce((n, r) => n + f(r), 0);
  const crashes = runs.filter((r) => r.crashes > 0);
  const lines = [
    FUZZ_SECTION,
    '',
    `Written by \`${command}\` (\`npm run fuzz\` builds first, then runs \`node dist/bench/fuzz.js\`; this section is replaced on every`,
    `full run, the others are kept). Run on ${startedAt.toISOString()}, took ${totalS.toFixed(0)} s. Each target of test/fuzz/targets.ts ran`,
    `${o.seconds} s under each engine, the two engines at the same time on the 2 cores. **jazzer**: @jazzer.js/core 4.0.0 (libFuzzer,`,
    `coverage-guided: edges of dist/src and dns-packet), ${launch ? `with ${launch.runtime}` : 'not available on this machine'}; its corpus persists in .fuzz/corpus/,`,
    'so a rerun starts where the last one stopped. **fast-check**: seeded mutations of valid encodings plus random bytes, no',
    'coverage feedback. Both stop a target at its first failing input. The property of every target: no throw but the',
    'documented error codes, bounded allocation, no hang, and canonical round trips where the format has an encoder',
    '(docs/FUZZING.md). Inputs/s include the checks (round trips, chunking comparisons), not just the parser.',
    '',
    ...machineFacts().map((f) => `- ${f}`),
    '',
    '| Target | Engine | Inputs | Inputs/s | Crashes | Coverage (edges) | Corpus |',
    '|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.target} | ${r.engine} | ${r.execs} | ${rate(r).toFixed(0)} | ${r.crashes} | ${r.coverage ?? ''} | ${r.corpus ?? ''} |`),
    `| **total** | jazzer | ${total('jazzer', (r) => r.execs)} |  | ${total('jazzer', (r) => r.crashes)} |  |  |`,
    `| **total** | fast-check | ${total('fast-check', (r) => r.execs)} |  | ${total('fast-check', (r) => r.crashes)} |  |  |`,
    '',
    crashes.length === 0 ? '- No crashes.' : `- Crashes: ${crashes.map((r) => `${r.target} (${r.engine}): ${r.crashMessage}`).join('; ')}.`,
    '- Findings of earlier runs, fixed with regression tests (test/fuzz/regressions.test.ts), are listed in docs/FUZZING.md.',
  ];
  return `${lines.join('\n')}\n`;
}

/** `markdown` with the section starting at `heading` replaced by `body` (appended when absent). */
export function replaceSection(markdown: string, heading: string, body: string): string {
  const start = markdown.indexOf(`${heading}\n`);
  if (start < 0) return `${markdown.trimEnd()}\n\n${body}`;
  const next = markdown.indexOf('\n## ', start + heading.length);
  const rest = next < 0 ? '' : markdown.slice(next + 1);
  return `${markdown.slice(0, start)}${body}${rest ? `\n${rest}` : ''}`;
}

/**
 * For `npm run bench`, which rewrites BENCHMARKS.md whole: `fresh` with the fuzzing
 * section of `old` carried over (unchanged when `old` has none).
 */
export function keepFuzzSection(old: string, fresh: string): string {
  const start = old.indexOf(`${FUZZ_SECTION}\n`);
  if (start < 0) return fresh;
  const next = old.indexOf('\n## ', start + FUZZ_SECTION.length);
  return replaceSection(fresh, FUZZ_SECTION, next < 0 ? old.slice(start) : old.slice(start, next + 1));
}

async function main(args: readonly string[]): Promise<number> {
  const o = parseArgs(args);
  const check = jazzerAvailable();
  if (!check.ok) {
    if (o.engineAsked && o.engines.includes('jazzer')) throw new Error(`jazzer unavailable: ${check.reason}`);
    console.log(`jazzer unavailable (${check.reason}): fast-check only`);
    o.engines = ['fast-check'];
  }
  const launch = check.ok ? check.launch : null;
  const startedAt = new Date();
  const runs: FuzzRun[] = [];
  for (const name of o.targets) {
    console.log(`-- ${name} (${o.seconds} s per engine)`);
    for (const r of await fuzzTarget(name, o, launch)) {
      console.log(consoleLine(r));
      runs.push(r);
    }
  }
  const totalS = (Date.now() - startedAt.getTime()) / 1000;
  const crashed = runs.filter((r) => r.crashes > 0).length;
  console.log(`${runs.length} runs, ${runs.reduce((n, r) => n + r.execs, 0)} inputs, ${crashed} with a crash, ${totalS.toFixed(0)} s`);
  if (o.report) {
    const file = join(REPO_ROOT, 'BENCHMARKS.md');
    const command = `npm run fuzz${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
    const before = await readFile(file, 'utf8').catch(() => '# Sentinel benchmarks\n');
    await writeFile(file, replaceSection(before, FUZZ_SECTION, section(runs, o, launch, command, startedAt, totalS)));
    console.log(`wrote the fuzzing section of ${file}`);
  }
  return crashed > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    },
  );
}
