/**
 * Untrusted text made inert before it reaches a log or a terminal. Pure functions.
 *
 * Peers control many strings we show: HELLO names, GOAWAY reasons, message texts, mDNS
 * fields, signaler error reasons, peer record fields, and every error message that embeds
 * one of them. Written raw, such a string could start a new line (a forged log line, or a
 * line that looks like another peer's), drive the terminal (ESC/CSI/OSC sequences: colours,
 * cursor moves, the window title, the clipboard) or reorder what is displayed (bidi
 * overrides), so it is escaped first.
 *
 * Escaping rules (both {@link safeLine} and {@link safeText}):
 *
 *   characters                                shown as
 *   ----------------------------------------  -----------------------------------------
 *   U+000A, U+000D, U+0009 (LF, CR, TAB)      `\n`, `\r`, `\t`
 *   other C0 controls U+0000-U+001F (ESC...)  `\xNN`, e.g. `\x1b`, `\x07`
 *   U+007F (DEL)                              `\x7f`
 *   C1 controls U+0080-U+009F                 `\xNN`, e.g. `\x9b`
 *   U+2028, U+2029 (line/para separators)     `\u2028`, `\u2029`
 *   bidi embeddings/overrides U+202A-U+202E   `\u202a` ... `\u202e`
 *   bidi isolates U+2066-U+2069               `\u2066` ... `\u2069`
 *   lone surrogates U+D800-U+DFFF             `\ud800` ... (a valid pair is kept)
 *
 * Hex digits are lowercase. Everything else is kept as is: printable ASCII, letters and
 * emoji of every script, and the backslash. The backslash is deliberately not escaped:
 * the output is for reading, not a reversible encoding, and so escaping escaped text
 * changes nothing ({@link safeLine} is idempotent; {@link safeText} only indents its
 * continuation lines once more), which lets text pass through several layers (a
 * formatter, then the logger) without growing backslashes. The price: a peer can type
 * the four characters `\x1b`, which read like an escaped ESC; it still cannot send one.
 * Bidi marks that only hint a direction (U+200E, U+200F, U+061C) are kept: they cannot
 * override the order of strongly-typed characters.
 *
 * "Characters" in limits are code points, not UTF-16 units or terminal columns.
 */

/** Appended to text cut by a `maxChars` limit (counts as one character). */
export const ELLIPSIS = '…';

/** Indent of every continuation line of a {@link safeText}. */
export const TEXT_INDENT = '    ';

// Controls and invisible reordering characters, minus the line feed (kept by safeText).
const UNSAFE_BUT_LF = '\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
// Without the `u` flag a pattern sees UTF-16 units, so lone surrogates are found with
// look-around; a valid pair is left alone.
const LONE_SURROGATE = '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
/** Exactly the characters the rules escape (for the checks). */
const UNSAFE = new RegExp(`[\\n${UNSAFE_BUT_LF}]|${LONE_SURROGATE}`);
// For replacing, cheaper: every surrogate is a candidate and the callback keeps pairs.
const CANDIDATES_LINE = new RegExp(`[\\n${UNSAFE_BUT_LF}\\ud800-\\udfff]`, 'g');
const CANDIDATES_TEXT = new RegExp(`\\r\\n|[\\n${UNSAFE_BUT_LF}\\ud800-\\udfff]`, 'g');

const NAMED: Readonly<Record<number, string>> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** True for a UTF-16 unit the rules escape; a surrogate here is a lone one. */
function isUnsafeUnit(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}

/** The visible escape of one unsafe UTF-16 unit. */
function escapeCode(code: number): string {
  const named = NAMED[code];
  if (named !== undefined) return named;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Replace callback: escapes a candidate unit, but keeps each half of a valid surrogate pair. */
function escapeAt(unit: string, offset: number, whole: string): string {
  const code = unit.charCodeAt(0);
  if (isHigh(code) && isLow(whole.charCodeAt(offset + 1))) return unit;
  if (isLow(code) && isHigh(whole.charCodeAt(offset - 1))) return unit;
  return escapeCode(code);
}

/** True when `text` holds any character the rules above escape. */
export function hasUnsafeChars(text: string): boolean {
  return UNSAFE.test(text);
}

function checkMax(maxChars: number | undefined): void {
  if (maxChars !== undefined && !(Number.isInteger(maxChars) && maxChars >= 1)) {
    throw new RangeError(`maxChars must be an integer >= 1, got ${maxChars}`);
  }
}

/**
 * One line of display text: every unsafe character (see the table above), including line
 * breaks, becomes a visible escape, so the result never contains a line break or a control.
 * With `maxChars`, a longer result is cut to at most `maxChars` characters ending in `…`;
 * an escape is never cut in half.
 */
export function safeLine(text: string, maxChars?: number): string {
  checkMax(maxChars);
  if (!UNSAFE.test(text) && (maxChars === undefined || text.length <= maxChars)) return text;
  if (maxChars === undefined) return text.replace(CANDIDATES_LINE, escapeAt);
  // Unit by unit, so that a cut falls between escapes and between the halves of no pair;
  // the loop ends once over the limit, so a huge input costs no more than the limit.
  let out = '';
  let chars = 0;
  let cut = 0; // longest prefix of `out` that leaves room for the ellipsis
  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);
    let unit: string;
    let n = 1;
    if (isHigh(code) && isLow(text.charCodeAt(i + 1))) {
      unit = text.slice(i, i + 2);
      i += 2;
    } else {
      unit = isUnsafeUnit(code) ? escapeCode(code) : text.charAt(i);
      n = unit.length; // an escape is ASCII: one character per unit
      i += 1;
    }
    const fits = chars + n <= maxChars - 1;
    out += unit;
    chars += n;
    if (fits) cut = out.length;
    if (chars > maxChars) return out.slice(0, cut) + ELLIPSIS;
  }
  return out;
}

/**
 * A message body for the terminal: the same escaping as {@link safeLine}, except that line
 * breaks (LF, or CR LF) are kept and every line after the first starts with `indent`
 * ({@link TEXT_INDENT}). A message printed after a `[time] name: ` prefix can thus never
 * begin a line that reads like another peer's line, a log line or a shell notice. A lone
 * CR, U+2028 and U+2029 are escaped, not treated as line breaks (a CR would move the
 * cursor back over the prefix).
 */
export function safeText(text: string, indent: string = TEXT_INDENT): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(CANDIDATES_TEXT, (unit, offset: number, whole: string) =>
    unit === '\n' || unit === '\r\n' ? `\n${indent}` : escapeAt(unit, offset, whole),
  );
}

// What JSON.stringify leaves raw but a terminal may act on (C0 controls and lone
// surrogates it already escapes itself).
const JSON_RAW_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify(value, null, indent)`, with DEL, C1 controls, U+2028/U+2029 and bidi
 * controls also written as `\uXXXX` escapes. The document parses back to exactly the same
 * value (these characters can only occur inside JSON strings), and printing it on a
 * terminal is as inert as printing {@link safeLine} output.
 */
export function safeJson(value: unknown, indent?: number): string {
  const json = JSON.stringify(value, null, indent);
  if (json === undefined) throw new TypeError('value has no JSON representation');
  return json.replace(JSON_RAW_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
