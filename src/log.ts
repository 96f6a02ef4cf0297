/** Minimal levelled logger; the sink is injected (stderr for headless, the shell when interactive). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFn = (msg: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** A logger writing `LEVEL message` lines at or above `level` to `sink`. */
export function createLogger(level: LogLevel, sink: (line: string) => void): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: Exclude<LogLevel, 'silent'>): LogFn =>
    LOG_LEVELS.indexOf(l) >= min ? (msg) => sink(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${msg}`) : () => {};
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
