/**
 * The signaler with IPv6 peers, on loopback: registration over `::1` (the observed address
 * is IPv6), global IPv6 claims in REGISTER kept on the identity port only and told only to
 * askers with IPv6, and two real nodes that register over IPv6 and dial each other by id.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity, publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { loadNative } from '../../src/native/index.js';
import { SignalerServer } from '../../src/signaler/index.js';
import { systemClock, type Clock } from '../../src/transport/index.js';
import { FrameDecoder, FrameType, decodeLookupResult, decodePunchStart, decodeRegistered, encodeFrame, encodeHello, encodeLookup, encodePunchRequest, encodeRegister, type Endpoint } from '../../src/wire/index.js';
import { V6_CLAIM_RATE } from '../../src/signaler/limits.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
const servers: SignalerServer[] = [];
const sockets: tls.TLSSocket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
  await net0.close();
});
const silent = createLogger('silent', () => {});
const native = loadNative();
const v6Loopback = await new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
});
const noV6 = v6Loopback ? false : 'no IPv6 loopback on this machine';

async function signaler(host: string, clock?: Clock): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, ...(clock ? { clock } : {}) });
  await s.listen(0, host);
  servers.push(s);
  return s;
}

/** A raw authenticated client that registers with `local` and can look others up. */
async function registered(host: string, port: number, listenPort: number, local: Endpoint[]) {
  const id = generateIdentity();
  const frames: Array<{ type: number; payload: Buffer }> = [];
  const dec = new FrameDecoder();
  const sock = tls.connect({ host, port, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sockets.push(sock);
  sock.on('data', (d: Buffer) => frames.push(...dec.push(d)));
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  const send = (type: number, p: Buffer): boolean => sock.write(encodeFrame(type, p));
  send(FrameType.HELLO, encodeHello({ listenPort, name: '' }));
  send(FrameType.REGISTER, encodeRegister({ listenPort, local }));
  await waitFor(() => frames.some((f) => f.type === FrameType.REGISTERED), 3_000, 'REGISTERED');
  const observed = decodeRegistered(frames.find((f) => f.type === FrameType.REGISTERED)!.payload).observed;
  let reqId = 0;
  const lookup = async (target: string) => {
    const n = ++reqId;
    send(FrameType.LOOKUP, encodeLookup({ reqId: n, target: publicKeyFromNodeId(target) }));
    let found: ReturnType<typeof decodeLookupResult> | undefined;
    await waitFor(() => (found = frames.filter((f) => f.type === FrameType.LOOKUP_RESULT).map((f) => decodeLookupResult(f.payload)).find((m) => m.reqId === n)) !== undefined, 3_000, 'LOOKUP_RESULT');
    return found!;
  };
  return { id: id.id, observed, lookup, frames, send };
}

describe('signaler and IPv6 peers', () => {
  it('a node registering over ::1 is observed at ::1; its global IPv6 claims are kept on its identity port and told only to askers with IPv6', { skip: noV6 }, async () => {
    const sig = await signaler('::'); // dual-stack: IPv4 clients arrive IPv4-mapped
    const a = await registered('::1', sig.port, 7001, [
      { host: '2001:db8:1::10', port: 7001 },
      { host: '2001:db8:1::11', port: 22 },
      { host: 'fe80::1', port: 7001 },
    ]);
    assert.equal(a.observed.host, '::1');
    assert.deepEqual(sig.lookup(a.id)?.local, [{ host: '2001:db8:1::10', port: 7001 }]);
    assert.equal(sig.counters.get('locals_dropped.not_identity_port'), 1);
    assert.equal(sig.counters.get('locals_dropped.not_private'), 1);

    // Over IPv4, so not "behind the same address" as A: only the global IPv6 claim can pass.
    const withV6 = await registered('127.0.0.1', sig.port, 7002, [{ host: '2001:db8:2::10', port: 7002 }]);
    assert.equal(withV6.observed.host, '127.0.0.1', 'IPv4 through the dual-stack listener, unmapped');
    const withoutV6 = await registered('127.0.0.1', sig.port, 7003, [{ host: '192.168.5.5', port: 7003 }]);
    const seen = await withV6.lookup(a.id);
    assert.deepEqual(seen.public, a.observed);
    assert.deepEqual(seen.local, [{ host: '2001:db8:1::10', port: 7001 }]);
    assert.deepEqual((await withoutV6.lookup(a.id)).local, [], 'an asker without IPv6 gets no IPv6 claim');
  });

  it('claims aimed at one /64 reach targets in at most V6_CLAIM_RATE.burst PUNCH_STARTs, however many ids and targets', { skip: noV6 }, async () => {
    // Time stands still for the signaler's buckets: no token refills however slow this machine is.
    const frozen = Date.now();
    const sig = await signaler('::', { ...systemClock, now: () => frozen });
    // Three targets with IPv6 of their own (so claims are told to them), over IPv4.
    const targets = await Promise.all([1, 2, 3].map((n) => registered('127.0.0.1', sig.port, 7100 + n, [{ host: `2001:db8:${n}::10`, port: 7100 + n }])));
    // Four throw-away ids over IPv6 claim addresses in the victim's /64 on their "identity port".
    const victim = '2001:db8:66::';
    const attackers = await Promise.all([1, 2, 3, 4].map((n) => registered('::1', sig.port, 22, [{ host: `${victim}${n}`, port: 22 }])));
    let reqId = 1;
    for (const a of attackers) for (const t of targets) a.send(FrameType.PUNCH_REQUEST, encodePunchRequest({ reqId: reqId++, target: publicKeyFromNodeId(t.id) }));
    const starts = () => targets.flatMap((t) => t.frames.filter((f) => f.type === FrameType.PUNCH_START).map((f) => decodePunchStart(f.payload)));
    await waitFor(() => starts().length === attackers.length * targets.length, 3_000, 'every PUNCH_START');
    const carrying = starts().filter((ps) => ps.local.some((e) => e.host.startsWith(victim)));
    assert.equal(carrying.length, V6_CLAIM_RATE.burst, `${carrying.length} of ${starts().length} PUNCH_STARTs carried the claims`);
    assert.equal(sig.counters.get('v6_claims_withheld'), attackers.length * targets.length - V6_CLAIM_RATE.burst);
    // The attackers still learned each target's own claims (a /64 of its own each).
    const toAttackers = attackers.flatMap((a) => a.frames.filter((f) => f.type === FrameType.PUNCH_START).map((f) => decodePunchStart(f.payload)));
    assert.ok(toAttackers.every((ps) => ps.local.length === 1), 'targets\' own claims within their budgets');
  });

  it('two nodes register with a signaler over IPv6 and one dials the other by id', { skip: noV6 || (native.ok ? false : `native addon unavailable: ${native.reason}`) }, async () => {
    const sig = await signaler('::1');
    const a = await net0.node({ host: '::1', signaler: `[::1]:${sig.port}` });
    const b = await net0.node({ host: '::1', signaler: `[::1]:${sig.port}` });
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
    assert.equal(a.status().signaler.observed, `[::1]:${a.port}`, 'registered from the identity port over IPv6');
    const r = await b.dial(a.identity.id);
    assert.ok(r.method === 'tcp-simultaneous-open' || r.method === 'inbound', r.method);
    assert.equal(r.address, `[::1]:${a.port}`);
    assert.equal((await b.send(a.identity.id, 'hello over ::1')).status, 'delivered');
  });
});
