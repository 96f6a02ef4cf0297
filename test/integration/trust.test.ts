/**
 * The trust model between real nodes on loopback (real TLS, real LMDB): session slots for
 * strangers and contacts, eviction, blocking, pending-handshake eviction, and a large outbox
 * that drains.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { nextEvent, testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

describe('session slots', () => {
  it('strangers get few slots: beyond them a stranger is refused (E_BUSY) and counted', async () => {
    const a = await net0.node({ limits: { maxStrangerSessions: 2 } });
    const strangers = [await net0.node(), await net0.node(), await net0.node()];
    await strangers[0]?.dial(`127.0.0.1:${a.port}`);
    await strangers[1]?.dial(`127.0.0.1:${a.port}`);
    await assert.rejects(strangers[2]!.dial(`127.0.0.1:${a.port}`), (e) => isSentinelError(e, 'E_BUSY'));
    assert.equal(a.status().counters['sessions_refused.busy'], 1);
    assert.equal(a.status().trust.sessions.strangers, 2);
    // A contact still gets in (the total is not full).
    const friend = await net0.node();
    await a.alias(friend.identity.id, 'friend');
    await friend.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => a.peers().some((p) => p.id === friend.identity.id && p.connected), 3_000, 'friend connected');
  });

  it('a contact takes the slot of the idlest stranger when every slot is full', async () => {
    const a = await net0.node({ limits: { maxSessions: 2, maxStrangerSessions: 2 } });
    const s1 = await net0.node();
    const s2 = await net0.node();
    await s1.dial(`127.0.0.1:${a.port}`);
    await s2.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => a.status().peers === 2, 3_000, 'two strangers');
    const friend = await net0.node();
    await a.setAllowed(friend.identity.id, true); // allowing makes it a contact
    const evicted = Promise.race([
      nextEvent(s1, (e) => e.type === 'peer-disconnected', 3_000),
      nextEvent(s2, (e) => e.type === 'peer-disconnected', 3_000),
    ]);
    await friend.dial(`127.0.0.1:${a.port}`);
    const ev = await evicted;
    assert.match(ev.type === 'peer-disconnected' ? ev.reason : '', /BUSY/);
    assert.equal(a.status().counters['sessions_evicted.stranger'], 1);
    await waitFor(() => a.status().peers === 2, 3_000, 'one stranger and the contact');
    assert.ok(a.peers().some((p) => p.id === friend.identity.id && p.connected && p.trust === 'contact'));
  });

  it('only so many strangers per source IP', async () => {
    const a = await net0.node({ limits: { maxStrangerSessionsPerIp: 1 } });
    await (await net0.node()).dial(`127.0.0.1:${a.port}`);
    await assert.rejects((await net0.node()).dial(`127.0.0.1:${a.port}`), (e) => isSentinelError(e, 'E_BUSY'));
  });

  it('a blocked peer is refused, its session closed, and dialing it needs an unblock', async () => {
    const a = await net0.node();
    const x = await net0.node();
    await x.dial(`127.0.0.1:${a.port}`);
    await waitFor(() => a.status().peers === 1, 3_000, 'connected');
    const down = nextEvent(x, (e) => e.type === 'peer-disconnected', 3_000);
    const r = await a.block(x.identity.id);
    assert.deepEqual(r, { id: x.identity.id, trust: 'blocked', requests: 0 });
    await down;
    await assert.rejects(x.dial(`127.0.0.1:${a.port}`), (e) => isSentinelError(e, 'E_REFUSED'));
    assert.ok((a.status().counters['sessions_refused.blocked'] ?? 0) >= 1);
    await assert.rejects(a.dial(x.identity.id), (e) => isSentinelError(e, 'E_BLOCKED'));
    await a.unblock(x.identity.id);
    await x.dial(`127.0.0.1:${a.port}`);
  });

  it('a flood of silent connections cannot keep a real handshake out: the oldest pending one is dropped', async () => {
    const a = await net0.node({ limits: { maxPendingHandshakes: 3, handshakeTimeoutMs: 5_000 } });
    const silent = await Promise.all(
      [0, 1, 2, 3, 4].map(
        () =>
          new Promise<net.Socket>((r) => {
            const s = net.connect(a.port, '127.0.0.1', () => r(s));
            s.on('error', () => {});
          }),
      ),
    );
    const friend = await net0.node();
    const d = await friend.dial(`127.0.0.1:${a.port}`);
    assert.equal(d.id, a.identity.id);
    assert.ok((a.status().counters['inbound_evicted.pending_full'] ?? 0) >= 3, JSON.stringify(a.status().counters));
    for (const s of silent) s.destroy();
  });
});

describe('delivery', () => {
  it('a 23 MiB outbox drains, in order, exactly once, without overflowing the session', async () => {
    const a = await net0.node();
    const dirB = await net0.tempDir();
    let b = await net0.node({ dataDir: dirB });
    await a.dial(`127.0.0.1:${b.port}`); // A learns B's address
    await a.alias(b.identity.id, 'bob');
    await b.alias(a.identity.id, 'alice');
    const bPort = b.port;
    await b.close();
    await waitFor(() => a.status().peers === 0, 3_000, 'A notices B left');
    const text = (i: number): string => `${String(i).padStart(5, '0')} ${'x'.repeat(64 * 1024 - 8)}`;
    const count = 368; // 368 x 64 KiB = 23 MiB
    for (let i = 0; i < count; i++) await a.send(b.identity.id, text(i));
    b = await net0.node({ dataDir: dirB, port: bPort });
    await a.dial(b.identity.id);
    await waitFor(() => b.status().counters['chat_stored'] === count, 60_000, 'every message on B');
    // History pages are capped in bytes (4 MiB): read them all, newest page first.
    const all = (node: typeof a, peer: string) => {
      const out: ReturnType<typeof a.history> = [];
      for (let page = node.history(peer, 1000); page.length > 0; page = node.history(peer, 1000, page[0]?.id)) out.unshift(...page);
      return out;
    };
    assert.ok(b.history(a.identity.id, 1000).length < count, 'one page does not hold 23 MiB');
    const got = all(b, a.identity.id).map((m) => m.text.slice(0, 5));
    assert.deepEqual(got, Array.from({ length: count }, (_, i) => String(i).padStart(5, '0')), 'in order, once each');
    await waitFor(() => all(a, b.identity.id).every((m) => m.status === 'delivered'), 30_000, 'all delivered on A');
    assert.equal(a.status().counters['protocol_errors.E_PROTOCOL'] ?? 0, 0, 'the session never hit its write cap');
  });
});
