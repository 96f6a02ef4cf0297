/**
 * Connection-layer attacks replayed with real binaries: the HELLO flood (finding 8),
 * half-open TLS (9), session-slot exhaustion (10) and pull amplification (7).
 *
 * Every one runs on one public segment of the lab (203.0.113.0/24): the victim V, its
 * contact C, and an attacker host that connects from many addresses of its own.
 */
import { Sampler } from '../proc.js';
import { measure } from '../phases.js';
import type { AttackResult } from '../spec.js';
import { VICTIM_PORT, inLab, pick, startPair, type Scenario, att, attN, cnt, fig, mib } from './common.js';

const PUBLIC_ABC = { sites: [{ name: 'pub', nat: 'public' as const, hosts: ['v', 'c', 'a'] }] };

/** 200k HELLO frames (3 MB) per session, sessions one after another; V is SIGTERMed mid-flood. */
export const helloFlood: Scenario = {
  id: 'hello-flood',
  findings: [8],
  title: 'HELLO flood: 200k HELLO frames per session, SIGTERM mid-flood',
  headline: (r) =>
    `${att(r, 'sessions')} sessions wrote ${att(r, 'hellos')} HELLO frames (${mib(attN(r, 'bytes') / 1024)}), each closed at its second HELLO; SIGTERM mid-flood: exited in ${r.stop ? Math.round(r.stop.ms) : '?'} ms (over 60 s in the review)`,
  run: (scale) =>
    inLab(PUBLIC_ABC, async (h) => {
      const { victim, contact, target } = await startPair(h, 'v', 'c');
      const durationMs = pick(scale, 8_000, 15_000);
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          attack: async () => [await h.attack('a', { kind: 'hello-flood', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, sessions: pick(scale, 80, 300), hellosPerSession: 200_000, gapMs: pick(scale, 100, 50), durationMs }).result],
          stopDuringAttack: true,
        },
        helloFlood,
      );
    }),
};

/**
 * Half-open TLS: sockets from many addresses dripping a ClientHello one byte a second, at V
 * and at the signaler V is registered with. After the attack a fresh node must still
 * register with the signaler.
 */
export const halfOpenTls: Scenario = {
  id: 'half-open-tls',
  findings: [9],
  title: 'Half-open TLS: sockets dripping a ClientHello at the node and the signaler',
  headline: (r) =>
    `${att(r, 'opened')} connections opened (${att(r, 'peak_open')} at once) from ${fig(r, 'sources')} addresses; ${cnt(r, 'inbound_refused.pending_per_ip')} refused per address, ${cnt(r, 'inbound_evicted.pending_full')} evicted from the full pending set; peak RSS V ${mib(r.peaks.peakRssKiB)}, signaler ${mib(Number(r.figures['signaler_peak_rss_kib'] ?? 0))} (488 and 447 MiB in the review); a fresh node registered afterwards: ${fig(r, 'signaler_registers_after')}`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['sig', 'v', 'c', 'a', 'q'] }] }, async (h) => {
      const signaler = await h.sl.startSignaler('sig', { logLevel: 'warn' });
      const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { signaler } });
      const sources = await h.addAddresses('a', pick(scale, 32, 64));
      const perSource = pick(scale, 50, 100);
      const durationMs = pick(scale, 14_000, 25_000);
      const sigSampler = new Sampler(signaler.proc.pid);
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          warmupMs: 3_000,
          attack: async () => [
            await h.attack('a', {
              kind: 'drip',
              targets: [
                { host: h.lab.host('v').ip, port: VICTIM_PORT },
                { host: h.lab.host('sig').ip, port: signaler.port },
              ],
              sources,
              socketsPerSource: perSource,
              byteIntervalMs: 1_000,
              durationMs,
            }).result,
          ],
          whileUp: async () => {
            const sig = sigSampler.stop();
            // The signaler still serves: a node that never met it registers now.
            const q = await h.startNode('q', { port: 7402, signaler });
            const registered = (await q.status()).signaler.state === 'connected';
            await q.stop();
            return { sockets: sources.length * perSource, sources: sources.length, signaler_peak_rss_kib: sig.peakRssKiB, signaler_peak_fds: sig.peakFds, signaler_registers_after: registered ? 1 : 0 };
          },
        },
        halfOpenTls,
      );
    }),
};

/**
 * Session-slot exhaustion: throw-away ids from 17 addresses, each completing TLS and HELLO
 * and holding its session. The contact must still get in; strangers stay within their slots
 * and within what the node remembers.
 */
export const sessionCap: Scenario = {
  id: 'session-cap',
  findings: [10],
  title: 'Session-slot exhaustion: 17 addresses x throw-away sessions',
  headline: (r) =>
    `${att(r, 'opened')} throw-away sessions from 17 addresses: ${att(r, 'admitted')} admitted (stranger cap 128), ${att(r, 'refused')} refused BUSY; ${fig(r, 'remembered_mid')} strangers remembered (all 1,089 stored permanently in the review)`,
  run: (scale) =>
    inLab(PUBLIC_ABC, async (h) => {
      const { victim, contact, target } = await startPair(h, 'v', 'c');
      const sources = await h.addAddresses('a', 17);
      const perSource = pick(scale, 24, 64);
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          warmupMs: pick(scale, 3_000, 5_000),
          attack: async () => [await h.attack('a', { kind: 'sessions', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, sources, sessionsPerSource: perSource, durationMs: pick(scale, 10_000, 20_000) }).result],
          midAttack: async () => {
            const s = await h.call(victim, 'status', {});
            return { attempted: sources.length * perSource, stranger_sessions_mid: s.trust.sessions.strangers, contact_sessions_mid: s.trust.sessions.contacts, remembered_mid: s.trust.remembered };
          },
        },
        sessionCap,
      );
    }),
};

/** Pull amplification: 64 sessions sending empty GOSSIP_PUSH frames and never reading. */
export const pullAmplification: Scenario = {
  id: 'pull-amplification',
  findings: [7],
  title: 'Pull amplification: 64 sessions pushing empty GOSSIP_PUSH, never reading',
  headline: (r) =>
    `${att(r, 'pushes')} empty pushes from ${att(r, 'sessions')} sessions that never read, ${cnt(r, 'gossip.push_rate_limited')} dropped by the push rate; peak RSS ${mib(r.peaks.peakRssKiB)} from ${mib(r.before?.rssKiB)} (153 to 350 MiB in the review)`,
  run: (scale) =>
    inLab(PUBLIC_ABC, async (h) => {
      const { victim, contact, target } = await startPair(h, 'v', 'c');
      const sources = await h.addAddresses('a', 8);
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          warmupMs: 2_000,
          attack: async (): Promise<AttackResult[]> => [
            await h.attack('a', { kind: 'pull-amp', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, sources, sessionsPerSource: 8, pushesPerSession: pick(scale, 20_000, 60_000), batchGapMs: 100, durationMs: pick(scale, 10_000, 15_000) }).result,
          ],
        },
        pullAmplification,
      );
    }),
};
