/**
 * The packed batch a {@link VerifyPool} posts to a worker: per job, back to back,
 *
 *    0          4             36            100
 *    +----------+-------------+-------------+------------------+
 *    | dataLen  |  publicKey  |  signature  |      data        |
 *    | u32 BE   |     32B     |     64B     |  dataLen bytes   |
 *    +----------+-------------+-------------+------------------+
 *
 * Internal to this process (main thread <-> worker), never on the wire.
 */
import type { VerifyJob } from './verify-pool.js';

const KEY = 32;
const SIG = 64;
const HEAD = 4 + KEY + SIG;

/** Packs jobs into one fresh buffer (whose ArrayBuffer can be transferred). */
export function packJobs(jobs: readonly VerifyJob[]): Uint8Array {
  let size = 0;
  for (const j of jobs) size += HEAD + j.data.length;
  const buf = new Uint8Array(new ArrayBuffer(size));
  const view = new DataView(buf.buffer);
  let o = 0;
  for (const j of jobs) {
    if (j.publicKey.length !== KEY || j.signature.length !== SIG) throw new RangeError('bad key or signature length');
    view.setUint32(o, j.data.length);
    buf.set(j.publicKey, o + 4);
    buf.set(j.signature, o + 4 + KEY);
    buf.set(j.data, o + HEAD);
    o += HEAD + j.data.length;
  }
  return buf;
}

/** The inverse of {@link packJobs} (views into `buf`). Throws RangeError on a truncated buffer. */
export function unpackJobs(buf: Uint8Array): VerifyJob[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: VerifyJob[] = [];
  let o = 0;
  while (o < buf.length) {
    if (buf.length - o < HEAD) throw new RangeError('truncated job header');
    const len = view.getUint32(o);
    if (buf.length - o - HEAD < len) throw new RangeError('truncated job data');
    out.push({ publicKey: buf.subarray(o + 4, o + 4 + KEY), signature: buf.subarray(o + 4 + KEY, o + HEAD), data: buf.subarray(o + HEAD, o + HEAD + len) });
    o += HEAD + len;
  }
  return out;
}
