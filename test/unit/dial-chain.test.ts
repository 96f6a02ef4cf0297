/** The dial chain as data (connect/chain.ts) and the memory pipes under the simulated network. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChain } from '../../src/connect/chain.js';
import { SentinelError, type ErrorCode } from '../../src/errors.js';
import type { Session } from '../../src/transport/index.js';
import { AttemptsFailed, MemoryNetwork, pipePair, type Transport, type TransportKind } from '../../src/transports/index.js';

const target = { id: 'peer', addresses: [] };
const opts = { secure: () => Promise.reject(new Error('unused')), progress: () => {} };
const session = { peerId: 'peer' } as unknown as Session;

/** A transport that records its turn and then succeeds or fails as told. */
function step(tried: string[], label: string, outcome: 'ok' | ErrorCode | { unavailable: string } | { ends: true }, kind: TransportKind = 'relay'): Transport {
  return {
    kind,
    label,
    unavailable: () => (typeof outcome === 'object' && 'unavailable' in outcome ? outcome.unavailable : null),
    dial: async () => {
      tried.push(label);
      if (outcome === 'ok') return session;
      if (typeof outcome === 'object') throw new SentinelError('E_DIAL_FAILED', `${label} cannot`);
      throw new SentinelError(outcome, `${label} said no`);
    },
    ...(typeof outcome === 'object' && 'ends' in outcome ? { ends: () => true } : {}),
  };
}

describe('dial chain', () => {
  it('tries transports in order until one gives a session', async () => {
    const tried: string[] = [];
    const s = await runChain([step(tried, 'a', 'E_DIAL_FAILED'), step(tried, 'b', 'ok'), step(tried, 'c', 'ok')], target, opts);
    assert.equal(s, session);
    assert.deepEqual(tried, ['a', 'b']);
  });

  it('a final failure stops the chain with that error', async () => {
    for (const code of ['E_REFUSED', 'E_BLOCKED', 'E_BUSY', 'E_SELF_DIAL', 'E_SHUTDOWN'] as const) {
      const tried: string[] = [];
      await assert.rejects(runChain([step(tried, 'a', code), step(tried, 'b', 'ok')], target, opts), (e: Error & { code?: string }) => e.code === code);
      assert.deepEqual(tried, ['a'], code);
    }
  });

  it('a failure its transport says nothing gets past stops the chain', async () => {
    const tried: string[] = [];
    await assert.rejects(runChain([step(tried, 'punch', { ends: true }), step(tried, 'relay', 'ok')], target, opts), /punch cannot/);
    assert.deepEqual(tried, ['punch']);
  });

  it('when all fail, the error lists each attempt and why a transport was skipped', async () => {
    const tried: string[] = [];
    const failing: Transport = { ...step(tried, 'known addresses', 'E_DIAL_FAILED', 'tcp'), dial: async () => Promise.reject(new AttemptsFailed(['1.2.3.4:5: refused', '6.7.8.9:5: timed out'])) };
    const chain = [failing, step(tried, 'hole punching', { unavailable: 'hole punching unavailable (no addon)' }, 'punched'), step(tried, 'relay r1', 'E_DIAL_FAILED')];
    await assert.rejects(runChain(chain, target, opts), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_DIAL_FAILED');
      assert.match(e.message, /peer: 1\.2\.3\.4:5: refused; 6\.7\.8\.9:5: timed out; hole punching unavailable \(no addon\); relay r1: .*relay r1 said no$/);
      return true;
    });
    assert.deepEqual(tried, ['relay r1'], 'the unavailable transport was not dialed');
  });
});

describe('memory pipes', () => {
  it('carry bytes both ways, and an end closing is seen by the other end', async () => {
    const [x, y] = pipePair({ host: 'a', port: 1 }, { host: 'b', port: 2 });
    assert.equal(x.remoteAddress, 'b');
    const got: string[] = [];
    y.on('data', (d: Buffer) => got.push(d.toString()));
    const ended = new Promise((r) => y.once('end', r));
    x.end('hello');
    await ended;
    assert.deepEqual(got, ['hello']);
  });

  it('a network refuses connects its rule blocks, and where nobody listens', async () => {
    let open = false;
    const net = new MemoryNetwork({ reachable: () => open });
    const accepted: string[] = [];
    net.listen('10.0.0.2', 7000, (s) => accepted.push(s.remoteAddress));
    const connect = net.connector('10.0.0.1');
    await assert.rejects(connect('10.0.0.2', 7000, 1000), /unreachable/);
    open = true;
    await assert.rejects(connect('10.0.0.3', 7000, 1000), /unreachable/);
    const s = await connect('10.0.0.2', 7000, 1000);
    assert.equal(s.remoteAddress, '10.0.0.2');
    assert.deepEqual(accepted, ['10.0.0.1']);
    s.destroy();
  });
});
