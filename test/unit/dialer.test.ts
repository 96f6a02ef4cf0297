/** The dial budget as the dialer applies it: automatic dials to strangers cannot flood a third party. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dialer } from '../../src/connect/dialer.js';
import { SentinelError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { DialBudget } from '../../src/peers/dial-budget.js';
import { PeerDirectory } from '../../src/peers/directory.js';
import { MemoryStore } from '../../src/store/index.js';
import { Counters, type ConnectionManager } from '../../src/transport/index.js';
import { DirectTransport } from '../../src/transports/direct.js';
import { fakeClock } from '../helpers/fake-clock.js';
import { fakeId } from '../helpers/fake-node.js';

function setup() {
  const clock = fakeClock(1_000_000);
  const counters = new Counters();
  const log = createLogger('silent', () => {});
  const dials: string[] = [];
  const manager = { session: () => undefined, checkDial: () => {} } as unknown as ConnectionManager;
  const direct = new DirectTransport({
    connect: async (host: string, port: number) => {
      dials.push(`${host}:${port}`);
      throw new SentinelError('E_DIAL_FAILED', 'refused');
    },
  });
  const directory = new PeerDirectory({ store: new MemoryStore(), clock, log, counters, wasChosen: () => false });
  const dialer = new Dialer({ manager, directory, budget: new DialBudget(clock.now()), clock, counters, log, punch: () => 'no signaler', direct });
  return { dialer, dials, counters, clock };
}

describe('dialer: automatic dials to strangers', () => {
  it('a flood of hints naming fresh ids at one address dials it only a couple of times', async () => {
    const { dialer, dials, counters } = setup();
    for (let i = 0; i < 400; i++) await dialer.dialStranger(fakeId(`fresh ${i}`), [{ host: '198.51.100.7', port: 443 }], 'mDNS hint');
    assert.ok(dials.length <= 2, `${dials.length} dials reached the victim`);
    assert.ok((counters.get('dials_refused.host_rate') ?? 0) >= 398);
  });

  it('many addresses are limited by the node-wide rate', async () => {
    const { dialer, dials, counters, clock } = setup();
    for (let i = 0; i < 100; i++) await dialer.dialStranger(fakeId(`x${i}`), [{ host: `198.51.100.${i + 1}`, port: 443 }], 'gossip');
    assert.equal(dials.length, 8, 'the burst of the node-wide rate');
    assert.equal(counters.get('dials_refused.rate'), 92);
    await clock.advance(10_000);
    for (let i = 0; i < 100; i++) await dialer.dialStranger(fakeId(`y${i}`), [{ host: `198.51.100.${i + 101}`, port: 443 }], 'gossip');
    assert.equal(dials.length, 16, 'refilled at one per second');
  });
});
