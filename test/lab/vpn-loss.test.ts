/**
 * The VPN under underlay loss with the real binaries (root only; skipped with the reason
 * otherwise, failed when SENTINEL_LAB=required): two `sentinel-node --tun` hosts joined
 * through a router that drops 3%, then 1%, of the packets it forwards in both directions
 * (nftables `numgen random`, test/lab/delay-line.ts). A 16 MiB TCP transfer through the
 * tunnel arrives whole: the receiver's SHA-256 of what it got equals the sender's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildDelayLab, lossDrops, setLoss, type DelayLab } from './delay-line.js';
import { hashedTransfer, startSentinelPair, vpnPeerCounters, type SentinelPair } from './delay-line-vpn.js';
import { tail } from './sentinel-procs.js';
import { labAvailable } from './gate.js';
import { tunAvailable } from './delay-line-gate.js';

const labOk = (await labAvailable('VPN under underlay loss')) && tunAvailable('VPN under underlay loss');

const MTU = 1400;
const TRANSFER_BYTES = 16 * 1024 * 1024;
const SINK_PORT = 5302;
const TRANSFER_TIMEOUT_MS = 60_000;

if (labOk) describe('VPN under underlay loss (delay lab, real binaries)', { timeout: 150_000 }, () => {
  let lab: DelayLab;
  let pair: SentinelPair;

  before(async () => {
    lab = await buildDelayLab();
    pair = await startSentinelPair(lab, { mtu: MTU, port: 23_100, logLevel: 'info' });
  });

  after(async () => {
    await pair?.stop();
    await lab?.destroy();
  });

  for (const permille of [30, 10]) {
    it(`delivers every byte of a 16 MiB transfer with ${permille / 10}% random loss on the underlay`, async () => {
      await setLoss(lab, permille);
      const before = await vpnPeerCounters(pair.rx, pair.tx.id);
      let r;
      try {
        r = await hashedTransfer(pair.tx.host.ns, pair.rx.host.ns, pair.rxVpnIp, SINK_PORT, TRANSFER_BYTES, TRANSFER_TIMEOUT_MS);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nreceiver log:\n${tail(pair.rx.stderr(), 20)}\nsender log:\n${tail(pair.tx.stderr(), 20)}`);
      }
      assert.equal(r.sent.bytes, TRANSFER_BYTES);
      assert.equal(r.received.bytes, TRANSFER_BYTES, 'byte count at the receiver');
      assert.equal(r.received.sha256, r.sent.sha256, 'SHA-256 of what arrived');
      // The transfer went through the tunnel, and the underlay really lost packets meanwhile.
      const afterCounters = await vpnPeerCounters(pair.rx, pair.tx.id);
      assert.ok(afterCounters.bytesIn - before.bytesIn >= TRANSFER_BYTES, `tunnel bytes in at the receiver: ${before.bytesIn} -> ${afterCounters.bytesIn}`);
      const dropped = await lossDrops(lab);
      assert.ok(dropped > 0, 'the loss rule dropped packets during the transfer');
    });
  }
});
