/**
 * Netcheck against a real signaler on loopback: the probe port's answer, the filtering test
 * with real sockets (connected, reset), and every limit a stranger could push on (per node,
 * per IP, in flight, probe-port rate), each refusal counted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { generateIdentity } from '../../src/identity/index.js';
import { createLogger } from '../../src/log.js';
import { loadNative } from '../../src/native/index.js';
import { SignalerServer, type SignalerOptions } from '../../src/signaler/server.js';
import { readObserved } from '../../src/netcheck/node-io.js';
import { netcheckProbePort } from '../../src/cli/sentinel-signaler.js';
import { FrameDecoder, FrameType, ProbeOutcome, decodeNetcheckResult, encodeFrame, encodeHello, encodeNetcheckRequest, encodeRegister, type NetcheckResult } from '../../src/wire/index.js';
import { testnet, waitFor } from '../helpers/testnet.js';

const net0 = testnet();
const servers: SignalerServer[] = [];
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
  await net0.close();
});
const silent = createLogger('silent', () => {});
const native = loadNative();

async function signaler(netcheck: SignalerOptions['netcheck'] | null = { probePort: 0 }): Promise<SignalerServer> {
  const s = new SignalerServer({ identity: generateIdentity(), log: silent, ...(netcheck ? { netcheck } : {}) });
  await s.listen(0, '127.0.0.1');
  servers.push(s);
  return s;
}

/** A registered raw client; `netcheck()` sends one request and waits for its result. */
async function registered(port: number): Promise<{ netcheck(flags?: number): Promise<NetcheckResult>; localPort: number }> {
  const id = generateIdentity();
  const dec = new FrameDecoder();
  const waiting = new Map<number, (r: NetcheckResult) => void>();
  let onRegistered = (): void => {};
  const sock = tls.connect({ host: '127.0.0.1', port, key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: ['sentinel/1'] });
  sockets.push(sock);
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    for (const f of dec.push(d)) {
      if (f.type === FrameType.REGISTERED) onRegistered();
      if (f.type === FrameType.NETCHECK_RESULT) {
        const r = decodeNetcheckResult(Buffer.from(f.payload));
        waiting.get(r.reqId)?.(r);
      }
    }
  });
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  const done = new Promise<void>((r) => (onRegistered = r));
  sock.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' })));
  sock.write(encodeFrame(FrameType.REGISTER, encodeRegister({ listenPort: 0, local: [] })));
  await done;
  let next = 1;
  return {
    localPort: sock.localPort as number,
    netcheck: (flags = 1) => {
      const reqId = next++;
      const p = new Promise<NetcheckResult>((r) => waiting.set(reqId, r));
      sock.write(encodeFrame(FrameType.NETCHECK_REQUEST, encodeNetcheckRequest({ reqId, flags })));
      return p;
    },
  };
}

describe('signaler netcheck on loopback', () => {
  it('a node learns its public address twice, from its identity port, and that inbound reaches it', async (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.reason}`);
    const sig = await signaler();
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}` });
    await waitFor(() => a.status().signaler.state === 'connected', 5_000, 'registration');
    const r = await a.netcheck();
    t.diagnostic(JSON.stringify(r));
    assert.equal(r.signaler.reachable, true);
    assert.equal(r.publicAddress, `127.0.0.1:${a.port}`);
    assert.equal(r.probeAddress, `127.0.0.1:${a.port}`, 'the probe connection left from the identity port');
    assert.equal(r.mapping, 'endpoint-independent');
    assert.equal(r.portPreserving, true);
    assert.equal(r.filtering, 'open', 'the signaler connected to the node\'s listener');
    assert.equal(sig.counters.get('netcheck.observed'), 1);
    assert.equal(sig.counters.get(`netcheck.inbound_${ProbeOutcome.CONNECTED}`), 1);
  });

  it('a signaler without a probe port: one observation, nothing tested, and the node says so', async (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.reason}`);
    const sig = await signaler(null);
    const a = await net0.node({ signaler: `127.0.0.1:${sig.port}` });
    await waitFor(() => a.status().signaler.state === 'connected', 5_000, 'registration');
    const r = await a.netcheck();
    assert.equal(r.probeAddress, null);
    assert.equal(r.filtering, 'unknown');
    assert.match(r.filteringDetail, /no probe port/);
  });

  it('the filtering test meets a reset where nothing listens, and is limited per node (counted)', async () => {
    const sig = await signaler();
    const c = await registered(sig.port);
    const outcomes: number[] = [];
    for (let i = 0; i < 4; i++) outcomes.push((await c.netcheck()).inbound);
    // The raw client listens nowhere: loopback answers the signaler's SYN with a reset.
    assert.deepEqual(outcomes, [ProbeOutcome.RESET, ProbeOutcome.RESET, ProbeOutcome.RESET, ProbeOutcome.LIMITED]);
    assert.equal(sig.counters.get('netcheck_refused.node'), 1);
    // Without the flag nothing is tested (and nothing is spent).
    const plain = await c.netcheck(0);
    assert.equal(plain.inbound, ProbeOutcome.NOT_TESTED);
    assert.equal(plain.probePort, sig.netcheck.port);
  });

  it('ids behind one address share one budget of filtering tests', async () => {
    const sig = await signaler({ probePort: 0, limits: { ipRate: { perSecond: 0.001, burst: 2 } } });
    const [c1, c2, c3] = await Promise.all([registered(sig.port), registered(sig.port), registered(sig.port)]);
    assert.equal((await c1.netcheck()).inbound, ProbeOutcome.RESET);
    assert.equal((await c2.netcheck()).inbound, ProbeOutcome.RESET);
    assert.equal((await c3.netcheck()).inbound, ProbeOutcome.LIMITED);
    assert.equal(sig.counters.get('netcheck_refused.ip'), 1);
  });

  it('bounds the filtering tests in flight', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    const targets: string[] = [];
    // A connect that hangs until released, beside the real one: what a dropping NAT does, without waiting for it.
    const sig = await signaler({ probePort: 0, limits: { maxInFlight: 1 }, connect: async (host, port) => (targets.push(`${host}:${port}`), await gate, ProbeOutcome.TIMEOUT) });
    const [c1, c2] = await Promise.all([registered(sig.port), registered(sig.port)]);
    const first = c1.netcheck();
    await waitFor(() => sig.netcheck.load.inFlight === 1, 3_000, 'first test in flight');
    assert.equal((await c2.netcheck()).inbound, ProbeOutcome.LIMITED);
    assert.equal(sig.counters.get('netcheck_refused.busy'), 1);
    release();
    assert.equal((await first).inbound, ProbeOutcome.TIMEOUT);
    // Only ever the requester's own observed address.
    assert.deepEqual(targets, [`127.0.0.1:${c1.localPort}`]);
  });

  it('the probe port answers each connection with its source, within a rate per IP', async () => {
    const sig = await signaler({ probePort: 0, limits: { observeIpRate: { perSecond: 0.001, burst: 2 } } });
    const ask = (): Promise<unknown> => readObserved(() => new Promise((r, j) => { const s = net.connect(sig.netcheck.port, '127.0.0.1', () => r(s)); s.once('error', j); }), 'probe', 2_000);
    const first = (await ask()) as { host: string; port: number };
    assert.equal(first.host, '127.0.0.1');
    assert.ok(first.port > 0);
    await ask();
    await assert.rejects(ask(), /closed without an answer/, 'the third connection is closed without an answer');
    assert.equal(sig.counters.get('netcheck_refused.observe_ip'), 1);
    assert.equal(sig.counters.get('netcheck.observed'), 2);
  });
});

describe('the probe port in total', () => {
  it('answers at most its total rate, whoever connects (counted)', async () => {
    const sig = await signaler({ probePort: 0, limits: { observeTotalRate: { perSecond: 0.001, burst: 1 } } });
    const ask = (): Promise<unknown> => readObserved(() => new Promise((r, j) => { const s = net.connect(sig.netcheck.port, '127.0.0.1', () => r(s)); s.once('error', j); }), 'probe', 2_000);
    await ask();
    await assert.rejects(ask(), /closed without an answer/);
    assert.equal(sig.counters.get('netcheck_refused.observe_total'), 1);
  });
});

describe('a probe port in use', () => {
  it('fails the start when asked for, and is left out with a warning when it was only the default', async (t) => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => taken.close(() => r())));
    const port = (taken.address() as net.AddressInfo).port;
    const warnings: string[] = [];
    const log = createLogger('warn', (l) => warnings.push(l));
    const strict = new SignalerServer({ identity: generateIdentity(), log, netcheck: { probePort: port } });
    await assert.rejects(strict.listen(0, '127.0.0.1'), (e: Error & { code?: string }) => e.code === 'E_PORT_IN_USE' && /--probe-port/.test(e.message));
    const lenient = new SignalerServer({ identity: generateIdentity(), log, netcheck: { probePort: port, optional: true } });
    servers.push(lenient);
    assert.ok((await lenient.listen(0, '127.0.0.1')) > 0, 'the signaler itself starts');
    assert.equal(lenient.netcheck.port, 0);
    assert.match(warnings.join('\n'), new RegExp(`probe port ${port} is already in use`));
  });
});

describe('sentinel-signaler --probe-port', () => {
  it('defaults to port + 1, any free port with --port 0, and can be off', () => {
    assert.equal(netcheckProbePort(undefined, 8888), 8889);
    assert.equal(netcheckProbePort(undefined, 0), 0);
    assert.equal(netcheckProbePort('off', 8888), null);
    assert.equal(netcheckProbePort('9000', 8888), 9000);
    assert.throws(() => netcheckProbePort('8888', 8888), /differ/);
    assert.throws(() => netcheckProbePort(undefined, 65535), /--probe-port/);
    assert.throws(() => netcheckProbePort('x', 8888), /--probe-port/);
  });
});
