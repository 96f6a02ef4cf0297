/**
 * prom-client metrics whose values are read at scrape time from what the node or the
 * signaler already counts (its `Counters`, its status), instead of instrumenting hot paths
 * a second time. Pure helpers; the registries are in node-metrics.ts and signaler-metrics.ts.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** One sample: label values and the value. */
export type Sample = readonly [labels: Record<string, string>, value: number];

interface Spec {
  name: string;
  help: string;
  labelNames?: readonly string[];
  read: () => readonly Sample[];
  /** Called before `read` (ScrapeScope.begin, on a registry's first metric). */
  begin?: () => void;
}

/** A counter (name ends in `_total`) whose samples are read at each scrape. */
export function counterFrom(registry: Registry, spec: Spec): void {
  const { read } = spec;
  new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: [...(spec.labelNames ?? [])],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, Math.max(0, value));
    },
  });
}

/** A gauge whose samples are read at each scrape. */
export function gaugeFrom(registry: Registry, spec: Spec): void {
  const { read, begin } = spec;
  new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: [...(spec.labelNames ?? [])],
    registers: [registry],
    collect(this: Gauge) {
      begin?.();
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/** Unlabelled value as a sample list. */
export const one = (value: number): Sample[] => [[{}, value]];

/**
 * Samples from flat counter names `<prefix><v1>.<v2>...`: each dot-separated part after the
 * prefix is one label value, in `labelNames` order (the last label takes any extra parts).
 * Names with too few parts are skipped.
 */
export function byPrefix(counters: Record<string, number>, prefix: string, labelNames: readonly string[]): Sample[] {
  const out: Sample[] = [];
  for (const [name, value] of Object.entries(counters)) {
    if (!name.startsWith(prefix)) continue;
    const parts = name.slice(prefix.length).split('.');
    if (parts.length < labelNames.length || parts[0] === '') continue;
    const labels: Record<string, string> = {};
    labelNames.forEach((l, i) => (labels[l] = i === labelNames.length - 1 ? parts.slice(i).join('.') : (parts[i] as string)));
    out.push([labels, value]);
  }
  return out;
}

/** Samples `{ [label]: key }` from a record of numbers. */
export function fromRecord(record: Record<string, number> | undefined, label: string): Sample[] {
  return Object.entries(record ?? {}).map(([k, v]) => [{ [label]: k }, v] as const);
}

/**
 * Values computed once per scrape. prom-client collects every metric of a registry in one
 * synchronous pass, in registration order; the registry's first metric calls
 * {@link ScrapeScope.begin} (the `begin` option of {@link gaugeFrom}), and every
 * {@link ScrapeScope.once} value is read afresh in that scrape and reused by the rest of it.
 */
export class ScrapeScope {
  private generation = 0;

  readonly begin = (): void => {
    this.generation++;
  };

  once<T>(read: () => T): () => T {
    let cached: { generation: number; value: T } | undefined;
    return () => {
      if (cached?.generation !== this.generation) cached = { generation: this.generation, value: read() };
      return cached.value;
    };
  }
}

/** Every named counter, as `sentinel_<kind>_events_total{name}` (the same names `status` shows). */
export function allCounters(registry: Registry, name: string, what: string, read: () => Record<string, number>): void {
  counterFrom(registry, { name, help: `Every named counter of this ${what} (the names \`status\` shows), by name.`, labelNames: ['name'], read: () => fromRecord(read(), 'name') });
}

/**
 * A monotonic total over per-key counters that can be forgotten or restarted (the VPN
 * router drops a peer's counters when the peer goes): positive deltas are added, a value
 * below the last one counts as a restart from zero, a vanished key keeps what it added.
 * Memory: the keys present at the last update.
 */
export class MonotonicSum {
  private last = new Map<string, number>();
  private sum = 0;

  /** Folds in the current values; returns the total. */
  update(values: Iterable<readonly [string, number]>): number {
    const next = new Map<string, number>();
    for (const [key, value] of values) {
      const before = this.last.get(key) ?? 0;
      this.sum += value >= before ? value - before : value;
      next.set(key, value);
    }
    this.last = next;
    return this.sum;
  }
}
