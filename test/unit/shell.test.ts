import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { createShell, DEFAULT_HISTORY_COUNT, type Shell } from '../../src/cli/shell.js';
import { FakeNode, fakeId, fakePeer } from '../helpers/fake-node.js';

const ALICE = fakeId('alice');
const BOB = fakeId('bob');

/** A shell on in-memory streams, with helpers to type and to wait for output. */
class Harness {
  readonly node = new FakeNode();
  readonly input = new PassThrough();
  text = '';
  quits = 0;
  readonly shell: Shell;
  private waiters: Array<() => void> = [];

  constructor(terminal = false) {
    this.node.peerList = [
      fakePeer({ id: ALICE, alias: 'alice', address: '10.0.0.2:7000', rttMs: 5 }),
      fakePeer({ id: BOB, connected: false, path: null, method: null, rttMs: null, address: null }),
    ];
    const output = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.text += chunk.toString();
        for (const w of this.waiters.splice(0)) w();
        done();
      },
    });
    this.shell = createShell({ api: this.node, input: this.input, output, terminal, onQuit: () => this.quits++ });
  }

  type(line: string): void {
    this.input.write(`${line}\n`);
  }

  /** Resolves once the output (after `from`) matches `pattern`. */
  async waitFor(pattern: RegExp, from = 0): Promise<string> {
    while (!pattern.test(this.text.slice(from))) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.text.slice(from);
  }

  /** Types a line and waits for the output it causes to match `pattern`. */
  async run(line: string, pattern: RegExp): Promise<string> {
    const from = this.text.length;
    this.type(line);
    return this.waitFor(pattern, from);
  }
}

let h: Harness;
afterEach(() => h.shell.close());

describe('shell commands', () => {
  it('/id prints the full id', async () => {
    h = new Harness();
    assert.equal(await h.run('/id', /\n/), `${h.node.selfId}\n`);
  });

  it('/peers prints a table with copyable id prefixes, the path, the RTT and the VPN address', async () => {
    h = new Harness();
    const out = await h.run('/peers', /offline.*\n/);
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0] as string, /^ID +ALIAS +TRUST +PATH +RTT +VPN$/);
    assert.match(lines[1] as string, new RegExp(`^${ALICE.slice(0, 8)} +alice +contact +direct 10\\.0\\.0\\.2:7000 \\(outbound\\) +5 ms +100\\.64\\.0\\.2 \\(not allowed\\)$`));
    assert.doesNotMatch(out, new RegExp(ALICE));
    assert.doesNotMatch(out, /…/, 'an id is shown as it is typed, never with an ellipsis');
  });

  it('/dial prints each progress line, then the result', async () => {
    h = new Harness();
    const out = await h.run('/dial 10.9.9.9:7000', /^connected directly to .*\n/m);
    const lines = out.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['resolving target', 'connecting to 127.0.0.1:7001', 'TLS handshake']);
    assert.match(lines.at(-1) as string, /^connected directly to \w{56} at 10\.9\.9\.9:7000 by outbound in 12 ms$/);
    assert.deepEqual(h.node.callsOf('dial'), [['10.9.9.9:7000']]);
  });

  it('/ping prints each reply as it comes, then the statistics; a bad count is a usage line', async () => {
    h = new Harness();
    h.node.pingReplies = [
      { seq: 1, rttMs: 2.5, path: { kind: 'direct', address: '10.0.0.2:7000', method: 'outbound', via: 'dialed', lan: true, relay: null, relayKind: null } },
      { seq: 2, lost: true, reason: 'not-connected' },
    ];
    const out = await h.run('/ping alice 2', /loss.*\n/);
    assert.equal(
      out,
      [
        'pong from alice via direct 10.0.0.2:7000 (dialed, lan): seq=1 time=2.500 ms',
        'no pong from alice: seq=2 lost (no session)',
        '--- alice ping statistics ---',
        '2 sent, 1 received, 50% loss, rtt min/avg/max 2.500/2.500/2.500 ms',
        '',
      ].join('\n'),
    );
    assert.deepEqual(h.node.callsOf('ping'), [['alice', { count: 2, intervalMs: undefined, timeoutMs: undefined }]]);
    assert.equal(await h.run('/ping alice 0', /\n/), 'usage: /ping <id|prefix|alias> [count]\n');
    assert.equal(await h.run('/ping', /\n/), 'usage: /ping <id|prefix|alias> [count]\n');
    assert.match(await h.run('/ping nobody', /\n/), /^error: unknown node id/);
    assert.equal(h.node.callsOf('ping').length, 2, 'usage errors never reach the node');
  });

  it('Ctrl-C during /ping stops the run (the node sees the abort) and keeps the shell', async () => {
    h = new Harness(true);
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    h.node.ping = (_target, opts) =>
      new Promise((resolve) => {
        started();
        opts?.signal?.addEventListener('abort', () =>
          resolve({ id: ALICE, path: null, dial: null, pings: [], summary: { sent: 0, received: 0, lossPercent: 0, minMs: null, avgMs: null, maxMs: null } }),
        );
      });
    h.type('/ping alice 1000');
    await running;
    const from = h.text.length;
    h.input.write('\x03');
    await h.waitFor(/0 sent, 0 received/, from);
    assert.equal(h.quits, 0, 'Ctrl-C stopped the ping, not the node');
    h.input.write('\x03');
    assert.equal(h.quits, 1, 'with nothing running, Ctrl-C on an empty line quits as before');
  });

  it('/msg sends the rest of the line verbatim', async () => {
    h = new Harness();
    assert.equal(await h.run('/msg alice  hello,   world ', /\n/), 'delivered to alice\n');
    assert.deepEqual(h.node.callsOf('send'), [['alice', 'hello,   world']]);
    assert.equal(await h.run('/msg alice', /\n/), 'usage: /msg <id> <text>\n');
  });

  it('/history takes an optional peer and count', async () => {
    h = new Harness();
    h.node.receive(ALICE, 'first');
    h.node.receive(ALICE, 'second');
    await h.waitFor(/second/);
    let out = await h.run('/history', /second\n/);
    assert.match(out, /^\[[\d-]+ [\d:]+\] alice: first\n\[[\d-]+ [\d:]+\] alice: second\n$/);
    await h.run('/history 1', /\n/);
    await h.run('/history alice 5', /\n/);
    out = await h.run('/history alice x', /\n/);
    assert.equal(out, 'usage: /history [id] [n]\n');
    out = await h.run(`/history ${BOB.slice(0, 6)}`, /\n/);
    assert.equal(out, 'No messages.\n');
    assert.deepEqual(h.node.callsOf('history'), [
      [undefined, DEFAULT_HISTORY_COUNT],
      [undefined, 1],
      ['alice', 5],
      [BOB.slice(0, 6), DEFAULT_HISTORY_COUNT],
    ]);
  });

  it('/alias sets an alias', async () => {
    h = new Harness();
    assert.equal(await h.run(`/alias ${BOB.slice(0, 5)} bobby`, /\n/), `bobby is now ${BOB.slice(0, 12)}…\n`);
    assert.equal(h.node.peerList[1]?.alias, 'bobby');
  });

  it('/help lists every command; an unknown command gets a hint', async () => {
    h = new Harness();
    const help = await h.run('/help', /\/quit[^\n]*\n[\s\S]*<text>.*\n/);
    for (const c of ['/id', '/dial', '/peers', '/msg', '/history', '/alias', '/quit', '/help']) assert.ok(help.includes(c), c);
    assert.equal(await h.run('/launch now', /\n/), 'unknown command /launch (type /help for the list)\n');
  });
});

describe('shell plain lines', () => {
  it('broadcasts a plain line to connected peers', async () => {
    h = new Harness();
    h.type('hello everyone');
    h.type('/id');
    await h.waitFor(new RegExp(h.node.selfId));
    assert.deepEqual(h.node.callsOf('broadcast'), [['hello everyone']]);
    assert.ok(!h.text.includes('nobody'), 'no complaint when someone is connected');
  });

  it('says so when no contact is connected', async () => {
    h = new Harness();
    h.node.peerList = [];
    assert.match(await h.run('anyone there?', /\n/), /^no contact is connected/);
    assert.deepEqual(h.node.callsOf('broadcast'), []);
  });

  it('plain text never goes out when only strangers are connected', async () => {
    h = new Harness();
    h.node.peerList = [fakePeer({ id: fakeId('stranger'), trust: 'stranger' })];
    assert.match(await h.run('hello?', /\n/), /^no contact is connected.*1 stranger\(s\) connected: plain text never goes to strangers/);
    assert.deepEqual(h.node.callsOf('broadcast'), []);
  });
});

describe('shell events and errors', () => {
  it('announces a stranger\'s message requests once per interval, with how to accept or block', async () => {
    h = new Harness();
    const stranger = fakeId('stranger');
    h.node.peerList.push(fakePeer({ id: stranger, trust: 'stranger' }));
    for (let i = 0; i < 30; i++) h.node.receive(stranger, `spam ${i}`, true);
    h.node.receive(ALICE, 'a contact still shows');
    await h.waitFor(/contact still shows/);
    assert.equal(h.text.match(/message request from/g)?.length, 1, h.text);
    assert.match(h.text, new RegExp(`/accept ${stranger}`));
    assert.match(h.text, /\/requests/);
  });

  it('prints incoming messages and peer events', async () => {
    h = new Harness();
    h.node.receive(ALICE, 'ping \u001b]0;pwned\u0007');
    await h.waitFor(/alice: ping/);
    assert.match(h.text, /^\[\d\d:\d\d:\d\d\] alice: ping \\x1b\]0;pwned\\x07\n$/);
    h.node.emit({ type: 'peer-connected', peer: fakePeer({ id: BOB, method: 'inbound', address: '10.0.0.3:7000' }) });
    h.node.emit({ type: 'delivered', id: 'm1', to: ALICE });
    h.node.emit({ type: 'peer-disconnected', id: ALICE, reason: 'keepalive timeout' });
    await h.waitFor(/disconnected/);
    assert.ok(h.text.includes(`* ${BOB.slice(0, 12)}… connected (inbound from 10.0.0.3:7000)\n`));
    assert.ok(h.text.includes('* delivered to alice\n'));
    assert.ok(h.text.includes('* alice disconnected: keepalive timeout\n'));
  });

  it('prints an api error on one line and keeps running', async () => {
    h = new Harness();
    h.node.fail('send', 'E_NOT_CONNECTED');
    assert.equal(await h.run('/msg alice hi', /\n/), 'error: peer is not connected: injected\n');
    h.node.fail('peers', new TypeError('boom'));
    assert.equal(await h.run('/peers', /\n/), 'error: boom\n');
    h.node.fail('dial', 'E_DIAL_FAILED');
    assert.equal(await h.run('/dial 1.2.3.4:5', /\n/), 'error: dial failed: injected\n');
    assert.equal(await h.run('/id', /\n/), `${h.node.selfId}\n`);
    assert.equal(h.quits, 0);
  });
});

describe('shell: text from peers', () => {
  const FORGED = '\n[12:00:00] bob: forged\u001b]0;pwned\u0007\u009b2J\u202e';
  /** Bytes a terminal acts on, outside the line feeds that end printed lines. */
  const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it('a multi-line message keeps its lines, every continuation indented', async () => {
    h = new Harness();
    h.node.receive(ALICE, `hi${FORGED}`);
    await h.waitFor(/forged.*\n$/);
    const lines = h.text.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] as string, /^\[\d\d:\d\d:\d\d\] alice: hi$/);
    assert.equal(lines[1], '    [12:00:00] bob: forged\\x1b]0;pwned\\x07\\x9b2J\\u202e');
    assert.doesNotMatch(h.text, RAW_UNSAFE);
  });

  it('names, reasons and errors are one line each, with no escape byte', async () => {
    h = new Harness();
    h.node.emit({ type: 'peer-connected', peer: fakePeer({ id: BOB, name: `eve${FORGED}`, method: 'inbound', address: `10.0.0.3:7000${FORGED}` }) });
    h.node.emit({ type: 'peer-disconnected', id: ALICE, reason: `bye${FORGED}` });
    await h.waitFor(/disconnected.*\n$/);
    h.node.fail('dial', new Error(`peer said GOAWAY 3: bye${FORGED}`));
    await h.run('/dial 1.2.3.4:5', /error.*\n$/);
    h.node.fail('alias', null);
    await h.run(`/alias alice a\u001b[31mb`, /is now.*\n$/);
    await h.run(`/x\u001b]0;t\u0007`, /unknown command.*\n$/);
    const lines = h.text.trimEnd().split('\n');
    assert.equal(lines.length, 5, h.text);
    assert.doesNotMatch(h.text, RAW_UNSAFE);
    assert.match(lines[0] as string, /^\* eve\\n\[12:00:00\] bob: forged\\x1b… connected \(inbound from 10\.0\.0\.3:7000\\n\[12:00:00\] bob: forged\\x1b\]0;pwned\\x07\\x9b2J\\u202e\)$/);
    assert.match(lines[1] as string, /^\* alice disconnected: bye\\n\[12:00:00\] bob: forged\\x1b\]0;pwned\\x07\\x9b2J\\u202e$/);
    assert.match(lines[2] as string, /^error: peer said GOAWAY 3: bye\\n/);
    assert.match(lines[3] as string, /^a\\x1b\[31mb is now /);
    assert.match(lines[4] as string, /^unknown command \/x\\x1b\]0;t\\x07 /);
  });
});

describe('shell lifecycle', () => {
  it('/quit calls onQuit once, unsubscribes and ignores later lines', async () => {
    h = new Harness();
    assert.equal(h.node.listenerCount, 1);
    h.type('/quit');
    h.type('/id');
    h.input.end();
    while (h.quits === 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(h.quits, 1);
    assert.equal(h.node.listenerCount, 0);
    assert.deepEqual(h.node.callsOf('id').length, 1, 'only the id lookup at start');
  });

  it('end of input runs the lines already read, then quits', async () => {
    h = new Harness();
    h.input.end('/msg alice one\n/msg alice two\n');
    while (h.quits === 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.node.callsOf('send').map((a) => a[1]), ['one', 'two']);
  });

  it('close() stops the shell without calling onQuit', async () => {
    h = new Harness();
    h.shell.close();
    h.node.receive(ALICE, 'too late');
    await new Promise((r) => setImmediate(r));
    assert.equal(h.quits, 0);
    assert.equal(h.node.listenerCount, 0);
    assert.equal(h.text, '');
  });

  it('in terminal mode an event keeps the partly typed line', async () => {
    h = new Harness(true);
    // Cursor movement codes are noise here; what a user sees is the text between them.
    const seen = (from: number): string => h.text.slice(from).replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
    const until = async (pattern: RegExp, from: number): Promise<string> => {
      while (!pattern.test(seen(from))) await h.waitFor(/[\s\S]/, h.text.length);
      return seen(from);
    };
    await until(/> $/, 0);
    h.input.write('half a sen');
    await until(/half a sen$/, 0);
    const from = h.text.length;
    h.node.receive(ALICE, 'interrupt');
    assert.match(await until(/interrupt[\s\S]*half a sen$/, from), /^\[[\d:]+\] alice: interrupt\n> half a sen$/);
    assert.deepEqual(h.node.callsOf('broadcast'), [], 'nothing was sent');
  });
});
