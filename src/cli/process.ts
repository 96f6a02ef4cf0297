/**
 * Process plumbing shared by the long-running executables (sentinel-node,
 * sentinel-signaler): running `main`, stopping on signals without ever hanging, and the
 * crash policy.
 *
 * Stopping. The first SIGINT or SIGTERM starts a graceful close. It gets
 * {@link SHUTDOWN_DEADLINE_MS}; when that passes, or on a second signal, the process
 * says so in one line and exits with {@link EXIT_FAILURE} anyway. A close that hangs
 * (a peer that never answers, a disk that never flushes) cannot keep the process alive.
 *
 * Crash policy. Two kinds of escaped errors, two answers:
 *
 * - `unhandledRejection` is survivable. A rejected promise nobody awaited is the failure
 *   of one asynchronous operation whose caller had already moved on (a fire-and-forget
 *   store write, a library's internal promise). It stopped at an `await`, not halfway
 *   through a synchronous update, and durable state only changes in LMDB transactions,
 *   which are atomic: the failed operation left nothing half-written. So: one sanitized
 *   line (at most one per {@link REJECTION_LOG_INTERVAL_MS}, with the number since the
 *   last), counted as `process.unhandled_rejections`, and the node keeps serving
 *   everyone else. Exiting instead (Node's default) would let anyone who can trigger a
 *   forgotten rejection take the node down.
 * - `uncaughtException` is fatal. A synchronous throw escaped an event callback: that
 *   callback stopped in the middle, and in-memory state (session tables, queues, timers)
 *   may be inconsistent in ways no one can check. So: one sanitized line, a best-effort
 *   graceful close bounded by {@link FATAL_CLOSE_DEADLINE_MS} (tells peers GOAWAY, closes
 *   the store), then exit with {@link EXIT_FAILURE}. A second exception during that close
 *   exits at once. A supervisor (systemd, a container runtime) restarts the node; the
 *   store is crash-safe (see the SIGKILL cycle test).
 *
 * Lines never carry stack traces or raw control characters (see {@link oneLine}).
 */
import { errorCode, errorMessage } from '../errors.js';
import { EXIT_FAILURE } from './args.js';

/** A graceful stop (SIGINT/SIGTERM, /quit) gets this long before the process exits anyway. */
export const SHUTDOWN_DEADLINE_MS = 10_000;
/** After an uncaught exception, the best-effort close gets this long before the exit. */
export const FATAL_CLOSE_DEADLINE_MS = 3_000;
/** At most one log line about unhandled rejections per this interval (every one is counted). */
export const REJECTION_LOG_INTERVAL_MS = 60_000;
/** Longest error detail written into a crash-policy line, in characters. */
export const MAX_DETAIL_CHARS = 300;
/** Counter of survived unhandled rejections (in the node's `status`). */
export const UNHANDLED_REJECTIONS_COUNTER = 'process.unhandled_rejections';
/** Grace after `main` resolved for stdout/stderr to drain before the exit. */
const EXIT_DRAIN_MS = 200;

/** The parts of the process this module touches, injectable for tests. */
export interface ProcessPort {
  on(event: string, listener: (arg: unknown) => void): unknown;
  off(event: string, listener: (arg: unknown) => void): unknown;
  /** One line (without newline) for the user, on stderr. */
  write(line: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  exit(code: number): void;
}

/** The real process. The deadline timers are not unref'd: they must fire even if nothing else is pending. */
export const realProcess: ProcessPort = {
  on: (event, listener) => process.on(event, listener),
  off: (event, listener) => process.off(event, listener),
  write: (line) => void process.stderr.write(`${line}\n`),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => Date.now(),
  exit: (code) => process.exit(code),
};

/** `err` as one printable line: its code, its message, control characters escaped, length capped. */
export function oneLine(err: unknown): string {
  const code = errorCode(err);
  const message = errorMessage(err);
  const text = code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? ' | ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return clean.length > MAX_DETAIL_CHARS ? `${clean.slice(0, MAX_DETAIL_CHARS)}...` : clean;
}

// ---- stopping ----------------------------------------------------------------------

/** Options of {@link untilStopped}. */
export interface StopOptions {
  /** Program name, the prefix of every line. */
  name: string;
  deadlineMs?: number;
  signals?: readonly NodeJS.Signals[];
  port?: ProcessPort;
}

/** A running service waiting to be stopped. */
export interface Stopper {
  /** Start the graceful stop (as a first signal does); a second call cuts it short. */
  stop(): void;
  /** The exit status once stopped: 0 after a clean close, EXIT_FAILURE otherwise. */
  readonly exitCode: Promise<number>;
}

/**
 * Waits for SIGINT/SIGTERM (or {@link Stopper.stop}), then runs `close` with a deadline.
 * Also makes `close` the best-effort close of the crash policy.
 */
export function untilStopped(close: () => Promise<void>, opts: StopOptions): Stopper {
  const port = opts.port ?? realProcess;
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  const deadlineMs = opts.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
  let settle: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => (settle = resolve));
  let state: 'running' | 'stopping' | 'done' = 'running';
  let timer: unknown;
  const finish = (code: number, line?: string): void => {
    if (state === 'done') return;
    state = 'done';
    port.clearTimeout(timer);
    if (line !== undefined) port.write(`${opts.name}: ${line}`);
    // Signal handlers stay: a late signal must not kill the process mid-exit with the default action.
    settle(code);
  };
  const stop = (): void => {
    if (state === 'done') return;
    if (state === 'stopping') return finish(EXIT_FAILURE, 'second stop request: exiting without waiting for the shutdown to finish');
    state = 'stopping';
    timer = port.setTimeout(() => finish(EXIT_FAILURE, `shutdown did not finish within ${formatSeconds(deadlineMs)}; exiting anyway`), deadlineMs);
    let closing: Promise<void>;
    try {
      closing = close();
    } catch (err) {
      closing = Promise.reject(err);
    }
    closing.then(
      () => finish(0),
      (err) => finish(EXIT_FAILURE, `shutdown failed: ${oneLine(err)}`),
    );
  };
  for (const s of signals) port.on(s, stop);
  defaultPolicy?.attach({ close });
  return { stop, exitCode };
}

/**
 * Resolves with the exit status once a SIGINT/SIGTERM-triggered close finished or was
 * cut short. Lines are prefixed with the name given to {@link runAsProcess}.
 */
export function untilSignal(close: () => Promise<void>, name = defaultPolicy?.name ?? 'sentinel'): Promise<number> {
  return untilStopped(close, { name }).exitCode;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

// ---- crash policy ------------------------------------------------------------------

/** What the crash policy closes on a fatal error, and where it counts and logs. */
export interface ServiceHooks {
  close?: () => Promise<void>;
  count?: (name: string) => void;
  /** Where lines go once the service has a logger; default the port's stderr. */
  log?: { warn(line: string): void; error(line: string): void };
}

/** The policy of one process: see the file header. */
export class CrashPolicy {
  readonly name: string;
  readonly #port: ProcessPort;
  #hooks: ServiceHooks = {};
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #unreported = 0;
  #fatal = false;
  /** Survived unhandled rejections since start. */
  rejections = 0;

  constructor(name: string, port: ProcessPort = realProcess) {
    this.name = name;
    this.#port = port;
  }

  /** Add or replace hooks (later calls win, field by field). */
  attach(hooks: ServiceHooks): void {
    this.#hooks = { ...this.#hooks, ...hooks };
  }

  /** Listen for both events on the port; returns a function that stops listening. */
  install(): () => void {
    const onRejection = (reason: unknown): void => this.onUnhandledRejection(reason);
    const onException = (err: unknown): void => this.onUncaughtException(err);
    this.#port.on('unhandledRejection', onRejection);
    this.#port.on('uncaughtException', onException);
    return () => {
      this.#port.off('unhandledRejection', onRejection);
      this.#port.off('uncaughtException', onException);
    };
  }

  /** Survivable: count, and log one line per interval. */
  onUnhandledRejection(reason: unknown): void {
    this.rejections += 1;
    this.#unreported += 1;
    this.#hooks.count?.(UNHANDLED_REJECTIONS_COUNTER);
    const now = this.#port.now();
    if (now - this.#lastReportAt < REJECTION_LOG_INTERVAL_MS) return;
    const more = this.#unreported > 1 ? ` (${this.#unreported} since the last report)` : '';
    this.#lastReportAt = now;
    this.#unreported = 0;
    this.#say('warn', `unhandled rejection, survived and counted${more}: ${oneLine(reason)}`);
  }

  /** Fatal: one line, a bounded best-effort close, then exit non-zero. */
  onUncaughtException(err: unknown): void {
    if (this.#fatal) {
      this.#port.write(`${this.name}: another uncaught exception during the emergency close: exiting now: ${oneLine(err)}`);
      this.#port.exit(EXIT_FAILURE);
      return;
    }
    this.#fatal = true;
    this.#say('error', `fatal: uncaught exception: ${oneLine(err)}; closing and exiting`);
    const close = this.#hooks.close;
    if (!close) return this.#port.exit(EXIT_FAILURE);
    const timer = this.#port.setTimeout(() => {
      this.#port.write(`${this.name}: emergency close did not finish within ${formatSeconds(FATAL_CLOSE_DEADLINE_MS)}; exiting`);
      this.#port.exit(EXIT_FAILURE);
    }, FATAL_CLOSE_DEADLINE_MS);
    const done = (): void => {
      this.#port.clearTimeout(timer);
      this.#port.exit(EXIT_FAILURE);
    };
    try {
      close().then(done, done);
    } catch {
      done();
    }
  }

  #say(level: 'warn' | 'error', line: string): void {
    const log = this.#hooks.log;
    if (log) log[level](line);
    else this.#port.write(`${this.name}: ${line}`);
  }
}

/** The policy {@link runAsProcess} installed, if any. */
let defaultPolicy: CrashPolicy | undefined;

/**
 * Hooks for the running process's crash policy (no-op when none is installed, e.g. in
 * tests that call `main` directly). {@link untilStopped} already registers its close.
 */
export function attachToCrashPolicy(hooks: ServiceHooks): void {
  defaultPolicy?.attach(hooks);
}

/**
 * Run `main` as the process: install the crash policy, set the exit code, never print a
 * stack trace, never hang on a stray handle.
 */
export function runAsProcess(name: string, main: (argv: string[]) => Promise<number>, port: ProcessPort = realProcess): void {
  defaultPolicy = new CrashPolicy(name, port);
  defaultPolicy.install();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Let pending writes flush, then make sure no stray handle keeps us alive.
      setTimeout(() => port.exit(code), EXIT_DRAIN_MS).unref();
    },
    (err) => {
      port.write(`${name}: internal error: ${oneLine(err)}`);
      port.exit(EXIT_FAILURE);
    },
  );
}
