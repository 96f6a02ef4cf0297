/**
 * Named limits of the trust model: what a stranger (a peer the user did not choose) can make
 * this node remember, store and do. Each is enforced in one place and covered by a test;
 * docs/SECURITY.md lists them all.
 */

/** Strangers whose record (addresses, name, last seen) is remembered; the least recently seen is forgotten first. */
export const MAX_REMEMBERED_STRANGERS = 1_000;
/** A stranger not seen for this long is forgotten. */
export const STRANGER_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Contacts and blocked peers, in all (each one is a user decision; beyond it E_QUOTA). */
export const MAX_CONTACTS = 10_000;
/** Stranger records are written to disk at most this often (coalesced, one transaction). */
export const STRANGER_SAVE_INTERVAL_MS = 10_000;
/** How often expired strangers and message requests are looked for. */
export const PRUNE_INTERVAL_MS = 60_000;

/** Messages held from one stranger (requests, or with `--strangers accept` those of the last day). */
export const MAX_HELD_PER_STRANGER = 20;
/** Bytes of text held from one stranger. */
export const MAX_HELD_BYTES_PER_STRANGER = 256 * 1024;
/** Messages held from all strangers together. */
export const MAX_HELD_TOTAL = 1_000;
/** Bytes of text held from all strangers together. */
export const MAX_HELD_BYTES_TOTAL = 4 * 1024 * 1024;
/** A message request nobody accepted is deleted after this long. */
export const REQUEST_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** With `--strangers accept`, a stranger's message counts against the quotas for this long. */
export const ACCEPTED_HOLD_MS = 24 * 60 * 60 * 1000;
/** CHAT frames one stranger may send (checked before the signature is verified). */
export const STRANGER_CHAT_RATE = { perSecond: 5, burst: 40 } as const;
/** Strangers whose CHAT rate is tracked at once (least recently seen forgotten). */
export const MAX_TRACKED_CHAT_RATES = 1_024;

/** Automatic dials (discovery, gossip, redials) to strangers in flight at once. */
export const MAX_STRANGER_DIALS_IN_FLIGHT = 4;
/** Automatic dials to strangers, whole node: sustained per second and burst. */
export const STRANGER_DIAL_RATE = { perSecond: 1, burst: 8 } as const;
/** Automatic dials to strangers at one destination IP, whatever the ids: per second and burst. */
export const STRANGER_DIALS_PER_HOST = { perSecond: 1 / 30, burst: 2 } as const;
/** Destination IPs whose dial budget is tracked at once (least recently used forgotten). */
export const MAX_TRACKED_DIAL_HOSTS = 4_096;
