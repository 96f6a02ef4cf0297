/** core/local-http.ts: the bounded listener the metrics endpoint and the dashboard share. */
import assert from 'node:assert/strict';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createLocalHttpServer, listenLocal, type HttpRefusal } from '../../src/core/local-http.js';
import { isSentinelError } from '../../src/errors.js';

const LIMITS = { maxConnections: 2, maxHeaderBytes: 1024, headersTimeoutMs: 2000, requestTimeoutMs: 3000 };

/** Sends raw bytes and reads until the server closes. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.end(text);
  });
}

describe('local HTTP listener', () => {
  it('answers an oversized head with 431 and junk with 400, reporting each refusal', async () => {
    const refusals: HttpRefusal[] = [];
    const server = createLocalHttpServer(LIMITS, (_req, res) => res.end('ok'), (r) => refusals.push(r));
    const port = await listenLocal(server, '127.0.0.1', 0, '--test');
    try {
      assert.match(await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
      assert.match(await raw(port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400 /);
      assert.match(await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 [\s\S]*ok$/);
      assert.deepEqual(refusals, ['header_too_large', 'bad_request']);
    } finally {
      server.close();
    }
  });

  it('a taken port is E_PORT_IN_USE naming the option and who may hold it; a foreign address is a bare E_USAGE', async () => {
    const holder = createTcpServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const server = createLocalHttpServer(LIMITS, (_q, res) => res.end(), () => {});
      await assert.rejects(listenLocal(server, '127.0.0.1', taken, '--web', 'another dashboard'), (e) => isSentinelError(e, 'E_PORT_IN_USE') && e.message.includes(`--web 127.0.0.1:${taken}: another dashboard holds it`));
      const other = createLocalHttpServer(LIMITS, (_q, res) => res.end(), () => {});
      await assert.rejects(listenLocal(other, '192.0.2.1', 0, '--web'), (e) => isSentinelError(e, 'E_USAGE') && e.message === '--web 192.0.2.1:0: 192.0.2.1 is not an address of this machine');
    } finally {
      holder.close();
    }
  });
});
