export { PREAMBLE_SIZE, classifyFirstByte, decodePreamble, encodePreamble, punchRole } from './preamble.js';
export {
  CALLER_LEAD_MS,
  GIVE_UP_AFTER_REFUSED_ROUNDS,
  NAT_PORT_MAX,
  NAT_PORT_MIN,
  OPENER_TTLS,
  PROBE_COUNT,
  REFUSALS,
  SHIELD_MS,
  SPRAY_COUNT,
  natKind,
  planPunch,
  portPreserving,
  punchRound,
  randomPorts,
  refusedVerdict,
  type Birthday,
  type NatKind,
  type PunchPlan,
  type Round,
  type RoundOutcome,
  type RoundRole,
  type SelfView,
} from './plan.js';
export { runPunch, type PunchIo, type PunchProgress } from './puncher.js';
export { PunchCoordinator, SIGNALER_WAIT_MS, localEndpoints, type PunchCoordinatorDeps } from './coordinator.js';
