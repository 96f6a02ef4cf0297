/**
 * Reads a V8 CPU profile (the `.cpuprofile` file `node --cpu-prof` writes at exit) and
 * lists the functions with the most self time, for a benchmark's notes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** One function's share of the busy (non-idle) samples. */
export interface HotFunction {
  /** `name (file:line)`, or V8's own labels such as `(garbage collector)`. */
  label: string;
  /** Percent of busy samples that were in this function itself. */
  selfPercent: number;
}

interface ProfileNode {
  id: number;
  hitCount?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function label(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  if (url === '') return name;
  // Line numbers in profiles are 0-based.
  return `${name} (${basename(url)}:${lineNumber + 1})`;
}

/** The `top` functions by self time in the profile at `file`, idle time left out. */
export async function hotFunctions(file: string, top = 12): Promise<HotFunction[]> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as { nodes: ProfileNode[] };
  const self = new Map<string, number>();
  let busy = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0 || n.callFrame.functionName === '(idle)') continue;
    self.set(label(n), (self.get(label(n)) ?? 0) + hits);
    busy += hits;
  }
  return [...self.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([l, hits]) => ({ label: l, selfPercent: busy === 0 ? 0 : (hits / busy) * 100 }));
}

/** The newest `.cpuprofile` file in `dir`, or null. */
export async function newestProfile(dir: string): Promise<string | null> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.cpuprofile')).sort();
  const last = names[names.length - 1];
  return last === undefined ? null : join(dir, last);
}
