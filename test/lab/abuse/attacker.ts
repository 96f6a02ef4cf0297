/**
 * The attacker toolkit as a program, run inside a lab namespace by the harness:
 *
 *   ip netns exec <ns> node dist/test/lab/abuse/attacker.js '<AttackSpec as JSON>'
 *
 * Runs one attack (spec.ts), prints `progress ...` lines while it runs and one line
 * `result {"kind", "elapsedMs", "counts"}` at the end, then exits 0. Every attack stops by
 * itself: at its duration (at most MAX_ATTACK_MS), and a watchdog exits the process
 * (code 3) if winding down takes longer than ATTACK_WIND_DOWN_MS more.
 */
import { fileURLToPath } from 'node:url';
import { chatFlood, gossipFlood, vpnClaim } from './attacks-content.js';
import { drip, helloFlood, inject, pullAmp, sessions, type Counts } from './attacks-sessions.js';
import { mdns, punchStorm } from './attacks-signal.js';
import { ATTACK_WIND_DOWN_MS, MAX_ATTACK_MS, RESULT_PREFIX, type AttackResult, type AttackSpec } from './spec.js';

/** Runs `spec` until its deadline; resolves with what it did. */
export async function runAttack(spec: AttackSpec): Promise<AttackResult> {
  const started = Date.now();
  const deadline = started + Math.min(Math.max(0, spec.durationMs), MAX_ATTACK_MS);
  const counts = await dispatch(spec, deadline);
  return { kind: spec.kind, elapsedMs: Date.now() - started, counts };
}

function dispatch(spec: AttackSpec, deadline: number): Promise<Counts> {
  switch (spec.kind) {
    case 'mdns':
      return mdns(spec, deadline);
    case 'chat-flood':
      return chatFlood(spec, deadline);
    case 'vpn-claim':
      return vpnClaim(spec, deadline);
    case 'punch-storm':
      return punchStorm(spec, deadline);
    case 'gossip-flood':
      return gossipFlood(spec, deadline);
    case 'pull-amp':
      return pullAmp(spec, deadline);
    case 'hello-flood':
      return helloFlood(spec, deadline);
    case 'drip':
      return drip(spec, deadline);
    case 'sessions':
      return sessions(spec, deadline);
    case 'inject':
      return inject(spec, deadline);
  }
}

async function main(arg: string | undefined): Promise<void> {
  // Without a spec it only says how to use it (the test runner also loads every module under
  // test/, this one included, without arguments).
  if (arg === undefined) return void console.log('usage: attacker.js <attack spec as JSON> (see spec.ts)');
  const spec = JSON.parse(arg) as AttackSpec;
  const watchdog = setTimeout(() => {
    console.error(`attacker: ${spec.kind} did not wind down in time; exiting`);
    process.exit(3);
  }, Math.min(spec.durationMs, MAX_ATTACK_MS) + ATTACK_WIND_DOWN_MS + 10_000);
  // Keeps the process alive while the attack runs: an attack that waits on nothing (a bug)
  // ends through the watchdog with a message, not as a silent exit 0 without a result.
  const alive = setInterval(() => undefined, 1_000);
  watchdog.unref();
  console.log(`progress ${spec.kind} started`);
  const result = await runAttack(spec);
  clearInterval(alive);
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`attacker: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
