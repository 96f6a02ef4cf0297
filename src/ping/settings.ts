/**
 * The settings of one ping run, from what the caller asked for: defaults filled in, bounds
 * checked. Pure.
 */
import type { PingOptions } from '../api.js';
import { SentinelError } from '../errors.js';
import * as L from './limits.js';

/** A ping run's checked settings. */
export interface PingSettings {
  count: number;
  intervalMs: number;
  timeoutMs: number;
}

/** Bounds of each setting (what the control API and the CLI check against). */
export const PING_BOUNDS = {
  count: { min: 1, max: L.PING_MAX_COUNT },
  intervalMs: { min: L.PING_MIN_INTERVAL_MS, max: L.PING_MAX_INTERVAL_MS },
  timeoutMs: { min: L.PING_MIN_TIMEOUT_MS, max: L.PING_MAX_TIMEOUT_MS },
} as const;

/**
 * Fills in defaults and checks bounds.
 * @throws SentinelError E_BAD_REQUEST naming the first setting that is not an integer in its bounds.
 */
export function pingSettings(opts: Pick<PingOptions, 'count' | 'intervalMs' | 'timeoutMs'> = {}): PingSettings {
  return {
    count: checked('count', opts.count, L.PING_DEFAULT_COUNT),
    intervalMs: checked('intervalMs', opts.intervalMs, L.PING_DEFAULT_INTERVAL_MS),
    timeoutMs: checked('timeoutMs', opts.timeoutMs, L.PING_DEFAULT_TIMEOUT_MS),
  };
}

function checked(name: keyof typeof PING_BOUNDS, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const { min, max } = PING_BOUNDS[name];
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SentinelError('E_BAD_REQUEST', `ping: "${name}" must be an integer from ${min} to ${max}`);
  }
  return value;
}
