/**
 * Rate limits that hold across the instances of a signaler cluster, with the real
 * `sentinel-signaler --redis` binaries in the NAT lab (root only; skipped with the reason
 * otherwise, failed when SENTINEL_LAB=required; skipped when redis-server is missing).
 * Three instances s1..s3 on the public segment, Redis on its own host.
 *
 * - punch limit per target and requester IP: a node T (easy NAT) registered at s3; two
 *   hosts behind one NAT (one public IP) run a punch storm of throw-away ids
 *   (abuse/attacker.js), one against s1 and one against s2. Every punch to T is decided by
 *   T's instance, so the PUNCH_STARTs the requesters get (one per PUNCH_START sent to T)
 *   stay within one PUNCH_TARGET_IP_RATE budget for the whole run, not one per instance;
 * - register rate per id: one identity registers at s1, s2, s3, s1, ... one short session
 *   after the other (signaler-cluster-hop.js); its REGISTERED answers stay within one
 *   REGISTER_RATE budget, not one per instance.
 *
 * Each bound is the limit's burst plus its rate times the measured window, plus a little
 * slack; each test also checks, from what the requesters sent, that per-instance limits
 * would have given clearly more than that bound (so the test tells the two apart).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { PUNCH_PAIR_INTERVAL_MS, PUNCH_TARGET_IP_RATE, REGISTER_RATE } from '../../src/signaler/limits.js';
import { ATTACKER_JS } from './abuse/harness.js';
import { RESULT_PREFIX, type AttackResult, type PunchStormSpec } from './abuse/spec.js';
import { buildLab, type Lab } from './index.js';
import { spawnIn, type LabProcess } from './netns.js';
import { SentinelLab, tail, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable } from './gate.js';
import { LabRedis, currentSignaler, labRedisSkipReason, pinned, signalerLogs, startClusterSignaler } from './signaler-cluster-lab.js';
import { HOP_RESULT_PREFIX, type HopResult, type HopSpec } from './signaler-cluster-hop.js';

const TITLE = 'signaler cluster in the NAT lab: rate limits hold across instances';
const labOk = await labAvailable(TITLE);
const redisSkip = labOk ? labRedisSkipReason() : undefined;
if (redisSkip !== undefined) it(TITLE, { skip: redisSkip }, () => undefined);

const HOP_JS = fileURLToPath(new URL('./signaler-cluster-hop.js', import.meta.url));
/** How long each storm runs (registration of its ids included). */
const STORM_MS = 5_000;
/** Throw-away ids per storm: with one punch per pair per PUNCH_PAIR_INTERVAL_MS they ask for 4/s, twice the per-IP rate. */
const STORM_IDS = 8;
/** Each id asks this often (under REQUEST_RATE, 5/s); most are refused by the pair limit. */
const STORM_INTERVAL_MS = 250;
/** How long the register hopper runs. */
const HOP_MS = 5_000;
/** Tokens allowed over burst + rate x window: a refill that lands between our clock reads. */
const SLACK = 2;

/** A program run in a lab namespace that prints `progress ...` when it starts and `result <json>` at the end. */
interface Run<T> {
  proc: LabProcess;
  /** Date.now() when it said it started. */
  started: Promise<number>;
  /** Its result, and Date.now() when it exited. */
  done: Promise<{ result: T; endedAt: number }>;
}

const running = new Set<LabProcess>();

function runIn<T>(lab: Lab, hostName: string, script: string, spec: object, prefix: string): Run<T> {
  const proc = spawnIn(lab.host(hostName).ns, process.execPath, [script, JSON.stringify(spec)]);
  running.add(proc);
  const started = proc.waitFor(/^progress .*started/m, 15_000).then(() => Date.now());
  // Not left unhandled when the program fails first: `done` says why.
  started.catch(() => undefined);
  const done = proc.exited.then((r) => {
    const endedAt = Date.now();
    running.delete(proc);
    const line = r.stdout.split('\n').find((l) => l.startsWith(prefix));
    if (r.code !== 0 || line === undefined) throw new Error(`${script} on ${hostName} failed (${String(r.code ?? r.signal)}):\n${tail(r.stderr, 20)}\n${tail(r.stdout, 5)}`);
    return { result: JSON.parse(line.slice(prefix.length)) as T, endedAt };
  });
  return { proc, started, done };
}

const count = (counts: Record<string, number>, key: string): number => counts[key] ?? 0;
const seconds = (ms: number): string => (ms / 1000).toFixed(2);

if (labOk && redisSkip === undefined) describe(TITLE, { timeout: 120_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let redis: LabRedis;
  let s1: LabSignaler;
  let s2: LabSignaler;
  let s3: LabSignaler;

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['redis', 'sig1', 'sig2', 'sig3'] },
        { name: 'T', nat: 'easy', hosts: ['t1'] },
        // One home network (one public IP) with two hosts asking for punches.
        { name: 'R', nat: 'easy', hosts: ['r1', 'r2'] },
        { name: 'H', nat: 'easy', hosts: ['h1'] },
      ],
    });
    sl = new SentinelLab(lab);
    redis = await LabRedis.start(sl, 'redis');
    [s1, s2, s3] = await Promise.all([startClusterSignaler(sl, 'sig1', redis), startClusterSignaler(sl, 'sig2', redis), startClusterSignaler(sl, 'sig3', redis)]);
  });

  after(async () => {
    await Promise.allSettled([...running].map((p) => p.stop()));
    await sl?.cleanup();
    await redis?.stop();
    await lab?.destroy();
  });

  it('punches to one target from one public IP, asked at s1 and s2, stay within one PUNCH_TARGET_IP_RATE budget at T\'s instance s3', async (t) => {
    const target: LabNode = await sl.startNode('t1', { port: 7401, signaler: pinned(s3), name: 'target' });
    t.after(() => target.stop());
    const at = await currentSignaler(target);
    assert.equal(at.id, s3.id, `T is registered at s3: ${JSON.stringify(at)}`);

    const storm = (sig: LabSignaler): PunchStormSpec => ({ kind: 'punch-storm', signaler: { host: sig.host.ip, port: sig.port }, target: target.id, ids: STORM_IDS, intervalMs: STORM_INTERVAL_MS, locals: [], listenPort: 7000, durationMs: STORM_MS });
    const runs = [runIn<AttackResult>(lab, 'r1', ATTACKER_JS, storm(s1), RESULT_PREFIX), runIn<AttackResult>(lab, 'r2', ATTACKER_JS, storm(s2), RESULT_PREFIX)];
    const ends = await Promise.all(runs.map((r) => r.done));
    const starts = await Promise.all(runs.map((r) => r.started));
    // Every PUNCH_START was granted after the first storm started and before the last one ended.
    const windowMs = Math.max(...ends.map((e) => e.endedAt)) - Math.min(...starts);
    const sides = ends.map((e, i) => ({ name: i === 0 ? 'r1 at s1' : 'r2 at s2', counts: e.result.counts }));
    const { perSecond, burst } = PUNCH_TARGET_IP_RATE;
    const granted = sides.reduce((n, s) => n + count(s.counts, 'punch_start'), 0);
    const allowed = Math.floor(burst + (perSecond * windowMs) / 1000) + SLACK;
    // What each instance alone would have granted its side had the limit been per instance:
    // its burst plus the refill over the time its ids were asking (requests x interval / ids),
    // capped by what the pair limit lets its ids ask for at all.
    const perInstance = sides.reduce((n, s) => {
      const askingMs = (count(s.counts, 'requests') * STORM_INTERVAL_MS) / STORM_IDS;
      const pairCap = STORM_IDS * (1 + Math.floor(askingMs / PUNCH_PAIR_INTERVAL_MS));
      return n + Math.min(pairCap, Math.floor(burst + (perSecond * askingMs) / 1000));
    }, 0);
    for (const s of sides) t.diagnostic(`punch storm ${s.name}: ${JSON.stringify(s.counts)}`);
    const tCounters = Object.entries((await target.status()).counters).filter(([k]) => k.startsWith('punch'));
    t.diagnostic(
      `punch limit across instances: ${granted} PUNCH_STARTs for T over ${seconds(windowMs)} s (bound ${allowed} = ${burst} + ${perSecond}/s x window + ${SLACK}; per-instance limits would have given about ${perInstance}); T's punch counters ${JSON.stringify(Object.fromEntries(tCounters))}`,
    );

    const context = `\n${JSON.stringify(sides)}\n${signalerLogs(s1, s2, s3)}`;
    for (const s of sides) {
      assert.equal(count(s.counts, 'registered'), STORM_IDS, `${s.name}: every id registered${context}`);
      assert.ok(count(s.counts, 'signal_error.RATE_LIMITED') > 0, `${s.name}: requests were refused${context}`);
      assert.equal(count(s.counts, 'signal_error.UNAVAILABLE'), 0, `${s.name}: the cluster answered${context}`);
    }
    assert.ok(perInstance > allowed, `the run must tell per-instance limits (${perInstance}) from cluster-wide ones (bound ${allowed})${context}`);
    assert.ok(granted >= burst, `at least the burst (${burst}) went through, got ${granted}${context}`);
    assert.ok(granted <= allowed, `${granted} PUNCH_STARTs for T from one IP over ${seconds(windowMs)} s, bound ${allowed}${context}`);
  });

  it('one identity registering at s1, s2, s3, s1, ... in turn gets REGISTERED within one REGISTER_RATE budget', async (t) => {
    const spec: HopSpec = { signalers: [s1, s2, s3].map((s) => ({ host: s.host.ip, port: s.port })), durationMs: HOP_MS, listenPort: 7000 };
    const run = runIn<HopResult>(lab, 'h1', HOP_JS, spec, HOP_RESULT_PREFIX);
    const { result } = await run.done;
    const c = result.counts;
    const { perSecond, burst } = REGISTER_RATE;
    const registered = count(c, 'registered');
    const allowed = Math.floor(burst + (perSecond * result.elapsedMs) / 1000) + SLACK;
    // Per-instance limits: each instance its own burst and refill, capped by the attempts it saw.
    const perInstance = spec.signalers.reduce((n, _, i) => n + Math.min(count(c, `attempts.${i}`), Math.floor(burst + (perSecond * result.elapsedMs) / 1000)), 0);
    t.diagnostic(`register hop: ${JSON.stringify(c)}`);
    t.diagnostic(
      `register rate across instances: ${registered} REGISTERED of ${count(c, 'attempts')} attempts over ${seconds(result.elapsedMs)} s (bound ${allowed} = ${burst} + ${perSecond}/s x window + ${SLACK}; per-instance limits would have given about ${perInstance})`,
    );

    const context = `\n${JSON.stringify(c)}\n${signalerLogs(s1, s2, s3)}`;
    assert.equal(count(c, 'registered') + count(c, 'rate_limited'), count(c, 'attempts'), `every attempt was answered REGISTERED or RATE_LIMITED${context}`);
    assert.ok(perInstance > allowed, `the run must tell per-instance limits (${perInstance}) from cluster-wide ones (bound ${allowed})${context}`);
    assert.ok(registered >= burst, `at least the burst (${burst}) registered, got ${registered}${context}`);
    for (let i = 0; i < spec.signalers.length; i++) assert.ok(count(c, `registered.${i}`) >= 1, `registered at s${i + 1} at least once (the burst is spent at all three)${context}`);
    assert.ok(registered <= allowed, `${registered} registrations of one id over ${seconds(result.elapsedMs)} s, bound ${allowed}${context}`);
  });
});
