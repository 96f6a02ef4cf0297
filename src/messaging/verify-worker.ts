/**
 * Worker thread of {@link VerifyPool}: verifies batches of Ed25519 signatures.
 *
 * In:  { batch: number, buf: Uint8Array }  where buf holds, per job, back to back:
 *        dataLen u32 BE | publicKey 32B | signature 64B | data (dataLen bytes)
 * Out: { batch: number, ok: Uint8Array }   (ok[i] = 1 when signature i is valid)
 *
 * One packed buffer per batch (transferred, not cloned): posting the jobs' own views would
 * clone each view's whole backing store. The worker holds no secret and no state beyond
 * a cache of public-key objects.
 */
import { parentPort } from 'node:worker_threads';
import { verifySignature } from '../identity/index.js';
import { unpackJobs } from './verify-pack.js';

parentPort?.on('message', (m: { batch: number; buf: Uint8Array }) => {
  const jobs = unpackJobs(m.buf);
  const ok = new Uint8Array(jobs.length);
  jobs.forEach((j, i) => (ok[i] = verifySignature(j.publicKey, j.data, j.signature) ? 1 : 0));
  parentPort?.postMessage({ batch: m.batch, ok }, [ok.buffer]);
});
