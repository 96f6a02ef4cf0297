export { PREAMBLE_SIZE, classifyFirstByte, decodePreamble, encodePreamble, punchRole } from './preamble.js';
export { NAT_PORT_MAX, NAT_PORT_MIN, PROBE_COUNT, SPRAY_COUNT, natKind, planPunch, portPreserving, randomPorts, type Birthday, type NatKind, type PunchPlan, type SelfView } from './plan.js';
export { runPunch, type PunchIo, type PunchProgress } from './puncher.js';
export { PunchCoordinator, SIGNALER_WAIT_MS, localEndpoints, type PunchCoordinatorDeps } from './coordinator.js';
