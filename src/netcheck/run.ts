/**
 * One netcheck run: gathers the observations through injected I/O (the signaler client,
 * probe connections from the identity port), then classifies them (classify.ts). No
 * sockets here: node-io.ts passes the real ones, tests pass real loopback ones or fakes.
 */
import type { NetcheckReport } from '../api.js';
import { errorMessage } from '../errors.js';
import { NETCHECK_FLAG_FILTERING, type Endpoint, type NetcheckResult } from '../wire/index.js';
import { classify, type Observations, type Seen } from './classify.js';

/** How long the node waits for its probe-port answer. */
export const OBSERVE_TIMEOUT_MS = 3_000;
/** The signaler's connect timeout for the filtering test, as the report states it (limits.ts NETCHECK_CONNECT_TIMEOUT_MS). */
export const SIGNALER_CONNECT_TIMEOUT_MS = 2_000;

export interface NetcheckIo {
  /** The signaler as the client sees it now; null without `--signaler`. */
  signaler(): { address: string; state: string; rttMs: number | null; error: string | null; observed: Endpoint | null; endpoint: Endpoint | null } | null;
  /** Send NETCHECK_REQUEST with `flags`; the NETCHECK_RESULT, or a rejection (no answer, not registered). */
  request(flags: number): Promise<NetcheckResult>;
  /** Connect to `host:port` (from the identity port when possible) and read the OBSERVED answer. */
  observe(host: string, port: number, timeoutMs: number): Promise<Endpoint>;
  /** Whether `observe` leaves from the identity port (the native addon is there). */
  fromIdentityPort: boolean;
  listenPort: number;
  localHosts: readonly string[];
  ipv6: readonly string[];
}

async function seen(p: Promise<Endpoint>): Promise<Seen> {
  try {
    return { ok: true, at: await p };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

/** Gather and classify. Never throws: what could not be observed is reported as unknown, with why. */
export async function runNetcheck(io: NetcheckIo): Promise<NetcheckReport> {
  const sig = io.signaler();
  const base: Observations = {
    signaler: sig && { address: sig.address, state: sig.state, rttMs: sig.rttMs, error: sig.error },
    listenPort: io.listenPort,
    localHosts: io.localHosts,
    observed: sig?.state === 'connected' ? sig.observed : null,
    probe: null,
    probeFromIdentityPort: io.fromIdentityPort,
    inbound: null,
    requestError: sig ? null : 'no signaler configured',
    connectTimeoutMs: SIGNALER_CONNECT_TIMEOUT_MS,
    ipv6: io.ipv6,
    probe6: null,
  };
  if (!sig || !base.observed || !sig.endpoint) return classify(base);
  let result: NetcheckResult;
  try {
    result = await io.request(NETCHECK_FLAG_FILTERING);
  } catch (err) {
    return classify({ ...base, requestError: errorMessage(err) });
  }
  const host = sig.endpoint.host;
  const [probe, probe6] = await Promise.all([
    result.probePort === 0 ? Promise.resolve(null) : seen(io.observe(host, result.probePort, OBSERVE_TIMEOUT_MS)),
    // IPv6: only with an address of our own; the first address the signaler offers.
    io.ipv6.length === 0 || result.probe6.length === 0 ? Promise.resolve(null) : seen(io.observe(result.probe6[0]!.host, result.probe6[0]!.port, OBSERVE_TIMEOUT_MS)),
  ]);
  return classify({ ...base, inbound: result.inbound, probe, probe6 });
}
