/**
 * Limits of a peer relay (`sentinel-node --relay`, peer-server.ts). A peer relay is
 * somebody's own node lending its bandwidth, so its bounds are smaller than a signaler's
 * (src/signaler/limits.ts). Contacts of the relay get the contact limits; with
 * `--relay=all`, strangers get the stranger quotas. Refusals are answered SIGNAL_ERROR and
 * counted `relay_refused.<reason>`.
 */

/** Nodes bound to this relay at once (RELAY_BIND accepted). Refusals: `relay_refused.bind_full`. */
export const PEER_RELAY_MAX_BOUND = 256;
/** Of those, strangers (only with `--relay=all`). Refusals: `relay_refused.bind_full`. */
export const PEER_RELAY_MAX_BOUND_STRANGERS = 64;
/** Circuits (live or pending) through this relay in all. Refusals: `relay_refused.circuits`. */
export const PEER_RELAY_MAX_CIRCUITS = 128;
/** Circuits one contact may be an end of. Refusals: `relay_refused.node_circuits` / `target_circuits`. */
export const PEER_RELAY_CONTACT_CIRCUITS = 8;
/** Circuits one stranger may be an end of (`--relay=all`). */
export const PEER_RELAY_STRANGER_CIRCUITS = 2;
/** RELAY_DATA bytes per second forwarded for one contact (over all its circuits); `--relay-rate` sets it. */
export const PEER_RELAY_RATE = 1024 * 1024;
/** RELAY_DATA bytes per second forwarded for one stranger (`--relay=all`): a quarter of the contact rate. */
export const PEER_RELAY_STRANGER_RATE_SHARE = 0.25;
/** Peer relays a node binds with at once (the client side), the lowest RTT first. */
export const MAX_BOUND_RELAYS = 3;
/** How long a node waits for a peer relay's RELAY_OPENED, RELAY_BOUND or SIGNAL_ERROR. */
export const PEER_RELAY_REQUEST_TIMEOUT_MS = 8_000;
