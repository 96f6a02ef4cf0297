/**
 * Counting the connection attempts an attack makes a node aim at a third party: an
 * nftables counter of TCP SYNs (SYN set, ACK clear), loaded in the third party's
 * namespace (a host, or the NAT router in front of a site).
 */
import { exec } from '../netns.js';
import { loadRuleset } from '../nft.js';

const TABLE = 'abuse_syns';

/** What to count: SYNs to these destination ports (a range), optionally only from `from`. */
export interface SynFilter {
  ports: { first: number; last: number };
  from?: string;
}

/**
 * Counts SYNs arriving in `ns` (input hook) and crossing it (forward hook), before any
 * filter of the lab drops them (priority -50). Counting starts at zero.
 */
export async function installSynCounter(ns: string, f: SynFilter): Promise<void> {
  const match = `${f.from ? `ip saddr ${f.from} ` : ''}tcp dport ${f.ports.first}-${f.ports.last} tcp flags & (syn | ack) == syn counter`;
  await loadRuleset(
    ns,
    [
      `table inet ${TABLE} {`,
      `  chain input { type filter hook input priority -50; policy accept; ${match}; }`,
      `  chain forward { type filter hook forward priority -50; policy accept; ${match}; }`,
      '}',
      '',
    ].join('\n'),
  );
}

/** SYNs counted so far by {@link installSynCounter} in `ns` (both hooks). */
export async function synCount(ns: string): Promise<number> {
  const out = await exec(ns, 'nft', ['list', 'table', 'inet', TABLE]);
  const all = [...out.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  if (all.length === 0) throw new Error(`no SYN counter in ${ns}:\n${out}`);
  return all.reduce((a, b) => a + b, 0);
}
