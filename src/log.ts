/**
 * Minimal levelled logger; the sink is injected (stderr for headless, the shell when
 * interactive). A log line is always one line: every message is escaped with
 * {@link safeLine} here, at the one place lines are written, because messages embed text
 * that peers control (GOAWAY reasons, names, signaler reasons, error messages quoting
 * them). A peer can therefore neither forge a log line nor send escape sequences to the
 * terminal or the file the log ends up in.
 */
import { safeLine } from './core/text.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFn = (msg: string) => void;

/**
 * Longest message a log line carries, in characters after escaping; longer ones end in
 * `…`. Bounds what one peer-triggered line can cost the log (a 256-byte GOAWAY reason of
 * controls escapes to 1,024 characters, still whole).
 */
export const MAX_LOG_MESSAGE_CHARS = 4096;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/**
 * A logger writing one `<ISO time> LEVEL message` line per call at or above `level` to
 * `sink`, the message escaped ({@link safeLine}) and cut at {@link MAX_LOG_MESSAGE_CHARS}.
 * `now` is injectable for exact tests.
 */
export function createLogger(level: LogLevel, sink: (line: string) => void, now: () => number = Date.now): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: Exclude<LogLevel, 'silent'>): LogFn =>
    LOG_LEVELS.indexOf(l) >= min
      ? (msg) => sink(`${new Date(now()).toISOString()} ${l.toUpperCase().padEnd(5)} ${safeLine(String(msg), MAX_LOG_MESSAGE_CHARS)}`)
      : () => {};
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
