/**
 * The interactive terminal of `sentinel-node`: slash commands (data, below) plus plain
 * lines that go to every connected peer. Node events are printed above the line being
 * typed without garbling it. Lines run one at a time, in order. Everything printed that a
 * peer can influence goes through the escaping formatters of format.ts (error messages
 * too: they can quote a peer's reason).
 */

import { clearLine, createInterface, cursorTo } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { NodeApi, NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import { PING_BOUNDS, formatReply, formatSummary } from '../ping/index.js';
import { formatNetcheck } from '../netcheck/format.js';
import {
  formatDialResult,
  formatEvent,
  formatHistoryLine,
  formatPeers,
  formatStatus,
  formatProgress,
  showsProgress,
  formatRequest,
  formatSendResult,
  labeler,
  safeDetail,
  safeLabel,
  shortId,
  type Labeler,
  type PeerColumn,
} from './format.js';

/** Options of {@link createShell}. */
export interface ShellOptions {
  api: NodeApi;
  input: Readable;
  output: Writable;
  /** True for a real TTY: enables the prompt and line redrawing. */
  terminal: boolean;
  /** Called once when the user quits (`/quit`, end of input, Ctrl-C on an empty line). */
  onQuit: () => void;
  prompt?: string;
}

/** A running shell. */
export interface Shell {
  /** Stops reading and printing; does not call `onQuit`. Idempotent. */
  close(): void;
  /** Prints a line above the one being typed (a notice from outside the shell). */
  print(text: string): void;
}

/** What a shell command runs with. */
interface ShellContext {
  api: NodeApi;
  /** Whitespace-separated words after the command name. */
  words: string[];
  /** Text after the command name, inner spacing kept. */
  rest: string;
  print(text: string): void;
  label(): Labeler;
  quit(): void;
  /** Makes this command the one Ctrl-C stops (instead of quitting); the signal says when. */
  interruptible(): AbortSignal;
}

/** One slash command. */
interface ShellCommand {
  name: string;
  args: string;
  help: string;
  run(ctx: ShellContext): void | Promise<void>;
}

/** A stranger's message requests are announced at most once per this interval (the rest: /requests). */
export const REQUEST_NOTICE_INTERVAL_MS = 60_000;
/** Senders whose last notice is remembered (least recently noticed forgotten first). */
const MAX_NOTICED_SENDERS = 256;

/** Which message-request notices to print: bounded memory, at most one per sender per interval. */
export class RequestNotices {
  private readonly last = new Map<NodeId, number>();

  admit(sender: NodeId, now: number): boolean {
    const at = this.last.get(sender);
    if (at !== undefined && now - at < REQUEST_NOTICE_INTERVAL_MS) return false;
    this.last.delete(sender);
    this.last.set(sender, now);
    if (this.last.size > MAX_NOTICED_SENDERS) this.last.delete(this.last.keys().next().value as NodeId);
    return true;
  }
}

/** Messages `/history` shows when no count is given. */
export const DEFAULT_HISTORY_COUNT = 20;
const PEER_TABLE: readonly PeerColumn[] = ['id', 'alias', 'trust', 'path', 'rtt', 'vpn'];

class ShellUsageError extends Error {}

const COMMANDS: readonly ShellCommand[] = [
  {
    name: 'id',
    args: '',
    help: "show this node's full id and VPN addresses",
    run: (c) => {
      const me = c.api.id();
      c.print(me.vpn ? `${me.id}\nvpn ${me.vpn.ipv4} ${me.vpn.ipv6}` : me.id);
    },
  },
  {
    name: 'dial',
    args: '<id|prefix|host:port>',
    help: 'connect to a peer',
    async run(c) {
      const [target] = expectWords(c, 1, 1);
      const r = await c.api.dial(target as string, (p) => showsProgress(p) && c.print(formatProgress(p)));
      c.print(formatDialResult(r));
    },
  },
  {
    name: 'ping',
    args: '<id|prefix|alias> [count]',
    help: 'ping a peer over its session (dialing it if needed): path and RTT of each ping; Ctrl-C stops it',
    async run(c) {
      const [target, n] = expectWords(c, 1, 2);
      const count = n === undefined ? undefined : Number(n);
      if (count !== undefined && (!/^\d+$/.test(n as string) || count < PING_BOUNDS.count.min || count > PING_BOUNDS.count.max)) throw new ShellUsageError();
      // Replies come before the id is known (a dial may come first): a long id by its label, else as typed.
      const label = (target as string).length > 16 ? c.label()(target as string) : safeLabel(target as string);
      const r = await c.api.ping(target as string, { ...(count === undefined ? {} : { count }), signal: c.interruptible() }, (p) =>
        c.print(p.stage === 'ping' ? formatReply(p.reply, label, (id) => shortId(id)) : formatProgress(p)),
      );
      c.print(formatSummary(r.summary, label));
    },
  },
  {
    name: 'netcheck',
    args: '',
    help: "classify this node's network: NAT mapping, filtering, IPv6",
    run: async (c) => c.print(formatNetcheck(await c.api.netcheck())),
  },
  {
    name: 'status',
    args: '',
    help: 'show node status: id, signalers, NAT, listen address, sessions, VPN, relays, counters',
    run: (c) => c.print(formatStatus(c.api.status())),
  },
  {
    name: 'peers',
    args: '',
    help: 'list known peers: id (a prefix every command accepts), path, RTT, VPN address',
    run: (c) => c.print(formatPeers(c.api.peers(), PEER_TABLE, Date.now())),
  },
  {
    name: 'msg',
    args: '<id> <text>',
    help: 'send a message to one peer',
    async run(c) {
      const [target, text] = splitFirst(c.rest);
      if (!target || !text) throw new ShellUsageError();
      c.print(formatSendResult(await c.api.send(target, text), c.label()));
    },
  },
  {
    name: 'history',
    args: '[id] [n]',
    help: `show the last n messages (default ${DEFAULT_HISTORY_COUNT}), with one peer or all`,
    run(c) {
      const { target, count } = historyArgs(expectWords(c, 0, 2));
      const entries = c.api.history(target, count);
      const self = c.api.id().id;
      const label = c.label();
      c.print(entries.length === 0 ? 'No messages.' : entries.map((m) => formatHistoryLine(m, label, self)).join('\n'));
    },
  },
  {
    name: 'alias',
    args: '<id> <name>',
    help: 'give a peer a local name',
    async run(c) {
      const [target, alias] = expectWords(c, 2, 2);
      const r = await c.api.alias(target as string, alias as string);
      c.print(`${safeLabel(r.alias)} is now ${shortId(r.id)}`);
    },
  },
  ...([true, false] as const).map((allowed) => ({
    name: allowed ? 'allow' : 'deny',
    args: '<id>',
    help: allowed ? 'let a peer exchange VPN traffic with us' : 'stop VPN traffic with a peer',
    async run(c: ShellContext) {
      const [target] = expectWords(c, 1, 1);
      const r = await c.api.setAllowed(target as string, allowed);
      c.print(`${shortId(r.id)} is ${r.allowed ? 'allowed' : 'not allowed'} to exchange VPN traffic`);
    },
  })),
  {
    name: 'requests',
    args: '',
    help: 'list message requests from strangers',
    run: (c) => {
      const list = c.api.requests();
      c.print(list.length === 0 ? 'No message requests.' : list.map((r) => formatRequest(r)).join('\n'));
    },
  },
  ...(['accept', 'block', 'unblock'] as const).map((name) => ({
    name,
    args: '<id>',
    help: { accept: 'make a peer a contact (its requests become messages)', block: 'block a peer (session closed, requests deleted)', unblock: 'unblock a peer' }[name],
    async run(c: ShellContext) {
      const [target] = expectWords(c, 1, 1);
      const r = await c.api[name](target as string);
      const n = r.requests ? ` (${r.requests} request(s) ${name === 'accept' ? 'accepted' : 'deleted'})` : '';
      c.print(`${shortId(r.id)} is ${r.trust === 'contact' ? 'a contact' : r.trust === 'blocked' ? 'blocked' : 'a stranger'}${n}`);
    },
  })),
  { name: 'quit', args: '', help: 'leave (the node shuts down)', run: (c) => c.quit() },
  { name: 'help', args: '', help: 'show this list', run: (c) => c.print(helpText()) },
];

/** Starts the shell on `input`/`output`. */
export function createShell(opts: ShellOptions): Shell {
  const { api, output, terminal } = opts;
  const rl = createInterface({ input: opts.input, output, terminal, prompt: opts.prompt ?? '> ' });
  const selfId: NodeId | undefined = safe(() => api.id().id);
  let closed = false;
  let inputEnded = false;
  let queue: Promise<void> = Promise.resolve();
  // The running command Ctrl-C stops, if it asked to be stoppable (a long /ping).
  let interrupt: AbortController | undefined;
  const interruptible = (): AbortSignal => (interrupt = new AbortController()).signal;

  const prompt = (keepTyped: boolean): void => {
    if (terminal && !closed && !inputEnded) rl.prompt(keepTyped);
  };
  const print = (text: string): void => {
    if (closed) return;
    if (terminal && !inputEnded) {
      clearLine(output, 0);
      cursorTo(output, 0);
    }
    output.write(`${text}\n`);
    // Redraw the prompt with whatever the user had typed so far.
    prompt(true);
  };
  const label = (): Labeler => {
    try {
      return labeler(api.peers(), selfId);
    } catch {
      return (id) => shortId(id);
    }
  };
  const requests = new RequestNotices();
  const unsubscribe = api.onEvent((e) => {
    // Message requests come from strangers: one notice per sender per interval, not one per message.
    if (e.type === 'message' && e.message.request && !requests.admit(e.message.from, Date.now())) return;
    const line = formatEvent(e, label(), selfId ?? '');
    if (line !== null) print(line);
  });

  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    if (!inputEnded) rl.close();
  };
  const quit = (): void => {
    if (closed) return;
    close();
    opts.onQuit();
  };

  rl.on('line', (line) => {
    queue = queue
      .then(async () => {
        if (closed) return;
        await runLine(line.trim(), { api, print, label, quit, interruptible });
        interrupt = undefined;
        prompt(false);
      })
      // runLine reports api errors itself; this only keeps one broken write from
      // stalling every later line.
      .catch(() => {});
  });
  // End of input: finish the lines already read (a piped script), then quit.
  rl.on('close', () => {
    inputEnded = true;
    queue = queue.then(quit);
  });
  rl.on('SIGINT', () => {
    if (interrupt && rl.line.length === 0) {
      interrupt.abort();
      interrupt = undefined;
      return void output.write('^C\n');
    }
    if (rl.line.length === 0) return quit();
    // Ctrl-C with text typed: drop the text, keep the shell.
    output.write('^C\n');
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
  });
  prompt(false);
  return { close, print };
}

type LineEnv = Pick<ShellContext, 'api' | 'print' | 'label' | 'quit' | 'interruptible'>;

async function runLine(line: string, env: LineEnv): Promise<void> {
  if (line === '') return;
  if (!line.startsWith('/')) return broadcast(line, env);
  const [name, rest] = splitFirst(line.slice(1));
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return env.print(`unknown command /${safeDetail(name)} (type /help for the list)`);
  const words = rest.split(/\s+/).filter((w) => w !== '');
  try {
    await command.run({ ...env, words, rest });
  } catch (err) {
    if (err instanceof ShellUsageError) env.print(`usage: /${command.name} ${command.args}`.trimEnd());
    else env.print(`error: ${safeDetail(errorMessage(err))}`);
  }
}

async function broadcast(text: string, env: LineEnv): Promise<void> {
  const nobody = 'no contact is connected; use /dial <target> first (or /msg <id> <text> to queue a message)';
  try {
    const connected = env.api.peers().filter((p) => p.connected);
    if (!connected.some((p) => p.trust === 'contact')) {
      const strangers = connected.length;
      return env.print(strangers === 0 ? nobody : `${nobody}; ${strangers} stranger(s) connected: plain text never goes to strangers (/accept <id> makes one a contact)`);
    }
    const results = await env.api.broadcast(text);
    if (results.length === 0) return env.print(nobody);
    const label = env.label();
    for (const r of results) if (r.status === 'pending') env.print(formatSendResult(r, label));
  } catch (err) {
    env.print(`error: ${safeDetail(errorMessage(err))}`);
  }
}

/** Splits off the first word; the rest keeps its inner spacing. */
function splitFirst(text: string): [string, string] {
  const trimmed = text.trimStart();
  const m = /^(\S*)\s*([\s\S]*)$/.exec(trimmed);
  return [m?.[1] ?? '', (m?.[2] ?? '').trimEnd()];
}

function expectWords(c: ShellContext, min: number, max: number): string[] {
  if (c.words.length < min || c.words.length > max) throw new ShellUsageError();
  return c.words;
}

/** `/history [id] [n]`: a lone all-digits word is a count (ids are base32 letters too). */
function historyArgs(words: string[]): { target: string | undefined; count: number } {
  const isCount = (w: string | undefined): boolean => w !== undefined && /^\d+$/.test(w) && Number(w) >= 1;
  const [a, b] = words;
  if (words.length === 1 && isCount(a)) return { target: undefined, count: Number(a) };
  if (b !== undefined && !isCount(b)) throw new ShellUsageError();
  return { target: a, count: b === undefined ? DEFAULT_HISTORY_COUNT : Number(b) };
}

function helpText(): string {
  const entries = COMMANDS.map((c) => [`/${c.name}${c.args ? ` ${c.args}` : ''}`, c.help] as const);
  const width = Math.max(...entries.map(([u]) => u.length));
  return [
    ...entries.map(([u, h]) => `  ${u.padEnd(width)}  ${h}`),
    `  ${'<text>'.padEnd(width)}  send to every connected contact (never to strangers)`,
  ].join('\n');
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
