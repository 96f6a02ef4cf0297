/**
 * Human-readable rendering shared by `sentinel` and the interactive shell. Pure: data in,
 * strings out. Every string that a peer can influence (names, aliases, addresses, reasons,
 * progress and error details, message texts) is escaped here, at the last step before the
 * terminal: one-line fields with {@link safeLine}, message bodies with {@link safeText}
 * (line breaks kept, continuation lines indented). `--json` output does not come through
 * here: it is exact JSON (see `safeJson` in core/text.ts).
 */

import { formatByteRate } from './args.js';
import type { DialProgress, DialResult, HistoryEntry, NodeEvent, NodeId, PeerInfo, RequestSummary, SendResult, StatusInfo } from '../api.js';
import { safeLine, safeText } from '../core/text.js';
import { echoes } from '../errors.js';
import { MIN_STRANGER_PREFIX } from '../identity/index.js';
import { uniqueIdPrefixes } from './peer-ids.js';

/** Characters of a node id shown in tables (a unique prefix is accepted as a target). */
export const SHORT_ID_LENGTH = 12;

/**
 * Longest name or alias shown in a label or a table cell, in characters after escaping;
 * longer ones end in `…` (the whole value is in `--json`). A peer's announced name is up
 * to 64 bytes: without a cap one peer could widen every table.
 */
export const MAX_LABEL_CHARS = 32;

/**
 * Longest reason, progress message, address or error message shown on one line, in
 * characters after escaping; longer ones end in `…`. Room for a whole 256-byte GOAWAY
 * reason even when every byte is a control (4 characters each once escaped), and for a
 * dial error listing every address tried.
 */
export const MAX_DETAIL_CHARS = 1024;

/** One-line, escaped and capped {@link MAX_DETAIL_CHARS}: for reasons and details from peers. */
export function safeDetail(text: string): string {
  return safeLine(text, MAX_DETAIL_CHARS);
}

/** One-line, escaped and capped {@link MAX_LABEL_CHARS}: for names and aliases. */
export function safeLabel(text: string): string {
  return safeLine(text, MAX_LABEL_CHARS);
}

/** First characters of an id, marked as shortened. */
export function shortId(id: NodeId, length = SHORT_ID_LENGTH): string {
  return id.length > length ? `${id.slice(0, length)}…` : id;
}

/** Local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${formatClock(ms)}`;
}

/** Local `HH:MM:SS`. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Coarse "how long ago": `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function formatAgo(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/**
 * Left-aligned columns separated by two spaces; no trailing blanks. Every cell is made one
 * line ({@link safeLine}; already escaped cells are unchanged), so no cell can break the
 * table whatever a column puts in it.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows].map((r) => r.map((cell) => safeLine(cell)));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Resolves an id to what a human knows it by: alias, announced name, else short id. */
export type Labeler = (id: NodeId) => string;

/** Builds a {@link Labeler} from a peer list; our own id reads `me`. */
export function labeler(peers: readonly PeerInfo[], selfId?: NodeId): Labeler {
  const byId = new Map(peers.map((p) => [p.id, p]));
  return (id) => {
    if (id === selfId) return 'me';
    const p = byId.get(id);
    return safeLabel(p?.alias ?? p?.name ?? shortId(id));
  };
}

/** `direct, outbound` or `relay <relay id>` while connected, else `offline`. */
export function connectionText(p: PeerInfo): string {
  if (!p.connected) return 'offline';
  if (p.path === 'relay') return `relay ${safeDetail(shortId(p.relay?.split(' ')[0] ?? '?'))}`;
  return [p.path, p.method].filter((x) => x !== null).join(', ') || 'connected';
}

/** Round-trip time in whole milliseconds, or `-`. */
export function rttText(rttMs: number | null): string {
  return rttMs === null ? '-' : `${Math.round(rttMs)} ms`;
}

/**
 * How a peer is reached, in one cell: `direct 1.2.3.4:7000 (outbound)`, `relay <relay id
 * prefix> at host:port`, or `offline`.
 */
export function pathText(p: PeerInfo): string {
  if (!p.connected) return 'offline';
  if (p.path === 'relay') {
    const [relayId, ...where] = (p.relay ?? '?').split(' at ');
    const at = where.length > 0 ? ` at ${where.join(' at ')}` : '';
    return safeDetail(`relay ${(relayId ?? '?').slice(0, MIN_STRANGER_PREFIX)}${at}`);
  }
  const how = p.method ? ` (${p.method})` : '';
  return safeDetail(`${p.path ?? 'connected'}${p.address ? ` ${p.address}` : ''}${how}`);
}

/** Columns a peer table can show; `ids` holds each peer's copyable id prefix ({@link uniqueIdPrefixes}). */
export const PEER_COLUMNS = {
  id: { header: 'ID', cell: (p: PeerInfo, _now: number, ids: ReadonlyMap<NodeId, string>) => ids.get(p.id) ?? p.id },
  path: { header: 'PATH', cell: (p: PeerInfo) => pathText(p) },
  alias: { header: 'ALIAS', cell: (p: PeerInfo) => safeLabel(p.alias ?? '-') },
  trust: { header: 'TRUST', cell: (p: PeerInfo) => p.trust ?? '-' },
  name: { header: 'NAME', cell: (p: PeerInfo) => safeLabel(p.name ?? '-') },
  address: { header: 'ADDRESS', cell: (p: PeerInfo) => safeDetail(p.address ?? '-') },
  connection: { header: 'CONNECTION', cell: (p: PeerInfo) => connectionText(p) },
  rtt: { header: 'RTT', cell: (p: PeerInfo) => rttText(p.rttMs) },
  vpn: { header: 'VPN', cell: (p: PeerInfo) => (p.vpn ? `${p.vpn.ipv4}${p.vpn.allowed ? '' : ' (not allowed)'}` : '-') },
  lastSeen: {
    header: 'LAST SEEN',
    cell: (p: PeerInfo, now: number) => (p.lastSeen === null ? 'never' : formatAgo(p.lastSeen, now)),
  },
} as const;

/** Name of a peer table column. */
export type PeerColumn = keyof typeof PEER_COLUMNS;

/** Peer table; `No known peers.` when empty. Ids are the shortest prefixes every command accepts. */
export function formatPeers(peers: readonly PeerInfo[], columns: readonly PeerColumn[], now: number): string {
  if (peers.length === 0) return 'No known peers.';
  const headers = columns.map((c) => PEER_COLUMNS[c].header);
  const ids = uniqueIdPrefixes(peers);
  return formatTable(headers, peers.map((p) => columns.map((c) => PEER_COLUMNS[c].cell(p, now, ids))));
}

/**
 * `[time] from: text`; our own messages read `me -> to: text`, with ` (pending)` while
 * not yet delivered. A text of several lines continues on indented lines ({@link safeText}).
 */
export function formatHistoryLine(m: HistoryEntry, label: Labeler, selfId?: NodeId): string {
  const who = m.from === selfId ? `me -> ${label(m.to)}` : m.request ? `request from ${label(m.from)}` : label(m.from);
  const note = m.status === 'pending' ? ' (pending)' : m.status === 'refused' ? ' (refused by the peer)' : '';
  return `[${formatTime(m.timestamp)}] ${who}: ${safeText(m.text)}${note}`;
}

/**
 * Whether a progress event gets a line: not `connected`, which the dial's final line
 * ({@link formatDialResult}) says again with the time it took.
 */
export function showsProgress(p: DialProgress): boolean {
  return p.stage !== 'connected';
}

/**
 * One dial progress line: `[stage] message`, or the message alone when it already says the
 * stage (`resolving bob`, not `[resolving] resolving bob`).
 */
export function formatProgress(p: DialProgress): string {
  if (echoes(p.stage, p.message)) return safeDetail(p.message);
  return `[${safeDetail(p.stage)}] ${safeDetail(p.message)}`;
}

/** Final line of a dial. */
export function formatDialResult(r: DialResult): string {
  if (r.existing && r.path === 'relay') return `already connected to ${r.id} through relay ${safeDetail(r.relay ?? '?')}${r.explanation ? `\nwhy not direct: ${safeDetail(r.explanation)}` : ''}`;
  if (r.existing) return `already connected to ${r.id} at ${safeDetail(r.address)} (${safeDetail(r.method)})`;
  if (r.path === 'relay') return `connected through relay ${safeDetail(r.relay ?? '?')} to ${r.id} in ${Math.round(r.ms)} ms${r.explanation ? `\nwhy not direct: ${safeDetail(r.explanation)}` : ''}`;
  return `connected directly to ${r.id} at ${safeDetail(r.address)} by ${safeDetail(r.method)} in ${Math.round(r.ms)} ms`;
}

/** Outcome of a send. */
export function formatSendResult(r: SendResult, label: Labeler): string {
  if (r.status === 'pending') return `saved and queued for ${label(r.to)}: delivered once the peer acknowledges it`;
  return `${r.status} to ${label(r.to)}`;
}

/** One line for `requests`: who, how many, since when, and the start of the first. */
export function formatRequest(r: RequestSummary): string {
  return `${r.peer}  ${r.count} request(s), ${r.bytes} bytes, first ${new Date(r.first).toISOString()}: ${safeLine(r.preview, 80)}`;
}

/** The `nat` row of `status`: the kind the hole punching planner uses, in words. */
export const NAT_TEXT: Record<NonNullable<StatusInfo['network']>['nat'], string> = {
  public: 'none: the signaler sees one of our own addresses',
  easy: 'keeps the identity port (hole punching works with most peers)',
  hard: 'changes the identity port (punching needs the peer on an easy NAT; else a relay)',
  unknown: 'unknown (not registered with a signaler)',
};

/** Status as aligned `key: value` lines; every key and value is escaped (one line each). */
export function formatStatus(s: StatusInfo): string {
  const rows: Array<[string, string]> = [
    ['id', s.id],
    ['name', s.name ?? '-'],
    ['port', String(s.port)],
    ...(s.network ? [['listening', `${s.network.listenHost ?? 'all interfaces'}, port ${s.port}`] as [string, string]] : []),
    ['data dir', s.dataDir],
    ...signalerRows(s),
    ['public address', s.signaler.observed ?? '-'],
    ...(s.network ? [['nat', NAT_TEXT[s.network.nat]] as [string, string]] : []),
    ['hole punching', s.holePunching.available ? 'available' : `unavailable (${s.holePunching.reason ?? '?'})`],
    ['vpn', `${s.vpn.state}${s.vpn.tun ? ` on ${s.vpn.tun}, mtu ${s.vpn.mtu}` : ''}${s.vpn.reason ? ` (${s.vpn.reason})` : ''}`],
    ['vpn addresses', `${s.vpn.ipv4}, ${s.vpn.ipv6}`],
    ...(s.dns && s.dns.state !== 'off' ? [['vpn dns', s.dns.state === 'up' ? `*.sentinel on ${s.dns.address}` : `failed (${s.dns.reason})`] as [string, string]] : []),
    ...s.vpn.collisions.map((c): [string, string] => ['vpn collision', `${c.peer} claims ${c.address}, held by ${c.heldBy}`]),
    ...Object.entries(s.vpn.drops).map(([k, v]): [string, string] => [`vpn drops ${k}`, String(v)]),
    ['peers', `${s.peers} connected, ${s.known} known`],
    ['sessions', `${s.trust.sessions.contacts} with contacts, ${s.trust.sessions.strangers} with strangers, ${s.trust.sessions.pendingHandshakes} handshake(s) pending`],
    ...relayRows(s),
    ['uptime', formatDuration(s.uptimeMs)],
    ...Object.entries(s.counters).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  const safe = rows.map(([k, v]) => [safeDetail(k), safeDetail(v)] as const);
  const width = Math.max(...safe.map(([k]) => [...k].length)) + 1;
  return safe.map(([k, v]) => `${k}:${' '.repeat(width - [...k].length - 1)} ${v}`).join('\n');
}

/**
 * The signaler rows of `status`: the one in use (or being tried) with its id, then, with
 * more than one configured, each of them in order with its state and last error.
 */
function signalerRows(s: StatusInfo): Array<[string, string]> {
  const g = s.signaler;
  if (g.state === 'disabled') return [['signaler', 'disabled']];
  const at = g.endpoint && g.endpoint !== g.address ? ` at ${g.endpoint}` : '';
  const current = `${g.address} (${g.state})${at}, id ${g.id ?? '?'}${g.state !== 'connected' && g.list?.length === 1 && g.list[0]?.lastError ? `: ${g.list[0].lastError}` : ''}`;
  const rows: Array<[string, string]> = [['signaler', current]];
  const list = g.list ?? [];
  if (list.length > 1) {
    for (const [i, e] of list.entries()) {
      const id = e.id ? `, id ${e.id}${e.pinned ? ' (pinned)' : ''}` : '';
      rows.push([`signaler ${i + 1}`, `${e.address} ${e.state}${id}${e.lastError ? `; last error: ${e.lastError}` : ''}`]);
    }
  }
  return rows;
}

/** The relay rows of `status`: the relays this node may use, and what it offers. */
function relayRows(s: StatusInfo): Array<[string, string]> {
  const r = s.relay;
  if (!r) return [];
  const sl = r.signaler.limits;
  const limits = sl ? `: up to ${sl.maxCircuits} circuits, ${formatByteRate(sl.bytesPerSecond)}, idle timeout ${sl.idleTimeoutS}s` : '';
  const rows: Array<[string, string]> = [['signaler relay', r.signaler.available ? `available (${r.signaler.label ?? '?'})${limits}` : 'unavailable']];
  for (const p of r.peers) {
    const rtt = p.rttMs === null ? '' : `, rtt ${p.rttMs} ms`;
    const bound = p.bound ? `bound: up to ${p.bound.maxCircuits} circuits, ${formatByteRate(p.bound.bytesPerSecond)}, idle timeout ${p.bound.idleTimeoutS}s` : 'not bound (dialing only)';
    rows.push(['peer relay', `${p.id} at ${p.address}${rtt}; ${bound}; ${p.circuits} circuit(s)`]);
  }
  const o = r.offering;
  if (o) {
    const l = o.limits;
    rows.push(
      ['relaying', `for ${o.mode === 'all' ? 'anyone not blocked' : 'contacts'}; ${o.advertised ? 'advertised in the peer record' : `not advertised: ${o.reason ?? '?'}`}`],
      ['relay use', `${o.bound} node(s) bound (${o.boundStrangers} strangers), ${o.circuits} circuit(s) open, ${o.pending} pending, ${o.bytes} bytes relayed, ${o.throttled} frames throttled, ${o.queuedBytes} bytes queued`],
      [
        'relay limits',
        `${l.circuitsPerContact} circuits and ${formatByteRate(l.bytesPerSecondPerContact)} per contact, ${l.circuitsPerStranger} and ${formatByteRate(l.bytesPerSecondPerStranger)} per stranger; ${l.maxCircuits} circuits, ${l.maxBound} nodes (${l.maxBoundStrangers} strangers) in all; idle timeout ${Math.round(l.idleTimeoutMs / 1000)}s`,
      ],
    );
    const refused = Object.entries(o.refused).map(([k, v]) => `${k} ${v}`);
    if (refused.length > 0) rows.push(['relay refused', refused.join(', ')]);
  }
  return rows;
}

/** `1h 2m 3s`-style duration. */
export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const parts: string[] = [];
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  if (h > 0) parts.push(`${h}h`);
  if (h > 0 || m > 0) parts.push(`${m}m`);
  parts.push(`${total % 60}s`);
  return parts.join(' ');
}

/** One line for a node event, or null for events not worth showing (our own messages). */
export function formatEvent(e: NodeEvent, label: Labeler, selfId: NodeId): string | null {
  switch (e.type) {
    case 'message':
      if (e.message.from === selfId) return null;
      if (e.message.request) {
        const who = label(e.message.from);
        return `[${formatClock(e.message.timestamp)}] message request from ${who}: ${safeText(e.message.text)}\n    (not a contact: /requests lists what it sent, /accept ${e.message.from} to accept, /block ${e.message.from} to block)`;
      }
      return `[${formatClock(e.message.timestamp)}] ${label(e.message.from)}: ${safeText(e.message.text)}`;
    case 'delivered':
      return `* delivered to ${label(e.to)}`;
    case 'refused':
      return `* ${label(e.to)} refused a message (it does not take messages from this node)`;
    case 'peer-connected': {
      const how = e.peer.method === 'inbound' ? 'from' : 'to';
      const where = e.peer.address ? ` (${safeDetail(e.peer.method ?? 'connected')} ${how} ${safeDetail(e.peer.address)})` : '';
      const who = safeLabel(e.peer.alias ?? e.peer.name ?? shortId(e.peer.id));
      return `* ${who} connected${where}`;
    }
    case 'peer-disconnected':
      return `* ${label(e.id)} disconnected: ${safeDetail(e.reason)}`;
  }
}
