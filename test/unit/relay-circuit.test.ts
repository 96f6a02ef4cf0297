/** Relayed circuits on the node: byte streams over RELAY_DATA with end-to-end credit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { generateIdentity } from '../../src/identity/index.js';
import { CREDIT_BATCH, CircuitStream, RelayLink, endWithSocket, type RelaySender } from '../../src/relay/circuit.js';
import { createContext, secureSocket, systemClock } from '../../src/transport/index.js';
import { FrameType, RELAY_MAX_DATA, RELAY_WINDOW, RelayCloseCode, decodeRelayClose, decodeRelayCredit, decodeRelayData, encodeRelayClose, encodeRelayCredit, encodeRelayData } from '../../src/wire/index.js';

interface Sent {
  type: number;
  payload: Buffer;
}

/** A relay between two links that forwards every frame on the next turn, and can tamper. */
function fakeRelay(opts: { tamper?: (type: number, payload: Buffer) => Buffer } = {}) {
  const frames: Array<{ from: 'a' | 'b'; type: number; payload: Buffer }> = [];
  let a: RelayLink;
  let b: RelayLink;
  const sender = (from: 'a' | 'b'): RelaySender => ({
    send: (type, payload) => {
      frames.push({ from, type, payload });
      const out = opts.tamper ? opts.tamper(type, Buffer.from(payload)) : payload;
      setImmediate(() => (from === 'a' ? b : a).onFrame(type, out));
    },
  });
  a = new RelayLink(sender('a'), 'test-relay');
  b = new RelayLink(sender('b'), 'test-relay');
  return { a, b, frames };
}

/** A stream whose frames are only recorded. */
function recorded(window?: number): { stream: CircuitStream; sent: Sent[] } {
  const sent: Sent[] = [];
  const stream = new CircuitStream({ circuit: 7, peer: 'x', relay: 'r', link: { send: (type, payload) => sent.push({ type, payload }) }, ...(window ? { window } : {}) });
  return { stream, sent };
}

const dataBytes = (sent: Sent[]): number => sent.filter((s) => s.type === FrameType.RELAY_DATA).reduce((n, s) => n + decodeRelayData(s.payload).data.length, 0);

describe('relay circuits', () => {
  it('chunks writes into RELAY_DATA of at most RELAY_MAX_DATA and stops at the window until credit comes', async () => {
    const { stream, sent } = recorded();
    const big = randomBytes(RELAY_WINDOW + 3 * RELAY_MAX_DATA);
    let written = false;
    stream.write(big, () => (written = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(dataBytes(sent), RELAY_WINDOW, 'exactly one window went out');
    assert.ok(sent.every((s) => s.type !== FrameType.RELAY_DATA || decodeRelayData(s.payload).data.length <= RELAY_MAX_DATA));
    assert.equal(written, false, 'the write waits for credit');
    stream.credit(RELAY_WINDOW);
    await new Promise((r) => setImmediate(r));
    assert.equal(dataBytes(sent), big.length);
    assert.equal(written, true);
    const joined = Buffer.concat(sent.filter((s) => s.type === FrameType.RELAY_DATA).map((s) => Buffer.from(decodeRelayData(s.payload).data)));
    assert.ok(joined.equals(big), 'bytes in order');
    stream.destroy();
  });

  it('credits received data in batches while the reader reads, and holds credit while it does not', async () => {
    const { stream, sent } = recorded();
    const credits = (): number => sent.filter((s) => s.type === FrameType.RELAY_CREDIT).reduce((n, s) => n + decodeRelayCredit(s.payload).bytes, 0);
    stream.pause();
    // Not reading: the readable buffer fills past its high-water mark, so credit is held.
    for (let i = 0; i < RELAY_WINDOW / RELAY_MAX_DATA; i++) stream.receive(randomBytes(RELAY_MAX_DATA));
    const held = credits();
    assert.ok(held < RELAY_WINDOW, `credit held back while the reader does not read (${held} granted)`);
    const received: Buffer[] = [];
    stream.on('data', (d: Buffer) => received.push(d));
    stream.resume();
    await new Promise((r) => setImmediate(r));
    assert.ok(credits() >= RELAY_WINDOW - CREDIT_BATCH, `credit returned once read (${credits()})`);
    assert.equal(Buffer.concat(received).length, RELAY_WINDOW);
    stream.destroy();
  });

  it('data past the granted window, or credit for unsent bytes, closes the circuit as a protocol error', async () => {
    const a = recorded(1024);
    a.stream.on('error', () => {});
    a.stream.receive(randomBytes(1025));
    const close = a.sent.find((s) => s.type === FrameType.RELAY_CLOSE);
    assert.ok(close, 'RELAY_CLOSE sent');
    assert.equal(decodeRelayClose(close.payload).code, RelayCloseCode.PROTOCOL);
    assert.equal(a.stream.destroyed, true);

    const b = recorded();
    b.stream.on('error', () => {});
    b.stream.credit(1);
    const closeB = b.sent.find((s) => s.type === FrameType.RELAY_CLOSE);
    assert.ok(closeB);
    assert.equal(decodeRelayClose(closeB.payload).code, RelayCloseCode.PROTOCOL);
  });

  it('carries a mutual TLS 1.3 session end to end; both ids are checked', async () => {
    const relay = fakeRelay();
    const [ia, ib] = [generateIdentity(), generateIdentity()];
    const sa = relay.a.attach(1, ib.id);
    const sb = relay.b.attach(1, ia.id);
    const [ca, cb] = await Promise.all([
      secureSocket({ raw: sa, role: 'client', context: createContext(ia), expected: ib.id, timeoutMs: 5_000, clock: systemClock }),
      secureSocket({ raw: sb, role: 'server', context: createContext(ib), expected: ia.id, timeoutMs: 5_000, clock: systemClock }),
    ]);
    assert.equal(ca.peerId, ib.id);
    assert.equal(cb.peerId, ia.id);
    const payload = randomBytes(3 * RELAY_WINDOW + 123);
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => cb.socket.on('data', (d: Buffer) => (got.push(d), Buffer.concat(got).length === payload.length && resolve())));
    ca.socket.write(payload);
    await done;
    assert.ok(Buffer.concat(got).equals(payload), 'several windows arrive byte-exact through the relay');
    const relayed = Buffer.concat(relay.frames.filter((f) => f.type === FrameType.RELAY_DATA).map((f) => Buffer.from(decodeRelayData(f.payload).data)));
    assert.equal(relayed.indexOf(payload.subarray(0, 64)), -1, 'the relay never saw the plaintext');
    const closed = new Promise<void>((resolve) => cb.socket.once('close', () => resolve()));
    ca.socket.end();
    await closed;
    assert.equal(relay.a.size + relay.b.size, 0, 'both circuits are gone');
  });

  it('a relay that alters one byte breaks the session instead of delivering forged data', async () => {
    let count = 0;
    const relay = fakeRelay({
      tamper: (type, payload) => {
        if (type === FrameType.RELAY_DATA && ++count === 12) payload.writeUInt8(payload.readUInt8(payload.length - 1) ^ 0x01, payload.length - 1);
        return payload;
      },
    });
    const [ia, ib] = [generateIdentity(), generateIdentity()];
    const [sa, sb] = [relay.a.attach(1, ib.id), relay.b.attach(1, ia.id)];
    const [ca, cb] = await Promise.all([
      secureSocket({ raw: sa, role: 'client', context: createContext(ia), expected: ib.id, timeoutMs: 5_000, clock: systemClock }),
      secureSocket({ raw: sb, role: 'server', context: createContext(ib), expected: ia.id, timeoutMs: 5_000, clock: systemClock }),
    ]);
    endWithSocket(ca.socket, sa);
    endWithSocket(cb.socket, sb);
    const sent = randomBytes(20 * RELAY_MAX_DATA);
    const got: Buffer[] = [];
    const errors: Error[] = [];
    const receiverErrors: Error[] = [];
    cb.socket.on('data', (d: Buffer) => got.push(d));
    cb.socket.on('error', (e) => receiverErrors.push(e));
    const closed = (s: typeof ca.socket): Promise<void> =>
      new Promise<void>((resolve) => {
        s.on('error', (e) => errors.push(e));
        s.once('close', () => resolve());
      });
    const both = Promise.all([closed(ca.socket), closed(cb.socket)]);
    ca.socket.write(sent);
    await both;
    const received = Buffer.concat(got);
    assert.ok(received.length < sent.length, 'the stream did not complete');
    assert.ok(sent.subarray(0, received.length).equals(received), 'whatever arrived is a prefix of what was sent: nothing forged');
    assert.ok(errors.some((e) => /bad record mac|decrypt/i.test(e.message)), `a TLS integrity error: ${errors.map((e) => e.message).join('; ')}`);
    // The receiver is the TLS server here: it reports the record it could not authenticate
    // as an error of its own (not a plain close), with OpenSSL's code.
    assert.ok(
      receiverErrors.some((e) => /bad record mac|decrypt/i.test(e.message) && /^ERR_SSL_/.test(String((e as { code?: unknown }).code))),
      `the receiving end reports the integrity error: ${receiverErrors.map((e) => e.message).join('; ') || 'none'}`,
    );
    assert.equal(relay.a.size + relay.b.size, 0, 'both circuits are gone');
  });

  it('the relay session ending ends every circuit on it', async () => {
    const relay = fakeRelay();
    const s = relay.a.attach(3, 'p');
    const err = new Promise<Error>((resolve) => s.once('error', resolve));
    relay.a.closeAll('relay session closed');
    assert.match((await err).message, /GONE/);
    assert.equal(relay.a.size, 0);
  });

  it('frames for unknown circuits are dropped', () => {
    const link = new RelayLink({ send: () => {} }, 'r');
    assert.equal(link.onFrame(FrameType.RELAY_DATA, encodeRelayData({ circuit: 9, data: Buffer.from('x') })), true);
    assert.equal(link.onFrame(FrameType.RELAY_CREDIT, encodeRelayCredit({ circuit: 9, bytes: 1 })), true);
    assert.equal(link.onFrame(FrameType.RELAY_CLOSE, encodeRelayClose({ circuit: 9, code: 0, reason: '' })), true);
    assert.equal(link.onFrame(FrameType.CHAT, Buffer.alloc(0)), false);
  });
});
