/**
 * Attacks on the connection layer (findings 7-10 and 13 of issue 8): HELLO floods, pull
 * amplification, half-open TLS drips, session-slot exhaustion, and untrusted text. Each
 * takes its spec and an absolute deadline, and returns named counts.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { generateIdentity, publicKeyFromNodeId } from '../../../src/identity/index.js';
import { ALPN_PROTOCOL } from '../../../src/transport/limits.js';
import {
  FrameType,
  GoawayCode,
  chatSigningInput,
  encodeChat,
  encodeFrame,
  encodeGoaway,
  encodeGossipPush,
  encodeHello,
  goawayCodeName,
} from '../../../src/wire/index.js';
import { RawSession, pause, pool, sleep } from './raw-session.js';
import { MAX_ATTACK_SESSIONS, MAX_DRIP_OPENS, MAX_FRAMES_PER_SESSION, type DripSpec, type HelloFloodSpec, type InjectSpec, type PullAmpSpec, type SessionsSpec } from './spec.js';

export type Counts = Record<string, number>;

/** Adds `by` to `counts[name]`. */
export function bump(counts: Counts, name: string, by = 1): void {
  counts[name] = (counts[name] ?? 0) + by;
}

/** Concurrent handshakes per source address: under the node's per-IP cap on pending handshakes (16). */
const HANDSHAKES_PER_SOURCE = 8;
/** How long a flooding session waits for the node to close it before giving up on it. */
const CLOSE_WAIT_MS = 5_000;

/** Counts how the node took a session. */
async function admission(counts: Counts, s: RawSession): Promise<boolean> {
  const a = await s.admitted;
  bump(counts, a);
  if (a === 'refused') bump(counts, `goaway.${goawayCodeName(s.goaway?.code ?? -1) ?? 'unknown'}`);
  return a === 'admitted';
}

/**
 * HELLO flood: each session writes `hellosPerSession` HELLO frames in one go (after the
 * first, which every session sends). Sessions follow each other until the deadline.
 */
export async function helloFlood(spec: HelloFloodSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const n = Math.min(spec.hellosPerSession, MAX_FRAMES_PER_SESSION);
  const one = encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 7, name: 'flood!' }));
  const flood = Buffer.concat(Array.from({ length: n }, () => one));
  const sessions = Math.min(spec.sessions, MAX_ATTACK_SESSIONS);
  for (let i = 0; i < sessions && Date.now() < deadline; i++) {
    let s: RawSession;
    try {
      s = await RawSession.open({ target: spec.target });
    } catch {
      bump(counts, 'connect_failed');
      await sleep(100);
      continue;
    }
    bump(counts, 'sessions');
    s.write(flood);
    bump(counts, 'hellos', n);
    bump(counts, 'bytes', flood.length);
    const closed = await Promise.race([s.closed.then(() => true), sleep(CLOSE_WAIT_MS).then(() => false)]);
    bump(counts, closed ? 'closed_by_node' : 'still_open');
    if (s.goaway) bump(counts, `goaway.${goawayCodeName(s.goaway.code) ?? 'unknown'}`);
    s.destroy();
    await pause(spec.gapMs, deadline);
  }
  return counts;
}

/**
 * Pull amplification: sessions that send empty GOSSIP_PUSH frames as fast as the node
 * reads them, and never read the replies.
 */
export async function pullAmp(spec: PullAmpSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const pushes = Math.min(spec.pushesPerSession, MAX_FRAMES_PER_SESSION);
  const batchSize = 256;
  const batch = Buffer.concat(Array.from({ length: batchSize }, () => encodeFrame(FrameType.GOSSIP_PUSH, encodeGossipPush([]))));
  const plan = spec.sources.flatMap((src) => Array.from({ length: spec.sessionsPerSource }, () => src)).slice(0, MAX_ATTACK_SESSIONS);
  const sessions: RawSession[] = [];
  await pool(plan, HANDSHAKES_PER_SOURCE * spec.sources.length, async (src) => {
    try {
      sessions.push(await RawSession.open({ target: spec.target, localAddress: src, read: false }));
      bump(counts, 'sessions');
    } catch {
      bump(counts, 'connect_failed');
    }
  });
  await Promise.all(
    sessions.map(async (s) => {
      let sent = 0;
      while (sent < pushes && Date.now() < deadline && s.open) {
        s.write(batch);
        sent += batchSize;
        await s.drained();
        await pause(spec.batchGapMs, deadline);
      }
      bump(counts, 'pushes', sent);
    }),
  );
  // Hold the sessions (unread) until the deadline: what the node queued for us stays queued.
  while (Date.now() < deadline && sessions.some((s) => s.open)) await sleep(200);
  bump(counts, 'closed_by_node', sessions.filter((s) => !s.open).length);
  for (const s of sessions) s.destroy();
  return counts;
}

/** The first bytes a real TLS client sends: its ClientHello (captured from node:tls on a fake socket). */
export function captureClientHello(): Promise<Buffer> {
  const id = generateIdentity();
  return new Promise((resolve, reject) => {
    let done = false;
    const fake = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (!done) {
          done = true;
          resolve(Buffer.from(chunk));
          setImmediate(() => socket.destroy());
        }
        cb();
      },
    });
    const socket = tls.connect({ socket: fake, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: [ALPN_PROTOCOL] });
    socket.on('error', () => undefined);
    setTimeout(() => (done ? undefined : reject(new Error('no ClientHello written'))), 2_000);
  });
}

/**
 * Half-open TLS: `socketsPerSource` connections from each source, each dripping a real
 * ClientHello one byte at a time. A connection the target closes (refused, evicted, timed
 * out) is counted and opened again after one byte interval, until the deadline.
 */
export async function drip(spec: DripSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const hello = await captureClientHello();
  let opens = 0;
  let open = 0;
  let peakOpen = 0;
  const one = (src: string, target: { host: string; port: number }): Promise<void> =>
    new Promise((resolve) => {
      opens++;
      bump(counts, 'opened');
      const sock = net.connect({ host: target.host, port: target.port, localAddress: src });
      let sent = 0;
      let connected = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = (): void => {
        if (Date.now() >= deadline) return void sock.destroy();
        // Never the last byte: the handshake must stay unfinished.
        if (sent < hello.length - 1) {
          sock.write(hello.subarray(sent, ++sent));
          bump(counts, 'bytes');
        }
        timer = setTimeout(tick, Math.max(0, Math.min(spec.byteIntervalMs, deadline - Date.now())));
      };
      sock.on('connect', () => {
        connected = true;
        open++;
        peakOpen = Math.max(peakOpen, open);
        tick();
      });
      sock.on('error', (err: NodeJS.ErrnoException) => bump(counts, `error.${err.code ?? 'other'}`));
      sock.on('close', () => {
        clearTimeout(timer);
        if (connected) open--;
        bump(counts, Date.now() >= deadline ? 'closed_at_end' : connected ? 'closed_by_target' : 'not_connected');
        resolve();
      });
    });
  const loop = async (src: string, i: number): Promise<void> => {
    const target = spec.targets[i % spec.targets.length] as { host: string; port: number };
    while (Date.now() < deadline && opens < MAX_DRIP_OPENS) {
      await one(src, target);
      await pause(spec.byteIntervalMs, deadline);
    }
  };
  const loops: Promise<void>[] = [];
  for (const src of spec.sources) for (let i = 0; i < spec.socketsPerSource; i++) loops.push(loop(src, i));
  await Promise.all(loops);
  counts['peak_open'] = peakOpen;
  return counts;
}

/**
 * Session-slot exhaustion: throw-away ids from every source, at most a few handshakes at a
 * time per source, each holding its session (answering PINGs) until the deadline.
 */
export async function sessions(spec: SessionsSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const held: RawSession[] = [];
  await Promise.all(
    spec.sources.map((src) =>
      pool(Array.from({ length: Math.min(spec.sessionsPerSource, MAX_ATTACK_SESSIONS) }), HANDSHAKES_PER_SOURCE, async () => {
        if (Date.now() >= deadline) return;
        let s: RawSession;
        try {
          s = await RawSession.open({ target: spec.target, localAddress: src });
        } catch {
          bump(counts, 'connect_failed');
          return;
        }
        bump(counts, 'opened');
        if (await admission(counts, s)) held.push(s);
        else s.destroy();
      }),
    ),
  );
  counts['held_at_peak'] = held.filter((s) => s.open).length;
  while (Date.now() < deadline) await sleep(200);
  counts['held_at_end'] = held.filter((s) => s.open).length;
  for (const s of held) s.destroy();
  return counts;
}

/** Untrusted text: a HELLO name, a CHAT text and (just before the deadline) a GOAWAY reason full of line breaks and terminal escapes. */
export async function inject(spec: InjectSpec, deadline: number): Promise<Counts> {
  const counts: Counts = {};
  const identity = generateIdentity();
  const s = await RawSession.open({ target: spec.target, identity, hello: { listenPort: 0, name: spec.name } });
  bump(counts, (await admission(counts, s)) ? 'hello_sent' : 'not_admitted');
  const unsigned = { id: randomBytes(16), from: identity.publicKey, to: publicKeyFromNodeId(spec.to), timestamp: Date.now(), text: spec.text };
  s.send(FrameType.CHAT, encodeChat({ ...unsigned, signature: identity.sign(chatSigningInput(unsigned)) }));
  bump(counts, 'chats');
  // Let the CHAT be stored (and answered) before saying goodbye.
  const until = Math.min(deadline, Date.now() + 3_000);
  while (Date.now() < until && !(s.received.get(FrameType.ACK) || s.received.get(FrameType.CHAT_REFUSED))) await sleep(50);
  bump(counts, 'acks', s.received.get(FrameType.ACK) ?? 0);
  // Stay (the name is on show meanwhile), then leave with the reason.
  while (Date.now() < deadline - 500 && s.open) await sleep(100);
  s.send(FrameType.GOAWAY, encodeGoaway({ code: GoawayCode.PROTOCOL_ERROR, reason: spec.reason }));
  bump(counts, 'goaways');
  await Promise.race([s.closed, sleep(2_000)]);
  s.destroy();
  return counts;
}
