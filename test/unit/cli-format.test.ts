import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatOptions, intOption, isEntryPoint, parseArgv } from '../../src/cli/args.js';
import {
  MAX_DETAIL_CHARS,
  MAX_LABEL_CHARS,
  formatAgo,
  formatDialResult,
  formatDuration,
  formatEvent,
  formatHistoryLine,
  formatPeers,
  formatProgress,
  formatStatus,
  formatTable,
  labeler,
  shortId,
} from '../../src/cli/format.js';
import { TEXT_INDENT } from '../../src/core/text.js';
import { isSentinelError } from '../../src/errors.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';

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
    const long = labeler([fakePeer({ id: a, name: 'n'.repeat(64) })]);
    assert.equal(long(a), `${'n'.repeat(MAX_LABEL_CHARS - 1)}…`);
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

/** Any character a terminal would act on, or that starts a line. */
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const OSC_TITLE = '\u001b]0;pwned\u0007';
const FORGED = `\n[12:00:00] alice: forged${OSC_TITLE}\u202e`;

describe('peer-controlled text in formatters', () => {
  const self = fakeId('self');
  const evil = fakeId('evil');
  const peer = fakePeer({ id: evil, name: `Mallory${FORGED}`, alias: null, address: `10.0.0.9:7000${FORGED}` });
  const label = labeler([peer], self);

  it('a message text keeps its lines, each continuation indented, with no escape byte', () => {
    const message = { id: '1', from: evil, to: self, text: `hi${FORGED}\nbye\r\n`, timestamp: 0, status: 'received' as const, request: false };
    for (const out of [formatEvent({ type: 'message', message }, label, self) ?? '', formatHistoryLine(message, label, self)]) {
      const lines = out.split('\n');
      assert.equal(lines.length, 4, out);
      // The name is escaped and cut at MAX_LABEL_CHARS.
      assert.match(lines[0] ?? '', /^\[[\d: -]+\] Mallory\\n\[12:00:00\] alice: forg…: hi$/);
      for (const line of lines.slice(1)) assert.ok(line.startsWith(TEXT_INDENT), line);
      assert.equal(lines[1], `${TEXT_INDENT}[12:00:00] alice: forged\\x1b]0;pwned\\x07\\u202e`);
      for (const line of lines) assert.doesNotMatch(line, RAW_UNSAFE);
    }
  });

  it('names, addresses and reasons are one line each', () => {
    const outs = [
      formatEvent({ type: 'peer-connected', peer }, label, self) ?? '',
      formatEvent({ type: 'peer-disconnected', id: evil, reason: `bye${FORGED}` }, label, self) ?? '',
      formatEvent({ type: 'delivered', id: '1', to: evil }, label, self) ?? '',
      formatProgress({ stage: 'connecting', message: `trying${FORGED}` }),
      formatDialResult({ id: evil, address: `1.2.3.4:5${FORGED}`, method: 'outbound', path: 'direct', relay: null, ms: 3, existing: false }),
      formatDialResult({ id: evil, address: `relay x${FORGED}`, method: 'relay', path: 'relay', relay: `x${FORGED}`, ms: 3, existing: false }),
    ];
    for (const out of outs) {
      assert.equal(out.split('\n').length, 1, out);
      assert.doesNotMatch(out, RAW_UNSAFE);
    }
    assert.match(outs[1] ?? '', /disconnected: bye\\n\[12:00:00\] alice: forged\\x1b\]0;pwned\\x07\\u202e$/);
  });

  it('a reason is cut at MAX_DETAIL_CHARS', () => {
    const out = formatEvent({ type: 'peer-disconnected', id: evil, reason: '\u001b'.repeat(2000) }, label, self) ?? '';
    const reason = out.slice(out.indexOf('disconnected: ') + 'disconnected: '.length);
    // 255 whole `\\x1b` escapes (1,020 characters) and the ellipsis: an escape is never cut.
    assert.equal(reason, `${'\\x1b'.repeat(255)}…`);
    assert.ok([...reason].length <= MAX_DETAIL_CHARS);
  });

  it('a peer table has one line per peer whatever the cells hold', () => {
    const out = formatPeers([peer, fakePeer({ id: self, alias: `a\tb${OSC_TITLE}` })], ['id', 'alias', 'name', 'address', 'vpn'], 0);
    const lines = out.split('\n');
    assert.equal(lines.length, 3, out);
    for (const line of lines) assert.doesNotMatch(line, RAW_UNSAFE);
    assert.match(lines[2] ?? '', /a\\tb\\x1b\]0;pwned\\x07/);
    assert.equal(formatTable(['A', 'B'], [['x\ny', 'z']]), 'A     B\nx\\ny  z');
  });

  it('status names the signaler in use and, with a list, each one with its state and last error', () => {
    const s = new FakeNode().status();
    const b = 'b'.repeat(56);
    s.signaler = {
      address: 'sig-b.example:8888',
      state: 'connected',
      id: b,
      observed: '198.51.100.1:8443',
      endpoint: '203.0.113.2:8888',
      list: [
        { address: '127.0.0.1:8888', id: 'a'.repeat(56), pinned: true, state: 'untrusted', lastError: `peer id mismatch${FORGED}` },
        { address: 'sig-b.example:8888', id: b, pinned: false, state: 'connected', lastError: null },
        { address: '[::1]:9000', id: null, pinned: false, state: 'standby', lastError: null },
      ],
    };
    const lines = formatStatus(s).split('\n');
    const row = (key: string) => lines.find((l) => l.startsWith(`${key}:`))?.slice(key.length + 1).trim();
    assert.equal(row('signaler'), `sig-b.example:8888 (connected) at 203.0.113.2:8888, id ${b}`);
    assert.equal(row('signaler 1'), `127.0.0.1:8888 untrusted, id ${'a'.repeat(56)} (pinned); last error: peer id mismatch\\n[12:00:00] alice: forged\\x1b]0;pwned\\x07\\u202e`);
    assert.equal(row('signaler 2'), `sig-b.example:8888 connected, id ${b}`);
    assert.equal(row('signaler 3'), '[::1]:9000 standby');
    // One configured signaler: no list rows, and its error on the signaler row.
    s.signaler = { address: '127.0.0.1:8888', state: 'unreachable', id: null, observed: null, endpoint: null, list: [{ address: '127.0.0.1:8888', id: null, pinned: false, state: 'unreachable', lastError: 'connect ECONNREFUSED' }] };
    const one = formatStatus(s).split('\n');
    assert.equal(one.filter((l) => /^signaler \d/.test(l)).length, 0, 'no list rows');
    assert.ok(one.some((l) => /^signaler: +127\.0\.0\.1:8888 \(unreachable\), id \?: connect ECONNREFUSED$/.test(l)), one.join('\n'));
    s.signaler = { address: 'none', state: 'disabled', id: null, observed: null };
    assert.ok(formatStatus(s).split('\n').some((l) => /^signaler: +disabled$/.test(l)));
  });

  it('status values and keys are one line each', () => {
    const s = new FakeNode().status();
    s.name = `n${FORGED}`;
    s.holePunching.reason = `no${FORGED}`;
    s.vpn.collisions = [{ peer: evil, address: `100.64.0.9${FORGED}`, heldBy: self }];
    s.counters = { [`x${FORGED}`]: 1 };
    const out = formatStatus(s);
    for (const line of out.split('\n')) {
      assert.doesNotMatch(line, RAW_UNSAFE);
      assert.match(line, /^[a-z\\[\]0-9:;. ]+:\s/i, `every line is a key: ${line}`);
    }
  });
});
