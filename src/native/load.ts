/**
 * Loads the C addon built by `npm install` (node-gyp) into build/Release. When it is
 * missing or broken the node runs without hole punching: the loader reports a plain
 * reason and never throws.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SentinelError } from '../errors.js';
import type { FighterNative } from './types.js';

export type LoadResult = { ok: true; native: FighterNative } | { ok: false; reason: string };

const ADDON = 'build/Release/sentinel_native.node';
const EXPORTS = ['listen', 'connect', 'close', 'sockname', 'setTtl', 'getTtl'] as const;

/** Where the addon may be: repo root seen from dist/src/native/ (compiled) or src/native/. */
function defaultPaths(): string[] {
  return ['../../../', '../../'].map((up) => fileURLToPath(new URL(up + ADDON, import.meta.url)));
}

function hasExports(mod: unknown): mod is FighterNative {
  return typeof mod === 'object' && mod !== null && EXPORTS.every((k) => typeof (mod as Record<string, unknown>)[k] === 'function');
}

function loadFrom(paths: readonly string[]): LoadResult {
  const path = paths.find((p) => existsSync(p));
  if (path === undefined) {
    return { ok: false, reason: `${ADDON} not found (build it with \`npm install\` or \`npx node-gyp rebuild\`)` };
  }
  try {
    const mod: unknown = createRequire(import.meta.url)(path);
    if (hasExports(mod)) return { ok: true, native: mod };
    return { ok: false, reason: `${path} does not export ${EXPORTS.join(', ')}` };
  } catch (err) {
    return { ok: false, reason: `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

let cached: LoadResult | undefined;

/**
 * Load the addon (once; later calls return the same result). `paths` overrides where to
 * look and bypasses the cache.
 */
export function loadNative(paths?: readonly string[]): LoadResult {
  if (paths) return loadFrom(paths);
  cached ??= loadFrom(defaultPaths());
  return cached;
}

/** The addon, or a SentinelError('E_NATIVE_UNAVAILABLE') saying why not. */
export function requireNative(): FighterNative {
  const result = loadNative();
  if (!result.ok) throw new SentinelError('E_NATIVE_UNAVAILABLE', result.reason);
  return result.native;
}
