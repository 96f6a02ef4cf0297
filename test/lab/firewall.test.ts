/**
 * The lab's answering firewalls and the low-TTL SYN, one packet at a time with fighter
 * sockets (root only; skipped with the reason otherwise, failed when SENTINEL_LAB=required).
 * What Linux does with a socket in SYN_SENT, seen for real:
 *
 * - an unsolicited SYN is dropped by `easy` and `cgnat` (the connect times out), reset by
 *   `rst` and `tcp443` (ECONNREFUSED at once), answered ICMP admin-prohibited by `icmp`
 *   (EHOSTUNREACH at once: any ICMP unreachable or time exceeded ends a SYN_SENT socket);
 * - `tcp443` lets out TCP to port 443 only and resets anything else at once;
 * - a SYN with TTL 2 leaves the home NAT (opening its mapping), expires at the ISP hop
 *   (time exceeded: EHOSTUNREACH) and never meets the far firewall; with the normal TTL
 *   the far firewall resets it;
 * - so such a SYN needs IP_MINTTL 255 while its time exceeded comes back (the "shield"):
 *   then its socket survives and waits, and the peer's SYN to our mapping passes our `rst`
 *   / `icmp` firewall and completes a simultaneous open with it; without the shield the
 *   socket is gone, and our listener's answer (a new initial sequence number, outside the
 *   window conntrack recorded) is invalid for our own NAT and never arrives;
 * - behind a CGN, TTL 2 expires at the CGN before it maps anything, TTL 3 opens both NATs
 *   (and expires at the site's ISP hop);
 * - a reset from the far firewall "poisons" our own NAT's entry (conntrack CLOSE, ~10 s):
 *   the peer's SYN is then refused even though our SYN went first. That is why the low-TTL
 *   SYN must not reach the far firewall, and why the punch's real SYN waits (docs/PROTOCOL.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildLab, type Lab, type LabProcess } from './index.js';
import { fighterProbe, startFighterConnect, startFighterListener, type ProbeConnect, type ProbeOutcome } from './fighter-probe.js';
import { labAvailable, sleep } from './gate.js';

const labOk = await labAvailable('answering firewalls and low-TTL SYNs in the NAT lab');

/** Long enough for a dropped SYN to be told from an answered one (a first retransmission is at 1 s). */
const DROP_TIMEOUT_MS = 1_500;
/** An answer (RST or ICMP) arrives in well under this in the lab; a drop never does. */
const ANSWER_TIMEOUT_MS = 1_000;

if (labOk) describe('answering firewalls and low-TTL SYNs', { timeout: 120_000 }, () => {
  let lab: Lab;
  const procs: LabProcess[] = [];

  before(async () => {
    lab = await buildLab({
      sites: [
        { name: 'pub', nat: 'public', hosts: ['pub1'] },
        { name: 'E', nat: 'easy', hosts: ['e1'] },
        { name: 'R1', nat: 'rst', hosts: ['r1'] },
        { name: 'R2', nat: 'rst', hosts: ['r2'] },
        { name: 'I1', nat: 'icmp', hosts: ['i1'] },
        { name: 'I2', nat: 'icmp', hosts: ['i2'] },
        { name: 'C', nat: 'cgnat', hosts: ['c1'] },
        { name: 'W', nat: 'tcp443', hosts: ['w1'] },
      ],
    });
  });

  after(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await lab?.destroy();
  });

  const listen = async (host: string, port: number): Promise<LabProcess> => {
    const p = await startFighterListener(lab.host(host).ns, port);
    procs.push(p);
    return p;
  };
  type Probe = { localPort: number; to: string; port: number; ttl?: number; shieldMs?: number; timeoutMs?: number };
  const connectOf = (c: Probe): ProbeConnect => ({
    localPort: c.localPort,
    host: lab.host(c.to).publicIp,
    port: c.port,
    timeoutMs: c.timeoutMs ?? ANSWER_TIMEOUT_MS,
    ...(c.ttl !== undefined ? { ttl: c.ttl } : {}),
    ...(c.shieldMs !== undefined ? { shieldMs: c.shieldMs } : {}),
  });
  const probe = (host: string, c: Probe): Promise<ProbeOutcome> => fighterProbe(lab.host(host).ns, connectOf(c));
  /**
   * A shielded low-TTL connect from `host`, then (once its SYN is out and the shield is
   * over) the peer's plain connect back to it; both outcomes.
   */
  async function openThenCall(host: string, opener: Probe, peerHost: string, call: Probe): Promise<[ProbeOutcome, ProbeOutcome]> {
    const mine = startFighterConnect(lab.host(host).ns, connectOf(opener));
    procs.push(mine.proc);
    await mine.sent;
    await sleep(2 * (opener.shieldMs ?? 0));
    const theirs = await probe(peerHost, call);
    return [await mine.outcome, theirs];
  }

  it('an unsolicited SYN is dropped (easy, cgnat), reset (rst, tcp443) or answered ICMP admin-prohibited (icmp)', async (t) => {
    const expect: Record<string, string> = { e1: 'ETIMEDOUT', c1: 'ETIMEDOUT', r1: 'ECONNREFUSED', w1: 'ECONNREFUSED', i1: 'EHOSTUNREACH' };
    for (const [target, outcome] of Object.entries(expect)) {
      const o = await probe('pub1', { localPort: 31_000, to: target, port: 31_001, timeoutMs: DROP_TIMEOUT_MS });
      t.diagnostic(`public -> ${lab.host(target).nat} router: ${o.outcome} after ${o.ms} ms`);
      assert.equal(o.outcome, outcome, `SYN to the ${lab.host(target).nat} site`);
    }
  });

  it('tcp443 lets out TCP to port 443 only; any other port is reset at once', async () => {
    await listen('pub1', 443);
    await listen('pub1', 9443);
    assert.equal((await probe('w1', { localPort: 32_000, to: 'pub1', port: 443 })).outcome, 'connected');
    assert.equal((await probe('w1', { localPort: 32_000, to: 'pub1', port: 9443 })).outcome, 'ECONNREFUSED');
    assert.equal((await probe('e1', { localPort: 32_000, to: 'pub1', port: 9443 })).outcome, 'connected', 'control: from an easy site it connects');
  });

  it('a SYN with TTL 2 expires at the ISP hop (time exceeded) instead of meeting the far firewall', async () => {
    // Normal TTL: the far rst firewall answers with a reset. TTL 2: the home NAT forwards
    // it (TTL 1), the ISP hop cannot, and answers ICMP time exceeded.
    assert.equal((await probe('r1', { localPort: 33_000, to: 'r2', port: 33_001 })).outcome, 'ECONNREFUSED');
    assert.equal((await probe('r1', { localPort: 33_002, to: 'r2', port: 33_003, ttl: 2 })).outcome, 'EHOSTUNREACH');
    assert.equal((await probe('i1', { localPort: 33_004, to: 'i2', port: 33_005, ttl: 2 })).outcome, 'EHOSTUNREACH');
    // TTL 1 does not even leave the LAN: the home router answers time exceeded itself.
    assert.equal((await probe('r1', { localPort: 33_006, to: 'r2', port: 33_007, ttl: 1 })).outcome, 'EHOSTUNREACH');
  });

  for (const [near, far, kind] of [['r1', 'r2', 'rst'], ['i1', 'i2', 'icmp']] as const) {
    it(`${kind}: a shielded TTL-2 SYN opens our mapping and its socket waits; the peer's SYN completes a simultaneous open with it`, async (t) => {
      const [P, Q, Q0] = kind === 'rst' ? [34_000, 34_001, 34_002] : [34_100, 34_101, 34_102];
      await listen(near, P); // like a node: the identity port has a listener too
      const refused = kind === 'rst' ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      // Control: nothing opened our mapping, the peer's SYN is refused by our firewall.
      assert.equal((await probe(far, { localPort: Q0, to: near, port: P })).outcome, refused);
      // Our SYN leaves with TTL 2 (mapping opened, expired at the ISP hop); IP_MINTTL 255
      // makes the socket ignore the time exceeded; after 50 ms it is back to normal and waits.
      const [mine, theirs] = await openThenCall(near, { localPort: P, to: far, port: Q, ttl: 2, shieldMs: 50, timeoutMs: 5_000 }, far, { localPort: Q, to: near, port: P, timeoutMs: 3_000 });
      t.diagnostic(`ours: ${mine.outcome} after ${mine.ms} ms; the peer's: ${theirs.outcome} after ${theirs.ms} ms`);
      assert.equal(theirs.outcome, 'connected', `the peer's SYN passed our ${kind} firewall`);
      assert.equal(mine.outcome, 'connected', 'our waiting socket got it (simultaneous open)');
    });

    it(`${kind}: without the shield the time exceeded ends our socket, and the listener's answer does not get out`, async () => {
      const [P, Q] = kind === 'rst' ? [34_200, 34_201] : [34_300, 34_301];
      const listener = await listen(near, P);
      assert.equal((await probe(near, { localPort: P, to: far, port: Q, ttl: 2 })).outcome, 'EHOSTUNREACH', 'ended by the ICMP time exceeded');
      // The mapping is open, so the peer's SYN reaches our listener; its SYN-ACK carries a
      // new initial sequence number, outside the window conntrack recorded from our SYN:
      // invalid, so it leaves un-NATed and never arrives.
      const o = await probe(far, { localPort: Q, to: near, port: P, timeoutMs: DROP_TIMEOUT_MS });
      assert.equal(o.outcome, 'ETIMEDOUT');
      assert.match(listener.output().stdout, /^listening\n$/, 'nothing was accepted');
    });
  }

  it('behind a CGN, TTL 2 expires at the CGN (no public mapping), TTL 3 opens both NATs', async () => {
    const P = 35_000;
    await listen('c1', P);
    // TTL 2 expires at the CGN (time exceeded), which never mapped it: the peer's SYN to
    // our public endpoint is dropped there.
    assert.equal((await probe('c1', { localPort: P, to: 'r2', port: 35_001, ttl: 2 })).outcome, 'EHOSTUNREACH');
    assert.equal((await probe('r2', { localPort: 35_001, to: 'c1', port: P, timeoutMs: DROP_TIMEOUT_MS })).outcome, 'ETIMEDOUT');
    // TTL 3, shielded: through the home NAT and the CGN, expiring at the site's ISP hop; the
    // peer's SYN then meets our waiting socket.
    const [mine, theirs] = await openThenCall('c1', { localPort: P, to: 'r2', port: 35_003, ttl: 3, shieldMs: 50, timeoutMs: 5_000 }, 'r2', { localPort: 35_003, to: 'c1', port: P, timeoutMs: 3_000 });
    assert.equal(theirs.outcome, 'connected');
    assert.equal(mine.outcome, 'connected');
  });

  it('a reset from the far firewall poisons our own mapping: the peer\'s SYN is refused although ours went first', async () => {
    const [P, Q] = [36_000, 36_001];
    await listen('r1', P);
    // Our SYN (normal TTL) reaches the far rst firewall first: reset.
    assert.equal((await probe('r1', { localPort: P, to: 'r2', port: Q })).outcome, 'ECONNREFUSED');
    // The peer's SYN to our mapping now meets conntrack's closed entry (a reply-direction
    // SYN in state CLOSE is invalid): not forwarded, reset by our firewall.
    assert.equal((await probe('r2', { localPort: Q, to: 'r1', port: P })).outcome, 'ECONNREFUSED');
  });
});
