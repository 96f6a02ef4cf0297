/** Pieces every abuse scenario uses: the victim and its contact, and running a scenario in its own lab. */
import type { LabSpec } from '../../topology.js';
import type { LabNode, LabNodeOptions } from '../../sentinel-procs.js';
import { AbuseHarness, type Scale } from '../harness.js';
import type { AbuseReport } from '../phases.js';

/** The victim's identity port in every scenario. */
export const VICTIM_PORT = 7400;
/** The contact's identity port. */
export const CONTACT_PORT = 7401;

/** A scenario: one finding of issue 8, replayed. */
export interface Scenario {
  /** Short name (bench and test titles). */
  id: string;
  /** The findings of issue 8 it replays (numbers as in docs/ABUSE.md). */
  findings: number[];
  title: string;
  run(scale: Scale): Promise<AbuseReport>;
  /** One readable sentence of what the defences did in a run (for BENCHMARKS.md). */
  headline(r: AbuseReport): string;
}

/** A figure of a report as text (`?` when missing). */
export function fig(r: AbuseReport, name: string): string {
  const v = r.figures[name];
  return v === undefined ? '?' : typeof v === 'number' ? v.toLocaleString('en-US') : v;
}

/** A counter of a report (0 when absent), as text. */
export function cnt(r: AbuseReport, name: string): string {
  return (r.counters[name] ?? 0).toLocaleString('en-US');
}

/** Sum of one count over every attacker of a report. */
export function attN(r: AbuseReport, name: string): number {
  return r.attacks.reduce((n, a) => n + (a.counts[name] ?? 0), 0);
}

/** {@link attN} as text. */
export function att(r: AbuseReport, name: string): string {
  return attN(r, name).toLocaleString('en-US');
}

/** KiB as whole MiB. */
export function mib(kib: number | undefined): string {
  return kib === undefined ? '?' : `${Math.round(kib / 1024)} MiB`;
}

/** The victim V and its contact C, started on their hosts and made each other's contacts. */
export interface Pair {
  victim: LabNode;
  contact: LabNode;
  /** host:port where C reaches V. */
  target: string;
}

/**
 * Starts V on `victimHost` and C on `contactHost` (C reaches V at V's own address: same
 * LAN or both public), and makes them contacts.
 */
export async function startPair(
  h: AbuseHarness,
  victimHost: string,
  contactHost: string,
  opts: { victim?: Partial<LabNodeOptions>; contact?: Partial<LabNodeOptions> } = {},
): Promise<Pair> {
  const [victim, contact] = await Promise.all([
    h.startNode(victimHost, { port: VICTIM_PORT, name: 'victim', ...opts.victim }),
    h.startNode(contactHost, { port: CONTACT_PORT, name: 'contact', ...opts.contact }),
  ]);
  const target = `${h.lab.host(victimHost).ip}:${VICTIM_PORT}`;
  await h.makeContacts(victim, contact, target);
  return { victim, contact, target };
}

/** Builds the lab of `spec`, runs `body` in it, and always tears everything down. */
export async function inLab<T>(spec: LabSpec, body: (h: AbuseHarness) => Promise<T>): Promise<T> {
  const h = await AbuseHarness.build(spec);
  try {
    return await body(h);
  } finally {
    await h.destroy();
  }
}

/** `ci` or `full` value. */
export function pick<T>(scale: Scale, ci: T, full: T): T {
  return scale === 'ci' ? ci : full;
}
