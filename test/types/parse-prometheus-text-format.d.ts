/** Types for parse-prometheus-text-format 1.1.1 (it ships none): the shape its README documents (prom2json's). */
declare module 'parse-prometheus-text-format' {
  export interface PromSample {
    /** The value as written (a string: "+Inf", "1.5e3", ...). */
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    /** Histograms and summaries. */
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface PromFamily {
    name: string;
    help: string;
    /** COUNTER, GAUGE, HISTOGRAM, SUMMARY or UNTYPED. */
    type: string;
    metrics: PromSample[];
  }
  export default function parsePrometheusTextFormat(text: string): PromFamily[];
}
