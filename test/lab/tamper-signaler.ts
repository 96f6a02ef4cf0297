/**
 * A signaler whose relay tampers, for the lab test relay-tamper.test.ts only: the real
 * SignalerServer (registration, punching, relay limits all unchanged), with its RELAY_DATA
 * handling wrapped so that, once armed, it inverts one byte inside one TLS record that a
 * chosen node sends through a circuit, before forwarding it as usual.
 *
 *   ip netns exec <ns> node dist/test/lab/tamper-signaler.js --port P --host H --data-dir D [--log-level L]
 *
 * It prints the start lines of `sentinel-signaler` (`signaler <id>`, `listening on ...`).
 * Arming: write `<node id> <min record bytes>` to `<data dir>/arm`, then send SIGUSR1; it
 * prints `tamper: armed ...`. The next TLS record of at least that many body bytes that
 * the node sends, on any circuit, gets the byte in the middle of its body inverted, and
 * it prints `tamper: flipped ...`; then it is disarmed. It follows the TLS record framing
 * (5-byte headers with the body length) of each circuit and direction from the first
 * byte, which any relay can see: the bodies themselves are ciphertext (or, for the
 * ClientHello, covered by the handshake transcript), so the flip cannot go unnoticed.
 *
 * Run without arguments (the test runner loads every module under test/) it does nothing.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { NodeId } from '../../src/api.js';
import { prepareDataDir } from '../../src/core/data-dir.js';
import { loadOrCreateIdentity } from '../../src/identity/index.js';
import { createLogger, isLogLevel } from '../../src/log.js';
import { SignalerServer } from '../../src/signaler/index.js';
import type { RelayEnd } from '../../src/relay/hub.js';

/** TLS record header: type (1), legacy version (2), body length (2). */
const RECORD_HEADER = 5;

/** Where one direction of one circuit is in the TLS record framing. */
export class RecordCursor {
  private readonly header = Buffer.alloc(RECORD_HEADER);
  private have = 0;
  private bodyLen = 0;
  private left = 0;
  /** Body offset to invert in the current record, or -1. */
  private target = -1;

  /**
   * Walks `data`, the next bytes of this direction. The first record whose header is seen
   * here and for which `wants(bodyLength)` holds gets its middle body byte inverted, in
   * place (at most one per call). Returns where, or undefined.
   */
  feed(data: Buffer, wants: (bodyLength: number) => boolean): { offset: number; recordLength: number } | undefined {
    let hit: { offset: number; recordLength: number } | undefined;
    let i = 0;
    while (i < data.length) {
      if (this.left === 0) {
        this.header[this.have++] = data[i++] as number;
        if (this.have === RECORD_HEADER) {
          this.have = 0;
          this.bodyLen = this.left = this.header.readUInt16BE(3);
          this.target = hit === undefined && wants(this.bodyLen) ? Math.floor(this.bodyLen / 2) : -1;
        }
        continue;
      }
      const take = Math.min(this.left, data.length - i);
      const at = this.bodyLen - this.left;
      if (this.target >= at && this.target < at + take) {
        const offset = i + this.target - at;
        data[offset] = (data[offset] as number) ^ 0xff;
        hit = { offset, recordLength: this.bodyLen };
        this.target = -1;
      }
      this.left -= take;
      i += take;
    }
    return hit;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'log-level': { type: 'string' } },
  });
  const dataDir = resolve(values['data-dir'] ?? './.tamper-signaler');
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) throw new Error(`bad --log-level ${level}`);
  await prepareDataDir(dataDir);
  const { identity } = await loadOrCreateIdentity(dataDir);
  const log = createLogger(level, (l) => process.stderr.write(`${l}\n`));
  const server = new SignalerServer({ identity, log, relay: { enabled: true } });

  let arm: { node: NodeId; minBytes: number } | undefined;
  const cursors = new Map<string, RecordCursor>();
  const hub = server.relay;
  const forward = hub.data.bind(hub);
  hub.data = (from: RelayEnd, payload: Buffer): void => {
    if (payload.length > 4) {
      const circuit = payload.readUInt32BE(0);
      const key = `${circuit} ${from.peerId}`;
      let cursor = cursors.get(key);
      if (!cursor) cursors.set(key, (cursor = new RecordCursor()));
      const armed = arm?.node === from.peerId ? arm : undefined;
      const hit = cursor.feed(payload.subarray(4), (len) => armed !== undefined && len >= armed.minBytes);
      if (hit) {
        arm = undefined;
        console.log(`tamper: flipped byte ${hit.offset} of RELAY_DATA (a ${hit.recordLength}-byte TLS record) from ${from.peerId} on circuit ${circuit}`);
      }
    }
    forward(from, payload);
  };
  process.on('SIGUSR1', () => {
    void readFile(join(dataDir, 'arm'), 'utf8').then(
      (text) => {
        const [node, min] = text.trim().split(/\s+/);
        arm = { node: node as NodeId, minBytes: Number(min ?? 0) };
        console.log(`tamper: armed for ${arm.node}, records of ${arm.minBytes} bytes or more`);
      },
      (err: unknown) => console.log(`tamper: cannot arm: ${String(err)}`),
    );
  });

  const port = await server.listen(Number(values.port ?? 8888), values.host ?? '0.0.0.0');
  console.log(`signaler ${server.id}\nlistening on ${values.host ?? '0.0.0.0'}:${port}\nrelaying: on (tampering)`);
  await new Promise<void>((done) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => done());
  });
  await server.close();
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.length > 2) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`tamper-signaler: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
