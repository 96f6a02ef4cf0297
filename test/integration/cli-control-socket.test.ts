/**
 * The control socket of a real node under bad input: garbage bytes, non-JSON lines,
 * unknown methods and an oversize line each get a coded error, and the node keeps
 * serving `sentinel` afterwards.
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StatusInfo } from '../../src/api.js';
import { MAX_LINE_BYTES } from '../../src/control/protocol.js';
import { binariesBuilt, clientJson, useProcs } from '../helpers/procs.js';

const REPLY_TIMEOUT_MS = 5_000;
/** Larger than the node's 64 KiB request line cap. */
const OVERSIZE_BYTES = MAX_LINE_BYTES + 100_000;

interface Reply {
  id: unknown;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

/** Reads newline-delimited JSON replies from `socket`. */
class ReplyReader {
  private buffer = '';
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  closed = false;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => {
      this.buffer += s;
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 1);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  /** The next reply, parsed; fails on timeout or if the socket closes first. */
  async next(): Promise<Reply> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('control socket closed before a reply');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply from the control socket');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return JSON.parse(this.lines.shift() as string) as Reply;
  }

  /** Resolves once the node has closed the connection. */
  async untilClosed(): Promise<void> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the node did not close the connection');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('garbage on the control socket gets E_BAD_REQUEST and the node keeps serving', async (t) => {
  assert.ok(binariesBuilt(), 'compiled binaries missing: run `npx tsc -p tsconfig.json` first');
  const procs = useProcs(t);
  const node = await procs.startNode();
  const path = join(node.dataDir, 'control.sock');

  const socket = await connect(path);
  t.after(() => socket.destroy());
  const replies = new ReplyReader(socket);

  socket.write(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0xc3, 0x28, 0x0a]));
  const binary = await replies.next();
  assert.equal(binary.ok, false);
  assert.equal(binary.error?.code, 'E_BAD_REQUEST');
  assert.equal(binary.id, null);

  socket.write('this is not json\n');
  const text = await replies.next();
  assert.equal(text.ok, false);
  assert.equal(text.error?.code, 'E_BAD_REQUEST');

  socket.write('{"id": 7, "method": "no-such-method"}\n');
  const unknown = await replies.next();
  assert.equal(unknown.error?.code, 'E_BAD_REQUEST');
  assert.equal(unknown.id, 7, 'an error to a request with an id echoes the id');

  // The same connection still serves well-formed requests.
  socket.write('{"id": 8, "method": "id"}\n');
  const ok = await replies.next();
  assert.deepEqual({ ...ok, result: { id: (ok as { result: { id: string } }).result.id } }, { id: 8, ok: true, result: { id: node.id } });

  // An endless line is refused, and only that connection is closed.
  const long = await connect(path);
  t.after(() => long.destroy());
  const longReplies = new ReplyReader(long);
  long.write(Buffer.alloc(OVERSIZE_BYTES, 0x61));
  const oversize = await longReplies.next();
  assert.equal(oversize.error?.code, 'E_BAD_REQUEST');
  await longReplies.untilClosed();

  const status = await clientJson<StatusInfo>(node.dataDir, ['status']);
  assert.equal(status.id, node.id);
  assert.equal(status.counters['control.bad_requests'], 4);
  assert.ok(node.running());
});
