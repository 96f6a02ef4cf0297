/** The name table: which node a name under `.sentinel` means (src/dns/names.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameTable, nameKey } from '../../src/dns/names.js';
import { NAME_TABLE_REFRESH_MS } from '../../src/dns/limits.js';
import { VpnNames, isLocalSource } from '../../src/dns/service.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { nodeIdFromPublicKey } from '../../src/identity/node-id.js';
import type { PeerRecord } from '../../src/store/types.js';

const id = (n: number): string => nodeIdFromPublicKey(Buffer.alloc(32, n));
const SELF = id(1);
const BOB = id(2);
const CAROL = id(3);
const EVE = id(4);

type Rec = Pick<PeerRecord, 'id' | 'alias' | 'name' | 'trust'>;
const rec = (i: string, over: Partial<Rec> = {}): Rec => ({ id: i, alias: null, name: null, trust: 'contact', ...over });

describe('nameKey', () => {
  it('lower-cases and keeps valid host names', () => {
    assert.equal(nameKey('Bob'), 'bob');
    assert.equal(nameKey(' laptop.Home '), 'laptop.home');
    assert.equal(nameKey('my_box-2'), 'my_box-2');
  });

  it('refuses what is not a host name', () => {
    for (const bad of ['', 'a b', 'a..b', '.a', 'a.', 'é', 'x'.repeat(64), `${'a.'.repeat(100)}a`]) assert.equal(nameKey(bad), null, bad);
  });
});

describe('NameTable', () => {
  it('serves aliases, own name and id, contacts ids and announced names', () => {
    const t = NameTable.build({
      self: { id: SELF, name: 'Alice' },
      peers: [rec(BOB, { alias: 'bob' }), rec(CAROL, { name: 'Carol-PC' })],
    });
    assert.equal(t.lookup('bob'), BOB);
    assert.equal(t.lookup('alice'), SELF);
    assert.equal(t.lookup(SELF), SELF);
    assert.equal(t.lookup(BOB), BOB);
    assert.equal(t.lookup('carol-pc'), CAROL);
    assert.equal(t.lookup('nobody'), undefined);
  });

  it('never serves a stranger (its announced name, its id) nor a blocked peer', () => {
    const t = NameTable.build({
      self: { id: SELF, name: null },
      peers: [rec(EVE, { name: 'bank', trust: 'stranger' }), rec(CAROL, { alias: 'carol', trust: 'blocked' })],
    });
    assert.equal(t.lookup('bank'), undefined);
    assert.equal(t.lookup(EVE), undefined);
    assert.equal(t.lookup('carol'), undefined);
    assert.equal(t.lookup(CAROL), undefined);
  });

  it('an alias beats an announced name and this node’s name', () => {
    const t = NameTable.build({
      self: { id: SELF, name: 'bob' },
      peers: [rec(BOB, { alias: 'bob' }), rec(CAROL, { name: 'bob' })],
    });
    assert.equal(t.lookup('bob'), BOB);
  });

  it('a contact cannot take this node’s name by announcing it', () => {
    const t = NameTable.build({ self: { id: SELF, name: 'alice' }, peers: [rec(BOB, { name: 'Alice' })] });
    assert.equal(t.lookup('alice'), SELF);
  });

  it('a name two peers hold at the same strength is served for neither', () => {
    const t = NameTable.build({
      self: { id: SELF, name: null },
      peers: [rec(BOB, { alias: 'Bob' }), rec(CAROL, { alias: 'bob' }), rec(EVE, { name: 'box' }), rec(id(5), { name: 'BOX' })],
    });
    assert.equal(t.lookup('bob'), undefined);
    assert.equal(t.lookup('box'), undefined);
    assert.equal(t.size, 5, 'the full ids only: four contacts and this node');
  });

  it('an id prefix of 6+ characters names the one contact it starts', () => {
    const t = NameTable.build({ self: { id: SELF, name: null }, peers: [rec(BOB), rec(EVE, { trust: 'stranger' })] });
    assert.equal(t.lookup(BOB.slice(0, 6)), BOB);
    assert.equal(t.lookup(BOB.slice(0, 5)), undefined, 'too short');
    assert.equal(t.lookup(EVE.slice(0, 20)), undefined, 'strangers are not named by prefix');
    assert.equal(t.lookup(SELF.slice(0, 8)), SELF);
  });

  it('an id prefix two contacts share names neither', () => {
    // Find two ids sharing their first 6 characters among generated ones.
    const byPrefix = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let n = 10; n < 200_000 && !pair; n++) {
      const key = Buffer.alloc(32);
      key.writeUInt32BE(n);
      const i = nodeIdFromPublicKey(key);
      const p = i.slice(0, 6);
      const other = byPrefix.get(p);
      if (other) pair = [other, i];
      else byPrefix.set(p, i);
    }
    assert.ok(pair, 'two ids with a common 6-character prefix');
    const t = NameTable.build({ self: { id: SELF, name: null }, peers: [rec(pair[0]), rec(pair[1])] });
    assert.equal(t.lookup(pair[0].slice(0, 6)), undefined);
    assert.equal(t.lookup(pair[0]), pair[0]);
  });
});

describe('VpnNames', () => {
  it('answers with the addresses of the node a name means, and sees a new alias within the refresh time', () => {
    const clock = fakeClock(10_000);
    const peers: Rec[] = [rec(BOB)];
    const selfAddrs = { ipv4: '100.64.0.1', ipv6: 'fd58:1b41:5e5c::1' };
    const bobAddrs = { ipv4: '100.64.0.2', ipv6: 'fd58:1b41:5e5c::2' };
    const names = new VpnNames({ self: { id: SELF, name: 'me' }, peers: () => peers, selfAddresses: () => selfAddrs, addressesOf: (p) => (p === BOB ? bobAddrs : assert.fail(p)), clock });
    assert.deepEqual(names.lookup('me'), selfAddrs);
    assert.deepEqual(names.lookup(BOB), bobAddrs);
    assert.equal(names.lookup('bob'), undefined);
    peers[0] = rec(BOB, { alias: 'bob' });
    clock.set(10_000 + NAME_TABLE_REFRESH_MS - 1);
    assert.equal(names.lookup('bob'), undefined, 'the table is reused within the refresh time');
    clock.set(10_000 + NAME_TABLE_REFRESH_MS);
    assert.deepEqual(names.lookup('bob'), bobAddrs);
  });

  it('isLocalSource: loopback and our own VPN addresses only', () => {
    const local = isLocalSource(() => ({ ipv4: '100.64.0.1', ipv6: 'fd58:1b41:5e5c::1' }));
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '100.64.0.1', 'FD58:1b41:5e5c::1']) assert.equal(local(a), true, a);
    for (const a of ['100.64.0.2', '192.168.1.1', 'fd58:1b41:5e5c::2', '::ffff:100.64.0.2']) assert.equal(local(a), false, a);
  });
});
