/**
 * Limits of the metrics endpoint (`--metrics`) and of its label sets. Anyone who can reach
 * the endpoint can make us spend these, so each is small, named, and its refusals counted
 * (docs/SECURITY.md "Metrics endpoint").
 */

/** Scrape connections open at once; one more is closed at accept (`sentinel_metrics_refused_total{reason="connections"}`). */
export const METRICS_MAX_CONNECTIONS = 8;
/** Bytes of a request's head (request line and headers); more is answered 431. */
export const METRICS_MAX_HEADER_BYTES = 4096;
/** A request's head must arrive within this long (slow senders hold a connection slot). */
export const METRICS_HEADERS_TIMEOUT_MS = 5_000;
/** A whole request (a GET has no body) must arrive within this long. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/** How often those timeouts are checked: they are late by at most this much. */
export const METRICS_TIMEOUT_CHECK_MS = 1_000;
/** An idle keep-alive connection is closed after this long, freeing its slot. */
export const METRICS_KEEPALIVE_TIMEOUT_MS = 5_000;

/**
 * Contacts that get a `peer` label of their own on the per-peer byte counters. Later
 * contacts, while every slot holds a connected one, are counted under `peer="other"`;
 * strangers always under `peer="stranger"` (peer-traffic.ts says why).
 */
export const PEER_LABEL_SLOTS = 32;

/** Outbox entries counted for `sentinel_messages_pending` per scrape; beyond it the gauge says this many. */
export const PENDING_COUNT_CAP = 100_000;

/** The `--metrics` line of `sentinel-node --help` and `sentinel-signaler --help`. */
export const METRICS_HELP =
  `serve Prometheus metrics at http://ADDR/metrics (off by default). ADDR is PORT (on 127.0.0.1, e.g. 9464; 0: any free port, named in the log), IPV4:PORT or [IPV6]:PORT; an address other than loopback makes them readable by anyone who can reach it (a warning says so). At most ${METRICS_MAX_CONNECTIONS} scrapes at once`;
