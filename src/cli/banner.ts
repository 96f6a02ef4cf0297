/**
 * What `sentinel-node` says when its prompt opens: who this node is (and whether the key
 * was just made), where it listens, the signaler's state and the VPN addresses; then one
 * line when the signaler's state moves to or from connected, since at banner time the
 * first connection is usually still under way. Pure: status in, lines out.
 */
import type { StatusInfo } from '../api.js';
import { safeDetail } from './format.js';

/** What the banner needs besides the status. */
export interface BannerInfo {
  /** True when this start created the key (a new identity). */
  newIdentity: boolean;
  /** Path of the key file. */
  keyFile: string;
  /** Listen address as given (`--host`), or undefined for all interfaces. */
  host?: string | undefined;
}

/** The banner: one fact per line, ending with the hint to type /help. */
export function formatBanner(s: StatusInfo, info: BannerInfo): string {
  const identity = info.newIdentity ? `new (key just created: ${info.keyFile})` : `existing (${info.keyFile})`;
  return [
    `Sentinel node ${s.id}`,
    `identity:  ${safeDetail(identity)}`,
    `listening: ${safeDetail(info.host ?? 'all interfaces')}, port ${s.port}; data in ${safeDetail(s.dataDir)}`,
    `signaler:  ${signalerText(s)}`,
    `vpn:       ${vpnText(s)}`,
    'Type /help for commands, /status for details.',
  ].join('\n');
}

/** The signaler's state in a few words: `connected to ...`, `connecting to ...`, `none`. */
export function signalerText(s: StatusInfo): string {
  const g = s.signaler;
  const at = safeDetail(g.address);
  switch (g.state) {
    case 'disabled':
      return 'none (--signaler none: LAN discovery and direct dials only)';
    case 'connected':
      return `connected to ${at}${g.id ? ` (id ${g.id})` : ''}${g.observed ? `, public address ${safeDetail(g.observed)}` : ''}`;
    case 'connecting':
    case 'standby':
      return `connecting to ${at}`;
    default: {
      const err = g.list?.find((e) => e.address === g.address)?.lastError;
      return `${g.state}: ${at}${err ? ` (${safeDetail(err)})` : ''}; retrying`;
    }
  }
}

/** The VPN's addresses, and whether it runs. */
export function vpnText(s: StatusInfo): string {
  const v = s.vpn;
  const addrs = `${v.ipv4}, ${v.ipv6}`;
  if (v.state === 'up') return `${addrs} on ${safeDetail(v.tun ?? '?')}`;
  if (v.state === 'unavailable') return `unavailable (${safeDetail(v.reason ?? '?')}); addresses would be ${addrs}`;
  return `VPN off (start with --tun); addresses would be ${addrs}`;
}

/**
 * Tells the prompt when the signaler gets connected or loses its connection, once per
 * change (not per failed retry: those are in /status).
 */
export class SignalerWatch {
  private connected: boolean;

  /** `initial`: the status the banner showed. */
  constructor(initial: StatusInfo) {
    this.connected = initial.signaler.state === 'connected';
  }

  /** A line when connected-ness changed since the last call, else null. */
  next(s: StatusInfo): string | null {
    const now = s.signaler.state === 'connected';
    if (now === this.connected || s.signaler.state === 'disabled') return null;
    this.connected = now;
    return now ? `* signaler: ${signalerText(s)}` : `* signaler: lost ${safeDetail(s.signaler.address)}, ${signalerText(s)}`;
  }
}
