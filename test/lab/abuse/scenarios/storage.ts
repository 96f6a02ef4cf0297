/**
 * The outbox livelock (finding 11) and `sentinel history` after a flood (12), replayed
 * with real binaries: a contact S of V queues 23 MiB of 64 KiB messages while it cannot
 * reach V, then reconnects. The outbox must drain over that one session (no up/down
 * cycles), in order, exactly once; afterwards `sentinel history` on V must answer, by
 * default and page by page, whatever the history holds.
 */
import { MAX_TEXT_BYTES } from '../../../../src/wire/index.js';
import type { HistoryEntry } from '../../../../src/api.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_REPLY_BYTES } from '../../../../src/control/limits.js';
import { MAX_LINE_BYTES } from '../../../../src/control/index.js';
import { cutLink, healLink } from '../../nft.js';
import type { LabNode } from '../../sentinel-procs.js';
import { sleep, withTimeout, type AbuseHarness } from '../harness.js';
import { pool } from '../raw-session.js';
import { measure } from '../phases.js';
import { CONTACT_PORT, VICTIM_PORT, inLab, startPair, type Scenario, fig, mib } from './common.js';

const MiB = 1024 * 1024;
/** The outbox of the replay: 23 MiB, more than a session's 16 MiB write cap. */
export const OUTBOX_BYTES = 23 * MiB;
/** Bound on the outbox draining once S is back. */
export const OUTBOX_DRAIN_TIMEOUT_MS = 120_000;
const SENDER_PORT = CONTACT_PORT + 1;
/** Sends to S in flight at once while its outbox fills. */
const SEND_CONCURRENCY = 16;

/** Text bytes of each queued message: the 64 KiB maximum (a control request line carries it whole). */
export const OUTBOX_TEXT_BYTES = Math.min(MAX_TEXT_BYTES, MAX_LINE_BYTES - 512);

/** Message `i` of the outbox: its number first (order is checked), padded. */
function outboxText(i: number): string {
  const head = `outbox ${String(i).padStart(4, '0')} `;
  return head + '.'.repeat(OUTBOX_TEXT_BYTES - head.length);
}

/** How many lines of `node`'s log say its session with `peer` went down. */
function sessionDrops(node: LabNode, peer: string): number {
  return node.stderr().split('\n').filter((l) => l.includes(`session with ${peer} down`)).length;
}

/** Runs `sentinel history <args> --json` on `node` (the real command) and parses it. */
async function historyCli(node: LabNode, args: string[]): Promise<{ ok: boolean; entries: HistoryEntry[]; stderr: string }> {
  const r = await node.client(['history', ...args, '--json'], 60_000);
  if (r.code !== 0) return { ok: false, entries: [], stderr: r.stderr };
  return { ok: true, entries: JSON.parse(r.stdout) as HistoryEntry[], stderr: r.stderr };
}

/** Pages back through `peer`'s history on `node` with `sentinel history --before`, to the beginning. */
async function pageAll(node: LabNode, peer: string): Promise<{ pages: number; entries: HistoryEntry[]; failed: number }> {
  const entries: HistoryEntry[] = [];
  let before: string | undefined;
  let pages = 0;
  let failed = 0;
  for (;;) {
    const r = await historyCli(node, [peer, '--limit', '1000', ...(before ? ['--before', before] : [])]);
    if (!r.ok) {
      failed++;
      break;
    }
    if (r.entries.length === 0) break;
    pages++;
    entries.unshift(...r.entries);
    before = r.entries[0]?.id;
    if (pages > 100) break;
  }
  return { pages, entries, failed };
}

/** Every message S sent V, read through S's control socket: their statuses. */
async function statuses(h: AbuseHarness, s: LabNode, v: string): Promise<Map<string, string>> {
  return new Map((await h.allHistory(s, v)).map((m) => [m.id, m.status]));
}

export const outboxLivelock: Scenario = {
  id: 'outbox-livelock',
  findings: [11, 12],
  title: 'Outbox livelock: 23 MiB queued for one peer; then `sentinel history` on the flooded node',
  headline: (r) =>
    `${fig(r, 'messages')} messages (23 MiB) drained in ${fig(r, 'drain_ms')} ms over one session (${fig(r, 'sender_session_drops')} drops; 42 up/down cycles and nothing delivered in the review), in order, once; \`history\`: ${fig(r, 'history_default_entries')} entries (${mib(Number(r.figures['history_default_bytes'] ?? 0) / 1024)}) by default, ${fig(r, 'history_pages')} pages with --before to all ${fig(r, 'history_paged_entries')}`,
  run: (scale) =>
    inLab({ sites: [{ name: 'pub', nat: 'public', hosts: ['v', 'c', 's'] }] }, async (h) => {
      const pair = await startPair(h, 'v', 'c');
      const { contact, target } = pair;
      const s = await h.startNode('s', { port: SENDER_PORT, name: 'sender' });
      await h.call(s, 'dial', { target });
      await h.call(pair.victim, 'alias', { target: s.id, alias: 'sender' });
      // V goes away (S sees its session end at once) and S cannot reach it again until the
      // attack phase: its outbox fills meanwhile.
      await h.stopNode(pair.victim);
      await cutLink(s.host.ns, pair.victim.host.ip);
      const count = Math.ceil(OUTBOX_BYTES / OUTBOX_TEXT_BYTES);
      const queuedAt = Date.now();
      // Several sends in flight at once (the store commits them together); S's own history
      // then says in which order it queued them, which is the order V must store them in.
      await pool(Array.from({ length: count }, (_, i) => i), SEND_CONCURRENCY, (i) => h.call(s, 'send', { target: pair.victim.id, text: outboxText(i) }));
      const queueMs = Date.now() - queuedAt;
      const ids = (await h.allHistory(s, pair.victim.id)).filter((m) => m.status === 'pending').map((m) => m.id);
      if (ids.length !== count) throw new Error(`S queued ${ids.length} of ${count} messages`);
      const victim = await h.startNode('v', { port: VICTIM_PORT, name: 'victim', dataDir: pair.victim.dataDir });
      let drainMs = -1;
      let dropsBefore = 0;
      return measure(
        {
          h,
          victim,
          contact,
          victimTarget: target,
          scale,
          // No warm-up: the drain now takes about a second (faster messaging), and a dial
          // must start while it runs or the test has nothing to check.
          warmupMs: 0,
          attack: async () => {
            const stored = async (): Promise<number> => (await h.call(victim, 'status', {})).counters['chat_stored'] ?? 0;
            const base = await stored();
            const t0 = Date.now();
            dropsBefore = sessionDrops(s, victim.id);
            await healLink(s.host.ns, victim.host.ip);
            await h.call(s, 'dial', { target }).catch(() => undefined);
            // Delivered when V has stored them all (its counter, cheap), and S knows it.
            await withTimeout(
              (async () => {
                while ((await stored()) < base + count) await sleep(250);
                for (;;) {
                  const st = await statuses(h, s, victim.id);
                  if (ids.every((id) => st.get(id) === 'delivered')) break;
                  await sleep(1_000);
                }
              })(),
              OUTBOX_DRAIN_TIMEOUT_MS,
              'the outbox to drain',
            );
            drainMs = Date.now() - t0;
            return [{ kind: 'chat-flood', elapsedMs: drainMs, counts: { messages: count, bytes: count * OUTBOX_TEXT_BYTES } }];
          },
          whileUp: async () => {
            const st = await statuses(h, s, victim.id);
            const atV = (await h.allHistory(victim, s.id)).map((m) => m.id);
            const inOrder = atV.length === ids.length && atV.every((id, i) => id === ids[i]);
            // Finding 12: the user's command answers after the flood, by default and paged.
            const byDefault = await historyCli(victim, []);
            const bytes = byDefault.entries.reduce((n, m) => n + Buffer.byteLength(m.text, 'utf8'), 0);
            const paged = await pageAll(victim, s.id);
            const plain = await victim.client(['history'], 60_000);
            return {
              messages: count,
              queue_ms: queueMs,
              drain_ms: drainMs,
              drain_mib_per_s: drainMs > 0 ? Math.round(((count * OUTBOX_TEXT_BYTES) / MiB / (drainMs / 1000)) * 10) / 10 : -1,
              sender_session_drops: sessionDrops(s, victim.id) - dropsBefore,
              delivered_at_sender: [...st.values()].filter((x) => x === 'delivered').length,
              stored_at_victim: atV.length,
              stored_in_order_once: inOrder ? 1 : 0,
              history_default_ok: byDefault.ok ? 1 : 0,
              history_default_entries: byDefault.entries.length,
              history_default_bytes: bytes,
              history_default_limit: HISTORY_DEFAULT_LIMIT,
              history_reply_cap: HISTORY_MAX_REPLY_BYTES,
              history_pages: paged.pages,
              history_paged_entries: paged.entries.length,
              history_paged_in_order: paged.entries.length === ids.length && paged.entries.every((m, i) => m.id === ids[i]) ? 1 : 0,
              history_failures: paged.failed + (byDefault.ok ? 0 : 1) + (plain.code === 0 ? 0 : 1),
              history_plain_ok: plain.code === 0 ? 1 : 0,
            };
          },
        },
        outboxLivelock,
      );
    }),
};
