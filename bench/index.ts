/** Benchmarks as functions (each returns a {@link BenchResult}); `run.ts` composes them. */
export { runDialBench, type DialOptions } from './dial.js';
export { runDnsBench } from './dns.js';
export { runGossipSim, type GossipSimOptions } from './gossip-sim.js';
export { runGossipMeshBench, type GossipMeshOptions } from './gossip-mesh.js';
export { runHandshakeBench, type HandshakeOptions } from './handshake.js';
export { runLabDialBench, type LabDialOptions } from './lab-dial.js';
export { runMessagingBench, type MessagingOptions } from './messaging.js';
export { goalRow, infoRow, machineFacts, renderConsole, renderMarkdown, type BenchResult, type BenchRow, type Verdict } from './report.js';
export { runRelayBench, type RelayBenchOptions } from './relay.js';
export { BENCHMARKS, REPORT_PATH, runBenchmarks } from './run.js';
export { runSignalerBench, type SignalerBenchOptions } from './signaler.js';
export { runSignalerFailoverBench, type SignalerFailoverOptions } from './signaler-failover.js';
export { runSessionsBench, type SessionsOptions } from './sessions.js';
export { runStoreBench } from './store.js';
export { runStoreTable } from './store-table.js';
export { runThroughputBench, type ThroughputOptions } from './throughput.js';
export { runVpnBench, type VpnBenchOptions } from './vpn.js';
export { runVpnLossBench, type VpnLossBenchOptions } from './vpn-loss.js';
