/**
 * A dial by address makes the peer a contact, durably, with the trust write started as soon
 * as TLS proved the peer's id (in parallel with the HELLO exchange); a dial that fails after
 * that leaves the peer's trust as it was (issue 10).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isSentinelError } from '../../src/errors.js';
import { testnet } from '../helpers/testnet.js';

const net0 = testnet();
after(() => net0.close());

describe('dial by address and trust', () => {
  it('the dialed peer is a contact when the dial answers', async () => {
    const a = await net0.node();
    const b = await net0.node();
    const r = await b.dial(`127.0.0.1:${a.port}`);
    assert.equal(r.id, a.identity.id);
    assert.equal(b.peers().find((p) => p.id === a.identity.id)?.trust, 'contact');
  });

  it('a peer that refuses the session after TLS (E_BUSY) does not stay a contact', async () => {
    const a = await net0.node({ limits: { maxStrangerSessionsPerIp: 1 } });
    await (await net0.node()).dial(`127.0.0.1:${a.port}`);
    const b = await net0.node();
    await assert.rejects(b.dial(`127.0.0.1:${a.port}`), (e) => isSentinelError(e, 'E_BUSY'));
    const seen = b.peers().find((p) => p.id === a.identity.id);
    assert.notEqual(seen?.trust, 'contact', 'trust put back after the failed dial');
    // A dial that works later makes it a contact after all.
    const c = await net0.node();
    const r = await c.dial(`127.0.0.1:${(await net0.node()).port}`);
    assert.equal(c.peers().find((p) => p.id === r.id)?.trust, 'contact');
  });
});
