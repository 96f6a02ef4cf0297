/**
 * mDNS discovery on a real LAN (root only; skipped with the reason otherwise, failed when
 * SENTINEL_LAB=required): hosts on one bridge behind an easy NAT router, no signaler.
 *
 * 1. `MdnsDiscovery` over the real multicast-dns socket, in three namespaces: each sees the
 *    other two ids with their LAN addresses.
 * 2. A standard resolver on a fourth host sees the service: `dig -p 5353 @<host>` (legacy
 *    unicast), and a plain query to 224.0.0.251 from an ordinary port is answered by all
 *    three (dig 9.18 itself cannot take answers to a multicast query: see the test).
 * 3. Three `sentinel-node --signaler none` find each other and connect.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { PeerInfo, StatusInfo } from '../../src/api.js';
import { buildLab, exec, findTool, spawnIn, tryExec, type Lab, type LabProcess } from './index.js';
import { NODE_BIN, SentinelLab, runSentinelJson, tail } from './sentinel-procs.js';
import { labAvailable, sleep } from './gate.js';

const labOk = await labAvailable('mDNS in the NAT lab');
const dig = findTool('dig');

/** The compiled dist/ root (this file runs from dist/test/lab/). */
const DIST = new URL('../../', import.meta.url).href;
/** Identity port the standalone discoveries announce (nothing listens there). */
const SCRIPT_PORT = 7100;
const NODE_PORT = 7200;
/** Bound on three parties finding each other (start-up announce, query, 1 s repeat). */
const DISCOVERY_TIMEOUT_MS = 15_000;
const POLL_MS = 250;

/** Runs MdnsDiscovery on the real socket; prints `self <id>` then one `peer <json>` line per hint. */
const DISCOVERY_SCRIPT = `
const [dist, port] = process.argv.slice(1);
const d = await import(dist + 'src/discovery/index.js');
const { generateIdentity } = await import(dist + 'src/identity/index.js');
const { systemClock } = await import(dist + 'src/transport/index.js');
const id = generateIdentity().id;
const disc = new d.MdnsDiscovery({
  selfId: id,
  port: () => Number(port),
  addresses: () => d.lanAddresses(),
  onPeer: (peer, endpoints) => console.log('peer ' + JSON.stringify({ id: peer, endpoints })),
  transport: d.createMulticastTransport(),
  clock: systemClock,
  log: { debug() {}, info() {}, warn: (m) => console.error(m), error: (m) => console.error(m) },
});
console.log('self ' + id);
disc.start();
const keepAlive = setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => { disc.stop(); clearInterval(keepAlive); setTimeout(() => process.exit(0), 100); });
`;

const QUERY_ID = 4321;
/** One legacy query to the group from an ephemeral port; prints one JSON line per answer for 1.5 s. */
const MULTICAST_QUERY = `
const dgram = require('node:dgram');
const packet = require(process.argv[1]);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  const p = packet.decode(m);
  const ptr = p.answers.filter((a) => a.type === 'PTR' && a.name === '_sentinel._tcp.local').map((a) => a.data);
  console.log(JSON.stringify({ from: r.address, id: p.id, ptr }));
});
s.bind(0, () => {
  s.send(packet.encode({ type: 'query', id: ${QUERY_ID}, questions: [{ name: '_sentinel._tcp.local', type: 'PTR' }] }), 5353, '224.0.0.251');
  setTimeout(() => process.exit(0), 1500);
});
`;

interface Hint {
  id: string;
  endpoints: { host: string; port: number }[];
}

const hintsOf = (p: LabProcess): Hint[] =>
  p.output().stdout.split('\n').filter((l) => l.startsWith('peer ')).map((l) => JSON.parse(l.slice(5)) as Hint);

async function until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ok()) return;
    if (Date.now() >= deadline) assert.fail(`${what} not within ${timeoutMs} ms\n${detail()}`);
    await sleep(POLL_MS);
  }
}

if (labOk) describe('mDNS discovery on a lab LAN', { timeout: 120_000 }, () => {
  let lab: Lab;
  let procs: SentinelLab;
  const hosts = ['m1', 'm2', 'm3'] as const;
  const scripts = new Map<string, { proc: LabProcess; id: string }>();

  before(async () => {
    lab = await buildLab({ sites: [{ name: 'lan', nat: 'easy', hosts: [...hosts, 'q4'] }] });
    procs = new SentinelLab(lab);
    // 224.0.0.251 is link-local and flooded anyway; snooping off makes that independent of the kernel's querier logic.
    const r = lab.router('lan');
    await exec(r.ns, 'ip', ['link', 'set', r.lanIf, 'type', 'bridge', 'mcast_snooping', '0']);
  });

  after(async () => {
    await Promise.allSettled([...scripts.values()].map((s) => s.proc.stop()));
    await procs?.cleanup();
    await lab?.destroy();
  });

  it('MdnsDiscovery in three namespaces: each sees the other two ids at their LAN addresses', async () => {
    for (const h of hosts) {
      const proc = spawnIn(lab.host(h).ns, process.execPath, ['--input-type=module', '-e', DISCOVERY_SCRIPT, DIST, String(SCRIPT_PORT)]);
      const [, id] = (await proc.waitFor(/^self (\S+)$/m, 10_000)) as [string, string];
      scripts.set(h, { proc, id });
    }
    const expected = (h: string): Hint[] =>
      hosts.filter((o) => o !== h).map((o) => ({ id: scripts.get(o)?.id ?? '', endpoints: [{ host: lab.host(o).ip, port: SCRIPT_PORT }] }));
    const seen = (h: string): Hint[] => {
      const byId = new Map(hintsOf(scripts.get(h)?.proc as LabProcess).map((x) => [x.id, x]));
      return expected(h).map((e) => byId.get(e.id)).filter((x): x is Hint => x !== undefined);
    };
    const all = (): string => hosts.map((h) => `${h}:\n${tail(scripts.get(h)?.proc.output().stdout ?? '')}\n${tail(scripts.get(h)?.proc.output().stderr ?? '')}`).join('\n');
    await until('every discovery hearing the other two', DISCOVERY_TIMEOUT_MS, () => hosts.every((h) => seen(h).length === 2), all);
    for (const h of hosts) {
      assert.deepEqual(seen(h), expected(h), `${h} heard the others at their LAN addresses`);
      const ownId = scripts.get(h)?.id;
      assert.ok(!hintsOf(scripts.get(h)?.proc as LabProcess).some((x) => x.id === ownId), `${h} ignored itself`);
    }
  });

  it('dig on a fourth host sees the service (legacy unicast query to each host)', { skip: dig === null ? 'dig not installed (apt-get install dnsutils)' : false }, async () => {
    assert.equal(scripts.size, 3, 'the discoveries of the previous test are running');
    // dig 9.18 connects its UDP socket, so it cannot take an answer to `@224.0.0.251` (the
    // answer comes from the responder's own address): ask each host on port 5353 instead.
    for (const h of hosts) {
      const { id } = scripts.get(h) ?? { id: '' };
      const r = await tryExec(lab.host('q4').ns, 'dig', ['-p', '5353', `@${lab.host(h).ip}`, '_sentinel._tcp.local', 'PTR', '+time=2', '+tries=3'], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, `dig failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`_sentinel\\._tcp\\.local\\.\\s+\\d+\\s+IN\\s+PTR\\s+${id}\\._sentinel\\._tcp\\.local\\.`));
      assert.match(r.stdout, new RegExp(`\\sIN\\s+SRV\\s+0 0 ${SCRIPT_PORT} ${id.slice(0, 12)}\\.sentinel\\.local\\.`));
      assert.match(r.stdout, new RegExp(`\\sIN\\s+TXT\\s+"id=${id}" "v=1"`));
      assert.match(r.stdout, new RegExp(`${id.slice(0, 12)}\\.sentinel\\.local\\.\\s+\\d+\\s+IN\\s+A\\s+${lab.host(h).ip.replaceAll('.', '\\.')}`));
    }
  });

  it('a query sent to 224.0.0.251 from an ordinary port is answered by all three', async () => {
    assert.equal(scripts.size, 3, 'the discoveries of the first test are running');
    const dnsPacket = createRequire(import.meta.url).resolve('dns-packet');
    const r = await tryExec(lab.host('q4').ns, process.execPath, ['-e', MULTICAST_QUERY, dnsPacket], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    const answers = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { from: string; id: number; ptr: string[] });
    for (const h of hosts) {
      const a = answers.find((x) => x.from === lab.host(h).ip);
      assert.ok(a, `no answer from ${h}: ${r.stdout}`);
      assert.equal(a.id, QUERY_ID, 'the query id is echoed');
      assert.deepEqual(a.ptr, [`${scripts.get(h)?.id ?? ''}._sentinel._tcp.local`]);
    }
    await Promise.all([...scripts.values()].map((s) => s.proc.stop()));
    scripts.clear();
  });

  it('three sentinel-node --signaler none find each other and connect', async () => {
    const nodes: { host: string; dataDir: string; proc: LabProcess; id: string }[] = [];
    for (const h of hosts) {
      const dataDir = await procs.tempDir(`n-${h}`);
      const ns = lab.host(h).ns;
      const proc = spawnIn(ns, process.execPath, [NODE_BIN, '--port', String(NODE_PORT), '--data-dir', dataDir, '--signaler', 'none', '--log-level', 'debug']);
      let id = '';
      await until(`sentinel-node on ${h} answering status`, DISCOVERY_TIMEOUT_MS, async () => {
        const s = await runSentinelJson<StatusInfo>(ns, dataDir, ['status']).catch(() => null);
        id = s?.id ?? '';
        return s !== null && s.port > 0;
      }, () => tail(proc.output().stderr));
      nodes.push({ host: h, dataDir, proc, id });
    }
    try {
      const connected = async (n: (typeof nodes)[number]): Promise<string[]> =>
        (await runSentinelJson<PeerInfo[]>(lab.host(n.host).ns, n.dataDir, ['peers']).catch(() => [])).filter((p) => p.connected).map((p) => p.id).sort();
      const logs = (): string => nodes.map((n) => `${n.host} (${n.id}):\n${tail(n.proc.output().stderr, 20)}`).join('\n');
      await until('every node connected to the other two', DISCOVERY_TIMEOUT_MS, async () => (await Promise.all(nodes.map(connected))).every((c) => c.length === 2), logs);
      for (const n of nodes) assert.deepEqual(await connected(n), nodes.filter((o) => o !== n).map((o) => o.id).sort());
    } finally {
      await Promise.allSettled(nodes.map((n) => n.proc.stop()));
    }
  });
});
