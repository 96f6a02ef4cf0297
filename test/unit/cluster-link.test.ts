/**
 * ClusterLink (src/cluster/link.ts) on the in-memory store with a manual clock: presence
 * written, refreshed, restored only where missing; dead instances and stale presence;
 * eviction and the move grace; the bounds on reads and punch requests in flight.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/api.js';
import { BusKind, PunchStatus, decodeBus, decodePresence, type Presence } from '../../src/cluster/codec.js';
import { HEARTBEAT_MS, INSTANCE_TTL_MS, MAX_PENDING_FINDS, RECONNECT_GRACE_MS, MOVE_GRACE_MS, PRESENCE_REFRESH_MS, PRESENCE_TTL_MS, PUNCH_ASK_TIMEOUT_MS, ClusterLink, type ClusterHost } from '../../src/cluster/link.js';
import { publicKeyFromNodeId } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { RelayHub } from '../../src/relay/hub.js';
import { Counters } from '../../src/transport/index.js';
import { fakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { newId } from '../helpers/fake-end.js';
import { MemoryBackend, MemoryStore } from '../helpers/memory-cluster.js';

const log = createLogger('silent', () => {});

interface Inst {
  link: ClusterLink;
  backend: MemoryBackend;
  counters: Counters;
  nodes: Map<NodeId, Omit<Presence, 'instance'>>;
  evicted: NodeId[];
}

async function instance(store: MemoryStore, clock: FakeClock): Promise<Inst> {
  const counters = new Counters();
  const nodes = new Map<NodeId, Omit<Presence, 'instance'>>();
  const evicted: NodeId[] = [];
  const host: ClusterHost = {
    hub: new RelayHub({ clock, counters }),
    counters,
    log,
    local: () => undefined,
    localIds: () => nodes.keys(),
    presenceOf: (id) => nodes.get(id),
    evict: (id) => void evicted.push(id),
    punchAsked: () => ({ status: PunchStatus.OK, delayMs: 5, listenPort: 7000, public: { host: '192.0.2.1', port: 7000 }, local: [] }),
  };
  const backend = new MemoryBackend(store);
  const link = new ClusterLink({ backend, clock, counters, log }, host);
  await link.start();
  return { link, backend, counters, nodes, evicted };
}

const reg = (now: number): Omit<Presence, 'instance'> => ({ listenPort: 7000, rttMs: 20, registeredAt: now, observed: { host: '198.51.100.9', port: 40001 }, local: [] });
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function setup(n = 2): Promise<{ clock: FakeClock; store: MemoryStore; insts: Inst[] }> {
  const clock = fakeClock(1_000_000);
  const store = new MemoryStore(clock);
  const insts: Inst[] = [];
  for (let i = 0; i < n; i++) insts.push(await instance(store, clock));
  await clock.advance(HEARTBEAT_MS);
  return { clock, store, insts };
}

describe('cluster link', () => {
  it('a registered node is found from another instance, not from its own, and its presence is refreshed', async () => {
    const { clock, insts } = await setup();
    const [a, b] = insts as [Inst, Inst];
    const id = newId();
    a.nodes.set(id, reg(clock.now()));
    assert.equal(await a.link.registered(id, clock.now()), false);
    assert.equal((await b.link.find(id))?.instance, a.backend.instance);
    assert.equal(await a.link.find(id), undefined, 'its own instance does not have it as a remote node');
    // Refreshed past the TTL while its instance lives.
    for (let t = 0; t < 2 * PRESENCE_TTL_MS; t += PRESENCE_REFRESH_MS) await clock.advance(PRESENCE_REFRESH_MS);
    assert.ok(await b.link.find(id));
  });

  it('a node of an instance that joined since the last heartbeat is found at once', async () => {
    const { clock, store, insts } = await setup();
    const c = await instance(store, clock);
    const id = newId();
    c.nodes.set(id, reg(clock.now()));
    await c.link.registered(id, clock.now());
    assert.equal((await insts[0]!.link.find(id))?.instance, c.backend.instance);
    assert.equal(insts[0]!.counters.get('cluster.presence_stale'), 0);
  });

  it("a dead instance's nodes are not served (stale), well before their presence expires", async () => {
    const { clock, insts } = await setup();
    const [a, b] = insts as [Inst, Inst];
    const id = newId();
    a.nodes.set(id, reg(clock.now()));
    await a.link.registered(id, clock.now());
    await a.link.close();
    await clock.advance(INSTANCE_TTL_MS + HEARTBEAT_MS);
    assert.equal(await b.link.find(id), undefined);
    assert.equal(b.counters.get('cluster.presence_stale'), 1);
    assert.equal(b.counters.get('cluster.instances_gone'), 1);
  });

  it('registering at a second instance evicts the first; a move within the grace period is reported', async () => {
    const { clock, insts } = await setup();
    const [a, b] = insts as [Inst, Inst];
    const id = newId();
    a.nodes.set(id, reg(clock.now()));
    await a.link.registered(id, clock.now());
    await clock.advance(MOVE_GRACE_MS / 2);
    b.nodes.set(id, reg(clock.now()));
    assert.equal(await b.link.registered(id, clock.now()), true, 'moved within the grace');
    await settle();
    assert.deepEqual(a.evicted, [id]);
    // a's session ends: it must not delete b's presence.
    a.nodes.delete(id);
    a.link.unregistered(id);
    await settle();
    assert.equal((await a.link.find(id))?.instance, b.backend.instance);
    // Moving back much later is not "recent".
    await clock.advance(MOVE_GRACE_MS * 2);
    a.nodes.set(id, reg(clock.now()));
    assert.equal(await a.link.registered(id, clock.now()), false);
  });

  it('after the store comes back, presence is restored only where missing', async () => {
    const { clock, store, insts } = await setup();
    const [a, b] = insts as [Inst, Inst];
    const [x, y] = [newId(), newId()];
    a.nodes.set(x, reg(clock.now()));
    a.nodes.set(y, reg(clock.now()));
    await a.link.registered(x, clock.now());
    await a.link.registered(y, clock.now());
    store.setUp(false);
    await assert.rejects(b.link.find(x), { code: 'E_CLUSTER' });
    // Redis restarted empty, except that y registered at b meanwhile.
    store.keys.clear();
    store.setUp(true);
    b.nodes.set(y, reg(clock.now()));
    await b.link.registered(y, clock.now());
    store.setUp(false);
    store.setUp(true);
    await settle();
    await clock.advance(HEARTBEAT_MS);
    assert.equal(decodePresence(store.get(x)!).instance, a.backend.instance, 'x written again');
    assert.equal(decodePresence(store.get(y)!).instance, b.backend.instance, "y's newer presence kept");
  });

  it('just after the store came back a miss is UNAVAILABLE (retry), and no instance is taken for dead', async () => {
    const { clock, store, insts } = await setup(3);
    const [a, b, c] = insts as [Inst, Inst, Inst];
    store.setUp(false);
    store.keys.clear();
    store.instances.clear();
    store.setUp(true);
    await settle();
    // Only a has beaten since the restart: b and c are not dead for it, and an unknown id is "retry".
    await assert.rejects(a.link.find(newId()), { code: 'E_CLUSTER', message: /just came back/ });
    assert.equal(a.counters.get('cluster.instances_gone'), 0);
    assert.equal(a.link.instances.length, 3);
    await clock.advance(RECONNECT_GRACE_MS);
    assert.equal(await a.link.find(newId()), undefined, 'after the grace, a miss is a miss');
    void b;
    void c;
  });

  it('bounds presence reads in flight: over MAX_PENDING_FINDS they are refused at once', async () => {
    const { store, insts } = await setup();
    const b = insts[1]!;
    store.holdReads = true;
    const pending = Array.from({ length: MAX_PENDING_FINDS }, () => b.link.find(newId()));
    await assert.rejects(b.link.find(newId()), { code: 'E_CLUSTER' });
    assert.equal(b.counters.get('cluster.finds_refused'), 1);
    store.release();
    await Promise.all(pending);
  });

  it('a punch request to an instance that does not answer fails after PUNCH_ASK_TIMEOUT_MS', async () => {
    const { clock, insts } = await setup();
    const [a, b] = insts as [Inst, Inst];
    const ask = { requester: publicKeyFromNodeId(newId()), target: publicKeyFromNodeId(newId()), listenPort: 1, rttMs: 1, hasV6: false, observed: { host: '192.0.2.2', port: 1 }, local: [] };
    // Answered when the instance is there.
    const ok = await a.link.askPunch(b.backend.instance, ask);
    assert.equal(ok.status, PunchStatus.OK);
    assert.equal(decodeBus(a.backend.sent.at(-1)![1]).msg.kind, BusKind.PUNCH_ASK);
    // Not answered: an instance id nobody subscribes to.
    const lost = assert.rejects(a.link.askPunch('00000000deadbeef', ask), { code: 'E_CLUSTER', message: /did not answer in time/ });
    await clock.advance(PUNCH_ASK_TIMEOUT_MS);
    await lost;
    assert.equal(a.counters.get('cluster.ask_timeouts'), 1);
  });
});
