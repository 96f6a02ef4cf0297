/**
 * Fuzz targets of the wire: one entry per payload codec (add a codec by adding one
 * `codecTarget({...})` entry to WIRE_CODECS), and the frame stream that feeds them.
 */
import { MAX_PAYLOAD_SIZE, FrameDecoder, FrameType, classifyFrameType, encodeFrame, type Frame } from '../../src/wire/index.js';
import {
  chatSigningInput,
  decodeAck,
  decodeChatRefused,
  encodeChatRefused,
  decodeChat,
  decodeChatBatched,
  encodeChatBatched,
  decodeGoaway,
  decodeGossipPullReply,
  decodeGossipPush,
  decodeHello,
  decodeLookup,
  decodeLookupResult,
  decodePackets,
  decodePacketsGso,
  encodePacketsGsoBatches,
  decodePeerRecord,
  decodePing,
  decodePunchRequest,
  decodePunchStart,
  decodeRegister,
  decodeRegistered,
  decodeSignalError,
  decodeVpnAddr,
  encodeAck,
  encodeChat,
  encodeGoaway,
  encodeGossipPullReply,
  encodeGossipPush,
  encodeHello,
  encodeLookup,
  encodeLookupResult,
  encodePackets,
  encodePeerRecord,
  encodePing,
  encodePunchRequest,
  encodePunchStart,
  encodeRegister,
  encodeRegistered,
  encodeSignalError,
  encodeVpnAddr,
  decodeRelayOpen,
  encodeRelayOpen,
  decodeRelayOpened,
  encodeRelayOpened,
  decodeRelayIncoming,
  encodeRelayIncoming,
  decodeRelayAccept,
  encodeRelayAccept,
  decodeRelayData,
  encodeRelayData,
  decodeRelayCredit,
  encodeRelayCredit,
  decodeRelayClose,
  encodeRelayClose,
  decodeRelayBind,
  encodeRelayBind,
  decodeRelayBound,
  encodeRelayBound,
  RELAY_MAX_DATA,
  type ChatMessage,
  type Endpoint,
  type PacketsGso,
} from '../../src/wire/index.js';
import { PayloadReader, PayloadWriter } from '../../src/wire/bytes.js';
import { endpointListSize, readEndpointList, writeEndpointList } from '../../src/wire/endpoint.js';
import { checkRecord, recordKey, signRecord, verifyRecord } from '../../src/gossip/records.js';
import { nodeIdFromPublicKey, verifySignature } from '../../src/identity/index.js';
import { isSentinelError, type ErrorCode } from '../../src/errors.js';
import { buildTree, leafHash, rootFromProof, rootSigningInput } from '../../src/messaging/merkle.js';
import { REFUSED, expect, measureBounded, mustNotThrow, onlyCoded } from './check.js';
import { ALICE, BOB, ENDPOINTS, SAMPLE_NOW, TEXTS, V4_PACKET, V6_PACKET, counting } from './seeds.js';
import { chunked, codecTarget, type CodecTarget, type FuzzTarget } from './target.js';


function signedChat(text: string, timestamp: number): ChatMessage {
  const unsigned = { id: counting(16, text.length), from: ALICE.publicKey, to: BOB.publicKey, timestamp, text };
  return { ...unsigned, signature: ALICE.sign(chatSigningInput(unsigned)) };
}

/** A batch of messages under one root signature, as a sender makes it (CHAT_BATCHED samples). */
function signedBatch(texts: readonly string[]): ChatMessage[] {
  const unsigned = texts.map((text, i) => ({ id: counting(16, i), from: ALICE.publicKey, to: BOB.publicKey, timestamp: SAMPLE_NOW + i, text }));
  const tree = buildTree(unsigned.map((u) => leafHash(chatSigningInput(u))));
  const signature = ALICE.sign(rootSigningInput(tree.root));
  return unsigned.map((u, i) => ({ ...u, signature, proof: tree.proofs[i] as NonNullable<ChatMessage['proof']> }));
}

function sampleRecords(): Buffer[] {
  const base = { issuedAt: SAMPLE_NOW, expiresAt: SAMPLE_NOW + 3_600_000 };
  return [
    signRecord(ALICE, { ...base, seq: 1, public: ENDPOINTS.slice(0, 1), local: ENDPOINTS.slice(1) }),
    signRecord(BOB, { ...base, seq: 2 ** 40, public: [], local: [] }),
  ];
}

/** Verifying untrusted records and CHAT signatures answers yes or no, never throws. */
function recordChecksHold(bytes: Uint8Array): void {
  mustNotThrow('checkRecord', () => checkRecord(bytes, SAMPLE_NOW));
  mustNotThrow('recordKey', () => recordKey(bytes));
  const v = mustNotThrow('verifyRecord', () => verifyRecord(bytes, SAMPLE_NOW));
  if (v.ok) expect(v.record.id === nodeIdFromPublicKey(v.record.record.publicKey), () => 'verified record names another id');
}

const endpointList = {
  decode: (p: Uint8Array): Endpoint[] => {
    const r = new PayloadReader(p, 'ENDPOINTS');
    const list = readEndpointList(r);
    r.end();
    return list;
  },
  encode: (list: Endpoint[]): Buffer => {
    const w = new PayloadWriter(endpointListSize(list));
    writeEndpointList(w, list);
    return w.done();
  },
};

/** Every payload codec. The lead's new codecs go here, one entry each. */
export const WIRE_CODECS: readonly CodecTarget[] = [
  codecTarget({
    name: 'hello',
    frameTypes: [FrameType.HELLO],
    decode: decodeHello,
    encode: encodeHello,
    samples: () => [{ listenPort: 7000, name: 'alice' }, { listenPort: 0, name: '' }, { listenPort: 65535, name: 'é'.repeat(32) }, { listenPort: 8443, name: 'relay', flags: 1 }],
  }),
  codecTarget({
    name: 'ping',
    about: 'PING/PONG payload: decode, re-encode',
    frameTypes: [FrameType.PING, FrameType.PONG],
    decode: decodePing,
    encode: encodePing,
    samples: () => [{ nonce: 0n }, { nonce: 0x0123456789abcdefn }, { nonce: (1n << 64n) - 1n }],
  }),
  codecTarget({
    name: 'goaway',
    frameTypes: [FrameType.GOAWAY],
    decode: decodeGoaway,
    encode: encodeGoaway,
    samples: () => [{ code: 1, reason: '' }, { code: 0xffff, reason: TEXTS[1]! }, { code: 3, reason: 'x'.repeat(256) }],
  }),
  codecTarget({
    name: 'chat',
    about: 'CHAT payload: decode, re-encode, verify the signature as the messenger does',
    frameTypes: [FrameType.CHAT],
    decode: decodeChat,
    encode: encodeChat,
    samples: () => [...TEXTS.map((t, i) => signedChat(t, SAMPLE_NOW + i)), signedChat('y'.repeat(2000), Number.MAX_SAFE_INTEGER)],
    check: (m) => {
      const input = mustNotThrow('chatSigningInput of a decoded CHAT', () => chatSigningInput(m));
      mustNotThrow('verifySignature of a decoded CHAT', () => verifySignature(m.from, input, m.signature));
    },
  }),
  codecTarget({
    name: 'chat-batched',
    about: 'CHAT_BATCHED payload: decode, re-encode, rebuild the root from the proof and verify it as the messenger does',
    frameTypes: [FrameType.CHAT_BATCHED],
    decode: decodeChatBatched,
    encode: encodeChatBatched,
    samples: () => [...signedBatch(TEXTS), ...signedBatch(['alone'])],
    check: (m) => {
      const leaf = mustNotThrow('leafHash of a decoded CHAT_BATCHED', () => leafHash(chatSigningInput(m)));
      const root = mustNotThrow('rootFromProof of a decoded CHAT_BATCHED', () => rootFromProof(leaf, m.proof ?? { index: 0, path: [] }));
      mustNotThrow('verifySignature of a batch root', () => verifySignature(m.from, rootSigningInput(root), m.signature));
    },
  }),
  codecTarget({
    name: 'ack',
    frameTypes: [FrameType.ACK],
    decode: decodeAck,
    encode: encodeAck,
    samples: () => [{ ids: [counting(16)] }, { ids: Array.from({ length: 40 }, (_, i) => counting(16, i)) }],
  }),
  codecTarget({
    name: 'chat-refused',
    about: 'CHAT_REFUSED payload: decode, re-encode',
    frameTypes: [FrameType.CHAT_REFUSED],
    decode: decodeChatRefused,
    encode: encodeChatRefused,
    samples: () => [{ code: 1, ids: [counting(16)] }, { code: 0xff, ids: Array.from({ length: 40 }, (_, i) => counting(16, i)) }],
  }),
  codecTarget({
    name: 'register',
    frameTypes: [FrameType.REGISTER],
    decode: decodeRegister,
    encode: encodeRegister,
    samples: () => [{ listenPort: 7000, local: ENDPOINTS }, { listenPort: 0, local: [] }],
  }),
  codecTarget({
    name: 'registered',
    frameTypes: [FrameType.REGISTERED],
    decode: decodeRegistered,
    encode: encodeRegistered,
    samples: () => [...ENDPOINTS.map((observed) => ({ observed })), { observed: ENDPOINTS[0] as (typeof ENDPOINTS)[number], relay: { maxCircuits: 16, bytesPerSecond: 1048576, idleTimeoutS: 300 } }],
  }),
  codecTarget({
    name: 'lookup',
    frameTypes: [FrameType.LOOKUP],
    decode: decodeLookup,
    encode: encodeLookup,
    samples: () => [{ reqId: 1, target: BOB.publicKey }],
  }),
  codecTarget({
    name: 'lookup-result',
    frameTypes: [FrameType.LOOKUP_RESULT],
    decode: decodeLookupResult,
    encode: encodeLookupResult,
    samples: () => [{ reqId: 0xffffffff, target: BOB.publicKey, public: ENDPOINTS[0]!, local: ENDPOINTS }],
  }),
  codecTarget({
    name: 'punch-request',
    frameTypes: [FrameType.PUNCH_REQUEST],
    decode: decodePunchRequest,
    encode: encodePunchRequest,
    samples: () => [{ reqId: 7, target: ALICE.publicKey }],
  }),
  codecTarget({
    name: 'punch-start',
    frameTypes: [FrameType.PUNCH_START],
    decode: decodePunchStart,
    encode: encodePunchStart,
    samples: () => [
      { reqId: 9, peer: BOB.publicKey, delayMs: 250, attempts: 8, intervalMs: 50, listenPort: 7000, public: ENDPOINTS[1]!, local: ENDPOINTS, sameNat: true },
      { reqId: 0, peer: ALICE.publicKey, delayMs: 0, attempts: 0, intervalMs: 0, listenPort: 0, public: ENDPOINTS[0]!, local: [], sameNat: false },
    ],
  }),
  codecTarget({
    name: 'signal-error',
    frameTypes: [FrameType.SIGNAL_ERROR],
    decode: decodeSignalError,
    encode: encodeSignalError,
    samples: () => [{ reqId: 3, code: 2, reason: 'rate limited' }, { reqId: 0, code: 0xffff, reason: '' }],
  }),
  codecTarget({
    name: 'relay-open',
    frameTypes: [FrameType.RELAY_OPEN],
    decode: decodeRelayOpen,
    encode: encodeRelayOpen,
    samples: () => [{ reqId: 1, target: BOB.publicKey }],
  }),
  codecTarget({
    name: 'relay-opened',
    frameTypes: [FrameType.RELAY_OPENED],
    decode: decodeRelayOpened,
    encode: encodeRelayOpened,
    samples: () => [{ reqId: 1, circuit: 7 }, { reqId: 0xffffffff, circuit: 0xffffffff }],
  }),
  codecTarget({
    name: 'relay-incoming',
    frameTypes: [FrameType.RELAY_INCOMING],
    decode: decodeRelayIncoming,
    encode: encodeRelayIncoming,
    samples: () => [{ circuit: 3, peer: ALICE.publicKey }],
  }),
  codecTarget({
    name: 'relay-accept',
    frameTypes: [FrameType.RELAY_ACCEPT],
    decode: decodeRelayAccept,
    encode: encodeRelayAccept,
    samples: () => [{ circuit: 3 }],
  }),
  codecTarget({
    name: 'relay-data',
    frameTypes: [FrameType.RELAY_DATA],
    decode: decodeRelayData,
    encode: encodeRelayData,
    samples: () => [{ circuit: 3, data: counting(1) }, { circuit: 1, data: counting(RELAY_MAX_DATA, 5) }],
  }),
  codecTarget({
    name: 'relay-credit',
    frameTypes: [FrameType.RELAY_CREDIT],
    decode: decodeRelayCredit,
    encode: encodeRelayCredit,
    samples: () => [{ circuit: 3, bytes: 65536 }, { circuit: 0, bytes: 1 }],
  }),
  codecTarget({
    name: 'relay-close',
    frameTypes: [FrameType.RELAY_CLOSE],
    decode: decodeRelayClose,
    encode: encodeRelayClose,
    samples: () => [{ circuit: 3, code: 0, reason: '' }, { circuit: 9, code: 5, reason: 'x'.repeat(256) }],
  }),
  codecTarget({
    name: 'relay-bind',
    frameTypes: [FrameType.RELAY_BIND],
    decode: decodeRelayBind,
    encode: encodeRelayBind,
    samples: () => [{ reqId: 1 }, { reqId: 0xffffffff }],
  }),
  codecTarget({
    name: 'relay-bound',
    frameTypes: [FrameType.RELAY_BOUND],
    decode: decodeRelayBound,
    encode: encodeRelayBound,
    samples: () => [{ reqId: 1, maxCircuits: 8, bytesPerSecond: 1048576, idleTimeoutS: 300 }],
  }),
  codecTarget({
    name: 'endpoint-list',
    about: 'endpoint list (signaler messages, peer records): decode, re-encode',
    ...endpointList,
    samples: () => [ENDPOINTS, [], ENDPOINTS.slice(0, 1)],
  }),
  codecTarget({
    name: 'packets',
    frameTypes: [FrameType.PACKETS],
    decode: decodePackets,
    encode: encodePackets,
    samples: () => [[V4_PACKET, V6_PACKET], [Buffer.from([0x45])]],
  }),
  codecTarget({
    name: 'packets-gso',
    frameTypes: [FrameType.PACKETS_GSO],
    decode: decodePacketsGso,
    encode: (v: PacketsGso) => encodePacketsGsoBatches(v.packets, v.gso, v.sentUs)[0]!,
    samples: () => [
      { sentUs: 0x01020304, packets: [V4_PACKET, V6_PACKET], gso: [undefined, undefined] },
      { sentUs: 0, packets: [Buffer.alloc(80, 0x45)], gso: [{ flags: 1, gsoType: 1, hdrLen: 52, gsoSize: 1348, csumStart: 20, csumOffset: 16 }] },
    ],
  }),
  codecTarget({
    name: 'vpn-addr',
    frameTypes: [FrameType.VPN_ADDR],
    decode: decodeVpnAddr,
    encode: encodeVpnAddr,
    samples: () => [{ ipv4: '100.85.217.18', ipv6: 'fd58:1b41:5e5c:0:dacf:a0c3:86a8:2302' }, { ipv4: '0.0.0.0', ipv6: '::ffff:1.2.3.4' }],
  }),
  codecTarget({
    name: 'peer-record',
    about: 'peer record: decode, re-encode, check and verify as gossip does',
    decode: decodePeerRecord,
    encode: encodePeerRecord,
    samples: () => sampleRecords().map((b) => decodePeerRecord(b)),
    check: (_record, payload) => recordChecksHold(payload),
  }),
  codecTarget({
    name: 'gossip-push',
    about: 'GOSSIP_PUSH payload: decode, re-encode, check every record',
    frameTypes: [FrameType.GOSSIP_PUSH],
    decode: decodeGossipPush,
    encode: encodeGossipPush,
    samples: () => [sampleRecords(), [], sampleRecords().slice(1)],
    check: (records) => records.forEach(recordChecksHold),
  }),
  codecTarget({
    name: 'gossip-pull-reply',
    about: 'GOSSIP_PULL_REPLY payload: decode, re-encode, check every record',
    frameTypes: [FrameType.GOSSIP_PULL_REPLY],
    decode: decodeGossipPullReply,
    encode: encodeGossipPullReply,
    samples: () => [sampleRecords()],
    check: (records) => records.forEach(recordChecksHold),
  }),
];

/** What feeding one byte stream to a FrameDecoder gave. */
interface Fed {
  frames: Frame[];
  /** Code of the error a push threw (the decoder is then failed), or null. */
  pushError: string | null;
  /** When no push failed: code of the error end() threw (stream ended inside a frame), or null. */
  endError: string | null;
  buffered: number;
}

const PUSH_CODES: readonly ErrorCode[] = ['E_FRAME_TOO_LARGE', 'E_FRAME_VERSION'];
const END_CODES: readonly ErrorCode[] = ['E_FRAME_MALFORMED'];

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return isSentinelError(err) ? err.code : 'not coded';
  }
}

function feed(maxPayload: number, chunks: readonly Uint8Array[]): Fed {
  const d = new FrameDecoder({ maxPayload });
  const frames: Frame[] = [];
  const pushed = onlyCoded('FrameDecoder.push', PUSH_CODES, () => {
    for (const c of chunks) frames.push(...d.push(c));
  });
  const buffered = d.bufferedBytes;
  if (pushed === REFUSED) return { frames, pushError: codeOf(() => d.end()), endError: null, buffered };
  const ended = onlyCoded('FrameDecoder.end', END_CODES, () => d.end());
  return { frames, pushError: null, endError: ended === REFUSED ? 'E_FRAME_MALFORMED' : null, buffered };
}

function sameFrame(a: Frame, b: Frame): boolean {
  return a.type === b.type && a.version === b.version && a.payload.equals(b.payload);
}

const decoderByType = new Map<number, (payload: Buffer) => void>();
for (const c of WIRE_CODECS) for (const t of c.frameTypes) decoderByType.set(t, c.decodePayload);

/**
 * Input layout: `[chunk seed][cap][stream...]`. cap < 0x80 is the decoder's maxPayload,
 * otherwise MAX_PAYLOAD_SIZE. The stream is fed byte by byte (frames as early as
 * possible), whole, and in seeded chunks; the three must agree. Every frame then goes to
 * its payload codec, as the session dispatches it.
 */
function runFrameStream(data: Buffer): void {
  if (data.length < 2) return;
  const maxPayload = data[1]! < 0x80 ? data[1]! : MAX_PAYLOAD_SIZE;
  const stream = data.subarray(2);
  const whole = measureBounded('FrameDecoder on one chunk', stream.length, maxPayload, () => feed(maxPayload, [stream]));
  const bytewise = feed(maxPayload, Array.from(stream, (_, i) => stream.subarray(i, i + 1)));
  const pieces = feed(maxPayload, chunked(stream, data[0]!));
  for (const [how, r] of [['whole', whole], ['chunked', pieces]] as const) {
    expect(r.pushError === bytewise.pushError, () => `${how}: push error ${r.pushError}, byte by byte ${bytewise.pushError}`);
    expect(r.frames.length <= bytewise.frames.length && r.frames.every((f, i) => sameFrame(f, bytewise.frames[i]!)), () => `${how}: frames differ from byte by byte`);
    if (r.pushError !== null) continue;
    expect(r.frames.length === bytewise.frames.length, () => `${how}: lost frames without an error`);
    expect(r.buffered === bytewise.buffered && r.endError === bytewise.endError, () => `${how}: ${r.buffered} byte(s) buffered at the end (${r.endError}), byte by byte ${bytewise.buffered} (${bytewise.endError})`);
  }
  let consumed = 0;
  for (const f of bytewise.frames) {
    expect(f.version === 1 && f.payload.length <= maxPayload, () => `frame v${f.version} with ${f.payload.length} bytes passed cap ${maxPayload}`);
    const again = encodeFrame(f.type, f.payload);
    expect(again.equals(stream.subarray(consumed, consumed + again.length)), () => `frame at ${consumed} does not re-encode to its bytes`);
    consumed += again.length;
    if (classifyFrameType(f.type) === 'handle') decoderByType.get(f.type)?.(f.payload);
  }
}

function frameStreamSeeds(): Uint8Array[] {
  const frames = WIRE_CODECS.flatMap((c) => c.frameTypes.flatMap((t) => c.seeds().slice(0, 1).map((p) => encodeFrame(t, p))));
  const all = Buffer.concat(frames);
  return [
    Buffer.concat([Buffer.from([1, 0xff]), all.subarray(0, 4000)]),
    Buffer.concat([Buffer.from([7, 0x40]), encodeFrame(FrameType.PING, encodePing({ nonce: 5n })), encodeFrame(0xf0, Buffer.alloc(0))]),
    Buffer.concat([Buffer.from([3, 0xff]), encodeFrame(0x7e, Buffer.from('unknown critical'))]),
  ];
}

export const FRAME_STREAM: FuzzTarget = {
  name: 'frame-stream',
  about: 'FrameDecoder fed byte by byte, whole and in seeded chunks; each frame to its payload codec',
  seeds: frameStreamSeeds,
  run: runFrameStream,
};
