#!/usr/bin/env node
/**
 * `sentinel-signaler`: the matchmaker (and, unless `--no-relay`, a blind relay). Prints its
 * id, address and relay setting, then serves until SIGINT/SIGTERM, logging to stderr.
 */
import { resolve } from 'node:path';
import { prepareDataDir } from '../core/data-dir.js';
import { errorCode, errorMessage, isSentinelError } from '../errors.js';
import { loadOrCreateIdentity } from '../identity/index.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { RELAY_RATE, SignalerServer } from '../signaler/index.js';
import { formatHostPort } from '../transport/index.js';
import { EXIT_FAILURE, EXIT_USAGE, formatByteRate, formatBytes, formatOptions, intOption, isEntryPoint, parseArgv, parseByteRate, usage } from './args.js';
import { runAsProcess, untilSignal } from './process.js';

export const DEFAULT_SIGNALER_PORT = 8888;

const OPTIONS = {
  port: { type: 'string', valueName: 'PORT', description: `port to listen on (default ${DEFAULT_SIGNALER_PORT})` },
  host: { type: 'string', valueName: 'ADDR', description: 'address to listen on (default: all, IPv4 and IPv6)' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'where its identity key lives (default ./.signaler)' },
  'log-level': { type: 'string', valueName: 'LEVEL', description: `${LOG_LEVELS.join('|')} (default info)` },
  'no-relay': { type: 'boolean', description: 'do not relay traffic between nodes (RELAY_OPEN is refused)' },
  'relay-rate': {
    type: 'string',
    valueName: 'BYTES_PER_SECOND',
    description: `relayed bytes per second per node, e.g. 2M; suffix K, M or G = KiB, MiB, GiB (default ${formatByteRate(RELAY_RATE.bytesPerSecond)})`,
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

const HELP = `Usage: sentinel-signaler [options]

Runs the Sentinel signaler: nodes register over mutually authenticated TLS 1.3, look
each other up, and ask it to coordinate TCP hole punching. It has its own persistent
identity; nodes can pin it with --signaler host:port#<id> (printed below at start).
Unless --no-relay is given it also relays between two registered nodes that cannot
connect directly: it forwards their end-to-end encrypted session (it sees only
ciphertext), at most --relay-rate bytes per second per node. A port below 1024 (e.g.
--port 443) needs root or CAP_NET_BIND_SERVICE.

Options:
${formatOptions(OPTIONS)}
`;

interface IO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export async function main(argv: string[], io: IO = process): Promise<number> {
  let values;
  try {
    const parsed = parseArgv(argv, OPTIONS);
    if (parsed.positionals.length > 0) throw usage(`unexpected argument "${parsed.positionals[0]}"`);
    values = parsed.values;
    if (values['log-level'] !== undefined && !isLogLevel(values['log-level'])) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  } catch (err) {
    io.stderr.write(`sentinel-signaler: ${errorMessage(err)} (see --help)\n`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  let port: number;
  let relayRate: number | undefined;
  try {
    port = intOption('port', values.port, { min: 0, max: 65535 }) ?? DEFAULT_SIGNALER_PORT;
    relayRate = values['relay-rate'] === undefined ? undefined : parseByteRate('relay-rate', values['relay-rate']);
    if (values['no-relay'] && relayRate !== undefined) throw usage('--relay-rate and --no-relay exclude each other');
  } catch (err) {
    io.stderr.write(`sentinel-signaler: ${errorMessage(err)}\n`);
    return EXIT_USAGE;
  }
  let host = values.host ?? '::';
  const dataDir = resolve(values['data-dir'] ?? './.signaler');
  const log = createLogger((values['log-level'] as LogLevel | undefined) ?? 'info', (l) => io.stderr.write(`${l}\n`));
  // Signals are handled from the start: a SIGTERM during startup closes what was started.
  const starting = (async (): Promise<SignalerServer> => {
    await prepareDataDir(dataDir);
    const { identity } = await loadOrCreateIdentity(dataDir);
    const server = new SignalerServer({ identity, log, relay: { enabled: !values['no-relay'], ...(relayRate !== undefined ? { bytesPerSecond: relayRate } : {}) } });
    try {
      // '::' is dual-stack (Node's default): IPv4 nodes arrive IPv4-mapped and are seen unmapped.
      await server.listen(port, host);
    } catch (err) {
      if (values.host !== undefined || !['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(errorCode(err) ?? '')) throw err;
      host = '0.0.0.0'; // no IPv6 on this host
      await server.listen(port, host);
    }
    return server;
  })();
  const stopped = untilSignal(async () => {
    const started = await starting.catch(() => undefined);
    await started?.close();
  });
  let server: SignalerServer;
  try {
    server = await starting;
  } catch (err) {
    const text = isSentinelError(err) ? err.message : errorMessage(err);
    // The transport reports EACCES as "not allowed to listen on port N".
    const hint = port > 0 && port < 1024 && /not allowed to listen/.test(text) ? ' (a port below 1024 needs root or CAP_NET_BIND_SERVICE)' : '';
    io.stderr.write(`sentinel-signaler: ${text}${hint}\n`);
    return EXIT_FAILURE;
  }
  const relay = server.relay.enabled ? `on, ${formatByteRate(server.relay.limits.bytesPerSecond)} per node (burst ${formatBytes(server.relay.limits.burstBytes)})` : 'off (--no-relay)';
  io.stdout.write(`signaler ${server.id}\nlistening on ${formatHostPort(host, server.port)}\nrelaying: ${relay}\npin it with: --signaler <this-host>:${server.port}#${server.id}\n`);
  return stopped;
}

if (isEntryPoint(import.meta.url)) runAsProcess('sentinel-signaler', main);
