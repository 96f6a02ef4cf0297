/**
 * Native TUN device. The error mapping and argument checks run everywhere; the rest needs
 * root and /dev/net/tun and runs each scenario in a fresh network namespace: this file
 * re-runs itself under `ip netns exec` with SENTINEL_TUN_CHILD=<scenario>, the child does
 * the I/O and prints one JSON line, and the test asserts on it. Nothing touches the host's
 * interfaces or routes.
 */
import assert from 'node:assert/strict';
import { execFile, type ExecFileOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { SentinelError, isSentinelError } from '../../src/errors.js';
import { TUN_BATCH, loadNative } from '../../src/native/index.js';
import { ipCommandError, ipCommands, openNativeTun, tunOpenError, type NativeTunDevice } from '../../src/vpn/native-tun.js';

const SELF = fileURLToPath(import.meta.url);
const TUN = 'sntst0';
const ADDR4 = '100.64.1.1';
const PEER4 = '100.64.1.2';
const ADDR6 = 'fd58:1b41:5e5c::1';
const PEER6 = 'fd58:1b41:5e5c::2';
const MTU = 1400;
const BURST = 200;
const BURST_PORT = 9999;
const MTU_PORT = 9998;
const NOBODY = 65534;

// ---- packets (just enough IPv4 / IPv6 / ICMP / UDP) -------------------------------------

const PROTO_ICMP = 1;
const PROTO_UDP = 17;
const PROTO_ICMP6 = 58;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const ICMP6_ECHO_REQUEST = 128;
const ICMP6_ECHO_REPLY = 129;

function checksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += ((buf[i] ?? 0) << 8) + (i + 1 < end ? buf[i + 1] ?? 0 : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ip4(p: Buffer, offset: number): string {
  return [...p.subarray(offset, offset + 4)].join('.');
}

interface Parsed {
  version: number;
  protocol: number;
  dst: string;
  /** ICMP type or UDP destination port. */
  detail: number;
  length: number;
}

function parse(p: Buffer): Parsed | null {
  const version = p.length > 0 ? p.readUInt8(0) >> 4 : 0;
  if (version === 4 && p.length >= 28) {
    const ihl = (p.readUInt8(0) & 0xf) * 4;
    const protocol = p.readUInt8(9);
    const detail = protocol === PROTO_UDP ? p.readUInt16BE(ihl + 2) : p.readUInt8(ihl);
    return { version, protocol, dst: ip4(p, 16), detail, length: p.readUInt16BE(2) };
  }
  if (version === 6 && p.length >= 48) {
    const hex = p.subarray(24, 40).toString('hex').match(/.{4}/g) ?? [];
    const dst = hex.map((h) => h.replace(/^0+(?=.)/, '')).join(':').replace(/(^|:)(0:)+/, '::');
    return { version, protocol: p.readUInt8(6), dst, detail: p.readUInt8(40), length: 40 + p.readUInt16BE(4) };
  }
  return null;
}

/** Echo reply to an IPv4 echo request: swap addresses, type 0, both checksums redone. */
function echoReply4(req: Buffer): Buffer {
  const p = Buffer.from(req);
  const ihl = (p.readUInt8(0) & 0xf) * 4;
  req.copy(p, 12, 16, 20);
  req.copy(p, 16, 12, 16);
  p.writeUInt8(ICMP_ECHO_REPLY, ihl);
  p.writeUInt16BE(0, ihl + 2);
  p.writeUInt16BE(checksum(p, ihl, p.readUInt16BE(2)), ihl + 2);
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(checksum(p, 0, ihl), 10);
  return p;
}

/** Echo reply to an ICMPv6 echo request (no extension headers): checksum over the pseudo-header. */
function echoReply6(req: Buffer): Buffer {
  const p = Buffer.from(req);
  req.copy(p, 8, 24, 40);
  req.copy(p, 24, 8, 24);
  p.writeUInt8(ICMP6_ECHO_REPLY, 40);
  p.writeUInt16BE(0, 42);
  const len = p.readUInt16BE(4);
  const pseudo = Buffer.alloc(40);
  p.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(len, 32);
  pseudo.writeUInt32BE(PROTO_ICMP6, 36);
  const partial = ~checksum(pseudo, 0, 40) & 0xffff;
  p.writeUInt16BE(checksum(p, 40, 40 + len, partial), 42);
  return p;
}

/** A whole IPv4/UDP packet of `total` bytes (UDP checksum 0: none). */
function udp4(src: string, dst: string, sport: number, dport: number, total: number): Buffer {
  const p = Buffer.alloc(total);
  p.writeUInt8(0x45, 0);
  p.writeUInt16BE(total, 2);
  p.writeUInt8(64, 8);
  p.writeUInt8(PROTO_UDP, 9);
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  p.writeUInt16BE(sport, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt16BE(total - 20, 24);
  for (let i = 28; i < total; i++) p.writeUInt8(i & 0xff, i);
  return p;
}

// ---- process helpers -------------------------------------------------------------------

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], opts: ExecFileOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000, ...opts }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resolve once `done()` holds; a guard against hanging, not a timing assertion. */
async function until(done: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function openTest(): Promise<NativeTunDevice> {
  return openNativeTun({ name: TUN, mtu: MTU, ipv4: ADDR4, ipv4Prefix: 10, ipv6: ADDR6, ipv6Prefix: 48 });
}

function sendBurst(sock: dgram.Socket, count: number, port: number, size: number): void {
  for (let i = 0; i < count; i++) sock.send(Buffer.alloc(size, i & 0xff), port, PEER4);
}

// ---- child scenarios (run inside a fresh network namespace) ------------------------------

type Scenario = () => Promise<unknown>;

const SCENARIOS: Record<string, Scenario> = {
  /** ping the peer address: answer the echo requests the TUN delivers. */
  async ping() {
    const tun = await openTest();
    const requests: Parsed[] = [];
    tun.onPackets((packets) => {
      for (const p of packets) {
        const info = parse(p);
        if (info?.version === 4 && info.protocol === PROTO_ICMP && info.detail === ICMP_ECHO_REQUEST) {
          requests.push(info);
          tun.write([echoReply4(p)]);
        } else if (info?.version === 6 && info.protocol === PROTO_ICMP6 && info.detail === ICMP6_ECHO_REQUEST) {
          requests.push(info);
          tun.write([echoReply6(p)]);
        }
      }
    });
    const ping4 = await run('ping', ['-c1', '-W2', PEER4]);
    const ping6 = await run('ping', ['-6', '-c1', '-W2', PEER6]);
    await tun.close();
    return { requests, ping4: ping4.code, ping6: ping6.code, stats: tun.stats };
  },

  /** A burst of UDP datagrams sent before the loop polls: read back in batches. */
  async burst() {
    const tun = await openTest();
    const batches: number[] = [];
    const burstBatches: number[] = [];
    let received = 0;
    tun.onPackets((packets) => {
      const ours = packets.filter((p) => parse(p)?.detail === BURST_PORT).length;
      batches.push(packets.length);
      if (ours > 0) burstBatches.push(ours); // not the kernel's own IPv6 link-up packets
      received += ours;
    });
    const sock = dgram.createSocket('udp4');
    sendBurst(sock, BURST, BURST_PORT, 32);
    await until(() => received >= BURST, 'the burst');
    sock.close();
    await tun.close();
    return { batches, burstBatches, received };
  },

  /** A full-MTU packet each way; a malformed write is dropped, not thrown. */
  async mtu() {
    const tun = await openTest();
    const read: Parsed[] = [];
    tun.onPackets((packets) => {
      for (const p of packets) {
        const info = parse(p);
        if (info?.detail === MTU_PORT) read.push({ ...info, length: p.length });
      }
    });
    const out = dgram.createSocket('udp4');
    out.send(Buffer.alloc(MTU - 28, 7), MTU_PORT, PEER4);
    await until(() => read.length > 0, 'the full-MTU packet');
    const inbound = dgram.createSocket('udp4');
    const got: number[] = [];
    inbound.on('message', (msg) => got.push(msg.length));
    await new Promise<void>((resolve) => inbound.bind(0, ADDR4, resolve));
    tun.write([Buffer.alloc(20), udp4(PEER4, ADDR4, 5555, inbound.address().port, MTU)]);
    await until(() => got.length > 0, 'the written full-MTU packet');
    out.close();
    inbound.close();
    await tun.close();
    return { read, got, stats: tun.stats };
  },

  /** close() removes the interface and leaves no fd behind; a held name is EBUSY. */
  async lifecycle() {
    await run('ip', ['link', 'show', 'lo']); // the first spawn opens Node's own fds
    const before = openFds();
    const tun = await openTest();
    tun.onPackets(() => {});
    const shownOpen = (await run('ip', ['link', 'show', TUN])).code;
    const second = await openTest().then(
      (t) => t.close().then(() => 'opened twice'),
      (err: unknown) => (err instanceof SentinelError ? `${err.code}: ${err.message}` : String(err)),
    );
    await tun.close();
    await tun.close();
    tun.write([Buffer.alloc(20)]); // after close: counted as a drop, no throw
    const shownClosed = (await run('ip', ['link', 'show', TUN])).code;
    for (let i = 0; i < 5; i++) {
      const t = await openTest();
      if (i % 2 === 0) t.onPackets(() => {});
      await t.close();
    }
    return { before, after: openFds(), shownOpen, shownClosed, second, stats: tun.stats };
  },

  /** Run as nobody: no CAP_NET_ADMIN. */
  async nonroot() {
    try {
      await (await openTest()).close();
      return { opened: true };
    } catch (err) {
      return { opened: false, code: (err as { code?: unknown }).code, message: String((err as Error).message) };
    }
  },
};

async function runChild(name: string): Promise<void> {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  process.stdout.write(`${JSON.stringify(await scenario())}\n`);
}

// ---- tests ------------------------------------------------------------------------------

let nsSeq = 0;

/** Run a scenario in a child process inside a fresh namespace; returns its JSON output. */
async function inNetns(scenario: string): Promise<Record<string, unknown>> {
  const ns = `sntst-${process.pid}-${++nsSeq}`;
  const made = await run('ip', ['netns', 'add', ns]);
  assert.equal(made.code, 0, `ip netns add: ${made.stderr}`);
  try {
    const env = { ...process.env, SENTINEL_TUN_CHILD: scenario };
    return childOutput(await run('ip', ['netns', 'exec', ns, process.execPath, SELF], { env }));
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

function childOutput(r: RunResult): Record<string, unknown> {
  assert.equal(r.code, 0, `child failed (${r.code}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

function rootSkip(): string | false {
  if (process.platform !== 'linux') return 'TUN devices are Linux only';
  if (process.getuid?.() !== 0) return 'needs root (creates network namespaces and TUN devices)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  const loaded = loadNative();
  if (!loaded.ok) return `native addon not built: ${loaded.reason}`;
  return false;
}

function registerTests(): void {
  const skip = rootSkip();
  const root = { skip, timeout: 60_000 };

  test('open failures map to E_TUN with a one-line reason', () => {
    const errno = (code: string): Error => Object.assign(new Error(`ioctl ${code}`), { code, errno: -1, syscall: 'ioctl' });
    const cases: Array<[string, RegExp]> = [
      ['EPERM', /: cannot open sentinel0: needs root \(CAP_NET_ADMIN\)$/],
      ['EACCES', /needs root \(CAP_NET_ADMIN\)$/],
      ['ENOENT', /\/dev\/net\/tun is missing/],
      ['EBUSY', /interface sentinel0 is already in use/],
      ['E9999', /ioctl E9999$/],
    ];
    for (const [code, re] of cases) {
      const err = tunOpenError(errno(code), 'sentinel0');
      assert.ok(isSentinelError(err, 'E_TUN'), code);
      assert.match(err.message, /^TUN device unavailable: /);
      assert.match(err.message, re);
      assert.doesNotMatch(err.message, /\n/);
      assert.equal((err.cause as { code: string }).code, code);
    }
    const missing = tunOpenError(new SentinelError('E_NATIVE_UNAVAILABLE', 'not built'), 'x');
    assert.match(missing.message, /native addon unavailable/);
  });

  test('ip command failures map to E_TUN naming the command', () => {
    const exit = Object.assign(new Error('Command failed'), { code: 2 });
    const eperm = ipCommandError(['link', 'set', 'dev', 'sentinel0', 'up'], exit, 'RTNETLINK answers: Operation not permitted\n');
    assert.equal(eperm.code, 'E_TUN');
    assert.match(eperm.message, /ip link set dev sentinel0 up: needs root \(CAP_NET_ADMIN\)$/);
    const v6 = ipCommandError(['-6', 'addr', 'add', 'fd00::1/48', 'dev', 'x'], exit, 'RTNETLINK answers: Permission denied\n');
    assert.match(v6.message, /IPv6 is disabled/);
    const noIp = ipCommandError(['link'], Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' }), '');
    assert.match(noIp.message, /iproute2 is not installed/);
    assert.match(ipCommandError(['addr'], exit, 'Error: something else\n').message, /ip addr: Error: something else$/);
  });

  test('ipCommands: MTU and link up, then both addresses', () => {
    assert.deepEqual(ipCommands('sn0', { mtu: 1400, ipv4: '100.64.0.7', ipv4Prefix: 10, ipv6: 'fd58::7', ipv6Prefix: 48 }), [
      ['link', 'set', 'dev', 'sn0', 'mtu', '1400', 'txqueuelen', '1000', 'up'],
      ['addr', 'add', '100.64.0.7/10', 'dev', 'sn0'],
      ['-6', 'addr', 'add', 'fd58::7/48', 'dev', 'sn0'],
    ]);
  });

  test('misuse throws at once, before opening anything', () => {
    const ok = { ipv4: ADDR4, ipv6: ADDR6 };
    assert.throws(() => openNativeTun({ ...ok, name: 'a-name-that-is-too-long' }), RangeError);
    assert.throws(() => openNativeTun({ ...ok, mtu: 1000 }), RangeError);
    assert.throws(() => openNativeTun({ ...ok, ipv4: '100.64.1' }), TypeError);
    assert.throws(() => openNativeTun({ ...ok, ipv6: ADDR4 }), TypeError);
    assert.throws(() => openNativeTun({ ...ok, ipv4Prefix: 33 }), RangeError);
  });

  test('ping through the TUN: echo requests are read, crafted replies written back', root, async () => {
    const out = await inNetns('ping');
    const requests = out.requests as Parsed[];
    const v4 = requests.find((r) => r.version === 4);
    const v6 = requests.find((r) => r.version === 6);
    assert.deepEqual(v4 && { protocol: v4.protocol, dst: v4.dst }, { protocol: PROTO_ICMP, dst: PEER4 });
    assert.deepEqual(v6 && { protocol: v6.protocol, dst: v6.dst }, { protocol: PROTO_ICMP6, dst: PEER6 });
    assert.equal(out.ping4, 0, 'ping 100.64.1.2 got its reply');
    assert.equal(out.ping6, 0, 'ping -6 got its reply');
  });

  test('a burst is read in batches, every packet once', root, async (t) => {
    const out = await inNetns('burst');
    const batches = out.batches as number[];
    const ours = out.burstBatches as number[];
    t.diagnostic(`batch sizes: ${batches.join(' ')} (burst packets per batch: ${ours.join(' ')})`);
    assert.equal(out.received, BURST);
    assert.ok(ours.some((n) => n > 1), `some batch holds more than one burst packet: ${ours.join(' ')}`);
    assert.ok(batches.every((n) => n >= 1 && n <= TUN_BATCH));
  });

  test('full-MTU packets pass both ways; a malformed write is dropped, not thrown', root, async () => {
    const out = await inNetns('mtu');
    const read = out.read as Parsed[];
    assert.deepEqual(read[0], { version: 4, protocol: PROTO_UDP, dst: PEER4, detail: MTU_PORT, length: MTU });
    assert.deepEqual(out.got, [MTU - 28]);
    const stats = out.stats as { packetsRead: number; packetsWritten: number; writeDrops: number };
    assert.ok(stats.packetsRead >= read.length); // plus the kernel's own IPv6 link-up traffic
    assert.deepEqual([stats.packetsWritten, stats.writeDrops], [1, 1]);
  });

  test('close() removes the interface, is idempotent and leaks no fd; a held name is refused', root, async () => {
    const out = await inNetns('lifecycle');
    assert.equal(out.shownOpen, 0, 'the interface exists while open');
    assert.notEqual(out.shownClosed, 0, '`ip link show` fails after close');
    assert.equal(out.after, out.before, 'no fd leaked');
    assert.match(String(out.second), /^E_TUN: .*interface sntst0 is already in use/);
    assert.equal((out.stats as { writeDrops: number }).writeDrops, 1);
  });

  test('without CAP_NET_ADMIN openNativeTun rejects with E_TUN: needs root', root, async () => {
    const env = { ...process.env, SENTINEL_TUN_CHILD: 'nonroot' };
    const out = childOutput(await run(process.execPath, [SELF], { env, uid: NOBODY, gid: NOBODY }));
    assert.equal(out.opened, false);
    assert.equal(out.code, 'E_TUN');
    assert.match(String(out.message), /needs root \(CAP_NET_ADMIN\)$/);
  });
}

const child = process.env.SENTINEL_TUN_CHILD;
if (child) await runChild(child);
else registerTests();
