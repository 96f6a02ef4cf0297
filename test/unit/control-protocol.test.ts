import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter } from '../../src/control/lines.js';
import { parseRequest } from '../../src/control/request.js';
import { toErrorBody } from '../../src/control/dispatch.js';
import {
  MAX_LINE_BYTES,
  encodeLine,
  errorResponse,
  okResponse,
  parseServerMessage,
  progressEvent,
} from '../../src/control/protocol.js';
import { SentinelError } from '../../src/errors.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('LineSplitter', () => {
  it('splits several lines in one chunk and keeps the tail', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(bytes('a\nbb\ncc')), { lines: ['a', 'bb'], oversize: false });
    assert.equal(s.bufferedBytes, 2);
    assert.deepEqual(s.push(bytes('c\n')), { lines: ['ccc'], oversize: false });
    assert.equal(s.bufferedBytes, 0);
  });

  it('joins a line split across many chunks, including inside a UTF-8 sequence', () => {
    const s = new LineSplitter();
    const whole = bytes('{"text":"héllo ✓"}\n');
    const out: string[] = [];
    for (let i = 0; i < whole.length; i++) out.push(...s.push(whole.subarray(i, i + 1)).lines);
    assert.deepEqual(out, ['{"text":"héllo ✓"}']);
  });

  it('drops a trailing carriage return and keeps empty lines', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(bytes('x\r\n\n')).lines, ['x', '']);
  });

  it('does not let the caller mutate buffered bytes', () => {
    const s = new LineSplitter();
    const chunk = bytes('abc');
    s.push(chunk);
    chunk.fill(0x7a);
    assert.deepEqual(s.push(bytes('\n')).lines, ['abc']);
  });

  it('accepts a line of exactly the cap and refuses one byte more', () => {
    const ok = new LineSplitter({ maxLineBytes: 8 });
    assert.deepEqual(ok.push(bytes('12345678\n')), { lines: ['12345678'], oversize: false });
    const bad = new LineSplitter({ maxLineBytes: 8 });
    assert.deepEqual(bad.push(bytes('first\n123456789\nafter\n')), { lines: ['first'], oversize: true });
  });

  it('flags an unterminated line as soon as it passes the cap, without buffering it', () => {
    const s = new LineSplitter({ maxLineBytes: 10 });
    assert.equal(s.push(bytes('123456')).oversize, false);
    const r = s.push(bytes('7890X'));
    assert.equal(r.oversize, true);
    assert.equal(s.bufferedBytes, 0);
    assert.deepEqual(s.push(bytes('ok\n')), { lines: [], oversize: true }, 'spent splitter yields nothing');
  });

  it('uses MAX_LINE_BYTES = 512 KiB by default (a 64 KiB text fits even fully escaped)', () => {
    assert.equal(MAX_LINE_BYTES, 512 * 1024);
    const s = new LineSplitter();
    assert.equal(s.push(Buffer.alloc(MAX_LINE_BYTES, 0x61)).oversize, false);
    assert.equal(s.push(bytes('b')).oversize, true);
  });
});

describe('parseRequest', () => {
  it('accepts each method with valid params', () => {
    const cases: Array<[string, unknown]> = [
      ['id', undefined],
      ['status', {}],
      ['peers', undefined],
      ['dial', { target: '10.0.0.1:7000' }],
      ['send', { target: 'abc', text: 'hi' }],
      ['broadcast', { text: 'all' }],
      ['history', { target: 'abc', limit: 5 }],
      ['history', {}],
      ['alias', { target: 'abc', alias: 'bob' }],
      ['ping', { target: 'abc' }],
      ['ping', { target: 'abc', count: 1000, intervalMs: 1000, timeoutMs: 100 }],
    ];
    for (const [method, params] of cases) {
      const r = parseRequest(JSON.stringify({ id: 7, method, params }));
      assert.equal(r.ok, true, `${method} ${JSON.stringify(params)}`);
      if (r.ok) assert.equal(r.request.method, method);
    }
  });

  it('keeps only known params', () => {
    const r = parseRequest('{"id":"x","method":"send","params":{"target":"a","text":"t","evil":1}}');
    assert.deepEqual(r, { ok: true, request: { id: 'x', method: 'send', params: { target: 'a', text: 't' } } });
  });

  it('refuses garbage with a null id', () => {
    for (const line of ['not json', '[1,2]', '42', 'null', '{"method":"id"}', '{"id":{},"method":"id"}']) {
      const r = parseRequest(line);
      assert.equal(r.ok, false, line);
      if (!r.ok) assert.equal(r.id, null, line);
    }
  });

  it('refuses a bad method or bad params but echoes the id', () => {
    const lines = [
      '{"id":1}',
      '{"id":1,"method":"nope"}',
      '{"id":1,"method":"toString"}',
      '{"id":1,"method":"dial","params":{}}',
      '{"id":1,"method":"dial","params":{"target":""}}',
      '{"id":1,"method":"send","params":{"target":"a","text":5}}',
      '{"id":1,"method":"history","params":{"limit":0}}',
      '{"id":1,"method":"history","params":{"limit":1.5}}',
      '{"id":1,"method":"alias","params":[]}',
      '{"id":1,"method":"ping","params":{}}',
      '{"id":1,"method":"ping","params":{"target":"a","count":0}}',
      '{"id":1,"method":"ping","params":{"target":"a","count":1001}}',
      '{"id":1,"method":"ping","params":{"target":"a","count":"3"}}',
      '{"id":1,"method":"ping","params":{"target":"a","intervalMs":999}}',
      '{"id":1,"method":"ping","params":{"target":"a","timeoutMs":10001}}',
    ];
    for (const line of lines) {
      const r = parseRequest(line);
      assert.equal(r.ok, false, line);
      if (!r.ok) {
        assert.equal(r.id, 1, line);
        assert.ok(r.message.length > 0);
      }
    }
  });
});

describe('server messages', () => {
  it('round-trip through encodeLine and parseServerMessage', () => {
    const msgs = [
      okResponse(1, { id: 'x' }),
      errorResponse('a', 'E_UNKNOWN_ID', 'unknown node id: x'),
      errorResponse(null, 'E_BAD_REQUEST', 'bad'),
      progressEvent(3, { stage: 'tls', message: 'handshake' }),
      progressEvent(4, { stage: 'ping', message: 'seq=1', reply: { seq: 1, rttMs: 0.5, path: { kind: 'direct', address: '10.0.0.2:7000', method: 'outbound', via: 'dialed', lan: true, relay: null, relayKind: null } } }),
      progressEvent(4, { stage: 'ping', message: 'seq=2', reply: { seq: 2, lost: true, reason: 'timeout' } }),
    ];
    for (const m of msgs) {
      const line = encodeLine(m);
      assert.ok(line.endsWith('\n'));
      assert.deepEqual(parseServerMessage(line.slice(0, -1)), m);
    }
  });

  it('ignores malformed replies', () => {
    const pingProgress = (reply: unknown): string => JSON.stringify({ id: 1, event: 'progress', data: { stage: 'ping', message: 'm', reply } });
    for (const line of ['x', '{}', '{"id":1}', '{"id":1,"ok":false}', '{"id":1,"event":"progress"}', '{"id":[],"ok":true}', pingProgress(undefined), pingProgress({ seq: 1 }), pingProgress({ seq: 1, rttMs: 1 }), pingProgress({ seq: 1, lost: true })]) {
      assert.equal(parseServerMessage(line), null, line);
    }
  });
});

describe('toErrorBody', () => {
  it('keeps E_ codes and message, hides everything else behind E_INTERNAL', () => {
    assert.deepEqual(toErrorBody(new SentinelError('E_UNKNOWN_ID', 'zz')), {
      code: 'E_UNKNOWN_ID',
      message: 'unknown node id: zz',
    });
    const errno = toErrorBody(Object.assign(new Error('open failed'), { code: 'ENOENT' }));
    assert.equal(errno.code, 'E_INTERNAL');
    assert.match(errno.message, /open failed/);
    assert.equal(toErrorBody('boom').code, 'E_INTERNAL');
    assert.doesNotMatch(toErrorBody(new TypeError('x')).message, /\n\s+at /);
  });
});
