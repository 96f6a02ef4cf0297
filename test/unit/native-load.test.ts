import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SentinelError } from '../../src/errors.js';
import { dialErrno, fighterConnect, fighterListen, loadNative } from '../../src/native/index.js';

test('loadNative reports a plain reason, never throws, when the addon is missing', () => {
  const result = loadNative(['/nonexistent/sentinel_native.node']);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && /not found/.test(result.reason), JSON.stringify(result));
});

test('loadNative reports a plain reason when the file is not an addon', () => {
  const result = loadNative([new URL(import.meta.url).pathname]);
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.reason.length > 0);
});

test('misuse throws at once, before touching the addon', () => {
  assert.throws(() => fighterListen({ host: 'localhost', port: 0 }), TypeError);
  assert.throws(() => fighterListen({ host: '127.0.0.1', port: 70000 }), RangeError);
  assert.throws(() => fighterConnect({ localPort: 0, host: 'example.org', port: 1, timeoutMs: 10 }), TypeError);
  assert.throws(() => fighterConnect({ localPort: -1, host: '127.0.0.1', port: 1, timeoutMs: 10 }), RangeError);
  assert.throws(() => fighterConnect({ localPort: 0, host: '127.0.0.1', port: 1, timeoutMs: 0 }), RangeError);
});

test('dialErrno reads the errno name from a dial failure or an errno error', () => {
  const errno = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(dialErrno(new SentinelError('E_DIAL_FAILED', 'x', { cause: errno })), 'ECONNREFUSED');
  assert.equal(dialErrno(errno), 'ECONNREFUSED');
  assert.equal(dialErrno(new SentinelError('E_DIAL_FAILED', 'x')), undefined);
  assert.equal(dialErrno(new SentinelError('E_TLS')), undefined);
});
