/** VerifyPool (worker threads) and its packed batches: answers, bounds, refusals, close. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { InlineVerifier, VerifyPool, type VerifyJob } from '../../src/messaging/index.js';
import { packJobs, unpackJobs } from '../../src/messaging/verify-pack.js';
import { Counters } from '../../src/transport/index.js';

function jobs(n: number): { jobs: VerifyJob[]; valid: boolean[] } {
  const id = generateIdentity();
  const out: VerifyJob[] = [];
  const valid: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const data = Buffer.from(`message ${i}`);
    const signature = id.sign(data);
    const ok = i % 3 !== 1;
    // Every third job has its data changed after signing: invalid.
    out.push({ publicKey: id.publicKey, data: ok ? data : Buffer.from(`message ${i}!`), signature });
    valid.push(ok);
  }
  return { jobs: out, valid };
}

const answerAll = (pool: { verify: VerifyPool['verify'] }, list: VerifyJob[]): Promise<boolean[]> =>
  Promise.all(list.map((j) => new Promise<boolean>((resolve, reject) => (pool.verify(j, resolve) ? undefined : reject(new Error('refused'))))));

describe('VerifyPool', () => {
  it('answers every job once with the right verdict, across workers and batches', async () => {
    const pool = new VerifyPool({ workers: 2, maxPending: 1000, maxBatch: 16 });
    try {
      const { jobs: list, valid } = jobs(100);
      assert.deepEqual(await answerAll(pool, list), valid);
      assert.equal(pool.pending, 0);
    } finally {
      await pool.close();
    }
  });

  it('agrees with the inline verifier', async () => {
    const { jobs: list } = jobs(10);
    const inline: boolean[] = [];
    const v = new InlineVerifier();
    for (const j of list) v.verify(j, (ok) => inline.push(ok));
    const pool = new VerifyPool({ workers: 1, maxPending: 10, inlineMax: 0 });
    try {
      assert.deepEqual(await answerAll(pool, list), inline);
    } finally {
      await pool.close();
    }
  });

  it('refuses beyond maxPending, counts each refusal, and takes jobs again once answered', async () => {
    const counters = new Counters();
    const pool = new VerifyPool({ workers: 1, maxPending: 4, counters });
    try {
      const { jobs: list, valid } = jobs(6);
      const answers: Array<Promise<boolean>> = [];
      const accepted = list.map((j) => {
        let resolve!: (ok: boolean) => void;
        const p = new Promise<boolean>((r) => (resolve = r));
        const took = pool.verify(j, resolve);
        if (took) answers.push(p);
        return took;
      });
      assert.deepEqual(accepted, [true, true, true, true, false, false]);
      assert.equal(pool.pending, 4);
      assert.equal(counters.get('verify_refused'), 2);
      assert.deepEqual(await Promise.all(answers), valid.slice(0, 4));
      assert.equal(pool.pending, 0);
      assert.deepEqual(await answerAll(pool, list.slice(4)), valid.slice(4));
    } finally {
      await pool.close();
    }
  });

  it('close answers the jobs still in flight, and later jobs are verified inline', async () => {
    const pool = new VerifyPool({ workers: 1, maxPending: 100, inlineMax: 0 });
    const { jobs: list, valid } = jobs(30);
    const answers = answerAll(pool, list);
    await pool.close();
    assert.deepEqual(await answers, valid);
    assert.deepEqual(await answerAll(pool, list.slice(0, 3)), valid.slice(0, 3));
  });

  it('verifies a lone job on the main thread (no hop) and a burst on the workers', async () => {
    const counters = new Counters();
    const pool = new VerifyPool({ workers: 1, maxPending: 100, counters });
    try {
      const { jobs: list, valid } = jobs(12);
      assert.deepEqual(await answerAll(pool, list.slice(0, 1)), valid.slice(0, 1));
      assert.equal(counters.get('verify_inline'), 1);
      assert.equal(counters.get('verify_batches'), 0);
      assert.deepEqual(await answerAll(pool, list.slice(1)), valid.slice(1));
      assert.equal(counters.get('verify_inline'), 1);
      assert.equal(counters.get('verify_batches'), 1);
    } finally {
      await pool.close();
    }
  });

  it('rejects nonsensical sizes', () => {
    assert.throws(() => new VerifyPool({ workers: 0, maxPending: 1 }), RangeError);
    assert.throws(() => new VerifyPool({ workers: 1, maxPending: 0 }), RangeError);
  });
});

describe('verify batch packing', () => {
  it('round-trips jobs of any data length', () => {
    const { jobs: list } = jobs(5);
    list.push({ publicKey: new Uint8Array(32).fill(1), signature: new Uint8Array(64).fill(2), data: new Uint8Array(0) });
    const back = unpackJobs(packJobs(list));
    assert.equal(back.length, list.length);
    back.forEach((j, i) => {
      assert.deepEqual(Buffer.from(j.publicKey), Buffer.from(list[i]!.publicKey));
      assert.deepEqual(Buffer.from(j.signature), Buffer.from(list[i]!.signature));
      assert.deepEqual(Buffer.from(j.data), Buffer.from(list[i]!.data));
    });
  });

  it('refuses truncated buffers and bad key or signature sizes', () => {
    const packed = packJobs(jobs(2).jobs);
    assert.throws(() => unpackJobs(packed.subarray(0, packed.length - 1)), RangeError);
    assert.throws(() => unpackJobs(packed.subarray(0, 10)), RangeError);
    assert.throws(() => packJobs([{ publicKey: new Uint8Array(31), signature: new Uint8Array(64), data: new Uint8Array(1) }]), RangeError);
  });
});
