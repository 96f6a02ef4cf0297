/**
 * The dial chain as data: transports tried in turn until one yields a session. A final
 * failure (FINAL_CODES: the peer or the user said no), or one its transport says no later
 * transport gets past (`ends`), stops the chain with that error; any other failure is
 * listed and the next transport tries. When all have failed the error lists every attempt
 * and why each unavailable transport was skipped.
 */
import { SentinelError } from '../errors.js';
import type { Session } from '../transport/session.js';
import { describeFailure, isFinal } from '../transports/failures.js';
import type { DialTarget, Transport, TransportDialOptions } from '../transports/transport.js';

export async function runChain(transports: readonly Transport[], target: DialTarget, opts: TransportDialOptions): Promise<Session> {
  const failures: string[] = [];
  for (const t of transports) {
    const why = t.unavailable(target);
    if (why !== null) {
      failures.push(why);
      continue;
    }
    try {
      return await t.dial(target, opts);
    } catch (err) {
      if (isFinal(err) || t.ends?.(err)) throw err;
      failures.push(...describeFailure(t.label, err));
    }
  }
  throw new SentinelError('E_DIAL_FAILED', `${target.id}: ${failures.join('; ')}`);
}
