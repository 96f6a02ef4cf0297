/**
 * The network-namespace NAT lab (root only): namespaces and processes, the NAT router
 * rulesets, the topology builder and a few probes. See docs/NAT-LAB.md.
 */

export {
  canRunLab,
  exec,
  tryExec,
  spawnIn,
  listNamespaces,
  deleteNamespace,
  registerCleanup,
  uniquePrefix,
  findTool,
  getSysctl,
  setSysctl,
  ifName,
  LAB_PREFIX_PATTERN,
  type ExecOptions,
  type ExecResult,
  type LabCheck,
  type LabProcess,
  type Ns,
  type SpawnInOptions,
} from './netns.js';
export {
  cutLink,
  healLink,
  setConntrackEstablishedTimeout,
  getConntrackEstablishedTimeout,
  routerRuleset,
  loadRuleset,
  ROUTER_NATS,
  type RouterNat,
  type NsLike,
} from './nft.js';
export { NAT_KINDS, buildLab, type Lab, type LabHost, type LabRouter, type LabSpec, type LabUpstream, type NatKind, type SiteSpec } from './topology.js';
export {
  connectFrom,
  ping,
  probeTcp,
  simultaneousOpen,
  startAddressEchoServer,
  type ObservedConnection,
  type ProbeResult,
  type SimOpenOptions,
  type SimOpenResult,
  type SimOpenSide,
  type Target,
} from './probes.js';
