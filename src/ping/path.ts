/**
 * What `ping` says about the path a session takes: direct (and how it was reached, and
 * whether on the LAN) or through which relay. Pure.
 */
import { BlockList } from 'node:net';
import type { ConnectMethod, NodeId, PingPath } from '../api.js';
import { parseHostPort } from '../core/host-port.js';

/** The parts of a session the path is read from. */
export interface SessionPathView {
  method: ConnectMethod;
  /** host:port of the peer; for a relayed session `relay <relay id> at host:port`. */
  remoteAddress: string;
}

const lanRanges = new BlockList();
lanRanges.addSubnet('10.0.0.0', 8, 'ipv4');
lanRanges.addSubnet('172.16.0.0', 12, 'ipv4');
lanRanges.addSubnet('192.168.0.0', 16, 'ipv4');
lanRanges.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local
lanRanges.addSubnet('127.0.0.0', 8, 'ipv4'); // this machine
lanRanges.addSubnet('fc00::', 7, 'ipv6'); // unique local
lanRanges.addSubnet('fe80::', 10, 'ipv6'); // link-local
lanRanges.addAddress('::1', 'ipv6');
// 100.64/10 (carrier-grade NAT) is left out on purpose: an address there is not our LAN.

/** True when `host` (an IP address, IPv4-mapped IPv6 as IPv4) is private, loopback or link-local. */
export function isLanAddress(host: string): boolean {
  const zoneless = host.split('%', 1)[0] ?? host;
  try {
    return lanRanges.check(zoneless, zoneless.includes(':') ? 'ipv6' : 'ipv4');
  } catch {
    return false; // not an IP address (a name): not known to be local
  }
}

const VIA: Record<ConnectMethod, PingPath['via']> = {
  outbound: 'dialed',
  inbound: 'inbound',
  'tcp-simultaneous-open': 'punched',
  relay: 'relay',
};

/**
 * The path of a session. `signalerId`: the id of the signaler we are registered with (a
 * relay with that id is the signaler's relay), or null.
 */
export function pathOf(s: SessionPathView, signalerId: NodeId | null): PingPath {
  if (s.method === 'relay') {
    const relay = s.remoteAddress.replace(/^relay /, '');
    const relayId = relay.split(' ', 1)[0] ?? '';
    const address = relay.includes(' at ') ? relay.slice(relay.lastIndexOf(' at ') + 4) : relay;
    return { kind: 'relay', address, method: s.method, via: 'relay', lan: false, relay, relayKind: signalerId !== null && relayId === signalerId ? 'signaler' : 'peer' };
  }
  const host = parseHostPort(s.remoteAddress)?.host ?? s.remoteAddress;
  return { kind: 'direct', address: s.remoteAddress, method: s.method, via: VIA[s.method], lan: isLanAddress(host), relay: null, relayKind: null };
}

/**
 * One line for people: `direct 203.0.113.5:7000 (punched)`, `direct 192.168.1.4:8443
 * (dialed, lan)`, `relay <id> at 198.51.100.1:8888 (the signaler)`. `shortId` shortens
 * the relay's id (the caller knows how its ids are shown).
 */
export function formatPath(p: PingPath, shortId: (id: string) => string = (id) => id): string {
  if (p.kind === 'relay') {
    const relay = p.relay ?? p.address;
    const [id, ...rest] = relay.split(' ');
    return `relay ${shortId(id ?? '')}${rest.length ? ` ${rest.join(' ')}` : ''}${p.relayKind === 'signaler' ? ' (the signaler)' : ' (a peer relay)'}`;
  }
  return `direct ${p.address} (${p.via}${p.lan ? ', lan' : ''})`;
}
