export { PREAMBLE_SIZE, classifyFirstByte, decodePreamble, encodePreamble, punchRole } from './preamble.js';
export { planPunch, portPreserving, type PunchPlan } from './plan.js';
export { runPunch, type PunchIo, type PunchProgress } from './puncher.js';
