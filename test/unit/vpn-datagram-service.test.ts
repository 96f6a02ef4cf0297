/**
 * The datagram path service (src/vpn/datagram-service.ts) between two ends over an
 * in-memory UDP "network" on a manual clock: the offer exchange, keys from a shared
 * exporter, probing, data both ways, and every drop counted (forged, unknown index,
 * replayed, bad length, not allowed), plus who gets no offer at all.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { Counters } from '../../src/core/counters.js';
import { createLogger } from '../../src/log.js';
import { DatagramService, type DatagramChannel } from '../../src/vpn/datagram-service.js';
import type { UdpPort } from '../../src/vpn/udp-port.js';
import { DatagramType, FrameType, HELLO_FLAG_DGRAM, decodeDgramOffer } from '../../src/wire/index.js';
import { sealDatagram } from '../../src/vpn/datagram-crypto.js';
import { fakeClock } from '../helpers/fake-clock.js';

/** Ports on one in-memory network; `drop` makes it lose everything. */
class Net {
  drop = false;
  readonly ports = new Map<number, (d: Buffer) => void>();
  port(n: number): UdpPort {
    return {
      port: n,
      send: (data, _host, to) => {
        if (!this.drop) setImmediate(() => this.ports.get(to)?.(Buffer.from(data)));
      },
      onMessage: (h) => void this.ports.set(n, (d) => h(d, '127.0.0.1', n)),
      close: () => void this.ports.delete(n),
    };
  }
}

interface End {
  svc: DatagramService;
  ch: DatagramChannel & { frames: Array<[number, Buffer]> };
  counters: Counters;
  delivered: Buffer[];
  allowed: { value: boolean };
}

const SECRET = Buffer.alloc(32, 1);
const exporter = (secret: Buffer) => (n: number, label: string, ctx: Buffer): Buffer =>
  createHmac('sha512', secret).update(label).update(ctx).digest().subarray(0, n);

function end(net: Net, clock: ReturnType<typeof fakeClock>, port: number, self: string, peer: string, dialer: string, opts: { flags?: number; method?: string; secret?: Buffer; bindFails?: boolean } = {}): End {
  const counters = new Counters();
  const delivered: Buffer[] = [];
  const allowed = { value: true };
  const frames: Array<[number, Buffer]> = [];
  const ch = {
    peerId: peer,
    peerHello: { flags: opts.flags ?? HELLO_FLAG_DGRAM },
    method: opts.method ?? 'outbound',
    remoteAddress: '127.0.0.1:4000',
    dialerId: dialer,
    socketFd: null,
    frames,
    send: (type: number, payload: Uint8Array) => (frames.push([type, Buffer.from(payload)]), true),
    exportKeyingMaterial: exporter(opts.secret ?? SECRET),
  };
  let next = port * 1000;
  const svc = new DatagramService({
    selfId: self,
    mode: 'always',
    mtu: 1400,
    bind: async () => {
      if (opts.bindFails) throw new Error('EADDRINUSE');
      return net.port(port);
    },
    clock,
    log: createLogger('silent', () => {}),
    counters,
    isAllowed: () => allowed.value,
    deliver: (_p, packets) => delivered.push(...packets),
    random32: () => ++next,
  });
  void self;
  return { svc, ch, counters, delivered, allowed };
}

/** Two ends whose sessions are up and whose offers crossed; the path is up after a tick. */
async function connected(opts: { secretB?: Buffer; dialers?: [string, string] } = {}) {
  const net = new Net();
  const clock = fakeClock(1000);
  const [dialerSeenByA, dialerSeenByB] = opts.dialers ?? ['A', 'A'];
  const a = end(net, clock, 1, 'A', 'B', dialerSeenByA);
  const b = end(net, clock, 2, 'B', 'A', dialerSeenByB, opts.secretB ? { secret: opts.secretB } : {});
  a.svc.onSessionUp(a.ch);
  b.svc.onSessionUp(b.ch);
  await clock.advance(0);
  for (const [from, to] of [[a, b], [b, a]] as const) for (const [t, p] of from.ch.frames) if (t === FrameType.DGRAM_OFFER) to.svc.onOffer(to.ch, p);
  // Probe and reply take a few event-loop turns; the route follows at the next tick.
  await clock.advance(600);
  return { net, clock, a, b };
}

const c = (e: End, name: string): number => e.counters.get(`vpn.dgram.${name}`);
const packet = (n: number): Buffer => Buffer.alloc(100, n);

describe('datagram service', () => {
  it('agrees on the keys when the ends disagree on who dialed (a punched connection a listener accepted)', async () => {
    // Seen in the NAT lab: outbound-punched at one end, inbound at the other, each naming
    // the other as the dialer. Keys ordered by dialer then differed and every datagram
    // failed to authenticate; ordered by node id they agree.
    for (const dialers of [['B', 'A'], ['A', 'B'], ['A', 'A']] as [string, string][]) {
      const { clock, a, b } = await connected({ dialers });
      assert.deepEqual(a.svc.send('B', [packet(7)]), [], `A sends as a datagram (dialers ${dialers})`);
      await clock.advance(0);
      assert.equal(b.delivered.length, 1, `B got it (dialers ${dialers})`);
      assert.equal(c(a, 'auth') + c(b, 'auth'), 0);
    }
  });

  it('exchanges offers, comes up, and carries packets both ways', async () => {
    const { clock, a, b } = await connected();
    const offer = decodeDgramOffer(a.ch.frames.find(([t]) => t === FrameType.DGRAM_OFFER)![1]);
    assert.deepEqual(offer, { version: 1, port: 1, index: 1001, epoch: 0 });
    assert.equal(c(a, 'path_up'), 1);
    assert.equal(a.svc.route('B'), 'udp');
    assert.deepEqual(a.svc.send('B', [packet(1), packet(2), Buffer.alloc(1401)]).map((p) => p.length), [1401], 'too big: left for the session');
    assert.deepEqual(b.svc.send('A', [packet(3)]), []);
    await clock.advance(0);
    assert.deepEqual(b.delivered, [packet(1), packet(2)]);
    assert.deepEqual(a.delivered, [packet(3)]);
    assert.equal(c(a, 'sent'), 2);
    assert.equal(c(b, 'received'), 2);
  });

  it('drops and counts a datagram sealed with another key, for an unknown index, replayed, or of a bad length', async () => {
    const { net, clock, a, b } = await connected();
    let captured: Buffer | undefined;
    const deliverB = net.ports.get(2)!;
    net.ports.set(2, (d) => ((captured ??= d[0] === DatagramType.DATA ? d : undefined), deliverB(d)));
    a.svc.send('B', [packet(1)]);
    await clock.advance(0);
    assert.equal(b.delivered.length, 1);
    b.svc.onDatagram(captured!);
    assert.equal(c(b, 'replay'), 1, 'the same datagram again');
    const forged = sealDatagram(Buffer.alloc(32, 9), DatagramType.DATA, 2001, 999, packet(7));
    b.svc.onDatagram(forged);
    assert.equal(c(b, 'auth'), 1);
    b.svc.onDatagram(sealDatagram(Buffer.alloc(32, 9), DatagramType.DATA, 12345, 0, packet(7)));
    assert.equal(c(b, 'unknown_index'), 1);
    b.svc.onDatagram(Buffer.alloc(20));
    b.svc.onDatagram(Buffer.alloc(29 + 1401, 1));
    assert.equal(c(b, 'bad_length'), 2);
    // A forgery does not move the replay window: the real counter 999 is still accepted later.
    assert.equal(b.delivered.length, 1);
  });

  it('a peer with another exporter secret (another TLS session) never gets the path up', async () => {
    const { a, b } = await connected({ secretB: Buffer.alloc(32, 2) });
    assert.equal(a.svc.route('B'), 'tcp');
    assert.ok(c(b, 'auth') >= 1, 'its probes fail authentication');
    assert.equal(c(a, 'path_up'), 0);
  });

  it('refuses datagrams from a peer that is no longer allowed, and routes it over the session', async () => {
    const { clock, a, b } = await connected();
    b.allowed.value = false;
    a.svc.send('B', [packet(1)]);
    await clock.advance(300);
    assert.equal(c(b, 'not_allowed'), 1);
    assert.equal(b.delivered.length, 0);
    assert.equal(b.svc.route('A'), 'tcp');
  });

  it('goes down when the network stops passing datagrams, and packets stay on the session', async () => {
    const { net, clock, a } = await connected();
    net.drop = true;
    a.svc.send('B', [packet(1)]);
    await clock.advance(4000);
    assert.equal(c(a, 'path_down'), 1);
    assert.equal(a.svc.route('B'), 'tcp');
    assert.equal(a.svc.send('B', [packet(2)]).length, 1);
    net.drop = false;
    await clock.advance(2000);
    assert.equal(a.svc.route('B'), 'udp', 'up again after the backoff');
  });

  it('offers nothing to a peer without the HELLO flag, over a relay, or when the UDP bind fails', async () => {
    const net = new Net();
    const clock = fakeClock(0);
    for (const o of [{ flags: 0 }, { method: 'relay' }, { bindFails: true }]) {
      const e = end(net, clock, 3, 'A', 'B', 'A', o);
      e.svc.onSessionUp(e.ch);
      await clock.advance(0);
      assert.deepEqual(e.ch.frames, [], JSON.stringify(o));
      e.svc.close();
    }
  });

  it('ignores (and counts) a repeated offer and an unknown version; a changed offer on the session gives new keys', async () => {
    const { clock, a, b } = await connected();
    const offer = b.ch.frames.find(([t]) => t === FrameType.DGRAM_OFFER)![1];
    a.svc.onOffer(a.ch, offer);
    const v2 = Buffer.from(offer);
    v2[0] = 2;
    a.svc.onOffer(a.ch, v2);
    assert.equal(c(a, 'offers_ignored'), 2);
    a.svc.onSessionUp(a.ch);
    assert.equal(a.svc.route('B'), 'udp', 'the same session again changes nothing');
    // B resets its side (a new index): A follows with new keys and the path comes up again.
    b.svc.onSessionDown('A');
    b.ch.frames.length = 0;
    b.svc.onSessionUp(b.ch);
    await clock.advance(0);
    a.svc.onOffer(a.ch, b.ch.frames.find(([t]) => t === FrameType.DGRAM_OFFER)![1]);
    b.svc.onOffer(b.ch, a.ch.frames.find(([t]) => t === FrameType.DGRAM_OFFER)![1]);
    await clock.advance(600);
    assert.equal(c(a, 'offers_changed'), 1);
    assert.equal(a.svc.route('B'), 'udp');
    a.svc.send('B', [packet(5)]);
    await clock.advance(0);
    assert.deepEqual(b.delivered, [packet(5)]);
  });

  it('keeps an offer that came on a session before it was the active one, and uses it when it is', async () => {
    const net = new Net();
    const clock = fakeClock(1000);
    const a = end(net, clock, 1, 'A', 'B', 'A');
    const b = end(net, clock, 2, 'B', 'A', 'A');
    b.svc.onSessionUp(b.ch);
    await clock.advance(0);
    const other = { ...a.ch, frames: [] as Array<[number, Buffer]> };
    a.svc.onSessionUp(other); // A's active session is another one at first
    a.svc.onOffer(a.ch, b.ch.frames[0]![1]);
    assert.equal(c(a, 'offers_early'), 1);
    a.svc.onSessionUp(a.ch); // the other closed: this one takes over
    await clock.advance(0);
    b.svc.onOffer(b.ch, a.ch.frames.find(([t]) => t === FrameType.DGRAM_OFFER)![1]);
    // A's first probe reached B before B had A's offer (unknown index); the retry is answered.
    await clock.advance(1000);
    assert.equal(a.svc.route('B'), 'udp');
    assert.equal(b.svc.route('A'), 'udp');
  });
});
