/**
 * Scraping a metrics endpoint over real HTTP and reading it with a real Prometheus text
 * parser (parse-prometheus-text-format), for the metrics tests.
 */
import { request } from 'node:http';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request; resolves with status, headers and body. */
export function httpGet(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET `url`, check 200, parse the exposition. */
export async function scrape(url: string): Promise<Scrape> {
  const r = await httpGet(url);
  if (r.status !== 200) throw new Error(`scrape of ${url} answered ${r.status}: ${r.body}`);
  return new Scrape(parsePrometheusTextFormat(r.body), r.body);
}

/** A parsed scrape. */
export class Scrape {
  constructor(
    readonly families: PromFamily[],
    readonly text: string,
  ) {}

  family(name: string): PromFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The value of the sample of `name` whose labels include `labels`; undefined when absent. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const f = this.family(name);
    const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return s?.value === undefined ? undefined : Number(s.value);
  }

  /** Sum of every sample of `name`. */
  sum(name: string): number {
    return (this.family(name)?.metrics ?? []).reduce((n, m) => n + Number(m.value ?? 0), 0);
  }

  /** Label values of `label` across the samples of `name`. */
  labels(name: string, label: string): string[] {
    return (this.family(name)?.metrics ?? []).map((m) => m.labels?.[label] ?? '');
  }
}
