#!/usr/bin/env node
/**
 * `sentinel-node`: run a node. With a TTY on stdin it opens the interactive prompt;
 * without one it runs headless and logs to stderr until SIGINT/SIGTERM.
 */
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { DEFAULT_MTU, DEFAULT_PORT, DEFAULT_SIGNALER, DEFAULT_TUN_NAME, MAX_MTU, MIN_MTU, startNode, type NodeOptions, type SentinelNode, type VpnOptions } from '../node.js';
import type { StrangerPolicy } from '../api.js';
import { ERROR_CODES, errorMessage, isSentinelError } from '../errors.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { parseSignalerList } from '../signaler/index.js';
import { MAX_NAME_BYTES } from '../wire/index.js';
import { EXIT_FAILURE, EXIT_USAGE, formatByteRate, formatOptions, intOption, isEntryPoint, parseArgv, parseByteRate, usage, type OptionValues } from './args.js';
import { PEER_RELAY_RATE } from '../relay/limits.js';
import type { RelayMode } from '../relay/peer-server.js';
import { parseVpnIpv4Override, VPN_IPV4_PREFIX } from '../vpn/index.js';
import { DEFAULT_MIN_PEERS } from '../membership/reconnect.js';
import { DEFAULT_DNS_PORT } from '../dns/limits.js';
import { attachToCrashPolicy, runAsProcess, untilStopped } from './process.js';
import { createShell, type Shell } from './shell.js';
import { formatBanner, SignalerWatch } from './banner.js';
import { KEY_FILE } from '../identity/index.js';
import { parseWebAddress } from '../web/address.js';
import { parseMetricsListen } from '../metrics/address.js';
import { METRICS_HELP } from '../metrics/limits.js';

const OPTIONS = {
  port: { type: 'string', valueName: 'PORT', description: `identity port to listen and dial from (default ${DEFAULT_PORT}; 0 = any free port)` },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'where the key, the store and control.sock live (default ./.sentinel)' },
  signaler: {
    type: 'string',
    valueName: 'HOST:PORT[#ID][,...]',
    description: `signaler for lookups and hole punching; #ID pins its id, else it is trusted on first use; a comma-separated list: the first that answers is used and the next takes over when it fails; "none" to disable (default ${DEFAULT_SIGNALER})`,
  },
  name: { type: 'string', valueName: 'NAME', description: 'a name announced to peers' },
  host: { type: 'string', valueName: 'ADDR', description: 'listen address (default: all interfaces)' },
  'log-level': { type: 'string', valueName: 'LEVEL', description: `${LOG_LEVELS.join('|')} (default: info headless, warn interactive)` },
  tun: { type: 'boolean', description: 'run the VPN: a TUN device carrying IP traffic to allowed peers (needs root); --tun=optional: go on without it if it cannot start' },
  'tun-optional': { type: 'boolean', description: 'same as --tun=optional' },
  'tun-name': { type: 'string', valueName: 'NAME', description: `TUN interface name (default ${DEFAULT_TUN_NAME})` },
  mtu: { type: 'string', valueName: 'BYTES', description: `TUN MTU (default ${DEFAULT_MTU})` },
  'vpn-ip': { type: 'string', valueName: 'IPV4', description: 'use this VPN IPv4 address (inside 100.64.0.0/10) instead of the one derived from the id' },
  'dns-port': { type: 'string', valueName: 'PORT', description: `with --tun: the port of the DNS responder for <name>.sentinel on the VPN IPv4 (default ${DEFAULT_DNS_PORT}, UDP and TCP)` },
  'no-dns': { type: 'boolean', description: 'with --tun: do not answer DNS for <name>.sentinel on the VPN IPv4' },
  'no-mdns': { type: 'boolean', description: 'do not advertise or browse _sentinel._tcp.local on the LAN (mDNS)' },
  'min-peers': { type: 'string', valueName: 'N', description: `keep at least N sessions by dialing known peers; lost peers are redialed with backoff (default ${DEFAULT_MIN_PEERS})` },
  strangers: { type: 'string', valueName: 'POLICY', description: 'messages from strangers (peers you did not dial, message, alias, allow or accept): "requests" keeps them as message requests until you accept or block the sender (default), "accept" takes them as messages, "refuse" refuses them; always within the stranger quotas' },
  allow: { type: 'string', multiple: true, valueName: 'ID', description: 'allow VPN traffic with this peer (repeatable; persisted)' },
  relay: {
    type: 'string',
    valueName: 'WHO',
    description:
      'be a peer relay: forward the end-to-end encrypted sessions of peers that cannot connect directly (you see only ciphertext). --relay or --relay=contacts serves your contacts; --relay=all serves anyone not blocked, strangers with smaller quotas. Advertised in your signed peer record when this node is reachable from the internet',
  },
  'relay-rate': {
    type: 'string',
    valueName: 'BYTES_PER_SECOND',
    description: `with --relay: relayed bytes per second per contact, e.g. 2M; suffix K, M or G = KiB, MiB, GiB (default ${formatByteRate(PEER_RELAY_RATE)}; strangers get a quarter)`,
  },
  web: {
    type: 'string',
    valueName: '[ADDR:]PORT',
    description: 'serve the web dashboard on ADDR:PORT (a bare port: 127.0.0.1). Protected by a token kept in <data-dir>/web.token; the URL to open, with the token, is printed at start. A non-loopback ADDR is served only when written out, with a warning',
  },
  metrics: { type: 'string', valueName: 'ADDR', description: METRICS_HELP },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const HELP = `Usage: sentinel-node [options]

Runs a Sentinel node: an Ed25519 identity, mutually authenticated TLS 1.3 sessions
with peers (directly, or through NATs by TCP hole punching coordinated by the
signaler), durable signed messaging, peer discovery (mDNS on the LAN, gossip of
signed peer records) and, with --tun, a VPN to allowed peers. With a terminal it
opens an interactive prompt (type /help there); without one it runs headless,
logging to stderr. Script a running node with the \`sentinel\` command.

Contacts and strangers: a contact is a peer you chose (dialed, messaged, aliased,
allowed or accepted); anyone else is a stranger. Strangers can connect, but get
few session slots, small message quotas (their messages wait as message requests
by default) and no VPN traffic; block anyone with /block.

Relays: when two nodes cannot connect directly (both behind port-randomizing NATs,
say), their session runs through a relay: a peer relay (a node started with
--relay that both can reach) or the signaler. It is the same end-to-end TLS
session, so a relay sees only ciphertext; the nodes keep trying to go direct and
move over once they can.

Options:
${formatOptions(OPTIONS)}
`;

interface IO {
  stdout: Writable;
  stderr: Writable;
}

/** Parse flags and start; returns the exit code once the node has stopped. */
export async function main(argv: string[], io: IO = process): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    io.stderr.write(`sentinel-node: ${errorMessage(err)} (see --help)\n`);
    return EXIT_USAGE;
  }
  if (parsed === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const interactive = process.stdin.isTTY === true;
  if (parsed.webWarning) io.stderr.write(`sentinel-node: warning: ${parsed.webWarning}\n`);
  const level: LogLevel = parsed.logLevel ?? (interactive ? 'warn' : 'info');
  const log = createLogger(level, (line) => io.stderr.write(`${line}\n`));
  // Signals are handled from the start: a SIGTERM while the node is still starting (its
  // control socket may already answer) closes it gracefully once the start settles,
  // instead of Node's default of dying on the spot.
  const starting = startNode({ ...parsed.options, log });
  let shell: Shell | undefined;
  const stopper = untilStopped(
    async () => {
      shell?.close();
      const started = await starting.catch(() => undefined);
      await started?.close();
    },
    { name: 'sentinel-node' },
  );
  let node: SentinelNode;
  try {
    node = await starting;
  } catch (err) {
    io.stderr.write(`sentinel-node: ${isSentinelError(err) ? err.message : errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
  // Survived unhandled rejections show in `status` and go to the node's log.
  attachToCrashPolicy({ count: (name) => node.counters.inc(name), log });
  if (node.web) io.stdout.write(`web: ${node.web.loginUrl}\n`);
  if (node.metricsUrl) io.stdout.write(`metrics: ${node.metricsUrl}\n`);
  if (interactive) shell = runInteractive(node, io, () => stopper.stop(), parsed.options.host);
  return stopper.exitCode;
}

function parseArgs(argv: string[]) {
  // `--tun=optional` reads naturally; the parser knows it as --tun-optional.
  const { values, positionals } = parseArgv(normalizeFlags(argv), OPTIONS);
  if (values.help) return 'help' as const;
  if (positionals.length > 0) throw usage(`unexpected argument "${positionals[0]}"`);
  const signaler = values.signaler ?? DEFAULT_SIGNALER;
  if (signaler !== 'none') checkSignalers(signaler);
  const level = values['log-level'];
  if (level !== undefined && !isLogLevel(level)) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const web = parseWeb(values.web);
  if (values.name !== undefined && Buffer.byteLength(values.name) > MAX_NAME_BYTES) throw usage(`--name is at most ${MAX_NAME_BYTES} bytes`);
  return {
    logLevel: level as LogLevel | undefined,
    webWarning: web && !web.loopback ? `--web ${values.web}: the dashboard is reachable from other machines (token-protected, plain HTTP: anyone on the path sees the token)` : null,
    options: {
      port: intOption('port', values.port, { min: 0, max: 65535 }) ?? DEFAULT_PORT,
      dataDir: resolve(values['data-dir'] ?? './.sentinel'),
      signaler: signaler === 'none' ? null : signaler,
      name: values.name ?? null,
      ...(values.host !== undefined ? { host: values.host } : {}),
      vpn: parseVpn(values),
      dns: parseDns(values),
      mdns: values['no-mdns'] !== true,
      minPeers: intOption('min-peers', values['min-peers'], { min: 0, max: 1000 }) ?? DEFAULT_MIN_PEERS,
      strangers: parseStrangers(values.strangers),
      relay: parseRelay(values.relay, values['relay-rate']),
      web: web && { host: web.host, port: web.port },
      metrics: values.metrics === undefined ? null : parseMetricsListen(values.metrics),
    },
  };
}

/**
 * Spellings the parser does not know: `--tun=optional` (it knows --tun-optional), and a
 * bare `--relay` (it takes a value): `--relay` alone is `--relay=contacts`, `--relay all`
 * is `--relay=all`.
 */
function normalizeFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--tun=optional') out.push('--tun-optional');
    else if (a === '--relay') {
      const next = argv[i + 1];
      if (next !== undefined && (RELAY_MODES as readonly string[]).includes(next)) {
        out.push(`--relay=${next}`);
        i++;
      } else out.push('--relay=contacts');
    } else out.push(a);
  }
  return out;
}

const RELAY_MODES: readonly RelayMode[] = ['contacts', 'all'];

/** `--dns-port` / `--no-dns`: the DNS responder runs with the VPN unless told not to. */
function parseDns(values: OptionValues<typeof OPTIONS>): NodeOptions['dns'] {
  const port = intOption('dns-port', values['dns-port'], { min: 1, max: 65535 });
  const off = values['no-dns'] === true;
  const flag = port !== undefined ? '--dns-port' : off ? '--no-dns' : null;
  if (flag !== null && values.tun !== true && values['tun-optional'] !== true) throw usage(`${flag} needs --tun`);
  if (off && port !== undefined) throw usage('--dns-port and --no-dns exclude each other');
  return off ? null : port === undefined ? undefined : { port };
}

function parseRelay(mode: string | undefined, rate: string | undefined): NodeOptions['relay'] {
  if (mode === undefined) {
    if (rate !== undefined) throw usage('--relay-rate needs --relay');
    return null;
  }
  if (!(RELAY_MODES as readonly string[]).includes(mode)) throw usage(`--relay must be "contacts" or "all", got "${mode}"`);
  return { mode: mode as RelayMode, ...(rate !== undefined ? { bytesPerSecond: parseByteRate('relay-rate', rate) } : {}) };
}

/** `--web [ADDR:]PORT`; a malformed value is a usage error. */
function parseWeb(value: string | undefined): ReturnType<typeof parseWebAddress> | null {
  if (value === undefined) return null;
  try {
    return parseWebAddress(value);
  } catch (err) {
    throw usage(errorMessage(err).replace(`${ERROR_CODES.E_USAGE}: `, ''));
  }
}

const STRANGER_POLICIES: readonly StrangerPolicy[] = ['requests', 'accept', 'refuse'];

function parseStrangers(value: string | undefined): StrangerPolicy {
  if (value === undefined) return 'requests';
  if (!(STRANGER_POLICIES as readonly string[]).includes(value)) throw usage(`--strangers must be one of ${STRANGER_POLICIES.join(', ')}, got "${value}"`);
  return value as StrangerPolicy;
}

function parseVpn(values: OptionValues<typeof OPTIONS>): VpnOptions | null {
  const wanted = values.tun === true || values['tun-optional'] === true;
  const vpnOnly = (['tun-name', 'mtu', 'vpn-ip'] as const).find((k) => values[k] !== undefined);
  if (!wanted) {
    if (vpnOnly) throw usage(`--${vpnOnly} needs --tun`);
    return values.allow?.length ? { mode: 'off', tunName: DEFAULT_TUN_NAME, mtu: DEFAULT_MTU, ipv4: null, allow: values.allow } : null;
  }
  const ipv4 = values['vpn-ip'];
  if (ipv4 !== undefined && !parseVpnIpv4Override(ipv4)) throw usage(`--vpn-ip must be an IPv4 address inside ${VPN_IPV4_PREFIX}, got "${ipv4}"`);
  const tunName = values['tun-name'] ?? DEFAULT_TUN_NAME;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tunName)) throw usage('--tun-name must be 1-15 letters, digits, ".", "_" or "-"');
  return {
    mode: values['tun-optional'] === true ? 'optional' : 'required',
    tunName,
    mtu: intOption('mtu', values.mtu, { min: MIN_MTU, max: MAX_MTU }) ?? DEFAULT_MTU,
    ipv4: ipv4 ?? null,
    allow: values.allow ?? [],
  };
}

/** The prompt: /quit and signals share one bounded stop (a second request exits at once). */
function runInteractive(node: SentinelNode, io: IO, quit: () => void, host: string | undefined): Shell {
  const status = node.status();
  io.stdout.write(`${formatBanner(status, { newIdentity: node.identityCreated, keyFile: join(node.dataDir, KEY_FILE), host })}\n`);
  const shell = createShell({ api: node, input: process.stdin, output: io.stdout, terminal: true, onQuit: quit });
  // The first signaler connection is usually still under way: say when it is up (or lost).
  const watch = new SignalerWatch(status);
  const timer = setInterval(() => {
    const line = watch.next(node.status());
    if (line !== null) shell.print(line);
  }, SIGNALER_WATCH_INTERVAL_MS);
  timer.unref();
  return {
    close: () => {
      clearInterval(timer);
      shell.close();
    },
    print: (text) => shell.print(text),
  };
}

/** How often the prompt looks at the signaler's state for its one-line updates. */
const SIGNALER_WATCH_INTERVAL_MS = 1_000;

if (isEntryPoint(import.meta.url)) runAsProcess('sentinel-node', main);

/** `--signaler`: a list of `host:port[#id]`; a bad entry is a usage error naming it. */
function checkSignalers(text: string): void {
  try {
    parseSignalerList(text);
  } catch (err) {
    throw usage(`--signaler must be host:port, host:port#<signaler id>, a comma-separated list of them, or "none": ${errorMessage(err)}`);
  }
}
