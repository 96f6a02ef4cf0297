/** The TUN gate of the delay-line lab tests (kept apart: delay-line.ts is also loaded by the benchmark, outside node:test). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { requireTunNative } from '../../src/native/tun.js';

/**
 * True when the addon has TUN support (the delay line and `sentinel-node --tun` need it).
 * Otherwise registers one visible test named `title`: skipped with the reason, or failed
 * when SENTINEL_LAB=required (as gate.ts does for the lab itself).
 */
export function tunAvailable(title: string): boolean {
  let reason: string;
  try {
    requireTunNative();
    return true;
  } catch (err) {
    reason = `the addon has no TUN support here (build it with \`npm run install\`): ${(err as Error).message}`;
  }
  if (process.env['SENTINEL_LAB'] === 'required') it(`${title} (SENTINEL_LAB=required)`, () => assert.fail(reason));
  else it(title, { skip: reason }, () => undefined);
  return false;
}
