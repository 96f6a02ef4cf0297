/**
 * Every fuzz target, in report order. To fuzz a new payload codec, add one
 * `codecTarget({...})` entry to WIRE_CODECS (targets-wire.ts): it becomes a target of its
 * own and, through its `frameTypes`, part of the frame-stream target. Other parsers get a
 * `{ name, about, seeds, run }` entry in HOST_TARGETS (targets-host.ts).
 */
import { PLANTED_TARGETS } from './planted.js';
import { HOST_TARGETS } from './targets-host.js';
import { DNS_TARGETS } from './targets-dns.js';
import { FRAME_STREAM, WIRE_CODECS } from './targets-wire.js';
import type { FuzzTarget } from './target.js';

export const FUZZ_TARGETS: readonly FuzzTarget[] = [FRAME_STREAM, ...WIRE_CODECS, ...HOST_TARGETS, ...DNS_TARGETS];

/** The target called `name` (planted-bug targets included); throws a one-line error listing the names otherwise. */
export function findTarget(name: string): FuzzTarget {
  const t = [...FUZZ_TARGETS, ...PLANTED_TARGETS].find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target "${name}"; targets: ${FUZZ_TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
