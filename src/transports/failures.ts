/** How transports and the dial chain classify failures. */
import { SentinelError, errorCode, nestedMessage, type ErrorCode } from '../errors.js';

/**
 * Failures no other address, transport or relay gets past: the peer or the user said no,
 * the target is this node, or this node is stopping.
 */
export const FINAL_CODES: ReadonlySet<string> = new Set<ErrorCode>(['E_SELF_DIAL', 'E_BLOCKED', 'E_REFUSED', 'E_BUSY', 'E_UNKNOWN_ID', 'E_SHUTDOWN']);

export const isFinal = (err: unknown): boolean => FINAL_CODES.has(errorCode(err) ?? '');

/** One transport's attempts failed; `failures` lists them (`where: why`) for the chain's summary. */
export class AttemptsFailed extends SentinelError {
  constructor(
    readonly failures: readonly string[],
    code: ErrorCode = 'E_DIAL_FAILED',
    options?: { cause?: unknown },
  ) {
    super(code, failures.join('; '), options);
  }
}

/** What a failure of the transport `label` contributes to the chain's summary. */
export function describeFailure(label: string, err: unknown): readonly string[] {
  return err instanceof AttemptsFailed ? err.failures : [`${label}: ${nestedMessage(err, 'E_DIAL_FAILED')}`];
}

/** Rejects at once when `signal` was aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new SentinelError('E_DIAL_FAILED', `${what}: aborted`);
}
