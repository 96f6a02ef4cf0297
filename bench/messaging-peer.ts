/**
 * The receiving node of bench/messaging.ts in its own process (two nodes, two event loops,
 * as two machines would have). Driven over the fork IPC channel:
 *
 *   child -> parent  { type: 'ready', id, port }
 *   parent -> child  { type: 'accept', peer }   child -> parent  { type: 'accepted', cpuUs }
 *   parent -> child  { type: 'cpu' }            child -> parent  { type: 'cpu', cpuUs }
 *   parent -> child  { type: 'close' }          child -> parent  { type: 'closed', cpuUs } and exits
 *
 * `cpuUs` is the child's CPU time (user + system, all threads) since it started.
 */
import type { NodeId } from '../src/api.js';
import { quietNode, tempDir } from './util.js';

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

type Command = { type: 'accept'; peer: NodeId } | { type: 'cpu' } | { type: 'close' };

async function main(): Promise<void> {
  const dir = await tempDir('msg-peer');
  const node = await quietNode(dir.path);
  const send = (m: unknown): void => void process.send?.(m);
  process.on('message', (m: Command) => {
    if (m.type === 'cpu') send({ type: 'cpu', cpuUs: cpuUs() });
    else if (m.type === 'accept') {
      void node.accept(m.peer).then(() => send({ type: 'accepted', cpuUs: cpuUs() }));
    } else if (m.type === 'close') {
      void node
        .close()
        .then(() => dir.cleanup())
        .then(() => {
          send({ type: 'closed', cpuUs: cpuUs() });
          process.disconnect();
        });
    }
  });
  // The parent died without saying goodbye: do not linger.
  process.on('disconnect', () => void node.close().finally(() => void dir.cleanup().finally(() => process.exit(0))));
  send({ type: 'ready', id: node.identity.id, port: node.port });
}

void main();
