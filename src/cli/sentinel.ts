#!/usr/bin/env node
/**
 * `sentinel`: the scriptable client. Each invocation connects to a running node's control
 * socket (`<data-dir>/control.sock`), runs one command and exits. With `--json` every
 * command prints exactly one JSON document on stdout; failures print one line
 * `sentinel: <message>` on stderr (exit 1, usage errors exit 2), and with `--json` also
 * `{"ok": false, "error": {"code": "E_...", "message": "..."}}` on stdout.
 */

import type { DialProgress } from '../api.js';
import { connectControl, type ControlClient } from '../control/client.js';
import { controlSocketPath, type ControlMethod, type ControlParams, type ControlProgress, type ControlResults } from '../control/protocol.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, HISTORY_MAX_REPLY_BYTES } from '../control/limits.js';
import { safeJson } from '../core/text.js';
import { toErrorBody } from '../control/dispatch.js';
import { errorMessage, isSentinelError } from '../errors.js';
import { EXIT_FAILURE, EXIT_USAGE, formatOptions, intOption, isEntryPoint, parseArgv, usage, type OptionValues } from './args.js';
import { PING_HELP, PING_OPTIONS, runPing } from './ping-command.js';
import {
  formatDialResult,
  formatHistoryLine,
  formatPeers,
  formatProgress,
  showsProgress,
  formatRequest,
  formatSendResult,
  formatStatus,
  labeler,
  safeDetail,
  safeLabel,
  type PeerColumn,
} from './format.js';
import { formatNetcheck } from '../netcheck/format.js';

/** Where `main` writes. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Data directory used when `--data-dir` is not given. */
export const DEFAULT_DATA_DIR = './.sentinel';
const PEER_TABLE: readonly PeerColumn[] = ['id', 'alias', 'trust', 'name', 'address', 'connection', 'rtt', 'vpn', 'lastSeen'];

const OPTIONS = {
  'data-dir': { type: 'string', valueName: 'DIR', description: `data directory of the node (default ${DEFAULT_DATA_DIR})` },
  json: { type: 'boolean', description: 'print exactly one JSON document on stdout' },
  help: { type: 'boolean', short: 'h', description: 'show help (also after a command)' },
  limit: { type: 'string', valueName: 'N', description: `history: the last N messages (default ${HISTORY_DEFAULT_LIMIT}, at most ${HISTORY_MAX_LIMIT})` },
  before: { type: 'string', valueName: 'MSG_ID', description: 'history: only messages older than this one (the next page back)' },
  ...PING_OPTIONS,
} as const;
/** Options only some commands accept. */
const COMMAND_OPTIONS: readonly (keyof typeof OPTIONS)[] = ['limit', 'before', 'count', 'interval', 'timeout'];

type Call = <M extends ControlMethod>(
  method: M,
  params: ControlParams[M],
  onProgress?: (p: ControlProgress<M>) => void,
) => Promise<ControlResults[M]>;

/** What a command runs with. */
interface CommandContext {
  args: string[];
  options: OptionValues<typeof OPTIONS>;
  json: boolean;
  call: Call;
  /** Writes one line (or block) to stdout. */
  out(text: string): void;
  /** Writes one line to stderr. */
  err(text: string): void;
}

/** One `sentinel` command. */
interface CliCommand {
  name: string;
  usage: string;
  summary: string;
  help: string;
  /** Positional argument count; `max` may be Infinity. */
  args: { min: number; max: number };
  options?: readonly (keyof typeof OPTIONS)[];
  /** Resolves with the exit status when it is not 0 although nothing failed (ping: no answer). */
  run(ctx: CommandContext): Promise<void | number>;
}

const COMMANDS: readonly CliCommand[] = [
  {
    name: 'id',
    usage: 'id',
    summary: "print this node's id",
    help: 'Prints the full node id. JSON: {"id": "..."}.',
    args: { min: 0, max: 0 },
    async run(ctx) {
      const r = await ctx.call('id', {});
      ctx.out(ctx.json ? toJson(r) : r.id);
    },
  },
  {
    name: 'status',
    usage: 'status',
    summary: 'show node status and counters',
    help: 'Shows id, port, signaler state, peer counts, uptime and counters.',
    args: { min: 0, max: 0 },
    async run(ctx) {
      const s = await ctx.call('status', {});
      ctx.out(ctx.json ? toJson(s) : formatStatus(s));
    },
  },
  {
    name: 'peers',
    usage: 'peers',
    summary: 'list known peers',
    help: 'Lists known peers: id, alias, announced name, address, how connected, RTT, last seen.',
    args: { min: 0, max: 0 },
    async run(ctx) {
      const peers = await ctx.call('peers', {});
      ctx.out(ctx.json ? toJson(peers) : formatPeers(peers, PEER_TABLE, Date.now()));
    },
  },
  {
    name: 'dial',
    usage: 'dial <target>',
    summary: 'connect to a peer',
    help: 'Connects to <target>: a node id, a unique prefix of a known id, or host:port.\nProgress goes to stderr, the result to stdout.',
    args: { min: 1, max: 1 },
    async run(ctx) {
      const onProgress = ctx.json ? undefined : (p: DialProgress) => showsProgress(p) && ctx.err(formatProgress(p));
      const r = await ctx.call('dial', { target: arg(ctx, 0) }, onProgress);
      ctx.out(ctx.json ? toJson(r) : formatDialResult(r));
    },
  },
  {
    name: 'netcheck',
    usage: 'netcheck',
    summary: "classify this node's network (NAT mapping, filtering, IPv6)",
    help: 'Asks the signaler how it sees this node: public address, NAT mapping and port\npreservation (a second observation from its probe port), whether unsolicited inbound\nconnections are dropped, reset or let through, and IPv6. JSON uses the RFC 4787 terms:\n{"signaler", "publicAddress", "mapping", "portPreserving", "filtering", "ipv6", ...}.',
    args: { min: 0, max: 0 },
    async run(ctx) {
      const r = await ctx.call('netcheck', {});
      ctx.out(ctx.json ? toJson(r) : formatNetcheck(r));
    },
  },
  {
    name: 'send',
    usage: 'send <id> <text...>',
    summary: 'send a message to a peer',
    help: 'Stores the message durably and delivers it now, or when the peer next connects.\nThe remaining words form the text (use -- before text that starts with -).',
    args: { min: 2, max: Infinity },
    async run(ctx) {
      const r = await ctx.call('send', { target: arg(ctx, 0), text: ctx.args.slice(1).join(' ') });
      if (ctx.json) return ctx.out(toJson(r));
      ctx.out(formatSendResult(r, labeler(await ctx.call('peers', {}))));
    },
  },
  {
    name: 'history',
    usage: 'history [<id>] [--limit N] [--before MSG_ID]',
    summary: 'show messages with one peer, or all',
    help: `Shows messages, oldest first: with <id> only, or with every peer. Message requests
(from strangers, not accepted yet) are marked; in JSON "request": true. One page holds
the last ${HISTORY_DEFAULT_LIMIT} messages (--limit, at most ${HISTORY_MAX_LIMIT}, and at most ${HISTORY_MAX_REPLY_BYTES / 1024 / 1024} MiB of text);
--before <id of the oldest message shown> shows the page before it.`,
    args: { min: 0, max: 1 },
    options: ['limit', 'before'],
    async run(ctx) {
      const limit = intOption('limit', ctx.options.limit, { min: 1, max: HISTORY_MAX_LIMIT });
      const params: ControlParams['history'] = {};
      if (ctx.args[0] !== undefined) params.target = ctx.args[0];
      if (limit !== undefined) params.limit = limit;
      if (ctx.options.before !== undefined) params.before = ctx.options.before;
      const entries = await ctx.call('history', params);
      if (ctx.json) return ctx.out(toJson(entries));
      if (entries.length === 0) return ctx.out('No messages.');
      const [{ id: self }, peers] = [await ctx.call('id', {}), await ctx.call('peers', {})];
      const label = labeler(peers, self);
      ctx.out(entries.map((m) => formatHistoryLine(m, label, self)).join('\n'));
      // A page may stop short of --limit (the byte cap): ask whether anything older exists.
      const oldest = entries[0]?.id;
      const older = oldest === undefined ? [] : await ctx.call('history', { ...params, limit: 1, before: oldest });
      if (older.length > 0) ctx.err(`(older messages: sentinel history${ctx.args[0] ? ` ${ctx.args[0]}` : ''} --before ${oldest})`);
    },
  },
  {
    name: 'requests',
    usage: 'requests',
    summary: 'list message requests from strangers',
    help: 'Lists strangers who sent messages (message requests): how many, and the start of the first.\nAccept a sender with `sentinel accept <id>` or block it with `sentinel block <id>`.',
    args: { min: 0, max: 0 },
    async run(ctx) {
      const list = await ctx.call('requests', {});
      if (ctx.json) return ctx.out(toJson(list));
      ctx.out(list.length === 0 ? 'No message requests.' : list.map((r) => formatRequest(r)).join('\n'));
    },
  },
  ...(['accept', 'block', 'unblock'] as const).map((name) => ({
    name,
    usage: `${name} <id>`,
    summary: { accept: 'make a peer a contact (its message requests become messages)', block: 'block a peer (drop its session and its requests)', unblock: 'unblock a peer (it becomes a stranger again)' }[name],
    help: {
      accept: 'Makes the peer a contact: its message requests become ordinary messages, and its session\ntakes a contact slot. A stranger needs its full id or at least 16 characters of it.',
      block: 'Blocks the peer: its session is closed, its message requests deleted, and it is refused\nfrom then on (sessions, messages, punching, VPN). Persisted.',
      unblock: 'Unblocks the peer: it is a stranger again.',
    }[name],
    args: { min: 1, max: 1 },
    async run(ctx: CommandContext) {
      const r = await ctx.call(name, { target: arg(ctx, 0) });
      if (ctx.json) return ctx.out(toJson(r));
      const what = { accept: `${r.id} is a contact${r.requests ? ` (${r.requests} request(s) accepted)` : ''}`, block: `${r.id} is blocked${r.requests ? ` (${r.requests} request(s) deleted)` : ''}`, unblock: `${r.id} is ${r.trust === 'blocked' ? 'still blocked' : `a ${r.trust}`}` }[name];
      ctx.out(what);
    },
  })),
  {
    name: 'alias',
    usage: 'alias <id> <name>',
    summary: 'give a peer a local name',
    help: 'Sets a local alias for a peer (<id>: a node id or a unique prefix of a known id).',
    args: { min: 2, max: 2 },
    async run(ctx) {
      const r = await ctx.call('alias', { target: arg(ctx, 0), alias: arg(ctx, 1) });
      ctx.out(ctx.json ? toJson(r) : `${safeLabel(r.alias)} is now ${r.id}`);
    },
  },
  ...(['allow', 'deny'] as const).map((name) => ({
    name,
    usage: `${name} <id>`,
    summary: name === 'allow' ? 'let a peer exchange VPN traffic with this node' : 'stop VPN traffic with a peer',
    help: `${name === 'allow' ? 'Adds a peer to' : 'Removes a peer from'} the VPN allow-list (persisted). Messaging does not need it.`,
    args: { min: 1, max: 1 },
    async run(ctx: CommandContext) {
      const r = await ctx.call(name, { target: arg(ctx, 0) });
      ctx.out(ctx.json ? toJson(r) : `${r.id} is ${r.allowed ? 'allowed' : 'not allowed'} to exchange VPN traffic`);
    },
  })),
  {
    name: 'ping',
    usage: 'ping <peer> [--count N] [--interval MS] [--timeout MS]',
    summary: 'ping a peer over its session; show the path and RTTs',
    help: PING_HELP,
    args: { min: 1, max: 1 },
    options: ['count', 'interval', 'timeout'],
    run: (ctx) => runPing({ ...ctx, target: arg(ctx, 0), toJson }),
  },
  {
    name: 'help',
    usage: 'help [<command>]',
    summary: 'show help',
    help: 'Shows the command list, or the help of one command.',
    args: { min: 0, max: 1 },
    async run(ctx) {
      const name = ctx.args[0];
      ctx.out(name === undefined ? topHelp() : commandHelp(findCommand(name)));
    },
  },
];

/**
 * Runs `sentinel` with `argv` (arguments after the script name) and returns the exit
 * status. Never throws and never prints a stack trace.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const out = (text: string): void => void io.stdout.write(`${text}\n`);
  const err = (text: string): void => void io.stderr.write(`${text}\n`);
  let client: ControlClient | undefined;
  try {
    const { values, positionals } = parseArgv(argv, OPTIONS);
    const [name, ...args] = positionals;
    if (name === undefined) {
      if (!values.help) throw usage("missing command (see 'sentinel --help')");
      out(topHelp());
      return 0;
    }
    const command = findCommand(name);
    if (values.help) {
      out(commandHelp(command));
      return 0;
    }
    checkInvocation(command, args, values);
    const dataDir = values['data-dir'] ?? DEFAULT_DATA_DIR;
    const call: Call = async (method, params, onProgress) => {
      client ??= await connectControl(controlSocketPath(dataDir), { dataDir });
      return client.call(method, params, onProgress);
    };
    return (await command.run({ args, options: values, json: values.json === true, call, out, err })) ?? 0;
  } catch (e) {
    err(`sentinel: ${safeDetail(errorMessage(e))}`);
    // Scripts that asked for JSON get the failure as JSON too (even when the args did not parse).
    if (wantsJson(argv)) out(toJson(jsonError(e)));
    return isSentinelError(e, 'E_USAGE') ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    client?.close();
  }
}

function findCommand(name: string): CliCommand {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usage(`unknown command '${name}' (see 'sentinel --help')`);
  return command;
}

function checkInvocation(command: CliCommand, args: string[], values: OptionValues<typeof OPTIONS>): void {
  for (const option of COMMAND_OPTIONS) {
    if (values[option] !== undefined && !command.options?.includes(option)) {
      throw usage(`${command.name} does not take --${option}`);
    }
  }
  if (args.length < command.args.min || args.length > command.args.max) {
    throw usage(`usage: sentinel ${command.usage}`);
  }
}

/** True when `--json` is among the options (before any `--`), whether or not the rest parsed. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** The JSON failure document: the error's own E_ code (E_USAGE for bad args), else E_INTERNAL. */
export function jsonError(e: unknown): { ok: false; error: { code: string; message: string } } {
  return { ok: false, error: toErrorBody(e) };
}

function arg(ctx: CommandContext, i: number): string {
  const v = ctx.args[i];
  if (v === undefined) throw usage(`missing argument ${i + 1}`);
  return v;
}

/** Exact JSON, inert on a terminal (controls JSON leaves raw are \\u-escaped too). */
function toJson(value: unknown): string {
  return safeJson(value, 2);
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    'usage: sentinel [--data-dir DIR] <command> [args] [--json]',
    '',
    "Talks to a running sentinel-node through its control socket (<data-dir>/control.sock).",
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'options:',
    formatOptions(OPTIONS),
    '',
    "Run 'sentinel <command> --help' for details. Exit status: 0 ok, 1 failure, 2 usage error.",
  ].join('\n');
}

function commandHelp(c: CliCommand): string {
  const own = Object.fromEntries(
    Object.entries(OPTIONS).filter(([k]) => !COMMAND_OPTIONS.includes(k as keyof typeof OPTIONS) || c.options?.includes(k as keyof typeof OPTIONS)),
  );
  return [`usage: sentinel [--data-dir DIR] ${c.usage} [--json]`, '', c.help, '', 'options:', formatOptions(own)].join('\n');
}

if (isEntryPoint(import.meta.url)) {
  // A closed pipe (`sentinel peers | head`) is not worth a stack trace.
  process.stdout.on('error', () => {});
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
