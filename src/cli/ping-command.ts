/**
 * `sentinel ping`: options, help and the run (kept apart from sentinel.ts, which lists
 * every command). Replies are printed as they arrive, the statistics at the end.
 */
import type { ControlParams, ControlProgress, ControlResults } from '../control/protocol.js';
import { PING_BOUNDS, PING_DEFAULT_COUNT, PING_DEFAULT_INTERVAL_MS, PING_DEFAULT_TIMEOUT_MS, formatReply, formatSummary } from '../ping/index.js';
import { EXIT_FAILURE, intOption } from './args.js';
import { formatProgress, safeLabel, shortId } from './format.js';

/** The options only `ping` takes. */
export const PING_OPTIONS = {
  count: { type: 'string', valueName: 'N', description: `ping: pings to send (default ${PING_DEFAULT_COUNT}, ${PING_BOUNDS.count.min} to ${PING_BOUNDS.count.max})` },
  interval: { type: 'string', valueName: 'MS', description: `ping: milliseconds between pings (default ${PING_DEFAULT_INTERVAL_MS}, ${PING_BOUNDS.intervalMs.min} to ${PING_BOUNDS.intervalMs.max})` },
  timeout: { type: 'string', valueName: 'MS', description: `ping: a ping with no answer after MS is lost (default ${PING_DEFAULT_TIMEOUT_MS}, ${PING_BOUNDS.timeoutMs.min} to ${PING_BOUNDS.timeoutMs.max})` },
} as const;

export const PING_HELP = `Pings <peer> (an id, a unique prefix, an alias or host:port) over its session, dialing it
first if there is none (progress on stderr; the peer becomes a contact). Prints each reply
as it arrives with the path it took (direct address and how it was reached, or the relay)
and its RTT, then sent, received, loss and min/avg/max RTT. Exit status 1 when no ping
was answered. JSON: {"id", "path", "dial", "pings": [{"seq", "rttMs", "path"} or
{"seq", "lost": true, "reason"}], "summary": {"sent", "received", "lossPercent", "minMs",
"avgMs", "maxMs"}}.`;

/** What the ping run needs from the CLI. */
export interface PingCommandContext {
  target: string;
  options: { count?: string | boolean; interval?: string | boolean; timeout?: string | boolean };
  json: boolean;
  call(method: 'ping', params: ControlParams['ping'], onProgress?: (p: ControlProgress<'ping'>) => void): Promise<ControlResults['ping']>;
  out(text: string): void;
  err(text: string): void;
  toJson(value: unknown): string;
}

/** Runs `sentinel ping`; resolves with the exit status (1 when nothing answered). */
export async function runPing(ctx: PingCommandContext): Promise<number> {
  const params: ControlParams['ping'] = { target: ctx.target };
  const count = intOption('count', text(ctx.options.count), PING_BOUNDS.count);
  const intervalMs = intOption('interval', text(ctx.options.interval), PING_BOUNDS.intervalMs);
  const timeoutMs = intOption('timeout', text(ctx.options.timeout), PING_BOUNDS.timeoutMs);
  if (count !== undefined) params.count = count;
  if (intervalMs !== undefined) params.intervalMs = intervalMs;
  if (timeoutMs !== undefined) params.timeoutMs = timeoutMs;
  // Replies are printed before the peer's id is known (a dial may come first): named as typed.
  const label = safeLabel(ctx.target.length > 16 ? shortId(ctx.target) : ctx.target);
  const onProgress = ctx.json
    ? undefined
    : (p: ControlProgress<'ping'>): void => (p.stage === 'ping' ? ctx.out(formatReply(p.reply, label, (id) => shortId(id))) : ctx.err(formatProgress(p)));
  const r = await ctx.call('ping', params, onProgress);
  // A dial's outcome was its last progress line (`[connected] ...`): not repeated here.
  ctx.out(ctx.json ? ctx.toJson(r) : formatSummary(r.summary, label));
  return r.summary.received === 0 ? EXIT_FAILURE : 0;
}

function text(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
