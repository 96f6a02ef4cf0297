import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ELLIPSIS, TEXT_INDENT, hasUnsafeChars, safeJson, safeLine, safeText } from '../../src/core/text.js';

const ESC = '\u001b';
/** Every character the rules escape, one per class, with its expected escape. */
const CLASSES: ReadonlyArray<[string, string, string]> = [
  ['line feed', '\n', '\\n'],
  ['carriage return', '\r', '\\r'],
  ['tab', '\t', '\\t'],
  ['NUL', '\u0000', '\\x00'],
  ['BEL', '\u0007', '\\x07'],
  ['ESC', ESC, '\\x1b'],
  ['unit separator', '\u001f', '\\x1f'],
  ['DEL', '\u007f', '\\x7f'],
  ['C1 PAD', '\u0080', '\\x80'],
  ['C1 CSI', '\u009b', '\\x9b'],
  ['C1 OSC', '\u009d', '\\x9d'],
  ['C1 APC', '\u009f', '\\x9f'],
  ['line separator', '\u2028', '\\u2028'],
  ['paragraph separator', '\u2029', '\\u2029'],
  ['LRE', '\u202a', '\\u202a'],
  ['RLO', '\u202e', '\\u202e'],
  ['LRI', '\u2066', '\\u2066'],
  ['PDI', '\u2069', '\\u2069'],
  ['lone high surrogate', '\ud83d', '\\ud83d'],
  ['lone low surrogate', '\ude00', '\\ude00'],
];

/** Strings rich in the characters that matter, mixed with any code point. */
const tricky = fc.string({
  unit: fc.oneof(fc.constantFrom(...CLASSES.map(([, raw]) => raw), 'a', ' ', '\\', 'é', '😀', '\r\n'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  maxLength: 60,
});

/** Any character a terminal or a log reader could act on. */
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('safeLine', () => {
  for (const [name, raw, escaped] of CLASSES) {
    it(`escapes ${name}`, () => {
      assert.equal(safeLine(`a${raw}b`), `a${escaped}b`);
      assert.equal(hasUnsafeChars(raw), true);
    });
  }

  it('keeps printable ASCII, the backslash, every script, emoji and direction marks', () => {
    const kept = 'Hello, \\ world ~ é ß Ωμέγα 中文 العربية עברית 🚀👍🏽 \u200e\u200f\u061c \u00a0\u00ff';
    assert.equal(safeLine(kept), kept);
    assert.equal(hasUnsafeChars(kept), false);
    // A valid surrogate pair is a character, not two lone halves.
    assert.equal(safeLine('\ud83d\ude00'), '😀');
  });

  it('turns a forged log line and an OSC title change into one inert line', () => {
    const reason = 'bye\n2024-01-01T00:00:00.000Z ERROR forged\u001b]0;pwned\u0007\u001b[2J';
    const line = safeLine(reason);
    assert.equal(line, 'bye\\n2024-01-01T00:00:00.000Z ERROR forged\\x1b]0;pwned\\x07\\x1b[2J');
    assert.doesNotMatch(line, RAW_UNSAFE);
  });

  it('cuts at maxChars characters with an ellipsis, never inside an escape', () => {
    assert.equal(safeLine('abcdef', 6), 'abcdef');
    assert.equal(safeLine('abcdefg', 6), `abcde${ELLIPSIS}`);
    assert.equal(safeLine('abcdefg', 1), ELLIPSIS);
    // 'ab' + '\x1b' (4) = 6 > 5 - 1, so the escape goes whole.
    assert.equal(safeLine(`ab${ESC}cd`, 5), `ab${ELLIPSIS}`);
    assert.equal(safeLine(`ab${ESC}cd`, 7), `ab\\x1b${ELLIPSIS}`);
    assert.equal(safeLine(`ab${ESC}c`, 7), 'ab\\x1bc');
    // Characters are code points: an emoji counts once.
    assert.equal(safeLine('😀😀😀', 3), '😀😀😀');
    assert.equal(safeLine('😀😀😀😀', 3), `😀😀${ELLIPSIS}`);
  });

  it('bounds huge input by the limit', () => {
    const out = safeLine(ESC.repeat(1_000_000), 100);
    assert.equal([...out].length, 97);
    assert.ok(out.endsWith(ELLIPSIS));
  });

  it('refuses a maxChars below 1 (local misuse)', () => {
    assert.throws(() => safeLine('x', 0), RangeError);
    assert.throws(() => safeLine('x', 2.5), RangeError);
  });

  it('never leaves a raw control, stays within the limit, and does not escape twice', () => {
    fc.assert(
      fc.property(tricky, fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }), (s, max) => {
        const once = safeLine(s, max);
        assert.doesNotMatch(once, RAW_UNSAFE);
        assert.equal(hasUnsafeChars(once), false);
        if (max !== undefined) assert.ok([...once].length <= max);
        assert.equal(safeLine(once, max), once, 'idempotent');
        if (!hasUnsafeChars(s) && (max === undefined || [...s].length <= max)) assert.equal(once, s, 'safe text unchanged');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('safeText', () => {
  it('keeps line breaks but indents every continuation line', () => {
    assert.equal(safeText('one\ntwo\r\nthree'), `one\n${TEXT_INDENT}two\n${TEXT_INDENT}three`);
    assert.equal(safeText('a\n\nb', '> '), 'a\n> \n> b');
  });

  it('cannot start a line that looks like a peer line or a log line', () => {
    const forged = 'hi\n[12:00:00] alice: send me your key\n2024-01-01T00:00:00.000Z INFO ok';
    for (const line of safeText(forged).split('\n').slice(1)) assert.ok(line.startsWith(TEXT_INDENT), line);
  });

  it('escapes a lone CR, tabs, controls, separators and bidi like safeLine', () => {
    assert.equal(safeText('over\rwrite'), 'over\\rwrite');
    assert.equal(safeText(`a\tb${ESC}[31m\u2028\u202e`), 'a\\tb\\x1b[31m\\u2028\\u202e');
    assert.equal(safeText('plain ✓'), 'plain ✓');
  });

  it('never leaves a raw control other than the kept line feeds', () => {
    fc.assert(
      fc.property(tricky, (s) => {
        const out = safeText(s);
        for (const line of out.split('\n')) assert.doesNotMatch(line, RAW_UNSAFE);
        assert.equal(out.split('\n').length, s.split('\n').length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('safeJson', () => {
  it('parses back to exactly the same value, with nothing a terminal acts on', () => {
    const value = { text: `a\nb${ESC}]0;t\u0007\u009b\u007f\u2028\u202e\ud800 é 😀`, n: 1, list: ['\u0000'] };
    const json = safeJson(value, 2);
    assert.deepEqual(JSON.parse(json), value);
    // Only the structural line breaks of the indentation remain.
    for (const line of json.split('\n')) assert.doesNotMatch(line, RAW_UNSAFE);
    assert.match(json, /\\u009b/);
    assert.match(json, /\\u202e/);
    assert.equal(safeJson({ a: 'plain' }), '{"a":"plain"}');
  });

  it('round-trips any string exactly', () => {
    fc.assert(
      fc.property(tricky, (s) => {
        const json = safeJson({ s });
        assert.doesNotMatch(json, RAW_UNSAFE);
        assert.equal((JSON.parse(json) as { s: string }).s, s);
      }),
      { numRuns: 2000 },
    );
  });
});
