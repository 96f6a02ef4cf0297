/**
 * Attacks through what a session carries (findings 2, 3 and 6 of issue 8): signed CHATs
 * from throw-away ids (disk full), VPN_ADDR claims on someone else's address (hijack), and
 * a flood of validly signed peer records of throw-away ids (gossip).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { signRecord } from '../../../src/gossip/index.js';
import { identityFromPrivateKey, publicKeyFromNodeId } from '../../../src/identity/index.js';
import {
  FrameType,
  MAX_RECORDS_PER_MESSAGE,
  RefuseCode,
  canonicalIp,
  chatSigningInput,
  decodeAck,
  decodeChatRefused,
  decodePackets,
  encodeChat,
  encodeGossipPush,
  encodeVpnAddr,
  formatIpv4,
  formatIpv6,
} from '../../../src/wire/index.js';
import { bump, type Counts } from './attacks-sessions.js';
import { RawSession, pause, pool, sleep } from './raw-session.js';
import { MAX_ATTACK_SESSIONS, MAX_GOSSIP_RECORDS, type ChatFloodSpec, type GossipFloodSpec, type VpnClaimSpec } from './spec.js';

const REFUSE_NAMES = new Map<number, string>(Object.entries(RefuseCode).map(([k, v]) => [v, k.toLowerCase()]));
/** How long a session waits for the answers to its CHATs (within the attacker's wind-down). */
const ANSWER_WAIT_MS = 4_000;

/**
 * Signed CHATs from throw-away ids: each id opens a session and sends all its CHATs at
 * once, then waits for every answer (ACK or CHAT_REFUSED) before closing.
 */
export async function chatFlood(spec: ChatFloodSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const text = 'x'.repeat(spec.textBytes);
  const to = publicKeyFromNodeId(spec.to);
  const sources = spec.sources ?? [undefined];
  const started = Date.now();
  await pool(Array.from({ length: Math.min(spec.ids, MAX_ATTACK_SESSIONS) }), 4, async (_, i) => {
    await pause(started + i * spec.idGapMs - Date.now(), deadline);
    if (Date.now() >= deadline) return;
    let answered = 0;
    const s = await RawSession.open({
      target: spec.target,
      ...(sources[i % sources.length] ? { localAddress: sources[i % sources.length] as string } : {}),
      onFrame: (type, payload) => {
        if (type === FrameType.ACK) {
          const n = decodeAck(payload).ids.length;
          answered += n;
          bump(counts, 'acked', n);
        } else if (type === FrameType.CHAT_REFUSED) {
          const r = decodeChatRefused(payload);
          answered += r.ids.length;
          bump(counts, `refused.${REFUSE_NAMES.get(r.code) ?? r.code}`, r.ids.length);
        }
      },
    }).catch(() => undefined);
    if (!s) return bump(counts, 'connect_failed');
    bump(counts, 'sessions');
    if ((await s.admitted) !== 'admitted') {
      bump(counts, 'not_admitted');
      return s.destroy();
    }
    const identity = s.identity;
    for (let k = 0; k < spec.chatsPerId; k++) {
      const unsigned = { id: randomBytes(16), from: identity.publicKey, to, timestamp: Date.now(), text };
      s.send(FrameType.CHAT, encodeChat({ ...unsigned, signature: identity.sign(chatSigningInput(unsigned)) }));
      bump(counts, 'chats');
      bump(counts, 'text_bytes', spec.textBytes);
    }
    // The answers of an id that started in time are awaited even past the deadline (bounded).
    const until = Date.now() + ANSWER_WAIT_MS;
    while (answered < spec.chatsPerId && s.open && Date.now() < until) await sleep(50);
    bump(counts, 'unanswered', spec.chatsPerId - answered);
    s.destroy();
  });
  return counts;
}

/** A throw-away signer for peer records: a raw Ed25519 key, no certificate (cheap). */
function throwAwaySigner(): { publicKey: Buffer; sign(d: Uint8Array): Buffer } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKey: Buffer.from(spki.subarray(spki.length - 32)), sign: (d) => sign(null, d, privateKey) };
}

/**
 * Gossip flood: sessions from every source, together pushing `records` records of fresh
 * throw-away ids that announce `endpoints` (the victim). Each session pushes `burst`
 * full pushes at once, then one per `pushEveryMs`, reading (and answering PINGs) meanwhile.
 */
export async function gossipFlood(spec: GossipFloodSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const total = Math.min(spec.records, MAX_GOSSIP_RECORDS);
  const plan = spec.sources.flatMap((src) => Array.from({ length: spec.sessionsPerSource }, () => src)).slice(0, MAX_ATTACK_SESSIONS);
  const perSession = Math.ceil(total / plan.length);
  const endpoints = spec.endpoints.slice(0, 8).map((e) => ({ host: e.host, port: e.port }));
  const sessions: RawSession[] = [];
  await pool(plan, 8 * spec.sources.length, async (src) => {
    const s = await RawSession.open({ target: spec.target, localAddress: src }).catch(() => undefined);
    if (!s) return bump(counts, 'connect_failed');
    if ((await s.admitted) === 'admitted') {
      sessions.push(s);
      bump(counts, 'sessions');
    } else {
      bump(counts, 'not_admitted');
      s.destroy();
    }
  });
  let made = 0;
  const push = (s: RawSession): void => {
    const n = Math.min(MAX_RECORDS_PER_MESSAGE, total - made);
    if (n <= 0) return;
    const now = Date.now();
    const records = Array.from({ length: n }, () => signRecord(throwAwaySigner(), { seq: now, issuedAt: now, expiresAt: now + 3_600_000, public: endpoints, local: [] }));
    made += n;
    s.send(FrameType.GOSSIP_PUSH, encodeGossipPush(records));
    bump(counts, 'pushes');
    bump(counts, 'records', n);
  };
  await Promise.all(
    sessions.map(async (s) => {
      let mine = 0;
      for (let k = 0; mine < perSession && made < total && s.open && Date.now() < deadline; k++) {
        if (k >= spec.burst) await pause(spec.pushEveryMs, deadline);
        const before = made;
        push(s);
        mine += made - before;
        // Signing is synchronous: let the sockets breathe between pushes.
        await sleep(0);
      }
    }),
  );
  counts['pull_replies'] = sessions.reduce((n, s) => n + (s.received.get(FrameType.GOSSIP_PULL_REPLY) ?? 0), 0);
  counts['closed_by_node'] = sessions.filter((s) => !s.open).length;
  for (const s of sessions) s.destroy();
  return counts;
}

/** Destination address of an IP packet (canonical text), or undefined. */
function destination(packet: Buffer): string | undefined {
  const version = (packet[0] ?? 0) >> 4;
  if (version === 4 && packet.length >= 20) return formatIpv4(packet, 16);
  if (version === 6 && packet.length >= 40) return formatIpv6(packet, 24);
  return undefined;
}

/**
 * VPN address hijack: one session (with the identity in `keyFile`, e.g. one the victim
 * allowed, or a fresh stranger) claims `claim` by VPN_ADDR, again every second, and counts
 * the PACKETS it receives, per watched destination address.
 */
export async function vpnClaim(spec: VpnClaimSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const identity = spec.keyFile ? identityFromPrivateKey(createPrivateKey(await readFile(spec.keyFile, 'utf8'))) : undefined;
  const watch = new Set(spec.watch.map((a) => canonicalIp(a) ?? a));
  const s = await RawSession.open({
    target: spec.target,
    ...(identity ? { identity } : {}),
    onFrame: (type, payload) => {
      if (type !== FrameType.PACKETS) return;
      for (const p of decodePackets(payload)) {
        bump(counts, 'packets');
        const dst = destination(p);
        if (dst !== undefined && watch.has(dst)) bump(counts, `packets_to.${dst}`);
      }
    },
  });
  bump(counts, (await s.admitted) === 'admitted' ? 'admitted' : 'not_admitted');
  while (Date.now() < deadline && s.open) {
    s.send(FrameType.VPN_ADDR, encodeVpnAddr(spec.claim));
    bump(counts, 'claims');
    await sleep(1_000);
  }
  counts['vpn_addr_received'] = s.received.get(FrameType.VPN_ADDR) ?? 0;
  s.destroy();
  return counts;
}
