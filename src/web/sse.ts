/**
 * Server-Sent Events for the dashboard: one hub fans the node's events, dial progress and
 * a periodic peers/status snapshot out to a bounded number of streams. The node's event
 * subscription and the snapshot timer exist only while at least one stream is open; a
 * snapshot is encoded once per tick, not once per stream.
 *
 * Stream format (text/event-stream), one event:
 * ```
 * event: <name>\n
 * data: <one line of JSON>\n
 * \n
 * ```
 * Names: `message`, `delivered`, `refused`, `peer-connected`, `peer-disconnected` (a
 * NodeEvent, `type` in the data too), `progress` (`{target, ...}`: the progress report of
 * a long request started from any dashboard, `{target, stage, message}` for a dial) and
 * `snapshot` (`{status, peers}`).
 */
import type { ServerResponse } from 'node:http';
import type { NodeApi, NodeEvent } from '../api.js';

/** Encodes one event. JSON never contains a raw line break, so `data` is one line. */
export function encodeSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Options of {@link SseHub}. */
export interface SseHubOptions {
  api: Pick<NodeApi, 'onEvent' | 'status' | 'peers'>;
  maxClients: number;
  maxBufferedBytes: number;
  snapshotIntervalMs: number;
  count: (name: string) => void;
  /** Timers, injectable for tests. */
  setInterval?: (fn: () => void, ms: number) => { unref?(): void };
  clearInterval?: (t: unknown) => void;
}

/** The set of open SSE streams. */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private unsubscribe: (() => void) | undefined;
  private timer: unknown;

  constructor(private readonly o: SseHubOptions) {}

  /** Open streams now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Turns `res` into a stream (headers already checked by the caller). False when the hub
   * is full: the caller answers 503.
   */
  add(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.clients.size >= this.o.maxClients) return false;
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
    // A retry hint, and a first snapshot so the page fills at once.
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.once('close', () => this.remove(res));
    this.send(res, encodeSse('snapshot', this.snapshot()));
    if (this.clients.size === 1) this.start();
    return true;
  }

  /** Sends one event to every stream. */
  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = encodeSse(event, data);
    for (const res of [...this.clients]) this.send(res, text);
  }

  /** Ends every stream and stops the timer and subscription. */
  close(): void {
    for (const res of [...this.clients]) res.destroy();
    this.clients.clear();
    this.stop();
  }

  private send(res: ServerResponse, text: string): void {
    res.write(text);
    // A stream nobody reads must not make the node buffer without bound.
    if (res.writableLength > this.o.maxBufferedBytes) {
      this.o.count('web.sse.slow');
      res.destroy();
      this.remove(res);
    }
  }

  private remove(res: ServerResponse): void {
    if (this.clients.delete(res) && this.clients.size === 0) this.stop();
  }

  private snapshot(): { status: unknown; peers: unknown } {
    return { status: this.o.api.status(), peers: this.o.api.peers() };
  }

  private start(): void {
    this.unsubscribe = this.o.api.onEvent((e: NodeEvent) => this.broadcast(e.type, e));
    const every = this.o.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    const t = every(() => this.broadcast('snapshot', this.snapshot()), this.o.snapshotIntervalMs);
    t.unref?.();
    this.timer = t;
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) (this.o.clearInterval ?? ((t) => clearInterval(t as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
  }
}
