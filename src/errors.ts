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
    super(detail ? joinDetail(ERROR_CODES[code], detail) : ERROR_CODES[code], options);
    this.name = 'SentinelError';
    this.code = code;
  }
}

/** E_PEER_ID_MISMATCH with both ids, so a caller can say which id to pin. */
export class PeerIdMismatchError extends SentinelError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super('E_PEER_ID_MISMATCH', `expected ${expected}, got ${actual}`);
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

/** Words of a text for {@link echoes}: lower case, letters and digits only. */
function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w !== '');
}

/**
 * How far past its own length a summary's words may spread in a detail that restates it
 * ("port is already in use" in "port 8443 is already in use").
 */
const ECHO_SLACK_WORDS = 3;

/** Characters at the start of a detail that {@link echoes} looks at. */
const ECHO_SCAN_CHARS = 256;

/**
 * True when `detail` already says `summary`: it starts with the summary's first word and
 * holds all its words, in order, within the summary's length plus {@link ECHO_SLACK_WORDS}
 * words. So "port 8443 is already in use" echoes "port is already in use", and
 * "resolving bob" echoes the stage "resolving"; "TCP connect to x: ECONNREFUSED" does not
 * echo "dial failed".
 */
export function echoes(summary: string, detail: string): boolean {
  const s = words(summary);
  // Only the start of the detail can restate the summary: a long detail costs no more.
  const d = words(detail.slice(0, ECHO_SCAN_CHARS)).slice(0, s.length + ECHO_SLACK_WORDS);
  if (s.length === 0 || d[0] !== s[0]) return false;
  let i = 0;
  for (const w of d) if (w === s[i]) i++;
  return i === s.length;
}

/**
 * `summary: detail`, without saying a thing twice: the detail alone when it restates the
 * summary ({@link echoes}), and without a leading syscall name the summary already says
 * (`fighter connect a -> b` + `connect ECONNREFUSED (...)` → `... b: ECONNREFUSED (...)`).
 */
export function joinDetail(summary: string, detail: string): string {
  if (echoes(summary, detail)) return detail;
  const syscall = /^([a-z]+) (E[A-Z0-9]+\b[\s\S]*)$/.exec(detail);
  if (syscall && words(summary).includes(syscall[1] as string)) return `${summary}: ${syscall[2]}`;
  return `${summary}: ${detail}`;
}

/**
 * An error's message for nesting inside an error of code `outer`: without its leading
 * `<description>: ` when it has that same code, so a list of failures does not say
 * "dial failed: ... dial failed: ..." twice. Other messages are kept whole (their
 * description says something the outer one does not, e.g. "refused by the peer").
 */
export function nestedMessage(err: unknown, outer: ErrorCode): string {
  const message = errorMessage(err);
  if (!isSentinelError(err, outer)) return message;
  const head = `${ERROR_CODES[outer]}: `;
  return message.startsWith(head) ? message.slice(head.length) : message;
}

/**
 * `label: text` for one item of a list of failures, or the text alone when it already
 * names the label (`127.0.0.1:1` + `TCP connect to 127.0.0.1:1: ECONNREFUSED`).
 */
export function labelled(label: string, text: string): string {
  return text.includes(label) ? text : `${label}: ${text}`;
}
