/**
 * Attacks through what sessions carry, replayed with real binaries: disk full from
 * strangers' CHATs (finding 2), VPN address hijack (3) and the gossip flood (6).
 */
import { statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateIdentity } from '../../../../src/identity/index.js';
import { MAX_TEXT_BYTES } from '../../../../src/wire/index.js';
import { mountTmpfs } from '../../../helpers/tmpfs.js';
import { tryExec } from '../../netns.js';
import type { LabNode } from '../../sentinel-procs.js';
import { sleep, type AbuseHarness } from '../harness.js';
import { measure } from '../phases.js';
import { usage } from '../proc.js';
import { installSynCounter, synCount } from '../syn-counter.js';
import { CONTACT_PORT, VICTIM_PORT, inLab, pick, startPair, type Scenario, att, cnt, fig, mib } from './common.js';

const MiB = 1024 * 1024;
/** Size of the victim's data dir in the disk-full replay: the 16 MiB of the outside review. */
export const DISK_FULL_TMPFS_BYTES = 16 * MiB;

/**
 * Disk full from strangers: V keeps its data dir on a 16 MiB tmpfs; throw-away ids send
 * signed 64 KiB CHATs, together far more than the disk holds. V must store only what the
 * stranger quotas allow, keep room for its contacts, and keep serving.
 */
export const diskFull: Scenario = {
  id: 'disk-full',
  findings: [2],
  title: 'Disk full from strangers: 64 KiB CHATs at a 16 MiB data dir',
  headline: (r) =>
    `${att(r, 'acked')} of ${att(r, 'chats')} 64 KiB CHATs stored (${mib((r.status?.trust.held.bytes ?? 0) / 1024)} held, the stranger quota), the rest refused QUOTA; store full: ${r.status?.store?.full ? 'yes' : 'no'}; ${mib(Number(r.figures['free_bytes_after'] ?? 0) / 1024)} of 16 MiB free after (the review: disk filled, node crashed)`,
  run: async (scale) => {
    const fs = await mountTmpfs(DISK_FULL_TMPFS_BYTES);
    try {
      return await inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'c', 'a'] }] }, async (h) => {
        const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { dataDir: join(fs.dir, 'v') } });
        const ids = pick(scale, 24, 64);
        const chatsPerId = 16;
        const durationMs = pick(scale, 10_000, 20_000);
        return measure(
          {
            h,
            victim,
            contact,
            victimTarget: target,
            scale,
            warmupMs: 2_000,
            attack: async () => [
              await h.attack('a', { kind: 'chat-flood', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, to: victim.id, ids, chatsPerId, textBytes: MAX_TEXT_BYTES, idGapMs: Math.floor((durationMs - 2_000) / ids), durationMs }).result,
            ],
            whileUp: async () => {
              const st = await statfs(fs.dir);
              return { tmpfs_bytes: DISK_FULL_TMPFS_BYTES, free_bytes_after: st.bavail * st.bsize, offered_bytes: ids * chatsPerId * MAX_TEXT_BYTES };
            },
          },
          diskFull,
        );
      });
    } finally {
      await fs.cleanup();
    }
  },
};

/** The VPN addresses `node` reports (`sentinel id`). */
async function vpnAddresses(h: AbuseHarness, node: LabNode): Promise<{ ipv4: string; ipv6: string }> {
  const r = (await h.call(node, 'id', {})) as { vpn?: { ipv4: string; ipv6: string } };
  if (!r.vpn) throw new Error(`${node.host.name} reports no VPN addresses`);
  return r.vpn;
}

/** `ping` from `from`'s namespace to `ip`: true when answered. */
async function ping(from: LabNode, ip: string): Promise<boolean> {
  const r = await tryExec(from.host.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', ip], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** Retries {@link ping} for up to `ms` (a route being set up). */
async function pingWithin(from: LabNode, ip: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await ping(from, ip)) return true;
    if (Date.now() > deadline) return false;
    await sleep(300);
  }
}

/**
 * VPN address hijack: V and its contact B run the VPN and allow each other. A stranger S
 * and a peer P that V allowed both claim B's VPN addresses (VPN_ADDR, again every second),
 * also while B is away and comes back. V's packets for B must reach B, never P; nothing of
 * the claims may outlive the claimants' sessions.
 */
export const vpnHijack: Scenario = {
  id: 'vpn-hijack',
  findings: [3],
  title: "VPN address hijack: a stranger and an allowed peer claim a contact's address",
  headline: (r) =>
    `V reached B throughout (ping during the claims ${fig(r, 'ping_v_to_b_during')}, after B came back ${fig(r, 'ping_v_to_b_after_b_rejoined')}, after the claimants left ${fig(r, 'ping_v_to_b_after')}); packets for B at the claimants: ${att(r, `packets_to.${String(r.figures['b_ipv4'])}`)}; ${cnt(r, 'vpn.addr_ignored.not_allowed')} stranger claims ignored; the allowed peer's claim refused as a collision; ${fig(r, 'collisions_after')} claims left afterwards`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'b', 's', 'p'] }] }, async (h) => {
      const tun = ['--no-mdns', '--tun'];
      const { victim, contact: b, target } = await startPair(h, 'v', 'b', { victim: { extraArgs: tun }, contact: { extraArgs: tun } });
      const bAddrs = await vpnAddresses(h, b);
      const vAddrs = await vpnAddresses(h, victim);
      const p = generateIdentity();
      const keyFile = join(await h.sl.tempDir('pkey'), 'node.key');
      await writeFile(keyFile, p.keyPem, { mode: 0o600 });
      await h.call(victim, 'allow', { target: b.id });
      await h.call(b, 'allow', { target: victim.id });
      await h.call(victim, 'allow', { target: p.id });
      const durationMs = pick(scale, 14_000, 20_000);
      const claim = { target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, claim: bAddrs, watch: [bAddrs.ipv4, bAddrs.ipv6], durationMs };
      let bNow = b;
      return measure(
        {
          h,
          victim,
          contact: b,
          victimTarget: target,
          scale,
          warmupMs: 1_500,
          attack: async () =>
            Promise.all([
              h.attack('s', { kind: 'vpn-claim', ...claim }).result,
              h.attack('p', { kind: 'vpn-claim', keyFile, ...claim }).result,
            ]),
          midAttack: async () => {
            const during = await ping(victim, bAddrs.ipv4);
            // B leaves while the claimants stay; P's claim comes again every second.
            await h.stopNode(b);
            await sleep(2_500);
            bNow = await h.startNode('b', { port: CONTACT_PORT, name: 'contact', dataDir: b.dataDir, extraArgs: tun });
            await h.call(bNow, 'dial', { target });
            const back = await pingWithin(victim, bAddrs.ipv4, 10_000);
            const s = await h.call(victim, 'status', {});
            const heldByB = s.vpn.collisions.filter((c) => c.heldBy === b.id).length;
            return { ping_v_to_b_during: during ? 1 : 0, ping_v_to_b_after_b_rejoined: back ? 1 : 0, claims_refused_for_b: heldByB, p_id: p.id };
          },
          whileUp: async () => {
            const v2b = await pingWithin(victim, bAddrs.ipv4, 5_000);
            const b2v = await pingWithin(bNow, vAddrs.ipv4, 5_000);
            const s = await h.call(victim, 'status', {});
            return { ping_v_to_b_after: v2b ? 1 : 0, ping_b_to_v_after: b2v ? 1 : 0, collisions_after: s.vpn.collisions.length, b_ipv4: bAddrs.ipv4 };
          },
        },
        vpnHijack,
      );
    }),
};

/** First of the ports the forged records point at on the victim host T. */
export const GOSSIP_VICTIM_PORT = 7300;
/**
 * After the flood, time before idle CPU is measured: the attackers' sessions close and what
 * V learned is written (lazily, every STRANGER_SAVE_INTERVAL_MS).
 */
export const GOSSIP_SETTLE_MS = 10_000;

/**
 * Gossip flood: 64 sessions of throw-away ids push 10,200 validly signed records of
 * throw-away ids, all announcing addresses of a third host T. Afterwards: what V
 * remembers is bounded, its connection attempts at T are within the dial budget, it idles
 * (CPU), and a real newcomer introduced by V's contact still gets in.
 */
export const gossipFlood: Scenario = {
  id: 'gossip-flood',
  findings: [6],
  title: 'Gossip flood: 10,200 signed records of throw-away ids pointing at a third host',
  headline: (r) =>
    `${cnt(r, 'gossip.accepted')} records taken, ${cnt(r, 'gossip.verify_limited')} refused before any signature check (the strangers' check budget), ${cnt(r, 'gossip.evicted')} evicted by fair share; ${fig(r, 'remembered')} strangers remembered (cap 1,000); ${fig(r, 'syns_at_t')} SYNs at the named host (669 in 10 s in the review); idle CPU afterwards ${fig(r, 'idle_cpu_percent')}% (11-12% in the review); a newcomer connected after ${fig(r, 'newcomer_connected_ms')} ms`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'c', 'a', 't', 'n'] }] }, async (h) => {
      const { victim, contact, target } = await startPair(h, 'v', 'c');
      const t = h.lab.host('t');
      const ports = { first: GOSSIP_VICTIM_PORT, last: GOSSIP_VICTIM_PORT + 7 };
      await installSynCounter(t.ns, { ports, from: h.lab.host('v').ip });
      const sources = await h.addAddresses('a', 8);
      const endpoints = Array.from({ length: 8 }, (_, i) => ({ host: t.ip, port: GOSSIP_VICTIM_PORT + i }));
      const records = 10_200;
      let attackEnded = 0;
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          // The flood's first burst is where the victim is busiest: dial densely through it.
          warmupMs: 500,
          duringDials: { count: pick(scale, 40, 300), gapMs: 50 },
          attack: async () => {
            const r = [await h.attack('a', { kind: 'gossip-flood', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, sources, sessionsPerSource: 8, records, endpoints, burst: 3, pushEveryMs: 2_600, durationMs: pick(scale, 20_000, 30_000) }).result];
            attackEnded = Date.now();
            return r;
          },
          whileUp: async () => {
            // Idle: no attacker connected any more. What does V burn on its own, once the
            // aftermath (sessions closing, the lazy writes of what it learned) is over?
            await sleep(GOSSIP_SETTLE_MS);
            const idleMs = pick(scale, 10_000, 20_000);
            const cpu0 = (await usage(victim.proc.pid)).cpuMs;
            await sleep(idleMs);
            const cpu1 = (await usage(victim.proc.pid)).cpuMs;
            // A real newcomer N meets V's contact C; C's gossip tells V, whose --min-peers dials N.
            const n = await h.startNode('n', { port: 7402, name: 'newcomer' });
            await h.call(n, 'dial', { target: `${h.lab.host('c').ip}:${CONTACT_PORT}` });
            const t0 = Date.now();
            let newcomerMs = -1;
            while (Date.now() - t0 < pick(scale, 45_000, 60_000)) {
              const peers = await h.call(victim, 'peers', {});
              if (peers.some((x) => x.id === n.id && x.connected)) {
                newcomerMs = Date.now() - t0;
                break;
              }
              await sleep(500);
            }
            const s = await h.call(victim, 'status', {});
            return {
              records,
              idle_cpu_percent: Math.round(((cpu1 - cpu0) / idleMs) * 1000) / 10,
              newcomer_connected_ms: newcomerMs,
              syns_at_t: await synCount(t.ns),
              seconds_since_attack: Math.round((Date.now() - attackEnded) / 1000),
              remembered: s.trust.remembered,
            };
          },
        },
        gossipFlood,
      );
    }),
};
