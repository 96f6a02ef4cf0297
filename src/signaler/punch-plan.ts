/**
 * The two PUNCH_STARTs of one punch, from what the signaler knows of both nodes: which
 * endpoints each may be told (locals.ts, within the /64 claim budget of claims.ts) and
 * when each starts (timing.ts). Used for two nodes of one signaler and, in a cluster, by
 * the target's instance for a requester registered at another instance. Pure, apart
 * from the claim budget it spends.
 */
import type { NodeId } from '../api.js';
import { publicKeyFromNodeId } from '../identity/index.js';
import type { Endpoint, PunchStart } from '../wire/index.js';
import type { V6ClaimLimiter } from './claims.js';
import { DEFAULT_RTT_MS, PUNCH_ATTEMPTS, PUNCH_INTERVAL_MS, PUNCH_MARGIN_MS } from './limits.js';
import { hasGlobalV6, localsFor } from './locals.js';
import { punchDelays } from './timing.js';

/** One side of a punch as the signaler sees it. */
export interface PunchParty {
  id: NodeId;
  observed: Endpoint;
  /** Its kept local endpoints (filterLocals). */
  local: readonly Endpoint[];
  listenPort: number;
  rttMs: number | null;
}

export interface PunchPlan {
  /** For the requester (reqId 0: the caller sets it). */
  toRequester: PunchStart;
  /** For the target (reqId 0: unsolicited). */
  toTarget: PunchStart;
  /** Global IPv6 claims left out for want of budget. */
  withheld: number;
}

/**
 * `targetExtraDelayMs`: added to the target's delay when the requester's PUNCH_START
 * leaves later than the target's (a cluster's bus hop back to the requester's instance).
 */
export function planPunch(claims: V6ClaimLimiter, requester: PunchParty, target: PunchParty, now: number, targetExtraDelayMs = 0): PunchPlan {
  const mine = claims.pass(localsFor(requester, target.observed.host, hasGlobalV6(target)), requester.observed.host, now);
  const theirs = claims.pass(localsFor(target, requester.observed.host, hasGlobalV6(requester)), target.observed.host, now);
  const delays = punchDelays(requester.rttMs ?? DEFAULT_RTT_MS, target.rttMs ?? DEFAULT_RTT_MS, PUNCH_MARGIN_MS);
  const common = { reqId: 0, attempts: PUNCH_ATTEMPTS, intervalMs: PUNCH_INTERVAL_MS, sameNat: requester.observed.host === target.observed.host };
  return {
    toTarget: { ...common, peer: publicKeyFromNodeId(requester.id), delayMs: delays.b + targetExtraDelayMs, listenPort: requester.listenPort, public: requester.observed, local: mine.endpoints },
    toRequester: { ...common, peer: publicKeyFromNodeId(target.id), delayMs: delays.a, listenPort: target.listenPort, public: target.observed, local: theirs.endpoints },
    withheld: mine.withheld + theirs.withheld,
  };
}
