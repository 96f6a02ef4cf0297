import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, MAX_LOG_MESSAGE_CHARS } from '../../src/log.js';

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 6);
/** What precedes the message on every line: time, level padded to 5, spaces. */
const PREFIX = '2024-01-02T03:04:05.006Z WARN  ';

function capture(level: Parameters<typeof createLogger>[0] = 'debug'): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger(level, (l) => lines.push(l), () => NOW) };
}

describe('createLogger', () => {
  it('writes `<ISO time> LEVEL message` at or above its level', () => {
    const { lines, log } = capture('info');
    log.debug('hidden');
    log.info('hello');
    log.error('bad');
    assert.deepEqual(lines, ['2024-01-02T03:04:05.006Z INFO  hello', '2024-01-02T03:04:05.006Z ERROR bad']);
  });

  it('a peer reason with a newline and an OSC title sequence is exactly one line, with no ESC byte', () => {
    const { lines, log } = capture();
    log.info(`session down: peer said GOAWAY 3: bye\n2024-01-02T03:04:05.006Z ERROR forged\u001b]0;title\u0007`);
    assert.equal(lines.length, 1);
    const [line] = lines as [string];
    assert.equal(line.split('\n').length, 1);
    assert.ok(!line.includes('\u001b'), 'no ESC byte');
    assert.ok(!line.includes('\u0007'), 'no BEL byte');
    assert.equal(line, '2024-01-02T03:04:05.006Z INFO  session down: peer said GOAWAY 3: bye\\n2024-01-02T03:04:05.006Z ERROR forged\\x1b]0;title\\x07');
  });

  it('escapes C1 controls and bidi overrides, and leaves an already escaped message as it is', () => {
    const { lines, log } = capture();
    log.warn('a\u009b31mb\u202ec');
    log.warn('already \\x1b escaped');
    assert.deepEqual(lines.map((l) => l.slice(PREFIX.length)), ['a\\x9b31mb\\u202ec', 'already \\x1b escaped']);
  });

  it(`cuts a message at ${MAX_LOG_MESSAGE_CHARS} characters`, () => {
    const { lines, log } = capture();
    log.info('x'.repeat(MAX_LOG_MESSAGE_CHARS * 3));
    const message = (lines[0] ?? '').slice(PREFIX.length);
    assert.equal([...message].length, MAX_LOG_MESSAGE_CHARS);
    assert.ok(message.endsWith('…'));
  });
});
