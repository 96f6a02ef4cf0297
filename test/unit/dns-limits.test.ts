/** The DNS responder's pure bounds: TCP framing and query rates (src/dns/framing.ts, rate.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameTcp, TcpDnsFramer } from '../../src/dns/framing.js';
import { QueryRateLimiter } from '../../src/dns/rate.js';
import { isSentinelError } from '../../src/errors.js';

describe('TcpDnsFramer', () => {
  it('splits a stream into messages however it is cut', () => {
    const msgs = [Buffer.from('first'), Buffer.alloc(0), Buffer.from('third message')];
    const stream = Buffer.concat(msgs.map(frameTcp));
    assert.deepEqual(stream.subarray(0, 7), Buffer.from([0, 5, ...Buffer.from('first')]));
    for (let cut = 1; cut < stream.length; cut++) {
      const f = new TcpDnsFramer(64);
      const out = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      assert.deepEqual(out, msgs, `cut at ${cut}`);
      assert.equal(f.buffered, 0);
    }
  });

  it('refuses a length over the cap before its bytes arrive', () => {
    const f = new TcpDnsFramer(100);
    assert.throws(() => f.push(Buffer.of(0, 101)), (e) => isSentinelError(e, 'E_PAYLOAD_MALFORMED'));
    assert.deepEqual(new TcpDnsFramer(100).push(Buffer.of(0, 100)), [], 'at the cap: waits for the bytes');
  });
});

describe('QueryRateLimiter', () => {
  it('admits a burst per source, then the rate', () => {
    const l = new QueryRateLimiter({ perSecond: 2, burst: 3 }, { perSecond: 1000, burst: 1000 }, 10, 0);
    assert.deepEqual([0, 0, 0, 0].map(() => l.admit('a', 0)), [null, null, null, 'source']);
    assert.equal(l.admit('b', 0), null, 'another source has its own bucket');
    assert.equal(l.admit('a', 499), 'source');
    assert.equal(l.admit('a', 500), null, 'one token after 500 ms at 2/s');
  });

  it('limits all sources together', () => {
    const l = new QueryRateLimiter({ perSecond: 100, burst: 100 }, { perSecond: 1, burst: 2 }, 10, 0);
    assert.deepEqual(['a', 'b', 'c'].map((s) => l.admit(s, 0)), [null, null, 'total']);
  });

  it('tracks at most maxSources, forgetting the least recently seen', () => {
    const l = new QueryRateLimiter({ perSecond: 1, burst: 1 }, { perSecond: 1000, burst: 1000 }, 2, 0);
    assert.equal(l.admit('a', 0), null);
    assert.equal(l.admit('b', 0), null);
    assert.equal(l.admit('a', 0), 'source', 'a is remembered (and now the most recent)');
    assert.equal(l.admit('c', 0), null);
    assert.equal(l.tracked, 2);
    assert.equal(l.admit('a', 0), 'source', 'b was forgotten, not a');
    assert.equal(l.admit('b', 0), null, 'b starts again');
  });
});
