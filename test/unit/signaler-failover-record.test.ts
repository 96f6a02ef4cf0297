/** Our own peer record names the signaler we are registered with, and is re-issued when it changes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipService, signRecord, verifyRecord } from '../../src/gossip/index.js';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/index.js';
import { FrameType, RECORD_FLAG_RELAY, RECORD_FLAG_SIGNALER, decodeGossipPush, decodePeerRecord, type Endpoint, type PeerRecord } from '../../src/wire/index.js';
import { fakeClock } from '../helpers/fake-clock.js';

const T0 = 1_700_000_000_000;

describe('own record: the signaler', () => {
  it('signs the signaler endpoint (RECORD_FLAG_SIGNALER) and verifies', () => {
    const id = generateIdentity();
    const signaler = { host: '198.51.100.9', port: 8888 };
    const bytes = signRecord(id, { seq: 1, issuedAt: T0, expiresAt: T0 + 60_000, public: [], local: [], flags: RECORD_FLAG_RELAY, signaler });
    const v = verifyRecord(bytes, T0);
    assert.ok(v.ok);
    assert.deepEqual(v.record.record.signaler, signaler);
    assert.equal(v.record.record.flags, RECORD_FLAG_RELAY | RECORD_FLAG_SIGNALER);
    // The endpoint is inside the signed bytes: changing it breaks the signature.
    const tampered = Buffer.from(bytes);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 64 - 3) ^ 1, tampered.length - 64 - 3);
    assert.equal(decodePeerRecord(tampered).signaler?.host, '198.51.100.8');
    assert.deepEqual(verifyRecord(tampered, T0), { ok: false, reason: 'bad_signature' });
  });

  it('is re-issued with a higher seq when the node moves to another signaler, and names none when unregistered', async () => {
    const clock = fakeClock(T0);
    let current: Endpoint | null = null;
    const pushed: PeerRecord[] = [];
    const ch = {
      peerId: generateIdentity().id,
      writableLength: 0,
      send: (type: number, payload: Uint8Array) => {
        if (type === FrameType.GOSSIP_PUSH) pushed.push(...decodeGossipPush(payload).map((b) => decodePeerRecord(b)));
        return true;
      },
    };
    const g = new GossipService({
      identity: generateIdentity(),
      store: new MemoryStore(),
      clock,
      log: createLogger('silent', () => {}),
      addresses: () => ({ public: [], local: [{ host: '192.168.1.2', port: 7000 }] }),
      signaler: () => current,
      connected: () => [ch],
      onLearned: () => {},
      intervalMs: 1_000,
    });
    g.start();
    await clock.advance(1_000);
    assert.equal(pushed.length, 1);
    assert.equal(pushed[0]?.signaler, undefined, 'not registered yet: no signaler in the record');
    current = { host: '127.0.0.1', port: 8001 };
    g.refreshOwn(); // what the node does on REGISTERED
    await clock.advance(1_000);
    assert.deepEqual(pushed.at(-1)?.signaler, { host: '127.0.0.1', port: 8001 });
    const seqA = pushed.at(-1)?.seq as number;
    // No change, no new record.
    const before = pushed.length;
    g.refreshOwn();
    await clock.advance(1_000);
    assert.equal(pushed.length, before, 'nothing new to push');
    current = { host: '::1', port: 8002 };
    g.refreshOwn();
    await clock.advance(1_000);
    assert.deepEqual(pushed.at(-1)?.signaler, { host: '::1', port: 8002 });
    assert.ok((pushed.at(-1)?.seq as number) > seqA, 'a new seq');
    await g.close();
  });
});
