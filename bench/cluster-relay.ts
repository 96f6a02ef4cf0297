/**
 * Relayed bytes through a signaler cluster: one circuit between two raw clients, both at
 * one instance (the reference, in the same run) or at two instances of a cluster on a real
 * redis-server (the bytes then cross Redis pub/sub twice). Reports MB/s and the CPU per MB
 * of this process (clients and instances) and of redis-server: what the capacity plan in
 * docs/SCALING.md "Where it breaks first" rests on.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { RedisBackend } from '../src/cluster/redis-backend.js';
import { generateIdentity, publicKeyFromNodeId, type Identity } from '../src/identity/index.js';
import { createLogger } from '../src/log.js';
import { SignalerServer } from '../src/signaler/index.js';
import { ALPN_PROTOCOL } from '../src/transport/index.js';
import { FrameDecoder, FrameType, RELAY_MAX_DATA, RELAY_WINDOW, decodeRelayIncoming, decodeRelayOpened, encodeFrame, encodeHello, encodeRegister, encodeRelayAccept, encodeRelayCredit, encodeRelayData, encodeRelayOpen } from '../src/wire/index.js';
import { TestRedis, redisSkipReason } from '../test/helpers/redis.js';
import { infoRow, type BenchResult } from './report.js';
import { procSample } from './signaler-load-procs.js';
import { LOOPBACK, mbPerSecond, withTimeout } from './util.js';

const silent = createLogger('silent', () => {});
const TIMEOUT_MS = 60_000;
const BYTES = Number(process.env['CLUSTER_RELAY_MB'] ?? 64) * 1024 * 1024;

/** A raw client: frames in, frames out, nothing else. */
class Raw {
  private readonly dec = new FrameDecoder({ maxPayload: 4 + RELAY_MAX_DATA + 64 });
  private waiters: ((f: { type: number; payload: Buffer }) => boolean)[] = [];
  onFrame: (type: number, payload: Buffer) => void = () => {};
  constructor(
    readonly id: Identity,
    readonly sock: tls.TLSSocket,
  ) {
    sock.on('data', (d: Buffer) => {
      for (const f of this.dec.push(d)) {
        if (f.type === FrameType.PING) this.send(FrameType.PONG, f.payload);
        this.waiters = this.waiters.filter((w) => !w(f));
        this.onFrame(f.type, f.payload);
      }
    });
    sock.on('error', () => {});
  }
  static async connect(port: number): Promise<Raw> {
    const id = generateIdentity();
    const sock = tls.connect({ socket: net.connect({ host: LOOPBACK, port }), key: id.keyPem, cert: id.certPem, rejectUnauthorized: false, ALPNProtocols: [ALPN_PROTOCOL] });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    const c = new Raw(id, sock);
    c.send(FrameType.HELLO, encodeHello({ listenPort: 7000, name: '' }));
    c.send(FrameType.REGISTER, encodeRegister({ listenPort: 7000, local: [] }));
    await c.next(FrameType.REGISTERED);
    return c;
  }
  send(type: number, payload: Buffer): boolean {
    return this.sock.write(encodeFrame(type, payload));
  }
  next(type: number): Promise<Buffer> {
    return withTimeout(
      new Promise<Buffer>((resolve) =>
        this.waiters.push((f) => {
          if (f.type !== type) return false;
          resolve(f.payload);
          return true;
        }),
      ),
      TIMEOUT_MS,
      `frame 0x${type.toString(16)}`,
    );
  }
}

/** Opens a circuit a -> b and pushes BYTES through it with end-to-end credit; resolves with the ms. */
async function transfer(a: Raw, b: Raw): Promise<number> {
  a.send(FrameType.RELAY_OPEN, encodeRelayOpen({ reqId: 1, target: publicKeyFromNodeId(b.id.id) }));
  const inc = decodeRelayIncoming(await b.next(FrameType.RELAY_INCOMING));
  b.send(FrameType.RELAY_ACCEPT, encodeRelayAccept({ circuit: inc.circuit }));
  const { circuit } = decodeRelayOpened(await a.next(FrameType.RELAY_OPENED));
  const chunk = Buffer.alloc(RELAY_MAX_DATA, 0x5a);
  let sent = 0;
  let inFlight = 0;
  let received = 0;
  const t0 = performance.now();
  return withTimeout(
    new Promise<number>((resolve) => {
      const pump = (): void => {
        while (sent < BYTES && inFlight + chunk.length <= RELAY_WINDOW) {
          a.send(FrameType.RELAY_DATA, encodeRelayData({ circuit, data: chunk }));
          sent += chunk.length;
          inFlight += chunk.length;
        }
      };
      a.onFrame = (type, payload) => {
        if (type !== FrameType.RELAY_CREDIT) return;
        inFlight -= payload.readUInt32BE(4);
        pump();
      };
      let uncredited = 0;
      b.onFrame = (type, payload) => {
        if (type !== FrameType.RELAY_DATA) return;
        const n = payload.length - 4;
        received += n;
        uncredited += n;
        // Credit in quarter windows, as a node does.
        if (uncredited >= RELAY_WINDOW / 4 || received === BYTES) {
          b.send(FrameType.RELAY_CREDIT, encodeRelayCredit({ circuit: inc.circuit, bytes: uncredited }));
          uncredited = 0;
        }
        if (received === BYTES) resolve(performance.now() - t0);
      };
      pump();
    }),
    TIMEOUT_MS,
    'the transfer',
  );
}

interface Figures {
  ms: number;
  cpuMsPerMb: number;
  redisCpuMsPerMb: number | null;
}

async function measure(servers: SignalerServer[], redisPid: number | undefined): Promise<Figures> {
  const a = await Raw.connect(servers[0]!.port);
  const b = await Raw.connect(servers[servers.length - 1]!.port);
  const cpu0 = process.cpuUsage();
  const r0 = redisPid ? await procSample(redisPid) : undefined;
  const ms = await transfer(a, b);
  const cpu = process.cpuUsage(cpu0);
  const r1 = redisPid ? await procSample(redisPid) : undefined;
  a.sock.destroy();
  b.sock.destroy();
  const mb = BYTES / (1024 * 1024);
  return { ms, cpuMsPerMb: (cpu.user + cpu.system) / 1000 / mb, redisCpuMsPerMb: r0 && r1 ? ((r1.cpuSec - r0.cpuSec) * 1000) / mb : null };
}

export async function runClusterRelayBench(): Promise<BenchResult> {
  const started = performance.now();
  const base = { name: 'cluster-relay', title: 'Relayed bytes within one signaler instance and across two (Redis pub/sub)' };
  const skip = redisSkipReason();
  if (skip) return { ...base, method: skip, rows: [], notes: [], durationMs: 0 };
  const redis = await TestRedis.start();
  const servers: SignalerServer[] = [];
  const start = async (cluster: boolean): Promise<SignalerServer> => {
    const s = new SignalerServer({ identity: generateIdentity(), log: silent, relay: { enabled: true, bytesPerSecond: 4 * 1024 * 1024 * 1024 }, ...(cluster ? { cluster: new RedisBackend(redis.url, 'bench:') } : {}) });
    await s.listen(0, LOOPBACK);
    servers.push(s);
    return s;
  };
  try {
    const one = await measure([await start(false)], undefined);
    const c1 = await start(true);
    const c2 = await start(true);
    while ((c1.clustered?.link.instances.length ?? 0) < 2) await new Promise((r) => setTimeout(r, 100));
    const across = await measure([c1, c2], redis.pid);
    const mb = BYTES / (1024 * 1024);
    const rate = (f: Figures): string => `${mbPerSecond(BYTES, f.ms).toFixed(1)} MB/s (${mb} MiB in ${(f.ms / 1000).toFixed(2)} s)`;
    return {
      ...base,
      method:
        `One circuit, ${mb} MiB of RELAY_DATA in ${RELAY_MAX_DATA / 1024} KiB frames from a raw client to another, with end-to-end credit (window ${RELAY_WINDOW / 1024} KiB, credit every quarter window) as nodes use it. ` +
        `Reference: both clients at one standalone signaler. Cluster: the requester at instance 1, the target at instance 2 of a cluster on a real redis-server (no persistence), so every frame crosses Redis pub/sub (RELAY_DOWN / RELAY_UP). ` +
        `Relay rate per node raised to 4 GiB/s so that it does not limit. The signalers and clients share this process; redis-server CPU from /proc.`,
      rows: [
        infoRow('one instance (reference): throughput', rate(one)),
        infoRow('one instance: CPU of signaler + both clients per MiB', `${one.cpuMsPerMb.toFixed(2)} ms`),
        infoRow('across two instances: throughput', rate(across), `${(one.ms / across.ms).toFixed(2)}x one instance`),
        infoRow('across two instances: CPU of both instances + both clients per MiB', `${across.cpuMsPerMb.toFixed(2)} ms`, `${(across.cpuMsPerMb / one.cpuMsPerMb).toFixed(2)}x one instance`),
        infoRow('across two instances: redis-server CPU per MiB relayed', `${across.redisCpuMsPerMb?.toFixed(2) ?? '?'} ms`),
      ],
      notes: [
        'A MiB per second of cross-instance relaying costs the redis-server CPU above per second; one Redis core (1,000 ms per second) therefore carries about 1000 / that figure MiB/s of relayed data in all, shared by every relaying pair across instances (docs/SCALING.md).',
      ],
      durationMs: performance.now() - started,
    };
  } finally {
    await Promise.allSettled(servers.map((s) => s.close()));
    await redis.stop();
  }
}
