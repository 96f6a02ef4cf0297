/**
 * Relaying through a real SignalerServer over TLS on loopback: raw clients register, open a
 * circuit, exchange RELAY_DATA both ways, and the signaler keeps strangers out of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, publicKeyFromNodeId, type Identity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { SIGNAL_MAX_PAYLOAD, SignalerServer } from '../../src/signaler/index.js';
import {
  FrameDecoder,
  FrameType,
  RELAY_MAX_DATA,
  RelayCloseCode,
  SignalErrorCode,
  decodeRelayClose,
  decodeRelayIncoming,
  decodeRelayOpened,
  decodeSignalError,
  encodeFrame,
  encodeHello,
  encodeRegister,
  encodeRelayAccept,
  encodeRelayCredit,
  encodeRelayData,
  encodeRelayIncoming,
  encodeRelayOpen,
} from '../../src/wire/index.js';
import { waitFor } from '../helpers/testnet.js';

const silent = createLogger('silent', () => {});
const servers: SignalerServer[] = [];
const sockets: tls.TLSSocket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function signaler(opts: { relay?: { enabled: boolean; bytesPerSecond?: number } } = {}): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, ...opts });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

interface Client {
  id: Identity;
  sock: tls.TLSSocket;
  frames: { type: number; payload: Buffer }[];
  closed: Promise<void>;
  send(type: number, payload: Buffer): void;
  of(type: number): Buffer[];
}

/** An authenticated raw client, registered. */
async function client(port: number): Promise<Client> {
  const id = generateIdentity();
  const frames: Client['frames'] = [];
  const dec = new FrameDecoder();
  const tcp = net.connect({ host: '127.0.0.1', port });
  const sock = tls.connect({ socket: tcp, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sockets.push(sock);
  sock.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
  const c: Client = {
    id,
    sock,
    frames,
    closed,
    send: (type, payload) => void sock.write(encodeFrame(type, payload)),
    of: (type) => frames.filter((f) => f.type === type).map((f) => f.payload),
  };
  c.send(FrameType.REGISTER, encodeRegister({ listenPort: 7000, local: [] }));
  await waitFor(() => c.of(FrameType.REGISTERED).length === 1, 3_000, 'registered');
  return c;
}

/** A opens a circuit to B, B accepts; returns the circuit id both see. */
async function circuit(a: Client, b: Client, reqId: number): Promise<number> {
  const before = b.of(FrameType.RELAY_INCOMING).length;
  a.send(FrameType.RELAY_OPEN, encodeRelayOpen({ reqId, target: publicKeyFromNodeId(b.id.id) }));
  await waitFor(() => b.of(FrameType.RELAY_INCOMING).length === before + 1, 3_000, 'RELAY_INCOMING');
  const incoming = decodeRelayIncoming(b.of(FrameType.RELAY_INCOMING).at(-1) as Buffer);
  assert.deepEqual(Buffer.from(incoming.peer), Buffer.from(publicKeyFromNodeId(a.id.id)), "the target is told the requester's key");
  const opened = (): ReturnType<typeof decodeRelayOpened>[] => a.of(FrameType.RELAY_OPENED).map(decodeRelayOpened);
  const n = opened().length;
  b.send(FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: incoming.circuit }));
  await waitFor(() => opened().length === n + 1, 3_000, 'RELAY_OPENED');
  assert.deepEqual(opened().at(-1), { reqId, circuit: incoming.circuit });
  return incoming.circuit;
}

/** The data bytes of the RELAY_DATA frames `c` got on `id`, concatenated. */
function stream(c: Client, id: number): Buffer {
  return Buffer.concat(c.of(FrameType.RELAY_DATA).filter((p) => p.readUInt32BE(0) === id).map((p) => p.subarray(4)));
}

describe('signaler relay', () => {
  it('two nodes open a circuit and exchange RELAY_DATA both ways, byte-exact; credits are forwarded', async () => {
    const sig = await signaler();
    const [a, b] = [await client(sig.port), await client(sig.port)];
    const id = await circuit(a, b, 7);
    assert.equal(SIGNAL_MAX_PAYLOAD, 4 + RELAY_MAX_DATA);
    const toB = [randomBytes(RELAY_MAX_DATA), randomBytes(1), randomBytes(5000)];
    const toA = [randomBytes(300), randomBytes(RELAY_MAX_DATA)];
    for (const d of toB) a.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: id, data: d }));
    for (const d of toA) b.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: id, data: d }));
    const sumB = toB.reduce((n, d) => n + d.length, 0);
    const sumA = toA.reduce((n, d) => n + d.length, 0);
    await waitFor(() => stream(b, id).length === sumB && stream(a, id).length === sumA, 3_000, 'data both ways');
    assert.deepEqual(stream(b, id), Buffer.concat(toB));
    assert.deepEqual(stream(a, id), Buffer.concat(toA));
    assert.equal(b.of(FrameType.RELAY_DATA).length, toB.length, 'frames are forwarded as they are');
    b.send(FrameType.RELAY_CREDIT, encodeRelayCredit({ circuit: id, bytes: sumB }));
    await waitFor(() => a.of(FrameType.RELAY_CREDIT).length === 1, 3_000, 'credit');
    assert.deepEqual(a.of(FrameType.RELAY_CREDIT)[0], encodeRelayCredit({ circuit: id, bytes: sumB }));
    assert.equal(sig.counters.get('relay.bytes'), sumA + sumB);
    assert.equal(sig.counters.get('relay.circuits_opened'), 1);
    assert.equal(sig.relayStats().circuits, 1);
  });

  it('a third node cannot inject data into the circuit', async () => {
    const sig = await signaler();
    const [a, b, c] = [await client(sig.port), await client(sig.port), await client(sig.port)];
    const id = await circuit(a, b, 1);
    c.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: id, data: Buffer.from('evil') }));
    await waitFor(() => c.of(FrameType.RELAY_CLOSE).length === 1, 3_000, 'the stranger is answered');
    const close = decodeRelayClose(c.of(FrameType.RELAY_CLOSE)[0] as Buffer);
    assert.deepEqual([close.circuit, close.code], [id, RelayCloseCode.PROTOCOL]);
    assert.equal(sig.counters.get('relay_refused.not_member'), 1);
    // The circuit still works, and nothing of the stranger's reached either end.
    a.send(FrameType.RELAY_DATA, encodeRelayData({ circuit: id, data: Buffer.from('hello') }));
    await waitFor(() => stream(b, id).length === 5, 3_000, 'data after the attempt');
    assert.equal(stream(b, id).toString(), 'hello');
    assert.equal(stream(a, id).length, 0);
    assert.equal(a.of(FrameType.RELAY_CLOSE).length + b.of(FrameType.RELAY_CLOSE).length, 0);
    assert.equal(sig.relayStats().circuits, 1);
  });

  it('with relaying disabled, RELAY_OPEN is answered RELAY_DISABLED', async () => {
    const sig = await signaler({ relay: { enabled: false } });
    const [a, b] = [await client(sig.port), await client(sig.port)];
    a.send(FrameType.RELAY_OPEN, encodeRelayOpen({ reqId: 3, target: publicKeyFromNodeId(b.id.id) }));
    await waitFor(() => a.of(FrameType.SIGNAL_ERROR).length === 1, 3_000, 'answer');
    const e = decodeSignalError(a.of(FrameType.SIGNAL_ERROR)[0] as Buffer);
    assert.deepEqual([e.reqId, e.code], [3, SignalErrorCode.RELAY_DISABLED]);
    assert.equal(b.of(FrameType.RELAY_INCOMING).length, 0);
    assert.equal(sig.counters.get('relay_refused.disabled'), 1);
  });

  it("closing one node's session sends RELAY_CLOSE GONE to the other", async () => {
    const sig = await signaler();
    const [a, b] = [await client(sig.port), await client(sig.port)];
    const id = await circuit(a, b, 9);
    a.sock.destroy();
    await waitFor(() => b.of(FrameType.RELAY_CLOSE).length === 1, 5_000, 'RELAY_CLOSE');
    const close = decodeRelayClose(b.of(FrameType.RELAY_CLOSE)[0] as Buffer);
    assert.deepEqual([close.circuit, close.code], [id, RelayCloseCode.GONE]);
    assert.equal(sig.relayStats().circuits, 0);
    assert.equal(sig.counters.get('relay.closed.gone'), 1);
  });

  it('RELAY_INCOMING from a node is a protocol violation: its session is closed', async () => {
    const sig = await signaler();
    const a = await client(sig.port);
    a.send(FrameType.RELAY_INCOMING, encodeRelayIncoming({ circuit: 1, peer: publicKeyFromNodeId(a.id.id) }));
    await a.closed;
    assert.equal(sig.counters.get('frames_unexpected'), 1);
  });
});
