/**
 * Attacks that try to make the victim connect to others, replayed with real binaries:
 * mDNS reflection (finding 1), punch storms through the signaler (4) and reflection
 * through self-reported local endpoints (5). SYNs reaching the third parties are counted
 * by nftables in their namespaces (syn-counter.ts).
 */
import { exec } from '../../netns.js';
import { sleep } from '../harness.js';
import { measure } from '../phases.js';
import { installSynCounter, synCount } from '../syn-counter.js';
import { inLab, pick, startPair, type Scenario, att, cnt, fig } from './common.js';

/** The port forged announcements and local endpoints point at on a victim host. */
export const REFLECTION_PORT = 7300;
/** After a reflection attack, time for any dial it caused to reach the third party. */
export const REFLECTION_SETTLE_MS = 2_000;

/**
 * mDNS reflection: an on-link attacker (TTL 255, so the node's link checks pass) sends 50
 * unicast responses a second to V:5353, each announcing 8 fresh ids at an on-link victim
 * T. V and its contact C are on the same LAN; V runs mDNS.
 */
export const mdnsReflection: Scenario = {
  id: 'mdns-reflection',
  findings: [1],
  title: 'mDNS reflection: 50 forged responses/s, 8 fresh ids each, aimed at a LAN host',
  headline: (r) =>
    `${fig(r, 'syns_at_victim')} SYNs reached the LAN host from ${att(r, 'ids')} forged ids in ${fig(r, 'attack_ms')} ms (4,000 connections in the review); ${cnt(r, 'mdns.hints_limited.address')} hints limited for naming that address`,
  run: (scale) =>
    inLab({ sites: [{ name: 'lan', nat: 'easy', hosts: ['v', 'c', 'a', 't'] }] }, async (h) => {
      const r = h.lab.router('lan');
      // Unicast to 5353 needs no snooping, but V's own multicast announcements should flow.
      await exec(r.ns, 'ip', ['link', 'set', r.lanIf, 'type', 'bridge', 'mcast_snooping', '0']);
      const t = h.lab.host('t');
      await installSynCounter(t.ns, { ports: { first: REFLECTION_PORT, last: REFLECTION_PORT } });
      const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { extraArgs: [] } });
      const durationMs = pick(scale, 6_000, 10_000);
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          attack: async () => [
            await h.attack('a', { kind: 'mdns', target: h.lab.host('v').ip, victim: t.ip, victimPort: REFLECTION_PORT, ttl: 255, pps: 50, idsPerPacket: 8, durationMs }).result,
          ],
          whileUp: async () => {
            await sleep(REFLECTION_SETTLE_MS);
            return { syns_at_victim: await synCount(t.ns), attack_ms: durationMs, settle_ms: REFLECTION_SETTLE_MS };
          },
        },
        mdnsReflection,
      );
    }),
};

/**
 * Punch storm: 32 throw-away ids behind two port-randomizing NATs register with the
 * signaler and each asks for a punch to V every 500 ms. V sits behind an easy NAT with its
 * contact C on the same LAN; the attackers' routers count the SYNs V sends them.
 */
export const punchStorm: Scenario = {
  id: 'punch-storm',
  findings: [4],
  title: 'Punch storm: 32 throw-away ids asking the signaler to punch one node',
  headline: (r) =>
    `V answered ${fig(r, 'punches_answered')} of ${att(r, 'punch_start')} PUNCH_STARTs the signaler let through (${att(r, 'signal_error.RATE_LIMITED')} requests refused there), ${r.counters['punch_birthday_skipped'] ?? 0} birthday attempts skipped; peak ${r.peaks.peakFds} descriptors (20,000 in the review); ${fig(r, 'syns_at_attackers')} SYNs at the attackers' NATs`,
  run: (scale) =>
    inLab(
      {
        sites: [
          { name: 'pub', nat: 'public', hosts: ['sig'] },
          { name: 'home', nat: 'easy', hosts: ['v', 'c'] },
          { name: 'evil1', nat: 'hard', hosts: ['a1'] },
          { name: 'evil2', nat: 'hard', hosts: ['a2'] },
        ],
      },
      async (h) => {
        const signaler = await h.sl.startSignaler('sig', { logLevel: 'warn' });
        const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { signaler } });
        const vPublic = h.lab.router('home').wanIp;
        for (const site of ['evil1', 'evil2']) await installSynCounter(h.lab.router(site).ns, { ports: { first: 1, last: 65535 }, from: vPublic });
        const durationMs = pick(scale, 10_000, 15_000);
        const storm = { kind: 'punch-storm' as const, signaler: { host: h.lab.host('sig').ip, port: signaler.port }, target: victim.id, ids: 16, intervalMs: 500, locals: [], listenPort: 7000, durationMs };
        return measure(
          {
            h,
            victim,
            contact,
            victimTarget: target,
            scale,
            warmupMs: 2_000,
            attack: async () => Promise.all([h.attack('a1', storm).result, h.attack('a2', storm).result]),
            whileUp: async () => {
              // A punch answered late still runs for its 20 x 400 ms.
              await sleep(8_000 + REFLECTION_SETTLE_MS);
              const syns = (await synCount(h.lab.router('evil1').ns)) + (await synCount(h.lab.router('evil2').ns));
              const punched = victim.stderr().split('\n').filter((l) => / wants to connect; punching$/.test(l)).length;
              return { ids: 32, syns_at_attackers: syns, punches_answered: punched, attack_ms: durationMs };
            },
          },
          punchStorm,
        );
      },
    ),
};

/**
 * Reflection through local endpoints: an attacker behind V's NAT (so the signaler treats
 * them as neighbours) registers 16 "local" endpoints, 8 pointing at a host T on that LAN
 * and 8 at a public host W, and asks for punches to V every 2 s (the pair interval) with
 * several throw-away ids.
 */
export const localsReflection: Scenario = {
  id: 'locals-reflection',
  findings: [5],
  title: 'Reflection through local endpoints: 16 "local" endpoints aimed at two victims',
  headline: (r) =>
    `${fig(r, 'syns_at_lan_victim')} SYNs at the LAN victim from ${fig(r, 'punches_answered')} punches (at most 3 local endpoints x 20 attempts each; the review: 320 per request), ${fig(r, 'syns_at_public_victim')} at the public victim`,
  run: (scale) =>
    inLab(
      {
        sites: [
          { name: 'pub', nat: 'public', hosts: ['sig', 'w'] },
          { name: 'home', nat: 'easy', hosts: ['v', 'c', 'a', 't'] },
        ],
      },
      async (h) => {
        const signaler = await h.sl.startSignaler('sig', { logLevel: 'warn' });
        const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { signaler } });
        const t = h.lab.host('t');
        const w = h.lab.host('w');
        const ports = { first: REFLECTION_PORT, last: REFLECTION_PORT + 7 };
        await installSynCounter(t.ns, { ports });
        await installSynCounter(w.ns, { ports });
        const locals = [...Array.from({ length: 8 }, (_, i) => ({ host: t.ip, port: REFLECTION_PORT + i })), ...Array.from({ length: 8 }, (_, i) => ({ host: w.ip, port: REFLECTION_PORT + i }))];
        const durationMs = pick(scale, 10_000, 15_000);
        return measure(
          {
            h,
            victim,
            contact,
            victimTarget: target,
            scale,
            warmupMs: 2_000,
            attack: async () => [await h.attack('a', { kind: 'punch-storm', signaler: { host: h.lab.host('sig').ip, port: signaler.port }, target: victim.id, ids: pick(scale, 4, 8), intervalMs: 2_000, locals, listenPort: 7000, durationMs }).result],
            whileUp: async () => {
              await sleep(8_000 + REFLECTION_SETTLE_MS);
              const punched = victim.stderr().split('\n').filter((l) => / wants to connect; punching$/.test(l)).length;
              return { syns_at_lan_victim: await synCount(t.ns), syns_at_public_victim: await synCount(w.ns), punches_answered: punched, attack_ms: durationMs };
            },
          },
          localsReflection,
        );
      },
    ),
};
