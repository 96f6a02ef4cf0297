/** Every abuse scenario, in the order of the findings of issue 8 (docs/ABUSE.md). */
import { diskFull, gossipFlood, vpnHijack } from './content.js';
import type { Scenario } from './common.js';
import { idPrefix, unsafeFiles, untrustedText } from './local.js';
import { localsReflection, mdnsReflection, punchStorm } from './reflection.js';
import { halfOpenTls, helloFlood, pullAmplification, sessionCap } from './sessions.js';
import { outboxLivelock } from './storage.js';

export type { Scenario } from './common.js';

export const SCENARIOS: readonly Scenario[] = [
  mdnsReflection,
  diskFull,
  vpnHijack,
  punchStorm,
  localsReflection,
  gossipFlood,
  pullAmplification,
  helloFlood,
  halfOpenTls,
  sessionCap,
  outboxLivelock,
  untrustedText,
  unsafeFiles,
  idPrefix,
];
