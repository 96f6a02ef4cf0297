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
import { SIGNAL_MAX_SESSIONS } from '../signaler/limits.js';
import { RedisBackend, checkRedisUrl } from '../cluster/redis-backend.js';

/** Default prefix of a cluster's Redis keys and channels. */
export const DEFAULT_REDIS_PREFIX = 'sentinel:';
import { formatHostPort } from '../transport/index.js';
import { EXIT_FAILURE, EXIT_USAGE, formatByteRate, formatBytes, formatOptions, intOption, isEntryPoint, parseArgv, parseByteRate, usage } from './args.js';
import { runAsProcess, untilSignal } from './process.js';
import { globalIpv6Addresses } from '../netcheck/interfaces.js';
import { parseMetricsListen, serveMetrics, signalerRegistry, type MetricsListen, type MetricsServer } from '../metrics/endpoint.js';
import { METRICS_HELP } from '../metrics/limits.js';

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
  redis: {
    type: 'string',
    valueName: 'URL',
    description: 'join a signaler cluster that shares this Redis: redis://[:password@]host:6379[/db], or rediss:// for TLS (default: standalone, no Redis)',
  },
  'redis-prefix': { type: 'string', valueName: 'PREFIX', description: `prefix of the cluster's Redis keys and channels (default ${DEFAULT_REDIS_PREFIX}); one Redis can hold several clusters` },
  'probe-port': { type: 'string', valueName: 'PORT|off', description: 'plain TCP port that tells each connection its source address, for `sentinel netcheck` (default: port + 1; off: none)' },
  'max-nodes': { type: 'string', valueName: 'N', description: `nodes registered at this instance at once (default ${SIGNAL_MAX_SESSIONS})` },
  metrics: { type: 'string', valueName: 'ADDR', description: METRICS_HELP },
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

With --redis, any number of signalers that share one Redis form a cluster: a node
registered at any of them can be looked up, punched to and relayed to from all of
them. Redis holds routing hints only; every node still proves its id over TLS. Give
nodes several instances (sentinel-node --signaler a:8888,b:8888) so they move to
another when theirs dies. See docs/SCALING.md.

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
  let maxNodes: number;
  let probePort: number | null;
  let metricsAt: MetricsListen | null;
  try {
    metricsAt = values.metrics === undefined ? null : parseMetricsListen(values.metrics);
    maxNodes = intOption('max-nodes', values['max-nodes'], { min: 1, max: 1_000_000 }) ?? SIGNAL_MAX_SESSIONS;
    if (values.redis !== undefined) {
      const bad = checkRedisUrl(values.redis);
      if (bad) throw usage(`--redis: ${bad}`);
    } else if (values['redis-prefix'] !== undefined) throw usage('--redis-prefix needs --redis');
    port = intOption('port', values.port, { min: 0, max: 65535 }) ?? DEFAULT_SIGNALER_PORT;
    probePort = netcheckProbePort(values['probe-port'], port);
    relayRate = values['relay-rate'] === undefined ? undefined : parseByteRate('relay-rate', values['relay-rate']);
    if (values['no-relay'] && relayRate !== undefined) throw usage('--relay-rate and --no-relay exclude each other');
  } catch (err) {
    io.stderr.write(`sentinel-signaler: ${errorMessage(err)}\n`);
    return EXIT_USAGE;
  }
  let host = values.host ?? '::';
  const dataDir = resolve(values['data-dir'] ?? './.signaler');
  const log = createLogger((values['log-level'] as LogLevel | undefined) ?? 'info', (l) => io.stderr.write(`${l}\n`));
  let metrics: MetricsServer | undefined;
  // Signals are handled from the start: a SIGTERM during startup closes what was started.
  const starting = (async (): Promise<SignalerServer> => {
    await prepareDataDir(dataDir);
    const { identity } = await loadOrCreateIdentity(dataDir);
    const cluster = values.redis === undefined ? undefined : new RedisBackend(values.redis, values['redis-prefix'] ?? DEFAULT_REDIS_PREFIX);
    const server = new SignalerServer({
      identity,
      log,
      limits: { maxSessions: maxNodes, maxStrangerSessions: maxNodes },
      relay: { enabled: !values['no-relay'], ...(relayRate !== undefined ? { bytesPerSecond: relayRate } : {}) },
      ...(cluster ? { cluster } : {}),
      ...(probePort !== null ? { netcheck: { probePort, optional: values['probe-port'] === undefined, addresses6: () => globalIpv6Addresses(host) } } : {}),
    });
    // Before the listener: a taken metrics port fails the start before nodes can register.
    if (metricsAt) metrics = await serveMetrics(metricsAt, signalerRegistry(server), log);
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
    await metrics?.close();
    await started?.close();
  });
  let server: SignalerServer;
  try {
    server = await starting;
  } catch (err) {
    await metrics?.close();
    const text = isSentinelError(err) ? err.message : errorMessage(err);
    // The transport reports EACCES as "not allowed to listen on port N".
    const hint = port > 0 && port < 1024 && /not allowed to listen/.test(text) ? ' (a port below 1024 needs root or CAP_NET_BIND_SERVICE)' : '';
    io.stderr.write(`sentinel-signaler: ${text}${hint}\n`);
    return EXIT_FAILURE;
  }
  const relay = server.relay.enabled ? `on, ${formatByteRate(server.relay.limits.bytesPerSecond)} per node (burst ${formatBytes(server.relay.limits.burstBytes)})` : 'off (--no-relay)';
  const link = server.clustered?.link;
  const clusterLine = link ? `cluster: Redis at ${link.label} as instance ${link.instance} (${link.instances.length} instance(s) live)\n` : '';
  const probeLine = `netcheck probe port: ${server.netcheck.port === 0 ? 'off' : server.netcheck.port}\n`;
  const metricsLine = metrics ? `metrics: ${metrics.url}\n` : '';
  io.stdout.write(`signaler ${server.id}\nlistening on ${formatHostPort(host, server.port)}\nrelaying: ${relay}\n${probeLine}${clusterLine}${metricsLine}pin it with: --signaler <this-host>:${server.port}#${server.id}\n`);
  return stopped;
}

/** `--probe-port`: a port, `off` (null), or by default the signaler's port + 1 (any free port when that is 0). */
export function netcheckProbePort(value: string | undefined, port: number): number | null {
  if (value === 'off') return null;
  if (value === undefined) {
    if (port === 65535) throw usage('--port 65535 leaves no room for the default --probe-port (port + 1): give --probe-port PORT or off');
    return port === 0 ? 0 : port + 1;
  }
  const p = intOption('probe-port', value, { min: 0, max: 65535 }) as number;
  if (p !== 0 && p === port) throw usage('--probe-port must differ from --port');
  return p;
}

if (isEntryPoint(import.meta.url)) runAsProcess('sentinel-signaler', main);
