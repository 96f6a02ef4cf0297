/**
 * Coded errors. Every error Sentinel raises on purpose is a {@link SentinelError}
 * carrying a stable `code` from the single table below; callers branch on `code`,
 * never on message text.
 */

/** The one table of error codes and their default, user-facing descriptions. */
export const ERROR_CODES = {
  // wire
  E_FRAME_TOO_LARGE: 'frame length exceeds the maximum frame size',
  E_FRAME_MALFORMED: 'malformed frame',
  E_FRAME_VERSION: 'unsupported frame version',
  E_FRAME_UNKNOWN_TYPE: 'unknown critical frame type',
  E_PAYLOAD_MALFORMED: 'malformed frame payload',
  // identity
  E_BAD_ID: 'not a valid node id',
  E_AMBIGUOUS_ID: 'ambiguous node id prefix',
  E_UNKNOWN_ID: 'unknown node id',
  E_KEY_CORRUPT: 'identity key file is corrupt or unreadable',
  E_BAD_CERT: 'peer certificate is invalid',
  E_NO_PEER_CERT: 'peer presented no certificate',
  E_PEER_ID_MISMATCH: 'peer identity does not match the expected node id',
  E_BAD_SIGNATURE: 'signature verification failed',
  // transport
  E_HANDSHAKE_TIMEOUT: 'TLS handshake timed out',
  E_TLS: 'TLS failed (the handshake, or a record that does not authenticate)',
  E_ALPN: 'peer does not speak the sentinel/1 protocol',
  E_PEER_TIMEOUT: 'peer stopped answering keepalives',
  E_DUPLICATE_SESSION: 'duplicate session closed in favour of another',
  E_SELF_DIAL: 'refusing to dial our own node id',
  E_DIAL_FAILED: 'dial failed',
  E_NOT_CONNECTED: 'peer is not connected',
  E_PROTOCOL: 'protocol violation',
  E_SHUTDOWN: 'node is shutting down',
  // local environment and usage
  E_PORT_IN_USE: 'port is already in use',
  E_DATA_DIR: 'data directory is not usable',
  E_USAGE: 'invalid command-line usage',
  E_STORE: 'store operation failed',
  E_NOT_RUNNING: 'node is not running',
  E_BAD_REQUEST: 'bad control request',
  E_INTERNAL: 'internal error',
  E_NO_ADDRESS: 'no known address for peer',
  E_TEXT_TOO_LONG: 'message text is too long',
  E_NATIVE_UNAVAILABLE: 'native addon is not available (hole punching disabled)',
  E_TUN: 'TUN device unavailable',
  E_STORE_FULL: 'the disk is full: nothing more can be stored until space is freed',
  E_KEY_PERMISSIONS: 'identity key file or data directory has unsafe ownership or permissions',
  E_ID_TOO_SHORT: 'id prefix is too short',
  // trust
  E_BLOCKED: 'peer is blocked',
  E_REFUSED: 'refused by the peer',
  E_QUOTA: 'over quota',
  E_BUSY: 'no free slot',
  E_CLUSTER: 'the signaler cluster cannot answer now',
  // web dashboard
  E_WEB_AUTH: 'web dashboard token missing or wrong',
  E_WEB_FORBIDDEN: 'web request refused: wrong Host or cross-origin',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable machine-readable code. */
export class SentinelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERROR_CODES[code]}: ${detail}` : ERROR_CODES[code], options);
    this.name = 'SentinelError';
    this.code = code;
  }
}

/** True when `err` is a SentinelError, optionally with the given code. */
export function isSentinelError(err: unknown, code?: ErrorCode): err is SentinelError {
  return err instanceof SentinelError && (code === undefined || err.code === code);
}

/** Best-effort `code` of any thrown value (SentinelError code or errno name). */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Message of any thrown value, for one-line user output. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
