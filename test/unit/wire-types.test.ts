import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, classifyFrameType, frameTypeName, isCriticalType, isKnownType } from '../../src/wire/index.js';

describe('frame types', () => {
  it('has the assigned type bytes', () => {
    assert.deepEqual(
      { ...FrameType },
      {
        HELLO: 0x01, PING: 0x02, PONG: 0x03, GOAWAY: 0x04, CHAT: 0x10, ACK: 0x11, CHAT_BATCHED: 0x12,
        REGISTER: 0x20, REGISTERED: 0x21, LOOKUP: 0x22, LOOKUP_RESULT: 0x23, PUNCH_REQUEST: 0x24, PUNCH_START: 0x25, SIGNAL_ERROR: 0x26,
        RELAY_OPEN: 0x27, RELAY_OPENED: 0x28, RELAY_INCOMING: 0x29, RELAY_ACCEPT: 0x2a, RELAY_DATA: 0x2b, RELAY_CREDIT: 0x2c, RELAY_CLOSE: 0x2d, RELAY_BIND: 0x2e, RELAY_BOUND: 0x2f,
        PACKETS: 0x30, VPN_ADDR: 0x31, PACKETS_GSO: 0x32, DGRAM_OFFER: 0x33, GOSSIP_PUSH: 0x80, GOSSIP_PULL_REPLY: 0x81, CHAT_REFUSED: 0x82,
        NETCHECK_REQUEST: 0x88, NETCHECK_RESULT: 0x89,
      },
    );
  });

  it('knows exactly the assigned types', () => {
    const known = [];
    for (let t = 0; t <= 0xff; t++) if (isKnownType(t)) known.push(t);
    assert.deepEqual(known, [0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x80, 0x81, 0x82, 0x88, 0x89]);
  });

  it('splits critical 0x00-0x7f from optional 0x80-0xff', () => {
    assert.equal(isCriticalType(0x00), true);
    assert.equal(isCriticalType(0x7f), true);
    assert.equal(isCriticalType(0x80), false);
    assert.equal(isCriticalType(0xff), false);
  });

  it('classifies unknown critical types as violations and unknown optional ones as ignorable', () => {
    assert.equal(classifyFrameType(FrameType.CHAT), 'handle');
    assert.equal(classifyFrameType(0x00), 'violation');
    assert.equal(classifyFrameType(0x7f), 'violation');
    assert.equal(classifyFrameType(FrameType.GOSSIP_PUSH), 'handle', 'a known optional type is handled');
    assert.equal(classifyFrameType(0x83), 'ignore');
    assert.equal(classifyFrameType(0xff), 'ignore');
  });

  it('names types for logs', () => {
    assert.equal(frameTypeName(0x11), 'ACK');
    assert.equal(frameTypeName(0x7e), '0x7e');
    assert.equal(frameTypeName(0x05), '0x05');
  });
});
