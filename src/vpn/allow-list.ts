/** The VPN allow-list: peers that may exchange VPN traffic with this node, persisted in the store. */
import type { NodeId } from '../api.js';
import type { Store } from '../store/types.js';

const META_KEY = 'vpn-allow';

export class AllowList {
  private readonly ids: Set<NodeId>;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store) {
    this.ids = new Set(store.getMeta<NodeId[]>(META_KEY) ?? []);
  }

  has(id: NodeId): boolean {
    return this.ids.has(id);
  }

  list(): NodeId[] {
    return [...this.ids].sort();
  }

  /** Allow or stop allowing `id`; resolves once the list is durable. */
  set(id: NodeId, allowed: boolean): Promise<void> {
    if (allowed) this.ids.add(id);
    else this.ids.delete(id);
    const snapshot = this.list();
    // A failed write must not make every later one fail: chain on the settled previous write.
    const next = this.writes.catch(() => {}).then(() => this.store.putMeta(META_KEY, snapshot));
    this.writes = next;
    return next;
  }
}
