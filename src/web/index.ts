/** The web dashboard (`sentinel-node --web`): see server.ts, auth.ts and docs in README. */
import type { NodeApi } from '../api.js';
import { loadOrCreateWebToken, TOKEN_FILE } from './token.js';
import { startWebServer, type WebServer } from './server.js';

export { parseWebAddress, webUrl, DEFAULT_WEB_HOST, type WebAddress } from './address.js';
export { startWebServer, SECURITY_HEADERS, EVENTS_PATH, type WebServer, type WebServerOptions } from './server.js';
export { loadOrCreateWebToken, TOKEN_FILE } from './token.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  api: NodeApi;
  dataDir: string;
  host: string;
  port: number;
  count: (name: string) => void;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

/** Reads (or creates) the data dir's token, then serves the dashboard. */
export async function startDashboard(o: DashboardOptions): Promise<WebServer> {
  const { token, created } = await loadOrCreateWebToken(o.dataDir);
  const web = await startWebServer({ api: o.api, host: o.host, port: o.port, token, count: o.count, log: o.log });
  // The token itself is printed by sentinel-node on stdout, never into the log.
  o.log('info', `web dashboard at ${web.url} (token in ${TOKEN_FILE}${created ? ', new' : ''})`);
  return web;
}
