/**
 * Metrics end to end: real nodes (real TLS sessions on loopback) and the real
 * `sentinel-signaler` executable serve /metrics over HTTP; each scrape is read with a real
 * Prometheus text parser (parse-prometheus-text-format) and checked against what happened.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadNative } from '../../src/native/index.js';
import { FrameType, decodeSignalError } from '../../src/wire/index.js';
import { SignalErrorCode } from '../../src/wire/index.js';
import { scrape, type Scrape } from '../helpers/scrape.js';
import { destroyRawClients, rawClient } from '../helpers/signal-client.js';
import { testnet, waitFor } from '../helpers/testnet.js';
import { ipv4Packet, vpnPair } from '../helpers/vpn-pair.js';

const SIGNALER_BIN = fileURLToPath(new URL('../../src/cli/sentinel-signaler.js', import.meta.url));
const LOOPBACK_METRICS = { host: '127.0.0.1', port: 0 };
const NAT_KINDS = ['public', 'easy', 'hard', 'unknown'];

const net0 = testnet();
const children = new Set<ChildProcess>();
const dirs: string[] = [];
after(async () => {
  destroyRawClients();
  await net0.close();
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('close', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Polls `probe` until it returns true (bounded); the last value is in the failure. */
async function eventually(probe: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `sentinel-signaler` on loopback with `--metrics 0`; resolves with its ports and URL once it printed them. */
async function startSignaler(): Promise<{ port: number; url: string; child: ChildProcess }> {
  const dir = await mkdtemp(join(tmpdir(), 'sntl-metrics-'));
  dirs.push(dir);
  const child = spawn(process.execPath, [SIGNALER_BIN, '--port', '0', '--host', '127.0.0.1', '--data-dir', dir, '--metrics', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve, reject) => {
    child.once('close', (code) => reject(new Error(`sentinel-signaler exited (${code}): ${err}`)));
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const listening = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      const metrics = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out);
      if (listening && metrics && /pin it with/.test(out)) resolve({ port: Number(listening[1]), url: metrics[1] as string, child });
    });
  });
}

describe('node metrics', () => {
  it('two nodes: sessions by path, bytes per peer, messages sent, delivered and received, handshake failures', async () => {
    const a = await net0.node({ metrics: LOOPBACK_METRICS, name: 'a' });
    const b = await net0.node({ metrics: LOOPBACK_METRICS, name: 'b' });
    assert.ok(a.metricsUrl && b.metricsUrl);
    const urlA = a.metricsUrl;
    const urlB = b.metricsUrl;
    await b.dial(`127.0.0.1:${a.port}`);
    for (const text of ['one', 'two']) assert.equal((await b.send(a.identity.id, text)).status, 'delivered');

    const sa = await scrape(urlA);
    const sb = await scrape(urlB);
    assert.equal(sb.value('sentinel_sessions', { path: 'direct', method: 'outbound' }), 1);
    assert.equal(sa.value('sentinel_sessions', { path: 'direct', method: 'inbound' }), 1);
    assert.equal(sa.sum('sentinel_sessions'), 1);
    assert.equal(sb.value('sentinel_messages_sent_total'), 2);
    assert.equal(sb.value('sentinel_messages_delivered_total'), 2);
    // The outbox: the delivered mark is written in the background after the ACK.
    await eventually(async () => (await scrape(urlB)).value('sentinel_messages_pending') === 0, 'the outbox to empty');
    // B is a stranger to A (A did not choose it): its messages are message requests.
    assert.equal(sa.value('sentinel_messages_received_total', { kind: 'request' }), 2);
    assert.equal(sa.value('sentinel_message_requests'), 2);
    assert.equal(sa.value('sentinel_messages_sent_total'), 0);
    assert.equal(sb.value('sentinel_node_info', { id: b.identity.id }), 1);

    // Labels: A is B's contact (B dialed it): its own series. B is a stranger to A.
    assert.deepEqual(sb.labels('sentinel_peer_bytes_sent_total', 'peer').sort(), [a.identity.id, 'other', 'stranger'].sort());
    assert.deepEqual(sa.labels('sentinel_peer_bytes_received_total', 'peer').sort(), ['other', 'stranger']);
    // Every byte B queued for A is a byte A received, once: equal once nothing is in flight.
    await eventually(async () => {
      const [x, y] = [await scrape(urlA), await scrape(urlB)];
      return bytesMatch(y, x, a.identity.id) && bytesMatch(x, y, 'stranger');
    }, 'bytes sent by one node to equal bytes received by the other');
    const now = await scrape(urlB);
    // The CHATs alone are more than 2 x 64 bytes of signatures.
    assert.ok((now.value('sentinel_peer_bytes_sent_total', { peer: a.identity.id }) ?? 0) > 128);
    assert.equal(now.value('sentinel_session_bytes_total', { path: 'direct', direction: 'out' }), now.sum('sentinel_peer_bytes_sent_total'));
    assert.equal(now.value('sentinel_session_bytes_total', { path: 'relay', direction: 'out' }), 0);

    // A connection that is not TLS at all fails the handshake on A: counted by code.
    const before = sa.sum('sentinel_handshake_failures_total');
    const sock = net.connect(a.port, '127.0.0.1', () => sock.end('GET / HTTP/1.0\r\n\r\n'));
    sock.on('error', () => {});
    await eventually(async () => (await scrape(urlA)).sum('sentinel_handshake_failures_total') > before, 'a handshake failure');
    const codes = (await scrape(urlA)).labels('sentinel_handshake_failures_total', 'code');
    assert.ok(codes.every((c) => /^E_[A-Z_]+$/.test(c)), codes.join(','));

    // A answers B: B becomes A's contact and gets a label of its own from then on.
    assert.equal((await a.send(b.identity.id, 'back')).status, 'delivered');
    const sa2 = await scrape(urlA);
    assert.ok((sa2.value('sentinel_peer_bytes_sent_total', { peer: b.identity.id }) ?? 0) > 0);
    assert.ok((sa2.value('sentinel_peer_bytes_sent_total', { peer: 'stranger' }) ?? 0) >= (sa.value('sentinel_peer_bytes_sent_total', { peer: 'stranger' }) ?? 0), 'the stranger series never decreases');

    // The endpoint closes with the node; a message to it now waits in A's outbox.
    await b.close();
    await assert.rejects(scrape(urlB));
    await waitFor(() => a.status().peers === 0, 5_000, 'A sees B go');
    assert.equal((await a.send(b.identity.id, 'later')).status, 'pending');
    const sa3 = await scrape(urlA);
    assert.equal(sa3.value('sentinel_messages_pending'), 1);
    assert.equal(sa3.sum('sentinel_sessions'), 0);
    assert.equal(sa3.value('sentinel_messages_sent_total'), 2);
  });
});

/** What `from` sent to the series `peerLabel` is exactly what `to` received (it has no other peer). */
function bytesMatch(from: Scrape, to: Scrape, peerLabel: string): boolean {
  const sent = from.value('sentinel_peer_bytes_sent_total', { peer: peerLabel });
  const got = to.sum('sentinel_peer_bytes_received_total');
  return sent !== undefined && sent > 0 && sent === got;
}

describe('VPN metrics', () => {
  it('packets and bytes both ways, drops by reason (in-memory TUNs inside real nodes)', async () => {
    const { a, b, tunA, tunB } = await vpnPair(net0, { metrics: LOOPBACK_METRICS });
    const A = a.id().vpn;
    const B = b.id().vpn;
    const packet = ipv4Packet(A.ipv4, B.ipv4, Buffer.from('hello'));
    tunA.inject([packet, packet, packet]);
    await waitFor(() => tunB.written.length === 3, 3_000, 'packets at B');
    tunA.inject([ipv4Packet(A.ipv4, '100.64.77.77', Buffer.from('nowhere'))]);
    await waitFor(() => (a.status().vpn.drops.no_route ?? 0) === 1, 3_000, 'no route');
    const sa = await scrape(a.metricsUrl as string);
    const sb = await scrape(b.metricsUrl as string);
    assert.equal(sa.value('sentinel_vpn_up'), 1);
    assert.equal(sa.value('sentinel_vpn_packets_total', { direction: 'out' }), 3);
    assert.equal(sa.value('sentinel_vpn_bytes_total', { direction: 'out' }), 3 * packet.length);
    assert.equal(sb.value('sentinel_vpn_packets_total', { direction: 'in' }), 3);
    assert.equal(sb.value('sentinel_vpn_bytes_total', { direction: 'in' }), 3 * packet.length);
    assert.equal(sa.value('sentinel_vpn_drops_total', { reason: 'no_route' }), 1);
  });
});

describe('relay metrics', () => {
  it('a session through a peer relay: relayed sessions and bytes on the client, circuits and bytes on the relay', async () => {
    // No signaler, no addon, no gossip rounds: the only path between A and B is the relay.
    const quiet = { native: 'off' as const, gossipIntervalMs: 3_600_000, metrics: LOOPBACK_METRICS };
    const r = await net0.node({ ...quiet, relay: { mode: 'contacts' } });
    const a = await net0.node(quiet);
    const b = await net0.node(quiet);
    for (const n of [a, b]) {
      await r.accept(n.identity.id);
      await n.dial(`127.0.0.1:${r.port}`);
      await waitFor(() => n.status().relay?.peers.some((p) => p.bound !== null) === true, 5_000, 'bound with the relay');
    }
    assert.equal((await a.dial(b.identity.id)).path, 'relay');
    assert.equal((await a.send(b.identity.id, 'through the relay')).status, 'delivered');

    const sa = await scrape(a.metricsUrl as string);
    assert.equal(sa.value('sentinel_sessions', { path: 'relay', method: 'relay' }), 1);
    assert.equal(sa.value('sentinel_sessions', { path: 'direct', method: 'outbound' }), 1, 'the session with the relay itself');
    assert.equal(sa.value('sentinel_relay_circuits', { role: 'client' }), 1);
    const relayedIn = sa.value('sentinel_session_bytes_total', { path: 'relay', direction: 'in' }) ?? 0;
    const relayedOut = sa.value('sentinel_session_bytes_total', { path: 'relay', direction: 'out' }) ?? 0;
    assert.ok(relayedOut > 0 && relayedIn > 0);
    assert.equal(sa.value('sentinel_relay_bytes_total', { role: 'client' }), relayedIn + relayedOut);
    assert.equal(sa.value('sentinel_relay_circuits', { role: 'relay' }), undefined, 'A does not relay');

    const sr = await scrape(r.metricsUrl as string);
    assert.equal(sr.value('sentinel_relay_circuits', { role: 'relay' }), 1);
    assert.equal(sr.value('sentinel_relay_bound_nodes', { kind: 'all' }), 2);
    assert.ok((sr.value('sentinel_relay_bytes_total', { role: 'relay' }) ?? 0) > 0);
    assert.equal(sr.value('sentinel_relay_circuits', { role: 'client' }), 0);
  });
});

describe('signaler metrics', () => {
  it('the sentinel-signaler executable: registrations, lookups, punches coordinated, refusals by reason', async (t) => {
    const sig = await startSignaler();
    const c1 = await rawClient(sig.port);
    const c2 = await rawClient(sig.port);
    let s = await scrape(sig.url);
    assert.equal(s.value('sentinel_signaler_nodes'), 2);
    assert.equal(s.value('sentinel_signaler_registrations_total'), 2);
    assert.equal(s.value('sentinel_signaler_lookups_total'), 0);

    // A burst beyond the request rate: the first REQUEST_RATE.burst are answered, the rest refused.
    const burst = 14;
    for (let i = 1; i <= burst; i++) c1.lookup(i, c2.id.id);
    await waitFor(() => c1.of(FrameType.LOOKUP_RESULT).length + c1.of(FrameType.SIGNAL_ERROR).length >= burst, 5_000, 'every lookup answered');
    const limited = c1.of(FrameType.SIGNAL_ERROR).map(decodeSignalError).filter((e) => e.code === SignalErrorCode.RATE_LIMITED).length;
    const found = c1.of(FrameType.LOOKUP_RESULT).length;
    assert.ok(limited > 0 && found > 0, `${found} answered, ${limited} rate-limited`);
    s = await scrape(sig.url);
    assert.equal(s.value('sentinel_signaler_lookups_total'), found);
    assert.equal(s.value('sentinel_signaler_refused_total', { reason: 'request' }), limited);
    assert.equal(s.value('sentinel_signaler_relay_circuits', { state: 'live' }), 0);
    assert.equal(s.value('sentinel_signaler_relay_enabled'), 1);
    assert.equal(s.family('sentinel_signaler_cluster_up'), undefined, 'no cluster metrics without --redis');

    // Two real nodes: registered, and B reaches A by id alone (a punch the signaler coordinates).
    const native = loadNative();
    if (!native.ok) return t.skip(`punch part skipped: native addon unavailable: ${native.reason}`);
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}`, metrics: LOOPBACK_METRICS });
    const b = await net0.node({ signaler: `127.0.0.1:${sig.port}`, metrics: LOOPBACK_METRICS });
    await waitFor(() => a.status().signaler.state === 'connected' && b.status().signaler.state === 'connected', 5_000, 'registration');
    await b.dial(a.identity.id);
    s = await scrape(sig.url);
    assert.equal(s.value('sentinel_signaler_registrations_total'), 4);
    assert.equal(s.value('sentinel_signaler_nodes'), 4);
    assert.equal(s.value('sentinel_signaler_punches_total'), 1);
    const sb = await scrape(b.metricsUrl as string);
    assert.equal(sb.value('sentinel_signaler_state', { state: 'connected' }), 1);
    const punches = sb.family('sentinel_punches_total')?.metrics ?? [];
    assert.equal(punches.length, 1, JSON.stringify(punches));
    const p = punches[0]?.labels ?? {};
    assert.equal(p.method, 'simultaneous_open');
    assert.equal(p.outcome, 'connected');
    assert.ok(NAT_KINDS.includes(p.nat ?? '') && NAT_KINDS.includes(p.peer_nat ?? ''), JSON.stringify(p));
    assert.equal(Number(punches[0]?.value), 1);
  });
});
