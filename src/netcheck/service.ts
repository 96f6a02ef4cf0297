/**
 * The node's netcheck: runs a check on demand (`sentinel netcheck`), keeps the last report,
 * and explains relayed or failed dials from the punch coordinator's last outcome and that
 * report (explain.ts). Wired by node.ts; everything it needs is passed in as getters.
 */
import type { DialReason, NetcheckReport, NodeId } from '../api.js';
import { errorMessage } from '../errors.js';
import type { PunchCoordinator } from '../punch/coordinator.js';
import type { SignalerClient } from '../signaler/client.js';
import { explainDial } from './explain.js';
import { globalIpv6Addresses } from './interfaces.js';
import { nodeNetcheckIo } from './node-io.js';
import { runNetcheck } from './run.js';

export interface NetcheckServiceDeps {
  signaler(): SignalerClient | undefined;
  puncher(): PunchCoordinator | undefined;
  port(): number;
  /** The listen host (`--host`), if any. */
  host: string | undefined;
  native: { ok: true } | { ok: false; reason: string };
  localHosts(): string[];
}

export class NetcheckService {
  private last: NetcheckReport | null = null;
  private running: Promise<NetcheckReport> | undefined;

  constructor(private readonly d: NetcheckServiceDeps) {}

  /** Run a netcheck (one at a time: a second caller shares the running one). */
  run(): Promise<NetcheckReport> {
    this.running ??= (async () => {
      const d = this.d;
      const io = nodeNetcheckIo({ signaler: d.signaler(), port: d.port(), nativeOk: d.native.ok, localHosts: d.localHosts(), ipv6: globalIpv6Addresses(d.host) });
      this.last = await runNetcheck(io);
      return this.last;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The last report, if a netcheck ran. */
  get lastReport(): NetcheckReport | null {
    return this.last;
  }

  /** Why a dial to `peer` ended relayed (no `err`) or failed (`err`); null when there is nothing to say. */
  explain(peer: NodeId, err?: unknown): { reason: DialReason; explanation: string } | null {
    const d = this.d;
    const unavailable = !d.signaler() ? 'no signaler configured' : !d.native.ok ? d.native.reason : null;
    const notRegistered = err !== undefined && /is not registered with the signaler/.test(errorMessage(err));
    const last = d.puncher()?.lastOutcome(peer);
    // A punch that worked says nothing about why this session is relayed.
    const punch = last && last.ended !== 'ok' ? last : null;
    if (!punch && !unavailable && !notRegistered) return null;
    return explainDial({ punch, unavailable, netcheck: this.last, notRegistered, failed: err !== undefined });
  }
}
