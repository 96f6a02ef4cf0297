/**
 * Command-line parsing shared by every Sentinel executable: a thin layer over
 * `node:util` parseArgs that turns every mistake into a one-line E_USAGE error.
 */

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SentinelError } from '../errors.js';

/** One accepted option. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** One line for help output. */
  description: string;
  /** Placeholder shown in help for string options, e.g. `DIR`. */
  valueName?: string;
  /** A string option that may be given several times (values collected in order). */
  multiple?: boolean;
}

/** Accepted options by long name (without the leading `--`). */
export type OptionSpecs = Record<string, OptionSpec>;

/** Parsed option values: strings or booleans by option type, absent when not given. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string;
};

/** Result of {@link parseArgv}. */
export interface ParsedArgv<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: string[];
}

/**
 * Parses `argv` (without node and script) against `options`. Options may appear
 * anywhere; `--` ends them. Unknown options, missing values and values given to
 * boolean flags throw SentinelError('E_USAGE').
 */
export function parseArgv<O extends OptionSpecs>(argv: readonly string[], options: O): ParsedArgv<O> {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(options)) {
    config[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (!spec) throw usage(`unknown option ${token.rawName}`);
    if (spec.type === 'string' && token.value === undefined) throw usage(`option ${token.rawName} needs a value`);
    // `--data-dir --json` is almost surely a forgotten value, not a directory named "--json".
    if (spec.type === 'string' && !token.inlineValue && token.value?.startsWith('-')) {
      throw usage(`option ${token.rawName} needs a value (write ${token.rawName}=${token.value} if you mean it)`);
    }
    if (spec.type === 'boolean' && token.value !== undefined) throw usage(`option ${token.rawName} takes no value`);
  }
  return { values: { ...values } as OptionValues<O>, positionals };
}

/**
 * Reads an integer option value within bounds; undefined stays undefined.
 * @throws SentinelError E_USAGE when `raw` is not such an integer.
 */
export function intOption(name: string, raw: string | undefined, bounds: { min: number; max: number }): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < bounds.min || n > bounds.max) {
    throw usage(`--${name} must be an integer from ${bounds.min} to ${bounds.max}, got "${raw}"`);
  }
  return n;
}

/** Help lines for a set of options, aligned: `  -h, --help        show help`. */
export function formatOptions(options: OptionSpecs): string {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n');
}

/** A usage error (exit status 2 in every CLI). */
export function usage(detail: string): SentinelError {
  const err = new SentinelError('E_USAGE', detail);
  err.message = detail;
  return err;
}

/** Exit status for usage errors. */
export const EXIT_USAGE = 2;
/** Exit status for every other failure. */
export const EXIT_FAILURE = 1;

/**
 * True when the module at `importMetaUrl` is the script node was started with
 * (also through an npm bin symlink), so a CLI file can be imported by tests.
 */
export function isEntryPoint(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(importMetaUrl));
  } catch {
    return false;
  }
}

const UNITS = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as const;

/**
 * Reads a byte rate: a positive integer of bytes per second, optionally with a suffix K, M
 * or G (KiB, MiB, GiB; either case), e.g. `2M`.
 * @throws SentinelError E_USAGE otherwise.
 */
export function parseByteRate(name: string, raw: string): number {
  const m = /^(\d+)([KMGkmg]?)$/.exec(raw);
  const n = m ? Number(m[1]) * (m[2] ? UNITS[m[2].toUpperCase() as keyof typeof UNITS] : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw usage(`--${name} must be a positive number of bytes per second, optionally with K, M or G (KiB, MiB, GiB), e.g. 2M; got "${raw}"`);
  return n;
}

/** `2097152` -> `2 MiB`; sizes that are not whole units stay in bytes. */
export function formatBytes(n: number): string {
  for (const [suffix, size] of [['G', UNITS.G], ['M', UNITS.M], ['K', UNITS.K]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${suffix}iB`;
  }
  return `${n} B`;
}

export function formatByteRate(n: number): string {
  return `${formatBytes(n)}/s`;
}
