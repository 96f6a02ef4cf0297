/**
 * The abuse harness: one lab (test/lab topology) with real `sentinel-node` processes, the
 * attacker toolkit run inside lab namespaces, and the measurements every attack shares: a
 * contact's dial time to the victim, messages sent through the victim's front door, the
 * victim's memory and descriptors, and how it stops.
 *
 * Nodes are driven through their control sockets (the API `sentinel` uses) for frequent
 * calls (dial samples, sends, polling), and through the `sentinel` executable where the
 * point is that the user's command answers (`status`, `history`).
 */
import { fileURLToPath } from 'node:url';
import type { DialResult, HistoryEntry, NodeId, SendResult } from '../../../src/api.js';
import { SHUTDOWN_DEADLINE_MS } from '../../../src/cli/process.js';
import { connectControl, controlSocketPath, type ControlClient, type ControlMethod, type ControlParams, type ControlResults } from '../../../src/control/index.js';
import { errorCode, errorMessage } from '../../../src/errors.js';
import { exec, spawnIn, type LabProcess } from '../netns.js';
import { buildLab, type Lab, type LabSpec } from '../topology.js';
import { SentinelLab, tail, type LabNode, type LabNodeOptions } from '../sentinel-procs.js';
import { RESULT_PREFIX, type AttackResult, type AttackSpec } from './spec.js';

/** The compiled attacker program (this file runs from dist/test/lab/abuse/). */
export const ATTACKER_JS = fileURLToPath(new URL('./attacker.js', import.meta.url));

/** How much of an attack a run does: `ci` (the lab tests, scaled down where the defence is the same) or `full` (the figures, for bench/abuse.ts). */
export type Scale = 'ci' | 'full';

/** A SIGTERMed node must have exited by itself within its shutdown deadline plus this margin (process teardown, a loaded machine). */
export const STOP_MARGIN_MS = 3_000;
/** Bound on one dial sample of the contact (a dial that takes longer counts as failed). */
export const DIAL_SAMPLE_TIMEOUT_MS = 20_000;
/** Pause between two dial samples. */
export const DIAL_GAP_MS = 250;
/** Bound on the contact's acknowledged messages all reaching the victim after an attack. */
export const DRAIN_TIMEOUT_MS = 60_000;

/** One dial of the contact: the node's own measurement (`ms`) and the wall time of the call. */
export interface DialSample {
  ok: boolean;
  ms: number;
  wallMs: number;
  reason?: string;
}

/** How a SIGTERMed node ended. */
export interface StopResult {
  /** SIGTERM until the process was gone. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It did not exit within the deadline and was SIGKILLed. */
  killed: boolean;
}

/** What became of the messages a node sent. */
export interface MessageOutcome {
  sent: number;
  /** `send` answered (pending or delivered): the sender stored it and owes its delivery. */
  acknowledged: number;
  /** Acknowledged but not in the receiver's history after the drain. */
  lost: string[];
  /** In the receiver's history more than once. */
  duplicates: string[];
  /** `send` calls that failed (with their error). */
  errors: string[];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A lab with Sentinel processes and attackers; {@link destroy} removes all of it. */
export class AbuseHarness {
  readonly sl: SentinelLab;
  private readonly controls = new Map<string, Promise<ControlClient>>();
  private readonly attackers = new Set<LabProcess>();
  private readonly extraNext = new Map<string, number>();

  private constructor(readonly lab: Lab) {
    this.sl = new SentinelLab(lab);
  }

  static async build(spec: LabSpec): Promise<AbuseHarness> {
    return new AbuseHarness(await buildLab(spec));
  }

  /** Starts `sentinel-node` on `host` (info logging, no mDNS and no signaler unless said). */
  startNode(host: string, opts: Partial<LabNodeOptions> & { port: number }): Promise<LabNode> {
    const signaler = opts.signaler ?? 'none';
    return this.sl.startNode(host, {
      logLevel: 'info',
      ...opts,
      signaler,
      waitForSignaler: opts.waitForSignaler ?? signaler !== 'none',
      extraArgs: opts.extraArgs ?? ['--no-mdns'],
    });
  }

  /** A control connection to `node` (one per data dir, reused). */
  control(node: LabNode): Promise<ControlClient> {
    let c = this.controls.get(node.dataDir);
    if (!c) {
      c = connectControl(controlSocketPath(node.dataDir));
      this.controls.set(node.dataDir, c);
      c.catch(() => this.controls.delete(node.dataDir));
    }
    return c;
  }

  /**
   * One control call to `node`; a connection lost since the last call (the node restarted)
   * is replaced once.
   */
  async call<M extends ControlMethod>(node: LabNode, method: M, params: ControlParams[M]): Promise<ControlResults[M]> {
    try {
      return await (await this.control(node)).call(method, params);
    } catch (err) {
      if (errorCode(err) !== 'E_NOT_RUNNING') throw err;
      this.dropControl(node);
      return (await this.control(node)).call(method, params);
    }
  }

  /** Forgets the control connection of a node that stopped (the next call reconnects). */
  dropControl(node: LabNode): void {
    const c = this.controls.get(node.dataDir);
    this.controls.delete(node.dataDir);
    void c?.then((x) => x.close(), () => undefined);
  }

  /**
   * Makes `contact` and `victim` each other's contacts: the contact dials the victim at
   * `victimTarget` (a dial the user asks for), the victim gives the contact an alias.
   */
  async makeContacts(victim: LabNode, contact: LabNode, victimTarget: string): Promise<void> {
    const d = await this.call(contact, 'dial', { target: victimTarget });
    if (d.id !== victim.id) throw new Error(`dialed ${victimTarget} and reached ${d.id}, not the victim ${victim.id}`);
    await this.call(victim, 'alias', { target: contact.id, alias: 'contact' });
  }

  /**
   * `n` dials of `from` to `target` (host:port: each dial is a new TCP + TLS session, so
   * the victim admits the contact afresh every time), `gapMs` apart, stopping early when
   * `more()` says so.
   */
  async dials(from: LabNode, target: string, n: number, more: () => boolean = () => true, gapMs = DIAL_GAP_MS): Promise<DialSample[]> {
    const out: DialSample[] = [];
    for (let i = 0; i < n && more(); i++) {
      if (i > 0) await sleep(gapMs);
      out.push(await this.dialOnce(from, target));
    }
    return out;
  }

  async dialOnce(from: LabNode, target: string): Promise<DialSample> {
    const t0 = performance.now();
    try {
      const r: DialResult = await withTimeout(this.call(from, 'dial', { target }), DIAL_SAMPLE_TIMEOUT_MS, `dial ${target}`);
      return { ok: true, ms: r.ms, wallMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false, ms: NaN, wallMs: performance.now() - t0, reason: errorMessage(err) };
    }
  }

  /**
   * Starts `spec` on host `hostName` (attacker.js in its namespace). `result` resolves with
   * what the attack reports, or rejects with its output if it failed.
   */
  attack(hostName: string, spec: AttackSpec): { proc: LabProcess; result: Promise<AttackResult> } {
    const proc = spawnIn(this.lab.host(hostName).ns, process.execPath, [ATTACKER_JS, JSON.stringify(spec)]);
    this.attackers.add(proc);
    const result = proc.exited.then((r) => {
      this.attackers.delete(proc);
      const line = r.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (r.code !== 0 || line === undefined) throw new Error(`attacker ${spec.kind} on ${hostName} failed (${String(r.code ?? r.signal)}):\n${tail(r.stderr, 20)}\n${tail(r.stdout, 5)}`);
      return JSON.parse(line.slice(RESULT_PREFIX.length)) as AttackResult;
    });
    return { proc, result };
  }

  /**
   * Gives host `hostName` `n` more addresses in its own subnet (from .100 up), so one
   * attacker namespace can connect from many source IPs. Returns them.
   */
  async addAddresses(hostName: string, n: number): Promise<string[]> {
    const host = this.lab.host(hostName);
    const out = await exec(host.ns, 'ip', ['-o', '-4', 'addr', 'show']);
    const line = out.split('\n').find((l) => l.includes(` ${host.ip}/`));
    const dev = line?.split(/\s+/)[1];
    if (!dev) throw new Error(`no interface holds ${host.ip} on ${hostName}`);
    const net = host.ip.slice(0, host.ip.lastIndexOf('.'));
    const first = this.extraNext.get(net) ?? 100;
    if (first + n > 250) throw new Error(`lab: out of extra addresses in ${net}.0/24`);
    this.extraNext.set(net, first + n);
    const ips = Array.from({ length: n }, (_, i) => `${net}.${first + i}`);
    const batch = ips.map((ip) => `addr add ${ip}/24 dev ${dev}`).join('\n');
    await exec(host.ns, 'ip', ['-batch', '-'], { input: `${batch}\n` });
    return ips;
  }

  /** `n` messages from `from` to `to` through its control socket, one after the other. */
  async sendMessages(from: LabNode, to: NodeId, n: number, label: string): Promise<{ ids: string[]; errors: string[] }> {
    const ids: string[] = [];
    const errors: string[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const r: SendResult = await this.call(from, 'send', { target: to, text: `${label} ${i + 1}/${n}` });
        ids.push(r.id);
      } catch (err) {
        errors.push(errorMessage(err));
      }
    }
    return { ids, errors };
  }

  /**
   * Waits (up to {@link DRAIN_TIMEOUT_MS}) until every acknowledged message of `from` in
   * `ids` is delivered, then looks for each in the receiver's history (through its control
   * socket, all pages): lost ones and duplicates.
   */
  async checkMessages(from: LabNode, to: LabNode, ids: readonly string[], errors: readonly string[]): Promise<MessageOutcome> {
    const want = new Set(ids);
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (want.size > 0 && Date.now() < deadline) {
      const h = await this.call(from, 'history', { target: to.id, limit: 1_000 });
      const pending = h.filter((m) => want.has(m.id) && m.status !== 'delivered');
      if (pending.length === 0 && h.filter((m) => want.has(m.id)).length === want.size) break;
      await sleep(500);
    }
    const seen = new Map<string, number>();
    for (const m of await this.allHistory(to, from.id)) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
    return {
      sent: ids.length + errors.length,
      acknowledged: ids.length,
      lost: ids.filter((id) => !seen.has(id)),
      duplicates: [...seen.entries()].filter(([, k]) => k > 1).map(([id]) => id),
      errors: [...errors],
    };
  }

  /** Every message of `node` with `peer`, oldest first, read page by page through the control socket. */
  async allHistory(node: LabNode, peer: NodeId): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await this.call(node, 'history', { target: peer, limit: 1_000, ...(before ? { before } : {}) });
      out.unshift(...page);
      if (page.length === 0) break;
      before = page[0]?.id;
    }
    return out;
  }

  /**
   * SIGTERM `node` and wait for it to exit by itself, up to its shutdown deadline plus
   * {@link STOP_MARGIN_MS}; SIGKILL it after that (then `killed` is true).
   */
  async stopNode(node: LabNode): Promise<StopResult> {
    this.dropControl(node);
    const t0 = performance.now();
    node.proc.child.kill('SIGTERM');
    const bound = SHUTDOWN_DEADLINE_MS + STOP_MARGIN_MS;
    const exited = await Promise.race([node.proc.exited, sleep(bound).then(() => undefined)]);
    if (exited) return { ms: performance.now() - t0, code: exited.code, signal: exited.signal, killed: false };
    node.proc.child.kill('SIGKILL');
    const r = await node.proc.exited;
    return { ms: performance.now() - t0, code: r.code, signal: r.signal, killed: true };
  }

  /** Stops every attacker and node, removes data dirs and the lab. */
  async destroy(): Promise<void> {
    for (const c of this.controls.values()) void c.then((x) => x.close(), () => undefined);
    this.controls.clear();
    await Promise.allSettled([...this.attackers].map((a) => a.stop()));
    await this.sl.cleanup();
    await this.lab.destroy();
  }
}

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
