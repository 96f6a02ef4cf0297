/**
 * A fighter-socket probe run inside a lab namespace (`node dist/test/lab/fighter-probe.js`),
 * to watch what the kernel, the NATs and the firewalls do with one SYN:
 *
 *   listen <port>                 fighter listener on 0.0.0.0:<port>; prints `listening`,
 *                                 then `accepted <ip>:<port>` per connection (kept open)
 *   connect <json>                one fighterConnect({ localPort, host, port, ttl?, shieldMs?, timeoutMs });
 *                                 prints `sent` once the SYN is out (connect(2) sends it),
 *                                 then `{"outcome": "connected" | <errno name>, "ms"}`
 *
 * `fighterProbe`, `startFighterConnect` and `startFighterListener` run it from a test.
 */
import { fileURLToPath } from 'node:url';
import { dialErrno, fighterConnect, fighterListen } from '../../src/native/index.js';
import { exec, spawnIn, type LabProcess, type Ns } from './netns.js';

export const FIGHTER_PROBE = fileURLToPath(import.meta.url);

/** What one probe connect did: `connected`, or the errno name it failed with. */
export interface ProbeOutcome {
  outcome: string;
  ms: number;
}

export interface ProbeConnect {
  localPort: number;
  host: string;
  port: number;
  ttl?: number;
  shieldMs?: number;
  timeoutMs: number;
}

/** One fighterConnect from inside `ns`. */
export async function fighterProbe(ns: Ns, c: ProbeConnect): Promise<ProbeOutcome> {
  const out = await exec(ns, process.execPath, [FIGHTER_PROBE, 'connect', JSON.stringify(c)], { timeoutMs: c.timeoutMs + 10_000 });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as ProbeOutcome;
}

/**
 * A fighterConnect inside `ns` that goes on in the background: `sent` resolves once its SYN
 * is out (so a test can order the other side's SYN after it, whatever process start-up
 * costs), `outcome` when it has ended.
 */
export function startFighterConnect(ns: Ns, c: ProbeConnect): { proc: LabProcess; sent: Promise<void>; outcome: Promise<ProbeOutcome> } {
  const proc = spawnIn(ns, process.execPath, [FIGHTER_PROBE, 'connect', JSON.stringify(c)]);
  const sent = proc.waitFor(/^sent$/m, c.timeoutMs + 10_000).then(() => undefined);
  const outcome = proc.waitFor(/^(\{.*\})$/m, c.timeoutMs + 10_000).then((m) => JSON.parse(m[1] as string) as ProbeOutcome);
  return { proc, sent, outcome };
}

/** A fighter listener inside `ns` on `port`, ready when this resolves; read `accepted` lines from its output. */
export async function startFighterListener(ns: Ns, port: number): Promise<LabProcess> {
  const p = spawnIn(ns, process.execPath, [FIGHTER_PROBE, 'listen', String(port)]);
  await p.waitFor(/^listening$/m, 10_000);
  return p;
}

const USAGE = 'usage: fighter-probe.js listen <port> | connect <json>';

async function main(argv: readonly string[]): Promise<void> {
  const [mode, arg] = argv;
  // Without arguments it only says how to use it (the test runner also loads every module
  // under test/, this one included, without arguments).
  if (mode === undefined) return void process.stdout.write(`${USAGE}\n`);
  if (mode === 'listen') {
    const server = await fighterListen({ host: '0.0.0.0', port: Number(arg) });
    server.on('connection', (s) => {
      s.on('error', () => undefined);
      process.stdout.write(`accepted ${s.remoteAddress}:${s.remotePort}\n`);
    });
    process.on('SIGTERM', () => process.exit(0));
    process.stdout.write('listening\n');
    return;
  }
  if (mode === 'connect') {
    const c = JSON.parse(arg ?? '{}') as ProbeConnect;
    const started = Date.now();
    let outcome: string;
    try {
      const pending = fighterConnect(c);
      process.stdout.write('sent\n');
      const s = await pending;
      outcome = 'connected';
      s.destroy();
    } catch (err) {
      outcome = dialErrno(err) ?? String(err);
    }
    process.stdout.write(`${JSON.stringify({ outcome, ms: Date.now() - started })}\n`);
    return;
  }
  throw new Error(USAGE);
}

if (process.argv[1] === FIGHTER_PROBE) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
