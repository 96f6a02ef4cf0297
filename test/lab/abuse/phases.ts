/**
 * The measurement every attack shares (issue 8, "Prove it stays fixed"):
 *
 *   1. idle: the contact C dials the victim V a few times (a new session each time)
 *   2. the attack starts (one or more attacker programs in lab namespaces)
 *   3. during it: C dials V again, and sends V a few messages; V's memory and descriptors
 *      are sampled all along
 *   4. after it: V must answer `sentinel status` (the real command), its memory and
 *      descriptors are read, every message C had acknowledged must be in V's history
 *      exactly once, and V's counters are kept
 *   5. V is SIGTERMed and must exit by itself within its shutdown deadline
 *
 * A scenario may stop V while the attack still runs (the HELLO flood: SIGTERM must work
 * mid-flood), and may check its own things while V is still up (`whileUp`).
 */
import type { StatusInfo } from '../../../src/api.js';
import { errorMessage } from '../../../src/errors.js';
import { tail, type LabNode } from '../sentinel-procs.js';
import { type AbuseHarness, type DialSample, type MessageOutcome, type Scale, type StopResult, sleep } from './harness.js';
import { Sampler, usage, type Peaks, type Usage } from './proc.js';
import type { AttackResult } from './spec.js';

/** Everything one attack run measured; `figures` are the scenario's own. */
export interface AbuseReport {
  id: string;
  findings: number[];
  title: string;
  scale: Scale;
  idle: DialSample[];
  during: DialSample[];
  /** V before the attack, and at its end (before the stop); null when no node was under attack. */
  before: Usage | null;
  end: Usage | null;
  peaks: Peaks;
  /** `sentinel status` answered after the attack (or, when stopped mid-attack, during it). */
  alive: boolean;
  aliveDetail: string;
  stop: StopResult | null;
  messages: MessageOutcome | null;
  /** V's counters from that last status. */
  counters: Record<string, number>;
  status: StatusInfo | null;
  attacks: AttackResult[];
  /** The attacker program failed (the attack did not happen as planned). */
  attackError: string | null;
  figures: Record<string, number | string>;
  notes: string[];
  /** The end of V's log, for failure messages. */
  log: string;
}

/** Dial and message counts of each scale. */
export const SAMPLES: Record<Scale, { idle: number; during: number; messages: number }> = {
  ci: { idle: 3, during: 4, messages: 3 },
  full: { idle: 10, during: 10, messages: 10 },
};

export interface PhaseOptions {
  h: AbuseHarness;
  victim: LabNode;
  contact: LabNode;
  /** host:port the contact dials. */
  victimTarget: string;
  scale: Scale;
  /** Starts the attack and resolves with what each attacker reported. */
  attack(): Promise<AttackResult[]>;
  /** Time the attack gets to build up before C dials (default 1 s). */
  warmupMs?: number;
  /** Dials during the attack, at most (default {@link SAMPLES}), and the pause between them (default DIAL_GAP_MS). */
  duringDials?: { count: number; gapMs: number };
  /** SIGTERM V while the attack still runs (after the samples and messages). */
  stopDuringAttack?: boolean;
  /** After the samples and messages, while the attack still runs: the scenario's own look (figures). */
  midAttack?(): Promise<Record<string, number | string>>;
  /** After the attack, with V still up: the scenario's own checks; returns its figures. */
  whileUp?(): Promise<Record<string, number | string>>;
}

/** Runs the phases above; never throws for what it measures (the report says it). */
export async function measure(o: PhaseOptions, meta: { id: string; findings: number[]; title: string }): Promise<AbuseReport> {
  const { h, victim, contact, victimTarget, scale } = o;
  const n = SAMPLES[scale];
  const idle = await h.dials(contact, victimTarget, n.idle);
  const before = await usage(victim.proc.pid);
  const sampler = new Sampler(victim.proc.pid);
  try {
    let attackDone = false;
    let attackError: unknown;
    const attacks = o.attack().then(
      (r) => r,
      (err: unknown) => {
        attackError = err;
        return [] as AttackResult[];
      },
    );
    void attacks.finally(() => (attackDone = true));
    await sleep(o.warmupMs ?? 1_000);
    const [during, sent] = await Promise.all([
      h.dials(contact, victimTarget, o.duringDials?.count ?? n.during, () => !attackDone, o.duringDials?.gapMs),
      h.sendMessages(contact, victim.id, n.messages, `during ${meta.id}`),
    ]);
    const figures: Record<string, number | string> = {};
    const notes: string[] = [];
    if (o.midAttack) {
      if (attackDone) notes.push('the attack had ended before the mid-attack look');
      Object.assign(figures, await o.midAttack());
    }
    let alive = false;
    let aliveDetail = '';
    let status: StatusInfo | null = null;
    let end: Usage | null = null;
    let messages: MessageOutcome;
    let stop: StopResult;
    const lookAtVictim = async (): Promise<void> => {
      try {
        status = await victim.status();
        alive = true;
        aliveDetail = `status answered: ${status.peers} sessions, ${status.trust.sessions.strangers} with strangers`;
      } catch (err) {
        aliveDetail = `status did not answer: ${errorMessage(err)}`;
      }
      end = await usage(victim.proc.pid).catch(() => null);
    };
    if (o.stopDuringAttack) {
      messages = await h.checkMessages(contact, victim, sent.ids, sent.errors);
      await lookAtVictim();
      stop = await h.stopNode(victim);
      await attacks;
    } else {
      await attacks;
      await lookAtVictim();
      messages = await h.checkMessages(contact, victim, sent.ids, sent.errors);
      if (o.whileUp) Object.assign(figures, await o.whileUp());
      // The scenario's checks may have moved counters (and status is cheap): read them last.
      await lookAtVictim();
      stop = await h.stopNode(victim);
    }
    const sampled = sampler.stop();
    // The process's own high-water mark (VmHWM) may have moved after the last sample.
    const peaks = { ...sampled, peakRssKiB: Math.max(sampled.peakRssKiB, (end as Usage | null)?.peakRssKiB ?? 0) };
    const finalStatus = status as StatusInfo | null;
    return {
      id: meta.id,
      findings: meta.findings,
      title: meta.title,
      scale,
      idle,
      during,
      before,
      end,
      peaks,
      alive,
      aliveDetail,
      stop,
      messages,
      counters: finalStatus?.counters ?? {},
      status: finalStatus,
      attacks: await attacks,
      attackError: attackError === undefined ? null : errorMessage(attackError),
      figures,
      notes,
      log: tail(victim.stderr(), 40),
    };
  } finally {
    // Stopped already on the normal path; this is for a scenario check that threw.
    sampler.stop();
  }
}

/**
 * The report of a scenario with no running node under attack (unsafe files are refused at
 * start): only its own figures and notes.
 */
export function checksOnly(meta: { id: string; findings: number[]; title: string }, scale: Scale, figures: Record<string, number | string>, notes: string[] = []): AbuseReport {
  return {
    id: meta.id,
    findings: meta.findings,
    title: meta.title,
    scale,
    idle: [],
    during: [],
    before: null,
    end: null,
    peaks: { samples: 0, peakRssKiB: 0, peakFds: 0 },
    alive: true,
    aliveDetail: 'no node runs during this replay',
    stop: null,
    messages: null,
    counters: {},
    status: null,
    attacks: [],
    attackError: null,
    figures,
    notes,
    log: '',
  };
}
