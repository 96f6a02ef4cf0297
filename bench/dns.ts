/**
 * What the DNS responder for `<name>.sentinel` costs: answerQuery per query by outcome,
 * rebuilding the name table from a full directory (it happens at most once a second), and
 * answered queries per second over UDP on loopback with a window of queries in flight.
 */
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import * as dnsPacket from 'dns-packet';
import { systemClock } from '../src/core/clock.js';
import { Counters } from '../src/core/counters.js';
import { NameTable, VpnNames, answerQuery, startDnsResponder } from '../src/dns/index.js';
import { nodeIdFromPublicKey } from '../src/identity/node-id.js';
import { createLogger } from '../src/log.js';
import { MAX_CONTACTS } from '../src/peers/limits.js';
import { infoRow, type BenchResult } from './report.js';
import { LOOPBACK, median, round } from './util.js';

const ROUNDS = 5;
const ROUND_MS = 300;
const UDP_SECONDS = 2;
const UDP_WINDOW = 64;

function nsPerCall(f: () => unknown): number {
  for (let i = 0; i < 2000; i++) f();
  const perRound: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let calls = 0;
    const start = performance.now();
    while (performance.now() - start < ROUND_MS) {
      for (let i = 0; i < 256; i++) f();
      calls += 256;
    }
    perRound.push(((performance.now() - start) * 1e6) / calls);
  }
  return median(perRound);
}

const ids = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => {
    const key = Buffer.alloc(32);
    key.writeUInt32BE(i + 1);
    return nodeIdFromPublicKey(key);
  });

export async function runDnsBench(): Promise<BenchResult> {
  const began = performance.now();
  const ADDRS = { ipv4: '100.64.0.7', ipv6: 'fd58:1b41:5e5c::7' };
  const peers = ids(MAX_CONTACTS).map((id, i) => ({ id, alias: i % 2 === 0 ? `peer-${i}` : null, name: `host-${i}`, trust: 'contact' as const }));
  const self = { id: peers[0]!.id, name: 'me' };
  const table = NameTable.build({ self, peers });
  const lookup = (key: string): typeof ADDRS | undefined => (table.lookup(key) ? ADDRS : undefined);
  const q = (name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer => dnsPacket.encode({ type: 'query', id: 1, questions: [{ name, type: 'A' }], ...extra });
  const udp = { transport: 'udp', allowed: true } as const;
  const hit = q('peer-5000.sentinel');
  const prefixHit = q(`${peers[777]!.id.slice(0, 10)}.sentinel`);
  const miss = q('nobody.sentinel');
  const outside = q('example.com');
  const bad = Buffer.concat([hit.subarray(0, 4), Buffer.of(0, 1, 0xff, 0xff), hit.subarray(8)]);
  const tHit = nsPerCall(() => answerQuery(hit, udp, lookup));
  const tPrefix = nsPerCall(() => answerQuery(prefixHit, udp, lookup));
  const tMiss = nsPerCall(() => answerQuery(miss, udp, lookup));
  const tOutside = nsPerCall(() => answerQuery(outside, udp, lookup));
  const tBad = nsPerCall(() => answerQuery(bad, udp, lookup));
  const builds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    NameTable.build({ self, peers });
    builds.push(performance.now() - t0);
  }
  const qps = await udpRate(peers, self);
  const us = (ns: number): string => `${round(ns / 1000, 2)} µs`;
  return {
    name: 'dns',
    title: 'DNS responder for <name>.sentinel',
    method:
      `answerQuery (src/dns/resolver.ts) per call on fixed queries against a name table of ${MAX_CONTACTS.toLocaleString('en')} contacts ` +
      `(half with aliases, all with announced names), median of ${ROUNDS} rounds of ${ROUND_MS} ms; NameTable.build from the same directory, ` +
      `median of ${ROUNDS}; then the real server on ${LOOPBACK} (rate limits lifted) and one UDP client in the same process keeping ` +
      `${UDP_WINDOW} queries in flight for ${UDP_SECONDS} s.`,
    rows: [
      infoRow('A for an alias (answer)', us(tHit)),
      infoRow('A for a 10-character id prefix (binary search of the sorted ids)', us(tPrefix)),
      infoRow('unknown name (NXDOMAIN, after the prefix search)', us(tMiss)),
      infoRow('name outside .sentinel (REFUSED)', us(tOutside)),
      infoRow('65,535 answer records claimed (FORMERR before decoding)', us(tBad)),
      infoRow(`name table rebuilt from ${MAX_CONTACTS.toLocaleString('en')} contacts`, `${round(median(builds), 1)} ms`),
      infoRow('answered queries per second, UDP on loopback, one process', String(Math.round(qps))),
    ],
    notes: [
      'The table is rebuilt at most once per second (NAME_TABLE_REFRESH_MS), and only while queries arrive, whatever their rate (with a full directory, the rebuild time above once a second); the per-source limit (50/s, burst 100) and the total (500/s) sit far below what the responder can answer, so a flood costs a bounded share of one core.',
    ],
    durationMs: performance.now() - began,
  };
}

async function udpRate(peers: Array<{ id: string; alias: string | null; name: string; trust: 'contact' }>, self: { id: string; name: string }): Promise<number> {
  const ADDRS = { ipv4: '100.64.0.7', ipv6: 'fd58:1b41:5e5c::7' };
  const names = new VpnNames({ self, peers: () => peers, selfAddresses: () => ADDRS, addressesOf: () => ADDRS, clock: systemClock });
  const lifted = { perSecond: 1e9, burst: 1e9 };
  const server = await startDnsResponder({ host: LOOPBACK, port: 0, names, self: () => ADDRS, clock: systemClock, counters: new Counters(), log: createLogger('silent', () => {}), limits: { perSource: lifted, total: lifted } });
  const sock = createSocket('udp4');
  const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'peer-42.sentinel', type: 'A' }] });
  let answered = 0;
  let running = true;
  const send = (): void => {
    if (running) sock.send(query, server.address.port, LOOPBACK);
  };
  sock.on('message', () => {
    answered++;
    send();
  });
  await new Promise<void>((r) => sock.bind(0, LOOPBACK, () => r()));
  const start = performance.now();
  for (let i = 0; i < UDP_WINDOW; i++) send();
  await new Promise((r) => setTimeout(r, UDP_SECONDS * 1000));
  running = false;
  const seconds = (performance.now() - start) / 1000;
  sock.close();
  await server.close();
  return answered / seconds;
}
