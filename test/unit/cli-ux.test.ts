/**
 * The prompt and the output (issue 12): messages that do not say a thing twice, copyable
 * id prefixes in peer tables, the banner and its signaler updates, the full status, and
 * the signaler pin warning with its fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerInfo, StatusInfo } from '../../src/api.js';
import { SignalerWatch, formatBanner, signalerText, vpnText } from '../../src/cli/banner.js';
import { formatPeers, formatProgress, formatStatus, pathText, showsProgress } from '../../src/cli/format.js';
import { MIN_SHOWN_PREFIX, uniqueIdPrefixes } from '../../src/cli/peer-ids.js';
import { ERROR_CODES, SentinelError, echoes, joinDetail, labelled, nestedMessage, type ErrorCode } from '../../src/errors.js';
import { MIN_STRANGER_PREFIX, resolveNodeId } from '../../src/identity/index.js';
import { fighterConnect } from '../../src/native/index.js';
import { loadNative } from '../../src/native/load.js';
import { PIN_WARNING_INTERVAL_MS, PinWarnings, pinMismatchHint } from '../../src/signaler/pin-warning.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';
import { freePort } from '../helpers/procs.js';

describe('messages say each thing once', () => {
  it('an error whose detail restates its code is the detail alone', () => {
    const e = new SentinelError('E_PORT_IN_USE', 'port 8443 is already in use (another node or program?); choose another with --port');
    assert.equal(e.message, 'port 8443 is already in use (another node or program?); choose another with --port');
    assert.equal(e.code, 'E_PORT_IN_USE');
  });

  it('an error whose detail adds to its code keeps both', () => {
    assert.equal(new SentinelError('E_DIAL_FAILED', 'TCP connect to 1.2.3.4:5: ECONNREFUSED').message, 'dial failed: TCP connect to 1.2.3.4:5: ECONNREFUSED');
    assert.equal(new SentinelError('E_PORT_IN_USE', 'not allowed to listen on port 80').message, 'port is already in use: not allowed to listen on port 80');
    assert.equal(new SentinelError('E_QUOTA').message, 'over quota');
  });

  it('no code of the table is said twice when its detail restates it', () => {
    for (const [code, text] of Object.entries(ERROR_CODES) as Array<[ErrorCode, string]>) {
      const m = new SentinelError(code, `${text} (details)`).message;
      assert.equal(m.toLowerCase().split(text.toLowerCase()).length - 1, 1, `${code}: ${m}`);
    }
  });

  it('a syscall name the summary already says is not repeated before the errno', () => {
    assert.equal(joinDetail('fighter connect 0.0.0.0:1 -> 1.2.3.4:5', 'connect ECONNREFUSED (Connection refused)'), 'fighter connect 0.0.0.0:1 -> 1.2.3.4:5: ECONNREFUSED (Connection refused)');
    assert.equal(joinDetail('bind 0.0.0.0:1', 'connect ECONNREFUSED (x)'), 'bind 0.0.0.0:1: connect ECONNREFUSED (x)');
  });

  it('a failure nested in a list of failures of the same code drops the repeated description and label', () => {
    const inner = new SentinelError('E_DIAL_FAILED', 'TCP connect to 127.0.0.1:1: ECONNREFUSED');
    assert.equal(nestedMessage(inner, 'E_DIAL_FAILED'), 'TCP connect to 127.0.0.1:1: ECONNREFUSED');
    assert.equal(labelled('127.0.0.1:1', nestedMessage(inner, 'E_DIAL_FAILED')), 'TCP connect to 127.0.0.1:1: ECONNREFUSED');
    const refused = new SentinelError('E_REFUSED', 'busy');
    assert.equal(nestedMessage(refused, 'E_DIAL_FAILED'), 'refused by the peer: busy', 'another code keeps its meaning');
    assert.equal(labelled('relay x', nestedMessage(refused, 'E_DIAL_FAILED')), 'relay x: refused by the peer: busy');
    assert.equal(nestedMessage(new Error('boom'), 'E_DIAL_FAILED'), 'boom');
  });

  it('echoes needs the first word and every word in order, close together', () => {
    assert.ok(echoes('port is already in use', 'port 8443 is already in use'));
    assert.ok(echoes('resolving', 'resolving bob'));
    assert.ok(echoes('looking-up', 'looking up bob'));
    assert.ok(!echoes('dial failed', 'dial to x: the peer was never seen and it failed'));
    assert.ok(!echoes('port is already in use', 'the port 8443 is already in use'));
    assert.ok(!echoes('', 'anything'));
  });

  it('a progress line shows its stage only when the message does not say it', () => {
    assert.equal(formatProgress({ stage: 'resolving', message: 'resolving bob' }), 'resolving bob');
    assert.equal(formatProgress({ stage: 'connecting', message: 'connecting to 1.2.3.4:5' }), 'connecting to 1.2.3.4:5');
    assert.equal(formatProgress({ stage: 'punching', message: 'punching attempt 1 of 3 to 1.2.3.4:5' }), 'punching attempt 1 of 3 to 1.2.3.4:5');
    assert.equal(formatProgress({ stage: 'looking-up', message: 'asking signaler 1.2.3.4:8888 to coordinate with x' }), '[looking-up] asking signaler 1.2.3.4:8888 to coordinate with x');
    assert.equal(formatProgress({ stage: 'relaying', message: 'no direct path; asking relay r for a circuit' }), '[relaying] no direct path; asking relay r for a circuit');
  });

  it('the connected stage gets no progress line: the final dial line says it, with the time', () => {
    assert.equal(showsProgress({ stage: 'connected', message: 'connected directly to x at 1.2.3.4:5 by outbound' }), false);
    for (const stage of ['resolving', 'looking-up', 'connecting', 'punching', 'relaying', 'tls'] as const) assert.ok(showsProgress({ stage, message: 'm' }), stage);
  });

  it('a refused fighter connect names the connect once', { skip: loadNative().ok ? false : 'native addon not built' }, async () => {
    const port = await freePort();
    const err = await fighterConnect({ host: '127.0.0.1', port, localPort: 0, timeoutMs: 2_000 }).then(
      () => assert.fail('connected to a closed port'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /^dial failed: fighter connect 0\.0\.0\.0:0 -> 127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.doesNotMatch(err.message, /: connect E[A-Z]/);
  });
});

describe('peer tables: ids every command accepts', () => {
  const contact = (id: string): Pick<PeerInfo, 'id' | 'trust'> => ({ id, trust: 'contact' });
  const stranger = (id: string): Pick<PeerInfo, 'id' | 'trust'> => ({ id, trust: 'stranger' });

  it('a contact shows 8 characters, more when another contact shares them', () => {
    const a = fakeId('a');
    const twin = `${a.slice(0, 10)}${fakeId('b').slice(10)}`;
    const p = uniqueIdPrefixes([contact(a), contact(twin), contact(fakeId('c'))]);
    assert.equal(p.get(fakeId('c')), fakeId('c').slice(0, MIN_SHOWN_PREFIX));
    assert.equal(p.get(a), a.slice(0, 11));
    assert.equal(p.get(twin), twin.slice(0, 11));
  });

  it('a stranger shows at least the prefix strangers need, unique among every peer', () => {
    const a = fakeId('a');
    const s = `${a.slice(0, 20)}${fakeId('s').slice(20)}`;
    const p = uniqueIdPrefixes([contact(a), stranger(s), stranger(fakeId('t'))]);
    assert.equal(p.get(fakeId('t')), fakeId('t').slice(0, MIN_STRANGER_PREFIX));
    assert.equal(p.get(s), s.slice(0, 21));
    assert.equal(p.get(a), a.slice(0, MIN_SHOWN_PREFIX), 'a contact competes with contacts only');
  });

  it('a prefix that spells an alias grows by one (aliases are matched first)', () => {
    const a = fakeId('a');
    const p = uniqueIdPrefixes([contact(a), { id: fakeId('b'), trust: 'contact', alias: a.slice(0, MIN_SHOWN_PREFIX) }]);
    assert.equal(p.get(a), a.slice(0, MIN_SHOWN_PREFIX + 1));
  });

  it('every shown prefix resolves back to its peer (random ids with shared prefixes)', () => {
    let seed = 1;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round++) {
      const base = fakeId(`r${round}`);
      const peers: Array<Pick<PeerInfo, 'id' | 'trust'>> = [];
      for (let i = 0; i < 12; i++) {
        const keep = Math.floor(rand() * 24);
        const id = `${base.slice(0, keep)}${fakeId(`r${round}-${i}`).slice(keep)}`;
        if (peers.some((p) => p.id === id)) continue;
        peers.push({ id, trust: rand() < 0.5 ? 'contact' : rand() < 0.5 ? 'stranger' : 'blocked' });
      }
      const shown = uniqueIdPrefixes(peers);
      const known = { contacts: peers.filter((p) => p.trust === 'contact').map((p) => p.id), others: peers.filter((p) => p.trust !== 'contact').map((p) => p.id) };
      for (const p of peers) assert.equal(resolveNodeId(shown.get(p.id) as string, known), p.id, `${p.trust} ${p.id} shown as ${shown.get(p.id)}`);
    }
  });

  it('the path cell says direct with address and method, relay with the relay, or offline', () => {
    const id = fakeId('p');
    assert.equal(pathText(fakePeer({ id, address: '1.2.3.4:7000', method: 'tcp-simultaneous-open' })), 'direct 1.2.3.4:7000 (tcp-simultaneous-open)');
    assert.equal(pathText(fakePeer({ id, path: 'relay', method: 'relay', relay: `${fakeId('relay')} at 5.6.7.8:8888` })), `relay ${fakeId('relay').slice(0, MIN_STRANGER_PREFIX)} at 5.6.7.8:8888`);
    assert.equal(pathText(fakePeer({ id, connected: false, path: null })), 'offline');
    const table = formatPeers([fakePeer({ id, alias: 'bob', rttMs: 7.4 })], ['id', 'alias', 'path', 'rtt', 'vpn'], 0);
    assert.match(table.split('\n')[1] as string, new RegExp(`^${id.slice(0, 8)} +bob +direct 127\\.0\\.0\\.1:7001 \\(outbound\\) +7 ms +100\\.64\\.0\\.2 \\(not allowed\\)$`));
  });
});

/** A status with the signaler and VPN parts set as a test needs. */
function status(over: { signaler?: Partial<StatusInfo['signaler']>; vpn?: Partial<StatusInfo['vpn']>; network?: StatusInfo['network'] } = {}): StatusInfo {
  const s = new FakeNode().status();
  return {
    ...s,
    signaler: { ...s.signaler, address: '10.0.0.1:8888', state: 'connecting', ...over.signaler },
    vpn: { ...s.vpn, ...over.vpn },
    ...(over.network ? { network: over.network } : {}),
  };
}

describe('the banner', () => {
  it('says the id, a new identity, where it listens, the signaler and the VPN', () => {
    const s = status();
    const lines = formatBanner(s, { newIdentity: true, keyFile: '/d/node.key', host: undefined }).split('\n');
    assert.deepEqual(lines, [
      `Sentinel node ${s.id}`,
      'identity:  new (key just created: /d/node.key)',
      'listening: all interfaces, port 7000; data in /tmp/fake',
      'signaler:  connecting to 10.0.0.1:8888',
      'vpn:       VPN off (start with --tun); addresses would be 100.64.0.1, fd00::1',
      'Type /help for commands, /status for details.',
    ]);
    assert.match(formatBanner(s, { newIdentity: false, keyFile: '/d/node.key', host: '127.0.0.1' }), /^identity: {2}existing \(\/d\/node\.key\)\nlistening: 127\.0\.0\.1, port 7000/m);
  });

  it('names the signaler state and the VPN state', () => {
    const id = fakeId('sig');
    assert.equal(signalerText(status({ signaler: { state: 'connected', id, observed: '203.0.113.5:8443' } })), `connected to 10.0.0.1:8888 (id ${id}), public address 203.0.113.5:8443`);
    assert.equal(signalerText(status({ signaler: { state: 'disabled', address: 'none' } })), 'none (--signaler none: LAN discovery and direct dials only)');
    const list = [{ address: '10.0.0.1:8888', id: null, pinned: false, state: 'unreachable' as const, lastError: 'ECONNREFUSED' }];
    assert.equal(signalerText(status({ signaler: { state: 'unreachable', list } })), 'unreachable: 10.0.0.1:8888 (ECONNREFUSED); retrying');
    assert.equal(vpnText(status({ vpn: { state: 'up', tun: 'sentinel0' } })), '100.64.0.1, fd00::1 on sentinel0');
    assert.equal(vpnText(status({ vpn: { state: 'unavailable', reason: 'no /dev/net/tun' } })), 'unavailable (no /dev/net/tun); addresses would be 100.64.0.1, fd00::1');
  });

  it('a later line when the signaler connects or is lost, once per change', () => {
    const watch = new SignalerWatch(status());
    assert.equal(watch.next(status({ signaler: { state: 'unreachable' } })), null, 'failed retries are not news');
    assert.equal(watch.next(status({ signaler: { state: 'connected', id: null, observed: '1.2.3.4:5' } })), '* signaler: connected to 10.0.0.1:8888, public address 1.2.3.4:5');
    assert.equal(watch.next(status({ signaler: { state: 'connected' } })), null);
    assert.equal(watch.next(status({ signaler: { state: 'connecting', address: '10.0.0.2:8888' } })), '* signaler: lost 10.0.0.2:8888, connecting to 10.0.0.2:8888');
    assert.equal(new SignalerWatch(status({ signaler: { state: 'disabled' } })).next(status({ signaler: { state: 'disabled' } })), null);
  });
});

describe('/status', () => {
  it('has the listen address, the NAT kind and the sessions', () => {
    const out = formatStatus(status({ network: { listenHost: null, nat: 'hard' } }));
    assert.match(out, /^listening: +all interfaces, port 7000$/m);
    assert.match(out, /^nat: +changes the identity port/m);
    assert.match(out, /^sessions: +\d+ with contacts, \d+ with strangers, \d+ handshake\(s\) pending$/m);
    assert.match(out, /^vpn addresses: +100\.64\.0\.1, fd00::1$/m);
    assert.doesNotMatch(formatStatus(status()), /^nat:/m, 'an older node without the field: no row');
  });
});

describe('signaler pin mismatch', () => {
  const m = { address: '10.0.0.1:8888', expected: fakeId('old'), actual: fakeId('new'), pinned: true };

  it('says which id to pin, for a pinned id and for one remembered on first use', () => {
    assert.match(pinMismatchHint(m), new RegExp(`proved id ${m.actual}, not the pinned id ${m.expected}\\. If its key was changed on purpose, pin the new id: --signaler 10\\.0\\.0\\.1:8888#${m.actual}\\.`));
    const tofu = pinMismatchHint({ ...m, pinned: false });
    assert.match(tofu, /the id remembered when it was first used/);
    assert.match(tofu, new RegExp(`--signaler 10\\.0\\.0\\.1:8888#${m.actual} \\(it replaces the remembered id\\)`));
    assert.match(pinMismatchHint({ ...m, actual: null }), /#<its new id>/);
  });

  it('warns once, then quietly, then again after the interval with the count', () => {
    const w = new PinWarnings();
    const first = w.notice(m, 0);
    assert.equal(first.level, 'warn');
    assert.equal(first.line, pinMismatchHint(m));
    for (let t = 1; t <= 5; t++) assert.equal(w.notice(m, t * 1000).level, 'debug');
    assert.equal(w.notice({ ...m, address: 'other:1' }, 6000).level, 'warn', 'per signaler');
    const again = w.notice(m, PIN_WARNING_INTERVAL_MS);
    assert.equal(again.level, 'warn');
    assert.match(again.line, /\(5 more attempt\(s\) since the last warning\)$/);
    w.proved(m.address);
    assert.equal(w.notice(m, PIN_WARNING_INTERVAL_MS + 1).level, 'warn', 'a new mismatch after a proof is news');
  });
});
