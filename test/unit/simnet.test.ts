/**
 * How nodes reach each other, on the simulated network (test/helpers/simnet.ts): real
 * connection managers, dialers, TLS and sessions over memory pipes, with reachability
 * rules and a fake clock. Fallback (direct, then punching, then relays in order), the
 * upgrade from a relay to a direct path, and the duplicate rule seen from both ends.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DialProgress } from '../../src/api.js';
import { UPGRADE_FIRST_MS } from '../../src/relay/upgrade.js';
import { SimNet } from '../helpers/simnet.js';

let net: SimNet;
afterEach(() => net.close());

describe('simnet: the dial chain falls back in order', () => {
  it('a known address that answers: a direct session, no punching, no relay', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    const relay = net.relay('r1');
    a.relays = [relay];
    a.learn(b);
    const stages: DialProgress['stage'][] = [];
    const s = await a.dial(b, stages);
    assert.equal(s.method, 'outbound');
    assert.equal(s.remoteAddress, b.address);
    assert.deepEqual(stages, ['connecting', 'tls']);
    assert.equal(a.punches, 0);
    assert.equal(relay.opens, 0);
    await net.until(() => b.session(a)?.method === 'inbound', 'B sees the inbound session');
  });

  it('the direct path blocked: hole punching gives a punched session on both ends', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    const relay = net.relay('r1');
    a.relays = [relay];
    a.learn(b);
    net.blockDirect(a, b);
    const stages: DialProgress['stage'][] = [];
    const s = await a.dial(b, stages);
    assert.equal(s.method, 'tcp-simultaneous-open');
    assert.deepEqual(stages, ['connecting', 'looking-up', 'punching']);
    assert.equal(relay.opens, 0);
    await net.until(() => b.session(a)?.method === 'tcp-simultaneous-open', 'B sees the punched session');
    assert.equal(b.session(a)?.tag, s.tag, 'the same connection on both ends');
  });

  it('no direct path and punching fails: a relayed session, with the TLS session end to end', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    const relay = net.relay('r1');
    a.relays = [relay];
    a.learn(b);
    net.blockDirect(a, b);
    net.cannotPunch(a, b);
    const stages: DialProgress['stage'][] = [];
    const s = await a.dial(b, stages);
    assert.equal(s.method, 'relay');
    assert.equal(s.remoteAddress, `relay ${relay.label}`);
    assert.deepEqual(stages, ['connecting', 'looking-up', 'punching', 'relaying', 'tls']);
    assert.equal(s.peerId, b.id, 'the peer proved its id through the relay');
    await net.until(() => b.session(a)?.method === 'relay', 'B sees the relayed session');
    assert.equal(b.session(a)?.dialerId, a.id);
    assert.equal(b.session(a)?.tag, s.tag, 'one TLS connection, end to end');
  });

  it('punching unavailable (no addon) and no address: straight to the relay', async () => {
    net = new SimNet();
    const [a, b] = [net.node({ punch: false }), net.node()];
    a.relays = [net.relay('r1')];
    const s = await a.dial(b);
    assert.equal(s.method, 'relay');
    assert.equal(a.punches, 0);
  });

  it('nothing works: the error lists every step', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    const relay = net.relay('r1');
    relay.down = true;
    a.relays = [relay];
    a.learn(b);
    net.blockDirect(a, b);
    net.cannotPunch(a, b);
    await assert.rejects(a.dial(b), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_DIAL_FAILED');
      assert.match(err.message, new RegExp(`${b.address}: .*unreachable`));
      assert.match(err.message, /hole punching: .*timed out/);
      assert.match(err.message, /relay r1 at sim: .*circuit limit/);
      return true;
    });
  });
});

describe('simnet: relays in order', () => {
  it('a relay that cannot open a circuit passes to the next one', async () => {
    net = new SimNet();
    const [a, b] = [net.node({ punch: false }), net.node()];
    const [r1, r2, r3] = [net.relay('r1'), net.relay('r2'), net.relay('r3')];
    r1.down = true;
    a.relays = [r1, r2, r3];
    const s = await a.dial(b);
    assert.equal(s.remoteAddress, `relay ${r2.label}`);
    assert.deepEqual([r1.opens, r2.opens, r3.opens], [1, 1, 0]);
  });

  it('the peer declining (it blocked us) stops at the first relay: no other relay is asked', async () => {
    net = new SimNet();
    const [a, b] = [net.node({ punch: false }), net.node()];
    const [r1, r2] = [net.relay('r1'), net.relay('r2')];
    a.relays = [r1, r2];
    await b.directory.setTrust(a.id, 'blocked');
    await assert.rejects(a.dial(b), (err: Error & { code?: string }) => err.code === 'E_REFUSED');
    assert.deepEqual([r1.opens, r2.opens], [1, 0]);
    assert.equal(b.counters.get('relay_declined.blocked'), 1);
  });

  it('a peer the signaler does not know: punching says so and no relay is asked', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node({ registered: false })];
    const relay = net.relay('r1');
    a.relays = [relay];
    await assert.rejects(a.dial(b), (err: Error & { code?: string }) => err.code === 'E_DIAL_FAILED' && /not registered/.test(err.message));
    assert.equal(a.punches, 1);
    assert.equal(relay.opens, 0);
  });
});

describe('simnet: from a relay to a direct path', () => {
  it('the upgrader keeps trying; once the direct path opens, the direct session replaces the relayed one on both ends', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    a.relays = [net.relay('r1')];
    a.learn(b);
    net.blockDirect(a, b);
    net.cannotPunch(a, b);
    const relayed = await a.dial(b);
    assert.equal(relayed.method, 'relay');
    await net.until(() => b.session(a)?.method === 'relay', 'B has the relayed session');

    await net.clock.advance(UPGRADE_FIRST_MS);
    await net.until(() => a.counters.get('relay.upgrade_failed') === 1, 'the first direct attempt failed');
    assert.equal(a.session(b), relayed, 'still relayed while there is no direct path');
    assert.equal(a.upgrader.pending, 1, 'and another attempt is scheduled');

    net.openDirect(a, b);
    await net.clock.advance(2 * UPGRADE_FIRST_MS);
    await net.until(() => a.session(b)?.method === 'outbound' && b.session(a)?.method === 'inbound', 'both ends moved to the direct session');
    assert.equal(a.counters.get('relay.upgraded'), 1);
    assert.equal(a.session(b)?.tag, b.session(a)?.tag, 'both ends keep the same session');
    await net.until(() => relayed.isClosed, 'the relayed session is closed');
    assert.equal(a.upgrader.pending, 0);
    assert.ok(!a.events.some((e) => e.type === 'down'), 'the peer never went down across the switch');
  });
});

describe('simnet: the duplicate rule seen from both ends', () => {
  it('a relayed dial and a direct dial racing each other: both ends keep the direct session', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    a.relays = [net.relay('r1')];
    a.learn(b);
    b.learn(a);
    net.blockDirect(a, b, true); // A cannot reach B directly; B can reach A
    net.cannotPunch(a, b);
    await Promise.all([a.dial(b), b.dial(a)]);
    await net.until(() => a.session(b)?.method === 'inbound' && b.session(a)?.method === 'outbound', 'both ends on the direct session');
    assert.equal(a.session(b)?.tag, b.session(a)?.tag);
    const upgraded = a.counters.get('sessions_upgraded_to_direct') + b.counters.get('sessions_upgraded_to_direct') + a.counters.get('sessions_duplicate_closed') + b.counters.get('sessions_duplicate_closed');
    assert.ok(upgraded >= 1, 'the relayed session was closed by the rule');
  });

  it('two direct dials at once, one from each end: both ends keep the same one and close the other', async () => {
    net = new SimNet();
    const [a, b] = [net.node(), net.node()];
    a.learn(b);
    b.learn(a);
    await Promise.all([a.dial(b), b.dial(a)]);
    await net.until(() => a.session(b)?.tag !== undefined && a.session(b)?.tag === b.session(a)?.tag, 'both ends agree');
    const kept = a.session(b);
    // The kept one is the session opened by the smaller id (both were established at the same moment).
    const smaller = a.id < b.id ? a.id : b.id;
    assert.equal(kept?.dialerId, smaller);
    assert.ok(a.counters.get('sessions_duplicate_closed') + b.counters.get('sessions_duplicate_closed') >= 1);
  });
});
