/** Shared pieces of the lab test files: the root/namespace gate and bounded polling. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { canRunLab } from './index.js';

/**
 * True when the lab can run here. Otherwise registers one visible test named `title`:
 * skipped with the reason, or failed when SENTINEL_LAB=required (never a silent pass).
 */
export async function labAvailable(title: string): Promise<boolean> {
  const check = await canRunLab();
  if (check.ok) return true;
  const reason = `NAT lab unavailable: ${check.reason}`;
  if (process.env['SENTINEL_LAB'] === 'required') it(`${title} (SENTINEL_LAB=required)`, () => assert.fail(reason));
  else it(title, { skip: reason }, () => undefined);
  return false;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 250 ms until it returns a value; after `timeoutMs` throws with the last error and `detail()`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000, detail?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const more = detail ? `\n${await detail().catch((e: unknown) => `(no detail: ${String(e)})`)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}${more}`);
    }
    await sleep(250);
  }
}
