/**
 * The 1,000 light peers of the sessions benchmark (bench/sessions.ts), run in a forked
 * child process so that the node under test is measured alone. Each peer is a plain
 * node:tls client with its own Ed25519 identity speaking our frames by hand: HELLO first,
 * PONG for every PING, and a PING of its own every keepalive interval (as a real node
 * does), nothing else. A peer counts as established once the node's HELLO arrived (the
 * node sends it only after giving the session a slot).
 *
 * IPC protocol (parent -> child, each answered by one message of the same `op`):
 *   { op: 'ids' }                              -> { op, ids: string[], keygenMs }
 *   { op: 'connect', host, port, sources }     -> { op, established, refused: {reason: n}, ms, connectMs: number[] }
 *   { op: 'stats' }                            -> { op, open, frames: {type: n} }
 *   { op: 'close' }                            -> { op }   (every socket destroyed)
 *   { op: 'exit' }                             -> (the process exits)
 */
import tls from 'node:tls';
import { generateIdentity, type Identity } from '../src/identity/index.js';
import { ALPN_PROTOCOL, PING_INTERVAL_MS } from '../src/transport/limits.js';
import { FrameDecoder, FrameType, decodeGoaway, encodeFrame, encodeHello, encodePing } from '../src/wire/index.js';

/** TLS handshakes in flight at once (the node takes 16 pending per source IP, 256 in all). */
const CONNECT_CONCURRENCY = 32;
/** Give up on one peer after this long. */
const PEER_TIMEOUT_MS = 20_000;

type Outcome = { ok: true } | { ok: false; reason: string };

class LightPeer {
  private readonly decoder = new FrameDecoder({ maxPayload: 64 * 1024 });
  private socket: tls.TLSSocket | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private pingSeq = 0n;

  constructor(
    readonly identity: Identity,
    private readonly frames: Map<number, number>,
  ) {}

  get open(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** TLS, HELLO, then waits for the node's HELLO (admitted) or a GOAWAY / close. */
  connect(host: string, port: number, localAddress: string): Promise<Outcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const timer = setTimeout(() => {
        settle({ ok: false, reason: 'timeout' });
        this.close();
      }, PEER_TIMEOUT_MS);
      const socket = tls.connect({ host, port, ...(localAddress ? { localAddress } : {}), key: this.identity.keyPem, cert: this.identity.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN_PROTOCOL] });
      this.socket = socket;
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(this.pinger);
        settle({ ok: false, reason: 'closed' });
      });
      socket.once('secureConnect', () => socket.write(encodeFrame(FrameType.HELLO, encodeHello({ listenPort: 0, name: '' }))));
      socket.on('data', (chunk: Buffer) => {
        let frames;
        try {
          frames = this.decoder.push(chunk);
        } catch {
          settle({ ok: false, reason: 'bad frame' });
          this.close();
          return;
        }
        for (const f of frames) {
          this.frames.set(f.type, (this.frames.get(f.type) ?? 0) + 1);
          if (f.type === FrameType.PING) socket.write(encodeFrame(FrameType.PONG, f.payload));
          else if (f.type === FrameType.HELLO) {
            this.startPinging();
            settle({ ok: true });
          } else if (f.type === FrameType.GOAWAY) {
            let reason = 'goaway';
            try {
              const g = decodeGoaway(f.payload);
              reason = `goaway ${g.code}${g.reason ? ` (${g.reason})` : ''}`;
            } catch {
              /* keep the generic reason */
            }
            settle({ ok: false, reason });
          }
        }
      });
    });
  }

  /** A PING every keepalive interval, with a random phase so 1,000 peers do not beat in step. */
  private startPinging(): void {
    const tick = (): void => {
      if (this.open) this.socket?.write(encodeFrame(FrameType.PING, encodePing({ nonce: this.pingSeq++ })));
    };
    setTimeout(() => {
      tick();
      this.pinger = setInterval(tick, PING_INTERVAL_MS);
    }, Math.random() * PING_INTERVAL_MS).unref();
  }

  close(): void {
    clearInterval(this.pinger);
    this.socket?.destroy();
  }
}

async function connectAll(peers: readonly LightPeer[], host: string, port: number, sources: readonly string[]): Promise<{ established: number; refused: Record<string, number>; ms: number; connectMs: number[] }> {
  const refused: Record<string, number> = {};
  const connectMs: number[] = [];
  let established = 0;
  let next = 0;
  const began = performance.now();
  const worker = async (): Promise<void> => {
    while (next < peers.length) {
      const i = next++;
      const t = performance.now();
      const o = await (peers[i] as LightPeer).connect(host, port, sources[i % sources.length] as string);
      if (o.ok) {
        established++;
        connectMs.push(performance.now() - t);
      } else refused[o.reason] = (refused[o.reason] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  return { established, refused, ms: performance.now() - began, connectMs };
}

/** Child entry: serves the IPC protocol above for `n` peers. */
export function servePeers(n: number): void {
  const frames = new Map<number, number>();
  let peers: LightPeer[] = [];
  process.on('message', (m: { op: string; host?: string; port?: number; sources?: string[] }) => {
    const reply = (body: object): void => {
      if (process.connected) process.send?.({ op: m.op, ...body }, undefined, undefined, () => undefined);
    };
    switch (m.op) {
      case 'ids': {
        const t = performance.now();
        peers = Array.from({ length: n }, () => new LightPeer(generateIdentity(), frames));
        return reply({ ids: peers.map((p) => p.identity.id), keygenMs: performance.now() - t });
      }
      case 'connect':
        void connectAll(peers, m.host as string, m.port as number, m.sources as string[]).then(reply);
        return;
      case 'stats':
        return reply({ open: peers.filter((p) => p.open).length, frames: Object.fromEntries(frames) });
      case 'close':
        for (const p of peers) p.close();
        return reply({});
      case 'exit':
        for (const p of peers) p.close();
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
