/**
 * The lab's delay line (test/lab/delay-line.ts) with a real TUN in a router namespace (root
 * only; skipped with the reason otherwise, failed when SENTINEL_LAB=required): packets
 * between the two hosts are held about D ms each way (only a lower bound is asserted), none
 * is lost when the queue has room, and what exceeds the queue's byte bound is dropped and
 * counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pingRtt } from '../../bench/vpn-tools.js';
import { buildDelayLab, startDelayLine, type DelayLab } from './delay-line.js';
import { labAvailable } from './gate.js';
import { tunAvailable } from './delay-line-gate.js';
import { tryExec } from './netns.js';

const labOk = (await labAvailable('delay line in the lab')) && tunAvailable('delay line in the lab');

const DELAY_MS = 50;
const PINGS = 10;
/** An ICMP payload making 1428-byte IPv4 packets, so a few fill a small queue. */
const BIG_PING = 1400;

if (labOk) describe('delay line (router namespace, TUN, real kernel routing)', { timeout: 60_000 }, () => {
  let lab: DelayLab;

  before(async () => {
    lab = await buildDelayLab();
  });

  after(async () => {
    await lab?.destroy();
  });

  it(`holds packets ${DELAY_MS} ms each way and loses none`, async () => {
    const [tx, rx] = [lab.host('tx'), lab.host('rx')];
    const line = await startDelayLine(lab, { delayMs: DELAY_MS });
    let stats;
    let ping;
    try {
      ping = await pingRtt(tx.ns, rx.ip, PINGS);
    } finally {
      stats = await line.stop();
    }
    assert.equal(ping.received, PINGS, 'every echo answered');
    assert.ok(ping.min >= 2 * DELAY_MS, `shortest round trip ${ping.min} ms >= ${2 * DELAY_MS} ms`);
    const [there, back] = line.tuns.map((t) => stats[t]);
    assert.ok(there && back, JSON.stringify(stats));
    for (const d of [there, back]) {
      assert.ok(d.packets >= PINGS, `each direction carried the ${PINGS} pings: ${JSON.stringify(d)}`);
      assert.equal(d.dropped, 0);
      assert.equal(d.writeFailed, 0);
      assert.equal(d.released, d.packets);
    }
    // Without the delay line the router forwards directly again.
    const direct = await pingRtt(tx.ns, rx.ip, 3);
    assert.ok(direct.received === 3 && direct.max < DELAY_MS, `direct again: ${JSON.stringify(direct)}`);
  });

  it('drops and counts what exceeds the byte bound of a direction', async () => {
    const [tx, rx] = [lab.host('tx'), lab.host('rx')];
    const limit = 5_000;
    const line = await startDelayLine(lab, { delayMs: 300, limitBytes: limit });
    let stats;
    try {
      // 20 full-size echoes in ~100 ms: a 5,000-byte queue held 300 ms takes three.
      await pingBurst(tx.ns, rx.ip);
    } finally {
      stats = await line.stop();
    }
    const there = stats[line.tuns[0]];
    assert.ok(there, JSON.stringify(stats));
    assert.ok(there.dropped >= 1, `drops counted: ${JSON.stringify(there)}`);
    assert.ok(there.maxQueuedBytes <= limit, `never held more than the bound: ${there.maxQueuedBytes}`);
    assert.equal(there.packets, there.released + there.dropped, 'every packet released or dropped');
    assert.equal(there.droppedBytes, there.dropped * (BIG_PING + 28));
  });
});

async function pingBurst(ns: string, ip: string): Promise<void> {
  await tryExec(ns, 'ping', ['-n', '-q', '-c', '20', '-i', '0.005', '-s', String(BIG_PING), '-W', '2', ip], { timeoutMs: 15_000 });
}
