import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatOptions, intOption, isEntryPoint, parseArgv } from '../../src/cli/args.js';
import {
  formatAgo,
  formatDuration,
  formatEvent,
  formatTable,
  labeler,
  printable,
  shortId,
} from '../../src/cli/format.js';
import { isSentinelError } from '../../src/errors.js';
import { fakeId, fakePeer } from '../helpers/fake-node.js';

const OPTS = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'data dir' },
  json: { type: 'boolean', description: 'json' },
  help: { type: 'boolean', short: 'h', description: 'help' },
} as const;

function usageError(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(isSentinelError(err, 'E_USAGE'));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('parseArgv', () => {
  it('reads options anywhere and keeps positionals in order', () => {
    const r = parseArgv(['send', '--data-dir', 'd', 'abc', '-h', 'hi', '--json', '--', '--not-an-option'], OPTS);
    assert.deepEqual(r.values, { 'data-dir': 'd', help: true, json: true });
    assert.deepEqual(r.positionals, ['send', 'abc', 'hi', '--not-an-option']);
    assert.deepEqual(parseArgv(['--data-dir=-odd'], OPTS).values, { 'data-dir': '-odd' });
  });

  it('turns every mistake into a one-line E_USAGE', () => {
    usageError(() => parseArgv(['--nope'], OPTS), /^unknown option --nope$/);
    usageError(() => parseArgv(['-z'], OPTS), /^unknown option -z$/);
    usageError(() => parseArgv(['--data-dir'], OPTS), /^option --data-dir needs a value$/);
    usageError(() => parseArgv(['--data-dir', '--json'], OPTS), /needs a value/);
    usageError(() => parseArgv(['--json=yes'], OPTS), /^option --json takes no value$/);
  });
});

describe('intOption', () => {
  it('parses bounded integers and refuses the rest', () => {
    assert.equal(intOption('port', undefined, { min: 1, max: 65535 }), undefined);
    assert.equal(intOption('port', '7000', { min: 1, max: 65535 }), 7000);
    for (const bad of ['0', '65536', '7e3', '12abc', '', ' 1', '1.5']) {
      usageError(() => intOption('port', bad, { min: 1, max: 65535 }), /--port must be an integer from 1 to 65535/);
    }
  });
});

describe('formatOptions and isEntryPoint', () => {
  it('aligns option help', () => {
    const lines = formatOptions(OPTS).split('\n');
    assert.deepEqual(lines, ['      --data-dir DIR  data dir', '      --json          json', '  -h, --help          help']);
  });

  it('is false for a module that is not the started script', () => {
    assert.equal(isEntryPoint(new URL('../../src/cli/args.js', import.meta.url).href), false);
  });
});

describe('format helpers', () => {
  it('printable neutralises escapes and bidi overrides but keeps newlines and unicode', () => {
    assert.equal(printable('a\u001b[31mb\u0007'), 'a\\x1b[31mb\\x07');
    assert.equal(printable('x\u202ey'), 'x\\x202ey');
    assert.equal(printable('line1\r\nline2\ttab ✓ é'), 'line1\nline2 tab ✓ é');
  });

  it('formatTable pads every column but the last', () => {
    assert.equal(formatTable(['A', 'BB', 'C'], [['xxx', 'y', 'z'], ['é', '', 'long last']]), 'A    BB  C\nxxx  y   z\né        long last');
  });

  it('shortens ids and labels peers by alias, then name, then short id', () => {
    const a = fakeId('a');
    const b = fakeId('b');
    const c = fakeId('c');
    assert.equal(shortId(a), `${a.slice(0, 12)}…`);
    assert.equal(shortId('abc'), 'abc');
    const label = labeler([fakePeer({ id: a, alias: 'al', name: 'Al' }), fakePeer({ id: b, name: 'B\u001b' })], c);
    assert.deepEqual([label(a), label(b), label(c), label(fakeId('d'))], ['al', 'B\\x1b', 'me', shortId(fakeId('d'))]);
  });

  it('formats durations and ages', () => {
    assert.equal(formatDuration(3_723_000), '1h 2m 3s');
    assert.equal(formatDuration(59_999), '59s');
    assert.equal(formatAgo(0, 59_000), '59s ago');
    assert.equal(formatAgo(0, 3 * 3_600_000), '3h ago');
    assert.equal(formatAgo(0, 49 * 3_600_000), '2d ago');
  });

  it('formatEvent hides our own messages', () => {
    const self = fakeId('self');
    const msg = { id: '1', from: self, to: fakeId('x'), text: 'mine', timestamp: 0, status: 'delivered' as const, request: false };
    assert.equal(formatEvent({ type: 'message', message: msg }, labeler([], self), self), null);
  });
});
