/**
 * The web dashboard's cost: a control call over HTTP (keep-alive, Bearer token) against the
 * same call on the unix control socket, the size and build time of the 1 s SSE snapshot,
 * and how long a peer's message takes to reach an SSE stream. Two real nodes on loopback.
 */
import { performance } from 'node:perf_hooks';
import { connectControl, controlSocketPath } from '../src/control/index.js';
import { createLogger } from '../src/log.js';
import { startNode, type SentinelNode } from '../src/node.js';
import { encodeSse } from '../src/web/sse.js';
import { infoRow, type BenchResult } from './report.js';
import { median, percentiles, quietNode, round, tempDir } from './util.js';

const CALLS = 400;
const SENDS = 100;
const EVENTS = 100;

export async function runWebBench(): Promise<BenchResult> {
  const began = performance.now();
  const dirA = await tempDir('web-a');
  const dirB = await tempDir('web-b');
  let a: SentinelNode | undefined;
  let b: SentinelNode | undefined;
  try {
    a = await startNode({ dataDir: dirA.path, port: 0, host: '127.0.0.1', signaler: null, mdns: false, minPeers: 0, reconnect: false, log: createLogger('silent', () => {}), web: { host: '127.0.0.1', port: 0 } });
    b = await quietNode(dirB.path);
    await a.dial(`127.0.0.1:${b.port}`);
    // Contacts both ways: a stranger's messages wait as requests (within a small quota).
    await b.accept(a.identity.id);
    const web = a.web;
    if (!web) throw new Error('no dashboard');
    const token = new URL(web.loginUrl).searchParams.get('token') as string;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const http = async (method: string, params: unknown): Promise<void> => {
      const r = await fetch(`${web.url}api/${method}`, { method: 'POST', headers, body: JSON.stringify(params) });
      const body = (await r.json()) as { ok: boolean };
      if (!body.ok) throw new Error(`${method} failed over HTTP`);
    };
    const control = await connectControl(controlSocketPath(a.dataDir));
    const time = async (n: number, f: () => Promise<unknown>): Promise<number[]> => {
      for (let i = 0; i < 20; i++) await f(); // warm-up
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await f();
        out.push(performance.now() - t0);
      }
      return out;
    };
    const statusSocket = percentiles(await time(CALLS, () => control.call('status', {})));
    const statusHttp = percentiles(await time(CALLS, () => http('status', {})));
    const peer = b.identity.id;
    const sendSocket = percentiles(await time(SENDS, () => control.call('send', { target: peer, text: 'bench' })));
    const sendHttp = percentiles(await time(SENDS, () => http('send', { target: peer, text: 'bench' })));
    control.close();

    const node: SentinelNode = a;
    const build: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      bytes = Buffer.byteLength(encodeSse('snapshot', { status: node.status(), peers: node.peers() }));
      build.push(performance.now() - t0);
    }

    const lag = await sseLag(web.url, token, b, a.identity.id);
    const ms = (x: number): string => `${round(x, 2)} ms`;
    const row = (metric: string, p: ReturnType<typeof percentiles>, ratio = ''): ReturnType<typeof infoRow> => infoRow(metric, `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}`, ratio);
    return {
      name: 'web',
      title: 'Web dashboard: the control API over HTTP, SSE updates',
      method:
        `Two real nodes on loopback, A with --web. ${CALLS} sequential \`status\` calls and ${SENDS} sequential \`send\`s to the connected peer (each ` +
        'waits for its ACK), first on the unix control socket (one connection), then as POST /api/<method> with fetch (keep-alive, Bearer token); ' +
        `the SSE snapshot (status + peers, JSON) built 200 times; then ${EVENTS} messages from B, each timed from B's send to its \`message\` event read on an SSE stream of A.`,
      rows: [
        row('status, control socket', statusSocket, '1.00x'),
        row('status, HTTP', statusHttp, `${round(statusHttp.p50 / statusSocket.p50, 2)}x`),
        row('send (until ACK), control socket', sendSocket, '1.00x'),
        row('send (until ACK), HTTP', sendHttp, `${round(sendHttp.p50 / sendSocket.p50, 2)}x`),
        infoRow('SSE snapshot, 1 peer: size / build time', `${bytes} bytes / ${ms(median(build))}`),
        row("peer's message to the SSE stream", lag),
      ],
      notes: [
        'The snapshot is built once per second and shared by every open stream, whatever their number (at most 16).',
        'Clients and nodes run in one process, so each figure includes both sides: for HTTP, Node\'s fetch (undici) and node:http; for the socket, the control client and server.',
      ],
      durationMs: performance.now() - began,
    };
  } finally {
    await a?.close();
    await b?.close();
    await dirA.cleanup();
    await dirB.cleanup();
  }
}

/** Latency from `from.send` to the `message` event on an SSE stream of the receiver. */
async function sseLag(url: string, token: string, from: SentinelNode, to: string): Promise<ReturnType<typeof percentiles>> {
  const ac = new AbortController();
  const res = await fetch(`${url}api/events`, { headers: { Authorization: `Bearer ${token}` }, signal: ac.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const nextMessage = async (text: string): Promise<void> => {
    for (;;) {
      const i = buf.indexOf(text);
      if (i >= 0) {
        buf = buf.slice(i + text.length);
        return;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('SSE stream ended');
      buf += decoder.decode(value, { stream: true });
    }
  };
  const out: number[] = [];
  try {
    for (let i = 0; i < EVENTS; i++) {
      const text = `sse-bench-${i}`;
      const t0 = performance.now();
      const seen = nextMessage(`"text":"${text}"`);
      const sent = from.send(to, text);
      await seen;
      out.push(performance.now() - t0);
      await sent;
    }
  } finally {
    ac.abort();
    await reader.cancel().catch(() => {});
  }
  return percentiles(out);
}
