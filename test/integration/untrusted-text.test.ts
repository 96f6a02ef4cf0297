/**
 * A peer's text reaches the log as one inert line: a real node on loopback, a raw TLS peer
 * that announces a HELLO name and then says GOAWAY with a reason full of line breaks and
 * terminal escapes.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import type { NodeEvent } from '../../src/api.js';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { encodeFrame, encodeGoaway, encodeHello, FrameType, GoawayCode } from '../../src/wire/index.js';
import { nextEvent, testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

/** Any byte a terminal would act on, or that ends a line. */
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('peer text in the log', () => {
  it('a GOAWAY reason with a newline and an OSC title sequence is one log line with no ESC', async () => {
    const lines: string[] = [];
    const node = await net0.node({ log: createLogger('debug', (l) => lines.push(l)) });
    const reason = 'bye\n2030-01-01T00:00:00.000Z ERROR forged line\u001b]0;title\u0007\u001b[2J\u202e';
    const name = 'eve\n\u001b]0;name\u0007';
    const peer = generateIdentity();
    const down = nextEvent(node, (e: NodeEvent) => e.type === 'peer-disconnected');
    const socket = tls.connect({ host: '127.0.0.1', port: node.port, rejectUnauthorized: false, key: peer.keyPem, cert: peer.certPem, ALPNProtocols: ['sentinel/1'] }, () => {
      socket.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name })));
      socket.write(encodeFrame(FrameType.GOAWAY, encodeGoaway({ code: GoawayCode.PROTOCOL_ERROR, reason })));
    });
    socket.on('error', () => {});
    try {
      const event = await down;
      // The API keeps the exact text (formatters escape it for display).
      assert.ok(event.type === 'peer-disconnected' && event.reason.includes(reason), 'the event carries the reason as sent');
      await waitFor(() => lines.some((l) => l.includes('GOAWAY')), 3_000, 'the session-down log line');
    } finally {
      socket.destroy();
    }
    const logged = lines.find((l) => l.includes('GOAWAY')) ?? '';
    assert.ok(logged.endsWith('bye\\n2030-01-01T00:00:00.000Z ERROR forged line\\x1b]0;title\\x07\\x1b[2J\\u202e'), logged);
    for (const line of lines) {
      assert.doesNotMatch(line, RAW_UNSAFE, `one inert line: ${JSON.stringify(line)}`);
      assert.ok(!line.includes('\u001b'), 'no ESC byte');
    }
    assert.ok(!lines.some((l) => l.startsWith('2030-')), 'no forged line');
  });
});
