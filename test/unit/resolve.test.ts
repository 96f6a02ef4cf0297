import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { isSentinelError, type ErrorCode } from '../../src/errors.js';
import {
  MAX_ECHOED_INPUT_CHARS,
  MAX_LISTED_MATCHES,
  MIN_ID_PREFIX,
  MIN_STRANGER_PREFIX,
  NODE_ID_LENGTH,
  generateIdentity,
  isNodeId,
  nodeIdFromPublicKey,
  resolveNodeId,
} from '../../src/identity/index.js';

/** A valid id whose first characters are `prefix` (only the key bits after it differ). */
function idStartingWith(prefix: string, seed: number): NodeId {
  // 5 bits per character: set the key's leading bits from the prefix, fill the rest from the seed.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = '';
  for (const c of prefix) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = (seed * 131 + i * 17) & 0xff;
  for (let i = 0; i < bits.length; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    key[byte] = bits[i] === '1' ? (key[byte] ?? 0) | mask : (key[byte] ?? 0) & ~mask;
  }
  const id = nodeIdFromPublicKey(key);
  assert.ok(id.startsWith(prefix));
  return id;
}

function fails(f: () => unknown, code: ErrorCode, pattern?: RegExp): string {
  let message = '';
  assert.throws(f, (e: unknown) => {
    assert.ok(isSentinelError(e, code), `expected ${code}, got ${String(e)}`);
    if (pattern) assert.match(e.message, pattern);
    message = e.message;
    return true;
  });
  return message;
}

const CONTACT = idStartingWith('abcdefghijklmnop', 1);
const CONTACT2 = idStartingWith('abcdxyzz', 2);
const STRANGER = idStartingWith('qrstuvwxyzabcdef', 3);
const GRINDER = idStartingWith('abcdefghijklmnop', 4); // a stranger who ground 16 characters of a contact's id
const peers = { contacts: [CONTACT, CONTACT2], others: [STRANGER, GRINDER] };

describe('resolveNodeId: full ids', () => {
  it('returns a valid full id, known or not, trimmed and lowercased', () => {
    const id = generateIdentity().id;
    assert.equal(resolveNodeId(id, peers), id);
    assert.equal(resolveNodeId(`  ${id.toUpperCase()}\t`, { contacts: [], others: [] }), id);
  });

  it('says E_BAD_ID "checksum mismatch (typo?)" for a 56-character id with a typo', () => {
    const id = generateIdentity().id;
    const typo = id.slice(0, 20) + (id[20] === 'a' ? 'b' : 'a') + id.slice(21);
    assert.equal(isNodeId(typo), false);
    fails(() => resolveNodeId(typo, peers), 'E_BAD_ID', /checksum mismatch \(typo\?\)/);
  });

  it('says E_BAD_ID for anything longer than an id, or with characters no id has', () => {
    const id = generateIdentity().id;
    fails(() => resolveNodeId(`${id}a`, peers), 'E_BAD_ID', new RegExp(`longer than a node id \\(${NODE_ID_LENGTH} characters\\)`));
    for (const bad of ['abcdef1', 'abcdef0', 'abc-def', 'abcdefgh!', 'abc def', 'абвгде']) {
      fails(() => resolveNodeId(bad, peers), 'E_BAD_ID', /a-z and 2-7/);
    }
  });
});

describe('resolveNodeId: prefixes', () => {
  it(`needs at least ${MIN_ID_PREFIX} characters (E_ID_TOO_SHORT says how many)`, () => {
    for (const short of ['', '   ', 'a', 'abcde']) {
      fails(() => resolveNodeId(short, peers), 'E_ID_TOO_SHORT', new RegExp(`at least ${MIN_ID_PREFIX}`));
    }
    assert.equal(resolveNodeId('abcdef', peers), CONTACT);
  });

  it('resolves a unique contact prefix, case-insensitively, even when a stranger shares it', () => {
    assert.equal(resolveNodeId('ABCDEFGH', peers), CONTACT);
    assert.equal(resolveNodeId('abcdxy', peers), CONTACT2);
    // GRINDER starts with the same 16 characters, but contacts come first.
    assert.equal(resolveNodeId('abcdefghijklmnop', peers), CONTACT);
    // Typed past the common part, only the stranger matches, and 20 characters are enough for it.
    assert.notEqual(GRINDER.slice(0, 20), CONTACT.slice(0, 20));
    assert.equal(resolveNodeId(GRINDER.slice(0, 20), peers), GRINDER);
  });

  it('says E_AMBIGUOUS_ID when several contacts match, naming them', () => {
    const msg = fails(() => resolveNodeId('abcdxy', { contacts: [CONTACT2, idStartingWith('abcdxyab', 5)], others: [] }), 'E_AMBIGUOUS_ID');
    assert.match(msg, /abcdxyzz/);
    assert.match(msg, /abcdxyab/);
    // A contact listed twice (e.g. from two sources) is one match.
    assert.equal(resolveNodeId('abcdxy', { contacts: [CONTACT2, CONTACT2], others: [] }), CONTACT2);
  });

  it(`does not resolve a short prefix to a peer that is not a contact (< ${MIN_STRANGER_PREFIX} characters)`, () => {
    const prefix = STRANGER.slice(0, MIN_STRANGER_PREFIX - 1);
    fails(() => resolveNodeId(prefix, peers), 'E_ID_TOO_SHORT', new RegExp(`not a contact needs at least ${MIN_STRANGER_PREFIX} characters`));
    // The answer is the same whether or not a stranger matches.
    fails(() => resolveNodeId('zzzzzzzz', peers), 'E_ID_TOO_SHORT', /no contact matches "zzzzzzzz"/);
  });

  it(`resolves a peer that is not a contact from ${MIN_STRANGER_PREFIX} characters`, () => {
    assert.equal(resolveNodeId(STRANGER.slice(0, MIN_STRANGER_PREFIX), peers), STRANGER);
    assert.equal(resolveNodeId(STRANGER.slice(0, 30).toUpperCase(), peers), STRANGER);
  });

  it('says E_AMBIGUOUS_ID for several strangers and E_UNKNOWN_ID for none', () => {
    const twin = idStartingWith(STRANGER.slice(0, MIN_STRANGER_PREFIX), 9);
    fails(() => resolveNodeId(STRANGER.slice(0, MIN_STRANGER_PREFIX), { contacts: [], others: [STRANGER, twin] }), 'E_AMBIGUOUS_ID');
    fails(() => resolveNodeId('z'.repeat(MIN_STRANGER_PREFIX), peers), 'E_UNKNOWN_ID', /no known peer matches/);
    fails(() => resolveNodeId('z'.repeat(MIN_STRANGER_PREFIX), { contacts: [], others: [] }), 'E_UNKNOWN_ID');
  });

  it(`lists at most ${MAX_LISTED_MATCHES} matches, each long enough to tell apart`, () => {
    const many = Array.from({ length: 9 }, (_, i) => idStartingWith(`mmmmmmmmmmmmmmmm${'abcdefghi'[i]}`, 20 + i));
    const msg = fails(() => resolveNodeId('m'.repeat(MIN_STRANGER_PREFIX), { contacts: [], others: many }), 'E_AMBIGUOUS_ID', /and 4 more/);
    // 16 typed + 4 more characters shown per match.
    assert.match(msg, /mmmmmmmmmmmmmmmma[a-z2-7]{3}…/);
    assert.equal(msg.match(/mmmmmmmmmmmmmmmm[a-z2-7]{4}…/g)?.length, MAX_LISTED_MATCHES);
  });
});

describe('resolveNodeId: error messages', () => {
  it(`quote at most ${MAX_ECHOED_INPUT_CHARS} characters of the input, escaped`, () => {
    const msg = fails(() => resolveNodeId(`x\u001b]0;t\u0007${'y'.repeat(500)}`, peers), 'E_BAD_ID');
    assert.ok(!msg.includes('\u001b'), 'no ESC byte');
    assert.match(msg, /"x\\x1b\]0;t\\x07y+…"/);
    assert.ok(msg.length < MAX_ECHOED_INPUT_CHARS + 120, msg);
    fails(() => resolveNodeId('abc\ndef', peers), 'E_BAD_ID', /"abc\\ndef"/);
  });
});
