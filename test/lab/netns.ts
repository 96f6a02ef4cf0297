/**
 * Low-level helpers for the network-namespace lab: run a command in a namespace, spawn a
 * long-running process in one, check whether this machine can run the lab at all, and
 * make sure nothing outlives the test process.
 *
 * Everything goes through `ip netns exec <ns> <cmd> ...`. `ip` execs the command after
 * entering the namespace, so the pid of the child is the pid of the real process and
 * signals reach it directly.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, join } from 'node:path';

/** Linux limit on an interface name, without the trailing NUL (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;
/** Default bound on one {@link exec} call. */
export const EXEC_TIMEOUT_MS = 10_000;
/** Default grace between SIGTERM and SIGKILL when a {@link LabProcess} is stopped. */
export const STOP_GRACE_MS = 2_000;

/** A namespace name, or `null` for the namespace this process runs in. */
export type Ns = string | null;

/** How a finished command ended and what it printed. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link exec} and {@link tryExec}. */
export interface ExecOptions {
  /** SIGKILL the command and reject after this long. Default {@link EXEC_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
}

// ---- tool lookup -----------------------------------------------------------------

// Admin tools live in sbin, which is not always on a non-login PATH.
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const toolCache = new Map<string, string | null>();

/** Absolute path of an executable found on PATH or in the sbin directories, or null. */
export function findTool(name: string): string | null {
  const cached = toolCache.get(name);
  if (cached !== undefined) return cached;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  let found: string | null = null;
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      found = join(dir, name);
      break;
    } catch {
      // not here
    }
  }
  toolCache.set(name, found);
  return found;
}

/** A bare command name resolved with {@link findTool}; paths and unknown names pass through. */
function resolveCmd(cmd: string): string {
  return cmd.includes('/') ? cmd : findTool(cmd) ?? cmd;
}

/** The argv that runs `cmd args` inside `ns` (or directly when `ns` is null). */
export function nsArgv(ns: Ns, cmd: string, args: readonly string[]): { file: string; args: string[] } {
  if (ns === null) return { file: resolveCmd(cmd), args: [...args] };
  return { file: resolveCmd('ip'), args: ['netns', 'exec', ns, resolveCmd(cmd), ...args] };
}

// ---- names -----------------------------------------------------------------------

/**
 * A fresh prefix for every namespace and interface one lab creates: `sl` + 4 random
 * characters + `-` (7 characters), so parallel test files never collide and an interface
 * name still has 8 characters left under {@link IFNAME_MAX}.
 */
export function uniquePrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(4);
  let s = 'sl';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `${s}-`;
}

/** Matches the names {@link uniquePrefix} produces, for sweeping leftovers. */
export const LAB_PREFIX_PATTERN = /^sl[a-z0-9]{4}-/;

/** Returns `name` after checking it fits an interface name; throws otherwise. */
export function ifName(name: string): string {
  if (name.length > IFNAME_MAX) throw new Error(`interface name ${name} is longer than ${IFNAME_MAX} characters`);
  return name;
}

// ---- one-shot commands -----------------------------------------------------------

/**
 * Runs `cmd args` in `ns` to completion and returns how it ended, whatever the exit code.
 * Rejects only when the command cannot be started or outlives `timeoutMs` (then it is
 * SIGKILLed).
 */
export function tryExec(ns: Ns, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const argv = nsArgv(ns, cmd, args);
  const timeoutMs = opts.timeoutMs ?? EXEC_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv.file, argv.args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${describe(ns, cmd, args)} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${describe(ns, cmd, args)}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A command that does not read stdin may close it first: ignore EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `cmd args` in `ns` and returns its stdout; rejects with its stderr on a non-zero exit. */
export async function exec(ns: Ns, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await tryExec(ns, cmd, args, opts);
  if (r.code !== 0) {
    const how = r.signal !== null ? `signal ${r.signal}` : `exit code ${String(r.code)}`;
    throw new Error(`${describe(ns, cmd, args)} failed (${how}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** `[ns] cmd args`, for messages. */
function describe(ns: Ns, cmd: string, args: readonly string[]): string {
  return `${ns === null ? '' : `[${ns}] `}${[cmd, ...args].join(' ')}`;
}

// ---- namespaces ------------------------------------------------------------------

/** Names of all named network namespaces (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const out = await exec(null, 'ip', ['netns', 'list']);
  return parseNetnsList(out);
}

/** First word of each non-empty line: `ip netns list` may append `(id: N)`. */
function parseNetnsList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** Creates a named namespace with its loopback up. */
export async function createNamespace(ns: string): Promise<void> {
  await exec(null, 'ip', ['netns', 'add', ns]);
  await exec(null, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/**
 * SIGKILLs every process inside `ns`, then deletes it. A namespace that no longer exists
 * is not an error, so this is safe to call twice.
 */
export async function deleteNamespace(ns: string): Promise<void> {
  const pids = await tryExec(null, 'ip', ['netns', 'pids', ns]);
  if (pids.code !== 0) return; // already gone
  killPids(pids.stdout);
  const r = await tryExec(null, 'ip', ['netns', 'del', ns]);
  if (r.code !== 0 && (await listNamespaces()).includes(ns)) {
    throw new Error(`cannot delete namespace ${ns}: ${r.stderr.trim()}`);
  }
}

/** Synchronous {@link deleteNamespace}, for exit hooks. Never throws. */
export function deleteNamespaceSync(ns: string): void {
  const ip = resolveCmd('ip');
  const pids = spawnSync(ip, ['netns', 'pids', ns], { encoding: 'utf8' });
  if (pids.status !== 0) return;
  killPids(pids.stdout);
  spawnSync(ip, ['netns', 'del', ns], { stdio: 'ignore' });
}

function killPids(list: string): void {
  for (const word of list.split(/\s+/)) {
    const pid = Number(word);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already exited
    }
  }
}

// ---- sysctl ----------------------------------------------------------------------

/** `/proc/sys` path of a dotted sysctl key; rejects anything that could leave `/proc/sys`. */
function sysctlPath(key: string): string {
  // Segments may name an interface (lab names hold '-'); never '/' or '..'.
  if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/i.test(key)) throw new Error(`bad sysctl key ${key}`);
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/**
 * Sets a sysctl inside `ns`. Network sysctls are per namespace: the value is what the
 * process opening `/proc/sys/net/...` sees, so the write runs inside the namespace (with
 * `sh`, which every system has, rather than procps' `sysctl`).
 */
export async function setSysctl(ns: Ns, key: string, value: string | number): Promise<void> {
  await exec(ns, 'sh', ['-c', 'echo "$1" > "$0"', sysctlPath(key), String(value)]);
}

/** Reads a sysctl as seen inside `ns`. */
export async function getSysctl(ns: Ns, key: string): Promise<string> {
  return (await exec(ns, 'cat', [sysctlPath(key)])).trim();
}

// ---- can this machine run the lab? ----------------------------------------------

/** Whether the lab can run here, and if not, why (for `t.skip(reason)`). */
export type LabCheck = { ok: true } | { ok: false; reason: string };

let labCheck: Promise<LabCheck> | undefined;

/**
 * Checks once per process that the lab can run: Linux, root, `ip`, `nft` and `ping`
 * installed,
 * and a namespace with a veth pair, a bridge and an nft table can really be made.
 * Never throws; the reason names what is missing and how to get it.
 */
export function canRunLab(): Promise<LabCheck> {
  labCheck ??= checkLab().catch((err: unknown) => ({ ok: false as const, reason: `lab probe failed: ${String(err)}` }));
  return labCheck;
}

async function checkLab(): Promise<LabCheck> {
  if (process.platform !== 'linux') return { ok: false, reason: `the NAT lab needs Linux network namespaces (platform is ${process.platform})` };
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { ok: false, reason: `the NAT lab needs root (running as uid ${uid}); run the lab tests as root, as CI does` };
  if (findTool('ip') === null) return { ok: false, reason: 'the NAT lab needs `ip`: apt-get install iproute2' };
  if (findTool('nft') === null) return { ok: false, reason: 'the NAT lab needs `nft`: apt-get install nftables' };
  if (findTool('ping') === null) return { ok: false, reason: 'the NAT lab needs `ping`: apt-get install iputils-ping' };
  return probeNamespace(`${uniquePrefix()}probe`);
}

/** Makes a throwaway namespace with everything the lab uses, then deletes it. */
async function probeNamespace(ns: string): Promise<LabCheck> {
  const steps: Array<[string, readonly string[]]> = [
    ['ip', ['netns', 'add', ns]],
    ['ip', ['-n', ns, 'link', 'add', ifName(`${ns.slice(0, 7)}v0`), 'type', 'veth', 'peer', 'name', ifName(`${ns.slice(0, 7)}v1`)]],
    ['ip', ['-n', ns, 'link', 'add', ifName(`${ns.slice(0, 7)}br`), 'type', 'bridge']],
  ];
  try {
    for (const [cmd, args] of steps) {
      const r = await tryExec(null, cmd, args);
      if (r.code !== 0) return { ok: false, reason: `cannot create lab namespaces here (${cmd} ${args.join(' ')}: ${r.stderr.trim()})` };
    }
    const nft = await tryExec(ns, 'nft', ['add', 'table', 'inet', 'probe']);
    if (nft.code !== 0) return { ok: false, reason: `nftables does not work inside a namespace here: ${nft.stderr.trim()}` };
    return { ok: true };
  } finally {
    await deleteNamespace(ns).catch(() => undefined);
  }
}

// ---- cleanup on exit -------------------------------------------------------------

const cleanups = new Set<() => void>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function runCleanupsSync(): void {
  const all = [...cleanups];
  cleanups.clear();
  for (const fn of all) {
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
}

function onExit(): void {
  runCleanupsSync();
}

function onSignal(signal: NodeJS.Signals): void {
  runCleanupsSync();
  uninstallHooks();
  // Re-raise with the default action so the exit status still says "killed by signal".
  process.kill(process.pid, signal);
}

function installHooks(): void {
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Registers a synchronous cleanup that runs if the process exits or gets SIGINT/SIGTERM/
 * SIGHUP before it is unregistered. The hooks are installed only while something is
 * registered, so default signal behaviour comes back afterwards. Returns the unregister.
 */
export function registerCleanup(fn: () => void): () => void {
  if (cleanups.size === 0) installHooks();
  cleanups.add(fn);
  return () => {
    if (cleanups.delete(fn) && cleanups.size === 0) uninstallHooks();
  };
}

// ---- long-running processes ------------------------------------------------------

/** Options of {@link spawnIn}. */
export interface SpawnInOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Grace between SIGTERM and SIGKILL in {@link LabProcess.stop}. Default {@link STOP_GRACE_MS}. */
  graceMs?: number;
}

/** A process running inside a namespace. */
export interface LabProcess {
  /** Namespace it runs in (null: this process's namespace). */
  readonly ns: Ns;
  /** Pid of the real process (`ip netns exec` execs it). */
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the first match of `pattern` in stdout; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when it has exited and both pipes are drained. */
  readonly exited: Promise<ExecResult>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once it has exited. */
  stop(): Promise<ExecResult>;
}

/**
 * Spawns `cmd args` inside `ns` (stdin closed, output collected). The process is SIGKILLed
 * if this process exits first; call {@link LabProcess.stop} (or delete the namespace) to
 * end it earlier.
 */
export function spawnIn(ns: Ns, cmd: string, args: readonly string[], opts: SpawnInOptions = {}): LabProcess {
  const argv = nsArgv(ns, cmd, args);
  const child = spawn(argv.file, argv.args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`cannot spawn ${describe(ns, cmd, args)}`);
  const unregister = registerCleanup(() => child.kill('SIGKILL'));
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const exited = new Promise<ExecResult>((resolve) => {
    child.once('error', (err) => {
      unregister();
      resolve({ code: null, signal: null, stdout: out.stdout, stderr: `${out.stderr}${err.message}` });
    });
    child.once('close', (code, signal) => {
      unregister();
      resolve({ code, signal, ...out });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const what = describe(ns, cmd, args);
  return {
    ns,
    pid: child.pid,
    child,
    exited,
    output: () => ({ ...out }),
    waitFor: (pattern, timeoutMs = EXEC_TIMEOUT_MS) => waitForOutput({ child, out, exited, what }, pattern, timeoutMs),
    stop: () => stopChild(child, exited, () => done, opts.graceMs ?? STOP_GRACE_MS),
  };
}

interface Watched {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<ExecResult>;
  what: string;
}

function waitForOutput(w: Watched, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      w.child.stdout?.off('data', onData);
      fn();
    };
    const check = (): boolean => {
      const m = w.out.stdout.match(pattern);
      if (m !== null) settle(() => resolve(m));
      return m !== null;
    };
    const onData = (): void => void check();
    const timer = setTimeout(() => {
      settle(() => reject(new Error(`${w.what}: no ${String(pattern)} on stdout within ${timeoutMs} ms\nstdout: ${w.out.stdout}\nstderr: ${w.out.stderr}`)));
    }, timeoutMs);
    if (check()) return;
    // Added after the collecting listener, so `out` is already updated when this runs.
    w.child.stdout?.on('data', onData);
    void w.exited.then((r) => {
      if (check()) return;
      settle(() => reject(new Error(`${w.what} exited (${String(r.code ?? r.signal)}) before printing ${String(pattern)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)));
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<ExecResult>, isDone: () => boolean, graceMs: number): Promise<ExecResult> {
  if (isDone()) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `build`, which creates namespaces and records each in `made` (in creation order),
 * with them registered for deletion if the process exits. When `build` fails, or later on
 * the returned destroy(), they are deleted in reverse order (hosts before routers before the
 * internet). destroy() is idempotent.
 */
export async function withNamespaces(made: string[], build: () => Promise<void>): Promise<() => Promise<void>> {
  const unregister = registerCleanup(() => {
    for (const ns of [...made].reverse()) deleteNamespaceSync(ns);
  });
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      for (const ns of [...made].reverse()) await deleteNamespace(ns);
      unregister();
    })());
  try {
    await build();
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
  return destroy;
}
