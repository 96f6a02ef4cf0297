/** `sentinel-node --dns-port / --no-dns`: usage errors before anything starts (src/cli/sentinel-node.ts). */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EXIT_USAGE } from '../../src/cli/args.js';
import { HELP, main } from '../../src/cli/sentinel-node.js';

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function usageError(argv: string[]): Promise<string> {
  const stderr = sink();
  const code = await main(argv, { stdout: sink(), stderr });
  assert.equal(code, EXIT_USAGE, stderr.text);
  return stderr.text;
}

describe('sentinel-node DNS flags', () => {
  it('--dns-port and --no-dns need --tun', async () => {
    assert.match(await usageError(['--dns-port', '5353']), /--dns-port needs --tun/);
    assert.match(await usageError(['--no-dns']), /--no-dns needs --tun/);
  });

  it('--dns-port is a port, and excludes --no-dns', async () => {
    assert.match(await usageError(['--tun', '--dns-port', '0']), /--dns-port must be an integer from 1 to 65535/);
    assert.match(await usageError(['--tun', '--dns-port', 'x']), /--dns-port must be an integer/);
    assert.match(await usageError(['--tun', '--no-dns', '--dns-port', '5353']), /exclude each other/);
  });

  it('--help lists both', () => {
    assert.match(HELP, /--dns-port PORT/);
    assert.match(HELP, /--no-dns/);
  });
});
