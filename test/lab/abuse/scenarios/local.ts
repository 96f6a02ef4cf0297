/**
 * The findings about what reaches the user and the disk, replayed with real binaries:
 * terminal and log injection through a peer's text (finding 13), unsafe key and data-dir
 * permissions (14), and an id prefix that a stranger ground a key to match (15).
 */
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../../../../src/errors.js';
import { tryExec } from '../../netns.js';
import { NODE_BIN } from '../../sentinel-procs.js';
import { sleep } from '../harness.js';
import { checksOnly, measure } from '../phases.js';
import { CONTACT_PORT, VICTIM_PORT, inLab, pick, startPair, type Scenario, fig } from './common.js';
import { GROUND_PAIR } from './fixtures.js';

/** Bytes a terminal acts on or that break a line; none may reach the log or the terminal raw. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** A log line forged by a peer would start with this (a time far from now). */
const FORGED_TIME = '2030-01-01T00:00:00.000Z';

/** Lines of `text` holding a raw unsafe character. */
function unsafeLines(text: string): string[] {
  return text.split('\n').filter((l) => RAW_UNSAFE.test(l));
}

/**
 * Log and terminal injection: a stranger announces a name, sends a message and says
 * GOAWAY with a reason, each carrying a line break, a forged log line, ANSI and OSC escapes
 * and a bidi override. V logs at debug (everything it can log about a peer). Its log, and
 * `sentinel peers`, `requests` and `history` (text output), must show them escaped.
 */
export const untrustedText: Scenario = {
  id: 'untrusted-text',
  findings: [13],
  title: 'Log/terminal injection: escapes in a HELLO name, a message and a GOAWAY reason',
  headline: (r) =>
    `log: ${fig(r, 'log_unsafe_lines')} lines with a raw control character, ${fig(r, 'log_forged_lines')} forged lines, the reason shown escaped: ${fig(r, 'log_reason_escaped')}; \`peers\`, \`requests\`, \`history\`: ${fig(r, 'terminal_unsafe_lines')} raw control characters`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'c', 'a'] }] }, async (h) => {
      const { victim, contact, target } = await startPair(h, 'v', 'c', { victim: { logLevel: 'debug' } });
      const name = 'eve\n\u001b]0;pwned\u0007\u001b[31m';
      const text = `hi\n${FORGED_TIME} ERROR forged message line\u001b]0;title\u0007\u001b[2J\u202eevil`;
      const reason = `bye\n${FORGED_TIME} ERROR forged log line\u001b]0;title\u0007\u001b[2J\u202e`;
      const shown: Record<string, string> = {};
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          attack: async () => [await h.attack('a', { kind: 'inject', target: { host: h.lab.host('v').ip, port: VICTIM_PORT }, to: victim.id, name, text, reason, durationMs: pick(scale, 6_000, 8_000) }).result],
          midAttack: async () => {
            // The stranger is connected: its name is on show.
            shown['peers'] = (await victim.client(['peers'])).stdout;
            shown['requests'] = (await victim.client(['requests'])).stdout;
            shown['history'] = (await victim.client(['history'])).stdout;
            return {};
          },
          whileUp: async () => {
            await sleep(500);
            const log = victim.stderr();
            const outputs = Object.values(shown).join('\n');
            return {
              log_lines: log.split('\n').length,
              log_unsafe_lines: unsafeLines(log).length,
              log_forged_lines: log.split('\n').filter((l) => l.startsWith(FORGED_TIME)).length,
              log_reason_escaped: log.includes('bye\\n2030-01-01T00:00:00.000Z ERROR forged log line\\x1b]0;title\\x07') ? 1 : 0,
              terminal_unsafe_lines: unsafeLines(outputs).length,
              terminal_name_escaped: shown['peers']?.includes('eve\\n\\x1b]0;pwned\\x07') ? 1 : 0,
              terminal_text_escaped: shown['history']?.includes('\\x1b]0;title\\x07') ? 1 : 0,
            };
          },
        },
        untrustedText,
      );
    }),
};

/** Bound on a `sentinel-node` that should refuse to start (it runs on if it does not). */
const REFUSAL_TIMEOUT_MS = 8_000;

/** Starts `sentinel-node` on `dataDir` in `ns`; how it ended (`started` when it had to be stopped). */
async function startAttempt(ns: string, dataDir: string, port: number): Promise<{ started: boolean; code: number | null; lines: string[] }> {
  const env = { ...process.env };
  delete env['SUDO_UID'];
  const r = await tryExec(ns, process.execPath, [NODE_BIN, '--data-dir', dataDir, '--port', String(port), '--signaler', 'none', '--no-mdns'], { timeoutMs: REFUSAL_TIMEOUT_MS, env }).catch(() => undefined);
  if (!r) return { started: true, code: null, lines: [] };
  return { started: false, code: r.code, lines: r.stderr.split('\n').filter((l) => l.trim() !== '') };
}

/**
 * Unsafe files: `sentinel-node` started on a 0644 key, a key that is a symbolic link, a
 * world-writable data dir of its own, and a world-writable data dir of another user must
 * refuse in one line naming the fix, and start once the key is 0600.
 */
export const unsafeFiles: Scenario = {
  id: 'unsafe-files',
  findings: [14],
  title: 'Unsafe files: a 0644 key, a linked key, world-writable data dirs',
  headline: (r) =>
    `refused in one line naming the fix: 0644 key ${fig(r, 'key_0644_refused_in_one_line')}, linked key ${fig(r, 'key_symlink_refused_in_one_line')}, world-writable own dir ${fig(r, 'dir_0777_own_refused_in_one_line')}, another user's dir ${fig(r, 'dir_0777_other_user_refused_in_one_line')}; the key at 0600 starts: ${fig(r, 'key_0600_starts')}`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v'] }] }, async (h) => {
      const ns = h.lab.host('v').ns;
      const root = await h.sl.tempDir('files');
      const key = GROUND_PAIR.contact.pem;
      const cases: Array<{ label: string; dir: string; expect: RegExp }> = [];
      const dir = async (label: string, mode: number, owner?: number): Promise<string> => {
        const d = join(root, label);
        await mkdir(d, { mode: 0o700 });
        await chmod(d, mode);
        if (owner !== undefined) await chown(d, owner, owner);
        return d;
      };
      const readable = await dir('key0644', 0o700);
      await writeFile(join(readable, 'node.key'), key, { mode: 0o644 });
      await chmod(join(readable, 'node.key'), 0o644);
      cases.push({ label: 'key_0644', dir: readable, expect: /chmod 600 / });
      const linked = await dir('keylink', 0o700);
      await writeFile(join(root, 'elsewhere.key'), key, { mode: 0o600 });
      await symlink(join(root, 'elsewhere.key'), join(linked, 'node.key'));
      cases.push({ label: 'key_symlink', dir: linked, expect: /symbolic link/ });
      cases.push({ label: 'dir_0777_own', dir: await dir('open', 0o777), expect: /chmod 700 / });
      cases.push({ label: 'dir_0777_other_user', dir: await dir('theirs', 0o777, 65534), expect: /owned by uid 65534/ });
      const figures: Record<string, number | string> = {};
      const notes: string[] = [];
      for (const c of cases) {
        const r = await startAttempt(ns, c.dir, VICTIM_PORT);
        const refused = !r.started && r.code !== 0 && r.lines.length === 1 && c.expect.test(r.lines[0] ?? '') && (r.lines[0] ?? '').includes(ERROR_CODES.E_KEY_PERMISSIONS);
        figures[`${c.label}_refused_in_one_line`] = refused ? 1 : 0;
        notes.push(`${c.label}: ${r.started ? 'STARTED' : `exit ${String(r.code)}`}: ${r.lines.join(' | ').slice(0, 300)}`);
      }
      // The same key at 0600 starts: the refusals were about the mode.
      await chmod(join(readable, 'node.key'), 0o600);
      const ok = await startAttempt(ns, readable, VICTIM_PORT);
      figures['key_0600_starts'] = ok.started ? 1 : 0;
      return checksOnly(unsafeFiles, scale, figures, notes);
    }),
};

/**
 * Id prefixes: V's contact C and a stranger S hold keys found by a birthday search so that
 * their ids share their first 7 characters (fixtures.ts). Both are connected to V. On V,
 * that 7-character prefix must pick the contact, a prefix of the stranger shorter than 16
 * characters must be refused (E_ID_TOO_SHORT), and a full id with a typo must be refused
 * (E_BAD_ID), each in one line; nothing may reach S.
 */
export const idPrefix: Scenario = {
  id: 'id-prefix',
  findings: [15],
  title: "Id prefixes: a stranger's key ground to share the contact's first 7 characters",
  headline: (r) =>
    `the shared ${fig(r, 'shared_prefix_chars')}-character prefix picked the contact: ${fig(r, 'shared_prefix_picks_contact')}; a 12-character prefix of the stranger refused: ${fig(r, 'stranger_prefix_12_refused')}; a typo refused (E_BAD_ID): ${fig(r, 'typo_refused')}; messages at the stranger: ${fig(r, 'messages_at_stranger')}`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'c', 's'] }] }, async (h) => {
      const keyDir = async (label: string, pem: string): Promise<string> => {
        const d = await h.sl.tempDir(label);
        await writeFile(join(d, 'node.key'), pem, { mode: 0o600 });
        return d;
      };
      const { victim, contact, target } = await startPair(h, 'v', 'c', { contact: { dataDir: await keyDir('ck', GROUND_PAIR.contact.pem) } });
      if (contact.id !== GROUND_PAIR.contact.id) throw new Error(`the contact's key gave ${contact.id}, not the fixture id`);
      const shared = GROUND_PAIR.sharedPrefix;
      const figures: Record<string, number | string> = {};
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          attack: async () => {
            const s = await h.startNode('s', { port: CONTACT_PORT + 1, name: 'grinder', dataDir: await keyDir('sk', GROUND_PAIR.stranger.pem) });
            await h.call(s, 'dial', { target });
            await sleep(pick(scale, 6_000, 8_000));
            figures['messages_at_stranger'] = (await h.allHistory(s, victim.id)).length;
            await s.stop();
            return [{ kind: 'inject', elapsedMs: 0, counts: { strangers_connected: 1 } }];
          },
          midAttack: async () => {
            const one = async (args: string[]): Promise<{ code: number | null; out: string; lines: string[] }> => {
              const r = await victim.client(args);
              return { code: r.code, out: r.stdout, lines: r.stderr.split('\n').filter((l) => l.trim() !== '') };
            };
            const contactPick = await one(['send', shared, 'to the contact', '--json']);
            const toContact = contactPick.code === 0 && (JSON.parse(contactPick.out) as { to: string }).to === contact.id;
            const strangerShort = await one(['send', GROUND_PAIR.stranger.id.slice(0, 12), 'to the stranger?']);
            const typo = GROUND_PAIR.contact.id.slice(0, -1) + (GROUND_PAIR.contact.id.endsWith('a') ? 'b' : 'a');
            const typoed = await one(['send', typo, 'typo']);
            const tiny = await one(['send', shared.slice(0, 3), 'tiny']);
            const oneLine = (r: { code: number | null; lines: string[] }, code: ErrorCode): number => (r.code === 1 && r.lines.length === 1 && (r.lines[0] ?? '').startsWith(`sentinel: ${ERROR_CODES[code]}`) ? 1 : 0);
            const peers = await h.call(victim, 'peers', {});
            return {
              shared_prefix_chars: shared.length,
              stranger_connected: peers.some((p) => p.id === GROUND_PAIR.stranger.id && p.connected) ? 1 : 0,
              shared_prefix_picks_contact: toContact ? 1 : 0,
              stranger_prefix_12_refused: oneLine(strangerShort, 'E_ID_TOO_SHORT'),
              typo_refused: oneLine(typoed, 'E_BAD_ID'),
              prefix_3_refused: oneLine(tiny, 'E_ID_TOO_SHORT'),
            };
          },
          whileUp: async () => figures,
        },
        idPrefix,
      );
    }),
};
