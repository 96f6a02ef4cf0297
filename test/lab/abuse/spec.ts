/**
 * What the attacker toolkit can be told to do, as plain JSON (the harness writes it on the
 * command line of `attacker.js`, which runs inside a lab namespace), and the hard bounds
 * every attack obeys whatever its spec says: each loop is bounded in count and in time and
 * stops by itself, and traffic goes only to the lab addresses the spec names.
 */

/** `host:port` of something in the lab. */
export interface Addr {
  host: string;
  port: number;
}

/** Longest any attack runs, whatever its spec says. */
export const MAX_ATTACK_MS = 120_000;
/** After its duration, an attack gets this long to close what it opened and report. */
export const ATTACK_WIND_DOWN_MS = 5_000;
/** Most TLS sessions (throw-away identities) one attacker process opens in all. */
export const MAX_ATTACK_SESSIONS = 4_096;
/** Most plain TCP connections one drip attack opens in all (reopens included). */
export const MAX_DRIP_OPENS = 250_000;
/** Most frames one session of an attack writes. */
export const MAX_FRAMES_PER_SESSION = 250_000;
/** Most forged mDNS packets one attack sends. */
export const MAX_MDNS_PACKETS = 10_000;
/** Most signed peer records one gossip flood makes. */
export const MAX_GOSSIP_RECORDS = 20_000;
/** Bound on one TCP connect + TLS handshake of the toolkit. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Unicast mDNS responses to `target`:5353 (TTL `ttl`, 0: the system default), `pps` per
 * second for `durationMs`, each announcing `idsPerPacket` fresh ids at `victim`:`victimPort`.
 */
export interface MdnsSpec {
  kind: 'mdns';
  target: string;
  victim: string;
  victimPort: number;
  ttl: number;
  pps: number;
  idsPerPacket: number;
  durationMs: number;
}

/**
 * `ids` throw-away identities, each with one session to `target` (from `sources` in turn),
 * each sending `chatsPerId` signed CHATs of `textBytes` bytes of text to the node `to`; a
 * new id every `idGapMs` (a few at a time). Counts the ACKs and CHAT_REFUSED answers.
 */
export interface ChatFloodSpec {
  kind: 'chat-flood';
  target: Addr;
  to: string;
  ids: number;
  chatsPerId: number;
  textBytes: number;
  idGapMs: number;
  sources?: string[];
  durationMs: number;
}

/**
 * One session to `target` (with the identity in `keyFile`, or a fresh one) that says
 * VPN_ADDR claiming `claim` and stays for `durationMs`, counting the PACKETS it receives
 * and how many of them were for each address in `watch`.
 */
export interface VpnClaimSpec {
  kind: 'vpn-claim';
  target: Addr;
  keyFile?: string;
  claim: { ipv4: string; ipv6: string };
  watch: string[];
  durationMs: number;
}

/**
 * `ids` throw-away identities registered with the signaler (each REGISTER carrying `locals`
 * as its local endpoints), each asking it every `intervalMs` to punch the node `target`
 * (its id), for `durationMs`. Counts PUNCH_START and SIGNAL_ERROR answers.
 */
export interface PunchStormSpec {
  kind: 'punch-storm';
  signaler: Addr;
  target: string;
  ids: number;
  intervalMs: number;
  locals: Addr[];
  listenPort: number;
  durationMs: number;
}

/**
 * `sessionsPerSource` sessions from each address in `sources` (throw-away ids), together
 * pushing `records` validly signed records of throw-away ids announcing `endpoints`, as
 * fast as the receiver's push rate lets a partner (a burst, then one push per `pushEveryMs`).
 */
export interface GossipFloodSpec {
  kind: 'gossip-flood';
  target: Addr;
  sources: string[];
  sessionsPerSource: number;
  records: number;
  endpoints: Addr[];
  burst: number;
  pushEveryMs: number;
  durationMs: number;
}

/**
 * `sessionsPerSource` sessions from each of `sources` sending empty GOSSIP_PUSH frames
 * (`pushesPerSession` in all, 256 at a time, `batchGapMs` apart) and never reading what
 * comes back.
 */
export interface PullAmpSpec {
  kind: 'pull-amp';
  target: Addr;
  sources: string[];
  sessionsPerSource: number;
  pushesPerSession: number;
  batchGapMs: number;
  durationMs: number;
}

/**
 * Sessions (throw-away ids, up to `sessions`) each writing `hellosPerSession` HELLO frames
 * at once, one after the other (`gapMs` apart) until `durationMs`.
 */
export interface HelloFloodSpec {
  kind: 'hello-flood';
  target: Addr;
  sessions: number;
  hellosPerSession: number;
  gapMs: number;
  durationMs: number;
}

/**
 * Half-open TLS: `socketsPerSource` TCP connections from each of `sources`, spread over
 * `targets`, each dripping a real ClientHello one byte every `byteIntervalMs` (never
 * finishing it). A connection the target closes is opened again until `durationMs`.
 */
export interface DripSpec {
  kind: 'drip';
  targets: Addr[];
  sources: string[];
  socketsPerSource: number;
  byteIntervalMs: number;
  durationMs: number;
}

/**
 * Session-slot exhaustion: `sessionsPerSource` sessions from each of `sources`, each a
 * throw-away id that completes TLS and HELLO and then holds its session (answering PINGs)
 * until `durationMs`.
 */
export interface SessionsSpec {
  kind: 'sessions';
  target: Addr;
  sources: string[];
  sessionsPerSource: number;
  durationMs: number;
}

/**
 * Untrusted text: one session announcing `name` in its HELLO, sending a CHAT with `text`
 * to the node `to`, then GOAWAY with `reason`.
 */
export interface InjectSpec {
  kind: 'inject';
  target: Addr;
  to: string;
  name: string;
  text: string;
  reason: string;
  durationMs: number;
}

export type AttackSpec =
  | MdnsSpec
  | ChatFloodSpec
  | VpnClaimSpec
  | PunchStormSpec
  | GossipFloodSpec
  | PullAmpSpec
  | HelloFloodSpec
  | DripSpec
  | SessionsSpec
  | InjectSpec;

/** What an attack reports when it ends: named counts (sent, admitted, refused, ...). */
export interface AttackResult {
  kind: AttackSpec['kind'];
  elapsedMs: number;
  counts: Record<string, number>;
}

/** The line `attacker.js` ends with: `result <json>`. */
export const RESULT_PREFIX = 'result ';
