#!/usr/bin/env node
/**
 * `sentinel-signaler`: the matchmaker. Prints its id and address, then serves until
 * SIGINT/SIGTERM, logging to stderr.
 */
import { resolve } from 'node:path';
import { prepareDataDir } from '../core/data-dir.js';
import { errorMessage, isSentinelError } from '../errors.js';
import { loadOrCreateIdentity } from '../identity/index.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';
import { SignalerServer } from '../signaler/index.js';
import { formatHostPort } from '../transport/index.js';
import { EXIT_FAILURE, EXIT_USAGE, formatOptions, intOption, isEntryPoint, parseArgv, usage } from './args.js';
import { runAsProcess, untilSignal } from './process.js';

export const DEFAULT_SIGNALER_PORT = 8888;

const OPTIONS = {
  port: { type: 'string', valueName: 'PORT', description: `port to listen on (default ${DEFAULT_SIGNALER_PORT})` },
  host: { type: 'string', valueName: 'ADDR', description: 'address to listen on (default 0.0.0.0)' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'where its identity key lives (default ./.signaler)' },
  'log-level': { type: 'string', valueName: 'LEVEL', description: `${LOG_LEVELS.join('|')} (default info)` },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

const HELP = `Usage: sentinel-signaler [options]

Runs the Sentinel signaler: nodes register over mutually authenticated TLS 1.3, look
each other up, and ask it to coordinate TCP hole punching. It has its own persistent
identity; nodes can pin it with --signaler host:port#<id> (printed below at start).

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
  try {
    port = intOption('port', values.port, { min: 0, max: 65535 }) ?? DEFAULT_SIGNALER_PORT;
  } catch (err) {
    io.stderr.write(`sentinel-signaler: ${errorMessage(err)}\n`);
    return EXIT_USAGE;
  }
  const host = values.host ?? '0.0.0.0';
  const dataDir = resolve(values['data-dir'] ?? './.signaler');
  const log = createLogger((values['log-level'] as LogLevel | undefined) ?? 'info', (l) => io.stderr.write(`${l}\n`));
  // Signals are handled from the start: a SIGTERM during startup closes what was started.
  const starting = (async (): Promise<SignalerServer> => {
    await prepareDataDir(dataDir);
    const { identity } = await loadOrCreateIdentity(dataDir);
    const server = new SignalerServer({ identity, log });
    await server.listen(port, host);
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
    io.stderr.write(`sentinel-signaler: ${isSentinelError(err) ? err.message : errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
  io.stdout.write(`signaler ${server.id}\nlistening on ${formatHostPort(host, server.port)}\npin it with: --signaler <this-host>:${server.port}#${server.id}\n`);
  return stopped;
}

if (isEntryPoint(import.meta.url)) runAsProcess('sentinel-signaler', main);
