/**
 * The VPN under underlay loss with the real binaries (root only; skipped with the reason
 * otherwise, failed when SENTINEL_LAB=required): two `sentinel-node --tun` hosts joined
 * through a router that drops 3%, then 1%, of the packets it forwards in both directions
 * (nftables `numgen random`, test/lab/delay-line.ts). A 16 MiB TCP transfer through the
 * tunnel arrives whole: the receiver's SHA-256 of what it got equals the sender's.
 *
 * The nodes run the default datagram setting (SENTINEL_VPN_DATAGRAM=auto): the session's
 * TCP shows the loss, so the VPN moves to the UDP datagram path (src/vpn/datagram-service.ts),
 * which the counters must show. Then the router starts dropping the nodes' UDP in the middle
 * of a transfer: the path goes down, the packets go back over the session, and every byte
 * still arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildDelayLab, lossDrops, setLoss, type DelayLab } from './delay-line.js';
import { hashedTransfer, startSentinelPair, vpnPeerCounters, type SentinelPair } from './delay-line-vpn.js';
import { exec, tryExec } from './netns.js';
import { tail, type LabNode } from './sentinel-procs.js';
import { labAvailable } from './gate.js';
import { tunAvailable } from './delay-line-gate.js';

const labOk = (await labAvailable('VPN under underlay loss')) && tunAvailable('VPN under underlay loss');

const MTU = 1400;
const PORT = 23_100;
const TRANSFER_BYTES = 16 * 1024 * 1024;
const FALLBACK_BYTES = 48 * 1024 * 1024;
const SINK_PORT = 5302;
const TRANSFER_TIMEOUT_MS = 60_000;
const UDP_BLOCK_TABLE = 'lab_udp_block';

const counter = async (n: LabNode, name: string): Promise<number> => (await n.status()).counters[name] ?? 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Drops the nodes' datagram path (UDP to or from the identity port) in the router, or stops doing so. */
async function blockUdp(lab: DelayLab, on: boolean): Promise<void> {
  await tryExec(lab.rt.ns, 'nft', ['delete', 'table', 'inet', UDP_BLOCK_TABLE]);
  if (!on) return;
  const ruleset = [
    `table inet ${UDP_BLOCK_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority -10; policy accept;',
    `    udp dport ${PORT} counter drop`,
    `    udp sport ${PORT} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
  await exec(lab.rt.ns, 'nft', ['-f', '-'], { input: ruleset });
}

if (labOk) describe('VPN under underlay loss (delay lab, real binaries)', { timeout: 180_000 }, () => {
  let lab: DelayLab;
  let pair: SentinelPair;

  before(async () => {
    lab = await buildDelayLab();
    pair = await startSentinelPair(lab, { mtu: MTU, port: PORT, logLevel: 'info' });
  });

  after(async () => {
    await pair?.stop();
    await lab?.destroy();
  });

  const logs = (): string => `receiver log:\n${tail(pair.rx.stderr(), 20)}\nsender log:\n${tail(pair.tx.stderr(), 20)}`;
  /** Both ends' vpn.dgram.* counters, for a failure message. */
  const dgramCounters = async (): Promise<string> => {
    const pick = async (n: LabNode): Promise<string> =>
      Object.entries((await n.status()).counters).filter(([k]) => k.startsWith('vpn.dgram.')).map(([k, v]) => `${k.slice(10)}=${v}`).join(' ');
    return `datagram counters: sender ${await pick(pair.tx)}; receiver ${await pick(pair.rx)}`;
  };

  for (const permille of [30, 10]) {
    it(`delivers every byte of a 16 MiB transfer with ${permille / 10}% random loss on the underlay, on the datagram path`, async () => {
      await setLoss(lab, permille);
      const before = await vpnPeerCounters(pair.rx, pair.tx.id);
      const dgramBefore = await counter(pair.rx, 'vpn.dgram.received');
      let r;
      try {
        r = await hashedTransfer(pair.tx.host.ns, pair.rx.host.ns, pair.rxVpnIp, SINK_PORT, TRANSFER_BYTES, TRANSFER_TIMEOUT_MS);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${logs()}`);
      }
      assert.equal(r.sent.bytes, TRANSFER_BYTES);
      assert.equal(r.received.bytes, TRANSFER_BYTES, 'byte count at the receiver');
      assert.equal(r.received.sha256, r.sent.sha256, 'SHA-256 of what arrived');
      // The transfer went through the tunnel, and the underlay really lost packets meanwhile.
      const afterCounters = await vpnPeerCounters(pair.rx, pair.tx.id);
      assert.ok(afterCounters.bytesIn - before.bytesIn >= TRANSFER_BYTES, `tunnel bytes in at the receiver: ${before.bytesIn} -> ${afterCounters.bytesIn}`);
      const dropped = await lossDrops(lab);
      assert.ok(dropped > 0, 'the loss rule dropped packets during the transfer');
      // The outer TCP's loss moved the VPN to datagrams (auto), and they carried the transfer.
      assert.ok((await counter(pair.tx, 'vpn.dgram.route_udp')) >= 1, `the sender moved to the datagram path\n${await dgramCounters()}\n${logs()}`);
      const datagrams = (await counter(pair.rx, 'vpn.dgram.received')) - dgramBefore;
      assert.ok(datagrams > TRANSFER_BYTES / MTU / 2, `datagrams received during the transfer: ${datagrams}`);
    });
  }

  it('falls back to the session when UDP is dropped in the middle of a transfer, and delivers every byte', async () => {
    await setLoss(lab, 10);
    assert.equal((await pair.tx.status()).counters['vpn.dgram.route_udp'] !== undefined, true, 'on the datagram path from the tests before');
    const downBefore = await counter(pair.tx, 'vpn.dgram.path_down');
    const dgramBefore = await counter(pair.rx, 'vpn.dgram.received');
    let done = false;
    const transfer = hashedTransfer(pair.tx.host.ns, pair.rx.host.ns, pair.rxVpnIp, SINK_PORT, FALLBACK_BYTES, TRANSFER_TIMEOUT_MS).finally(() => (done = true));
    transfer.catch(() => {});
    try {
      // Block once datagrams are flowing for this transfer.
      while (!done && (await counter(pair.rx, 'vpn.dgram.received')) - dgramBefore < 2_000) await sleep(20);
      assert.equal(done, false, 'the transfer was still running when UDP was blocked');
      await blockUdp(lab, true);
      const r = await transfer.catch((err: Error) => {
        throw new Error(`${err.message}\n${logs()}`);
      });
      assert.equal(r.received.bytes, FALLBACK_BYTES, 'byte count at the receiver');
      assert.equal(r.received.sha256, r.sent.sha256, 'SHA-256 of what arrived');
      assert.ok((await counter(pair.tx, 'vpn.dgram.path_down')) > downBefore, 'the sender saw the path go down');
      assert.equal((await pair.tx.status()).counters['vpn.dgram.route_tcp']! >= 1, true, 'and went back to the session');
    } finally {
      await blockUdp(lab, false);
      await setLoss(lab, 0);
    }
  });
});
