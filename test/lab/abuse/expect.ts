/**
 * What every abuse lab test asserts about its report (phases.ts), and a one-line summary
 * for the test's diagnostics: the contact got in during the attack, the victim answered
 * `sentinel status`, lost no acknowledged message, released what the attack made it hold,
 * stayed under the memory bound, and stopped on SIGTERM by itself within its deadline.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { SHUTDOWN_DEADLINE_MS } from '../../../src/cli/process.js';
import { CONTACT_DIAL_BOUND_MS, MAX_VICTIM_FDS_AT_END, MAX_VICTIM_PEAK_RSS_KIB } from './bounds.js';
import { STOP_MARGIN_MS, type DialSample, type Scale } from './harness.js';
import type { AbuseReport } from './phases.js';

const p50 = (xs: readonly DialSample[]): number => {
  const ms = xs.filter((x) => x.ok).map((x) => x.ms).sort((a, b) => a - b);
  return ms.length === 0 ? NaN : (ms[Math.ceil(ms.length / 2) - 1] as number);
};

/** One line: dials, memory, descriptors, stop, messages, the attack's counts and the figures. */
export function summary(r: AbuseReport): string {
  const mib = (k: number | undefined): string => (k === undefined ? '?' : `${(k / 1024).toFixed(0)} MiB`);
  return [
    `${r.id}: dial p50 idle ${p50(r.idle)} ms, during ${p50(r.during)} ms (${r.during.filter((d) => d.ok).length}/${r.during.length} ok)`,
    `RSS ${mib(r.before?.rssKiB)} -> peak ${mib(r.peaks.peakRssKiB)}, end ${mib(r.end?.rssKiB)}; fds peak ${r.peaks.peakFds}, end ${r.end?.fds ?? '?'}`,
    `stop ${r.stop ? `${r.stop.ms.toFixed(0)} ms${r.stop.killed ? ' (KILLED)' : ''}` : 'n/a'}`,
    `messages ${r.messages ? `${r.messages.acknowledged} acked, ${r.messages.lost.length} lost` : 'n/a'}`,
    `attacks ${JSON.stringify(r.attacks.map((a) => a.counts))}`,
    `figures ${JSON.stringify(r.figures)}`,
  ].join('; ');
}

/** Context for a failure message: the summary, notes and the victim's last log lines. */
export function context(r: AbuseReport): string {
  return `${summary(r)}\nnotes: ${r.notes.join(' | ')}\ncounters: ${JSON.stringify(r.counters)}\nvictim log:\n${r.log}`;
}

/** The assertions every attack run must pass; `rssBoundKiB` replaces the common memory bound. */
export function assertSurvived(t: TestContext, r: AbuseReport, rssBoundKiB = MAX_VICTIM_PEAK_RSS_KIB): void {
  t.diagnostic(summary(r));
  const ctx = context(r);
  assert.equal(r.attackError, null, `the attack did not run as planned: ${r.attackError}\n${ctx}`);
  assert.ok(r.idle.length > 0 && r.idle.every((d) => d.ok), `idle dials failed: ${JSON.stringify(r.idle)}\n${ctx}`);
  assert.ok(r.during.length > 0, `no dial happened while the attack ran (it ended too early)\n${ctx}`);
  for (const d of r.during) {
    assert.ok(d.ok, `the contact could not connect during the attack: ${d.reason}\n${ctx}`);
    assert.ok(d.ms <= CONTACT_DIAL_BOUND_MS, `a contact's dial took ${d.ms} ms during the attack (bound ${CONTACT_DIAL_BOUND_MS})\n${ctx}`);
  }
  assert.ok(r.alive, `the victim did not answer \`sentinel status\`: ${r.aliveDetail}\n${ctx}`);
  assert.ok(r.messages, 'no messages were checked');
  assert.deepEqual(r.messages.errors, [], `sends failed during the attack\n${ctx}`);
  assert.ok(r.messages.acknowledged > 0, 'no message was acknowledged: the check would be empty');
  assert.deepEqual(r.messages.lost, [], `acknowledged messages lost\n${ctx}`);
  assert.deepEqual(r.messages.duplicates, [], `messages stored twice\n${ctx}`);
  assert.ok(r.peaks.peakRssKiB <= rssBoundKiB, `peak RSS ${r.peaks.peakRssKiB} KiB (bound ${rssBoundKiB})\n${ctx}`);
  assert.ok(r.end && r.end.fds <= MAX_VICTIM_FDS_AT_END, `${r.end?.fds} descriptors open after the attack (bound ${MAX_VICTIM_FDS_AT_END})\n${ctx}`);
  assert.ok(r.stop, 'the victim was not stopped');
  assert.equal(r.stop.killed, false, `SIGTERM did not stop the victim within ${SHUTDOWN_DEADLINE_MS + STOP_MARGIN_MS} ms\n${ctx}`);
  assert.equal(r.stop.signal, null, `the victim died by ${r.stop.signal}\n${ctx}`);
  assert.equal(r.stop.code, 0, `the victim exited ${r.stop.code} on SIGTERM\n${ctx}`);
}

/** A counter of the victim, 0 when absent. */
export function counter(r: AbuseReport, name: string): number {
  return r.counters[name] ?? 0;
}

/** Sum of the victim's counters whose name starts with `prefix`. */
export function counterSum(r: AbuseReport, prefix: string): number {
  return Object.entries(r.counters).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);
}

/** A numeric figure of the scenario (throws when missing, so a typo cannot pass). */
export function figure(r: AbuseReport, name: string): number {
  const v = r.figures[name];
  if (typeof v !== 'number') throw new Error(`no figure ${name} in ${JSON.stringify(r.figures)}`);
  return v;
}

/** Sum over every attacker's counts of `name`. */
export function attackCount(r: AbuseReport, name: string): number {
  return r.attacks.reduce((n, a) => n + (a.counts[name] ?? 0), 0);
}

/** The scale lab tests run at: `ci` unless SENTINEL_ABUSE_SCALE=full (the issue's full figures; slower). */
export function testScale(): Scale {
  return process.env['SENTINEL_ABUSE_SCALE'] === 'full' ? 'full' : 'ci';
}
