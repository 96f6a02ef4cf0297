/** `sentinel netcheck` over a real control socket to a scripted node; the dial result's explanation line. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/sentinel.js';
import { formatDialResult } from '../../src/cli/format.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { FakeNode, fakeId } from '../helpers/fake-node.js';

let root: string;
let node: FakeNode;
let server: ControlServer;

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['--data-dir', root, ...argv], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sn-netcheck-'));
  node = new FakeNode();
  server = await startControlServer({ path: controlSocketPath(root), api: node });
});
after(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('sentinel netcheck', () => {
  it('--json prints the report with the RFC 4787 fields', async () => {
    const r = await run('netcheck', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['signaler', 'publicAddress', 'mapping', 'portPreserving', 'filtering', 'ipv6']) assert.ok(k in j, k);
    assert.equal(j.mapping, 'endpoint-independent');
    assert.equal(j.filtering, 'drop');
  });

  it('human output: one line per finding, notes last, peer-controlled text escaped', async () => {
    node.netcheckReport = { ...node.netcheckReport, mapping: 'endpoint-dependent', portPreserving: false, natKind: 'hard', notes: ['a\u001b[31mnote'] };
    const r = await run('netcheck');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^signaler: +reachable \(203\.0\.113\.10:8888, RTT 12 ms\)$/m);
    assert.match(r.stdout, /^mapping: +endpoint-dependent \(a new public port per destination\)$/m);
    assert.match(r.stdout, /^port preserving: +no$/m);
    assert.match(r.stdout, /^filtering: +drop/m);
    assert.doesNotMatch(r.stdout, /\u001b/);
  });

  it('a relayed dial says why not direct', () => {
    const text = formatDialResult({ id: fakeId('p'), address: 'relay', method: 'relay', path: 'relay', relay: 'sig at 203.0.113.10:8888', ms: 40, existing: false, explanation: 'you are behind a NAT that changes the port per destination, and so is the peer', reason: null });
    assert.match(text, /\nwhy not direct: you are behind a NAT that changes the port per destination, and so is the peer$/);
  });
});
