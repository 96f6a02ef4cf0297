/**
 * Hole punching with the real executables in the NAT lab (root only; skipped with the
 * reason otherwise, or failed when SENTINEL_LAB=required): a signaler on a public host,
 * `sentinel-node`s on LANs behind nftables NATs, driven with the `sentinel` client.
 *
 * - two easy NATs: a node dials another by id alone, gets a direct session by TCP
 *   simultaneous open, and messages flow both ways;
 * - two hosts behind one NAT reach each other;
 * - NAT mappings that expire after a few idle seconds do not stop a later dial by id
 *   (the keepalives hold the signaler sessions' mappings open);
 * - `sentinel dial` without --json tells the user what it is doing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HistoryEntry, PeerInfo, SendResult } from '../../src/api.js';
import { buildLab, exec, setConntrackEstablishedTimeout, spawnIn, type Lab, type LabProcess } from './index.js';
import { SentinelLab, tail, type DialOutcome, type LabNode, type LabSignaler } from './sentinel-procs.js';
import { labAvailable, eventually, sleep } from './gate.js';

/** Conntrack established timeout in the expiry test's routers (= the keepalive interval). */
const EXPIRY_TIMEOUT_S = 5;
/** Idle time before the dial in the expiry test: about three mapping lifetimes. */
const EXPIRY_IDLE_MS = 20_000;
const LATE_ECHO_PORT = 7999;

const labOk = await labAvailable('hole punching in the NAT lab');




/** Both node logs, for assertion messages. */
function logs(...nodes: LabNode[]): string {
  return nodes.map((n) => `--- ${n.host.name} (${n.id.slice(0, 12)}) log:\n${tail(n.stderr(), 60)}`).join('\n');
}

function describeDial(o: DialOutcome): string {
  return o.ok ? `ok ${JSON.stringify(o.result)}` : `failed after ${o.elapsedMs} ms: ${o.reason}\n${o.stderr}`;
}

/** `peers --json` of `node`, the entry for `id`. */
async function peerEntry(node: LabNode, id: string): Promise<PeerInfo | undefined> {
  return (await node.peers()).find((p) => p.id === id);
}

/** Sends `text` from `from` to `to` and waits until `to` has it and `from` has the ack. */
async function exchange(from: LabNode, to: LabNode, text: string): Promise<void> {
  const sent = await from.json<SendResult>(['send', to.id, text]);
  assert.equal(sent.to, to.id);
  const got = await eventually(`${to.host.name} to receive "${text}"`, async () =>
    (await to.history(from.id)).find((m: HistoryEntry) => m.text === text && m.from === from.id),
  );
  // A message from a peer `to` never chose is a message request (the trust model).
  const trust = (await peerEntry(to, from.id))?.trust;
  assert.equal(got.status, trust === 'contact' ? 'received' : 'request', `${to.host.name} sees ${from.host.name} as ${trust}`);
  const acked = await eventually(`${from.host.name} to see "${text}" delivered`, async () =>
    (await from.history(to.id)).find((m) => m.id === sent.id && m.status === 'delivered'),
  );
  assert.equal(acked.to, to.id);
}

// A server that writes one line `delay` ms after a client connects, and a client that
// connects, sends nothing, and reports whether that line arrived: an idle plain TCP
// connection, to show that the NAT mapping really expires in the expiry test.
const LATE_ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer((s) => {
  s.on('error', () => {});
  s.once('data', (d) => setTimeout(() => s.write('late\\n'), Number(String(d).trim())));
});
server.listen(Number(process.argv[1]), '0.0.0.0', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;
const LATE_ECHO_CLIENT = `
const net = require('node:net');
const [host, port, delayMs] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) }, () => s.write(delayMs + '\\n'));
const done = (word) => { console.log(word); s.destroy(); process.exit(0); };
s.on('data', () => done('got'));
s.on('error', (e) => done('error:' + e.code));
setTimeout(() => done('nothing'), Number(delayMs) + 3000);
`;

if (labOk) describe('hole punching with the real binaries in the NAT lab', { timeout: 240_000 }, () => {
  let lab: Lab;
  let sl: SentinelLab;
  let signaler: LabSignaler;
  const extra: LabProcess[] = [];

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['sig'] },
        { name: 'A', nat: 'easy', hosts: ['a1'] },
        { name: 'B', nat: 'easy', hosts: ['b1'] },
        { name: 'C', nat: 'easy', hosts: ['c1', 'c2'] },
        // Their own routers, since the expiry test shortens conntrack timeouts there.
        { name: 'D', nat: 'easy', hosts: ['d1'] },
        { name: 'E', nat: 'easy', hosts: ['e1'] },
      ],
    });
    sl = new SentinelLab(lab);
    signaler = await sl.startSignaler('sig');
  });

  after(async () => {
    await Promise.allSettled(extra.map((p) => p.stop()));
    await sl?.cleanup();
    await lab?.destroy();
  });

  it('B dials A by id alone through two easy NATs; messages go both ways', async (t) => {
    const [a, b] = await Promise.all([
      sl.startNode('a1', { port: 7001, signaler, name: 'alice' }),
      sl.startNode('b1', { port: 7002, signaler, name: 'bob' }),
    ]);
    t.after(() => Promise.allSettled([a.stop(), b.stop()]));
    const [wanA, wanB] = [lab.router('A').wanIp, lab.router('B').wanIp];
    // The signaler sees each node at its router, on its identity port (port-preserving NAT).
    assert.equal((await a.status()).signaler.observed, `${wanA}:7001`);
    assert.equal((await b.status()).signaler.observed, `${wanB}:7002`);
    assert.equal(await peerEntry(b, a.id), undefined, 'B has never heard of A');

    const dial = await b.dial(a.id);
    assert.ok(dial.ok, `${describeDial(dial)}\n${logs(a, b)}`);
    t.diagnostic(`dial: ${JSON.stringify(dial.result)}`);
    assert.equal(dial.result.id, a.id);
    assert.equal(dial.result.existing, false);
    assert.ok(['tcp-simultaneous-open', 'inbound'].includes(dial.result.method), dial.result.method);
    assert.equal(dial.result.address, `${wanA}:7001`, 'B reached A at its NAT mapping');

    const aAtB = await peerEntry(b, a.id);
    assert.equal(aAtB?.connected, true);
    assert.equal(aAtB?.path, 'direct');
    const bAtA = await eventually('A to list B as connected', async () => {
      const p = await peerEntry(a, b.id);
      return p?.connected ? p : undefined;
    });
    assert.equal(bAtA.path, 'direct');
    assert.equal(bAtA.name, 'bob');
    const [ip, port] = (bAtA.address ?? '').split(':');
    assert.equal(ip, wanB, `A sees B at its NAT's public address, got ${bAtA.address}`);
    assert.equal(port, '7002', 'the easy NAT kept B\'s identity port');

    await exchange(b, a, 'hello from bob');
    await exchange(a, b, 'hello from alice');
  });

  it('two hosts behind one easy NAT reach each other', async (t) => {
    // The same identity port on both: the NAT has to remap the second one.
    const [c1, c2] = await Promise.all([
      sl.startNode('c1', { port: 7003, signaler }),
      sl.startNode('c2', { port: 7003, signaler }),
    ]);
    t.after(() => Promise.allSettled([c1.stop(), c2.stop()]));
    const observed = [(await c1.status()).signaler.observed, (await c2.status()).signaler.observed];
    t.diagnostic(`the signaler observed c1 at ${observed[0]}, c2 at ${observed[1]}`);

    const dial = await c2.dial(c1.id);
    assert.ok(dial.ok, `${describeDial(dial)}\n${logs(c1, c2)}`);
    const c2AtC1 = await eventually('c1 to list c2 as connected', async () => {
      const p = await peerEntry(c1, c2.id);
      return p?.connected ? p : undefined;
    });
    const lan = c2AtC1.address?.startsWith(`${lab.host('c2').ip}:`) === true;
    t.diagnostic(`c2 reached c1 at ${dial.result.address} (${dial.result.method}); c1 sees c2 at ${c2AtC1.address} (${lan ? 'LAN address' : 'via the router'})`);
    assert.ok(
      lan || c2AtC1.address?.startsWith(`${lab.router('C').wanIp}:`) || c2AtC1.address?.startsWith(`${lab.router('C').lanIp}:`),
      `c1 sees c2 at ${c2AtC1.address}`,
    );
    await exchange(c2, c1, 'hello neighbour');
  });

  it(`a dial by id still works after ${EXPIRY_IDLE_MS / 1000} s idle with ${EXPIRY_TIMEOUT_S} s NAT mappings`, async (t) => {
    const [d1, e1] = [lab.host('d1'), lab.host('e1')];
    await setConntrackEstablishedTimeout(lab.router('D'), EXPIRY_TIMEOUT_S);
    await setConntrackEstablishedTimeout(lab.router('E'), EXPIRY_TIMEOUT_S);
    const echo = spawnIn(signaler.host.ns, process.execPath, ['-e', LATE_ECHO_SERVER, String(LATE_ECHO_PORT)]);
    extra.push(echo);
    await echo.waitFor(/listening/);
    const [a, b] = await Promise.all([sl.startNode('d1', { port: 7004, signaler }), sl.startNode('e1', { port: 7004, signaler })]);
    t.after(() => Promise.allSettled([a.stop(), b.stop()]));

    // Control: an idle plain TCP connection through router E loses its mapping, so a
    // reply after the idle period never arrives, while one before the timeout does.
    const lateClient = (delayMs: number): Promise<string> =>
      exec(e1.ns, process.execPath, ['-e', LATE_ECHO_CLIENT, signaler.host.ip, String(LATE_ECHO_PORT), String(delayMs)], { timeoutMs: delayMs + 10_000 });
    const [soon, late] = await Promise.all([lateClient(1_000), lateClient(EXPIRY_IDLE_MS), sleep(EXPIRY_IDLE_MS)]);
    assert.equal(soon.trim(), 'got', 'control: a reply within the timeout arrives');
    assert.equal(late.trim(), 'nothing', 'the idle connection\'s mapping expired, so the late reply was dropped');

    const [sa, sb] = [await a.status(), await b.status()];
    assert.equal(sa.signaler.state, 'connected', logs(a));
    assert.equal(sb.signaler.state, 'connected', logs(b));
    const dial = await b.dial(a.id);
    assert.ok(dial.ok, `${describeDial(dial)}\n${logs(a, b)}`);
    assert.equal(dial.result.address, `${lab.router('D').wanIp}:7004`);
    t.diagnostic(`after ${EXPIRY_IDLE_MS} ms idle: ${JSON.stringify(dial.result)} (d1 ${d1.ip}, e1 ${e1.ip})`);
    await exchange(b, a, 'still there?');
  });

  it('sentinel dial without --json reports its progress on stderr', async (t) => {
    const [a, b] = await Promise.all([sl.startNode('a1', { port: 7005, signaler }), sl.startNode('b1', { port: 7006, signaler })]);
    t.after(() => Promise.allSettled([a.stop(), b.stop()]));
    const r = await b.client(['dial', a.id], 30_000);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}\n${logs(a, b)}`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    for (const l of [...lines, `stdout: ${r.stdout.trim()}`]) t.diagnostic(l);
    const lookup = lines.findIndex((l) => /signaler/i.test(l) && l.includes(a.id));
    const punch = lines.findIndex((l) => /punching attempt/i.test(l));
    assert.ok(lookup >= 0, `a line about asking the signaler for ${a.id}:\n${r.stderr}\nstdout: ${r.stdout}\n${logs(a, b)}`);
    assert.ok(punch > lookup, `a "punching attempt" line after the lookup:\n${r.stderr}`);
    // The result is said once, on stdout: no progress line repeats it.
    assert.ok(!lines.some((l) => /^connected (directly|to|through)/.test(l)), `a progress line repeats the result:\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`connected directly to ${a.id}`));
  });
});
