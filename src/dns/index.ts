/** The DNS responder for `<name>.sentinel`: names of VPN peers (see README "Names for VPN peers"). */
export { DEFAULT_DNS_LIMITS, DEFAULT_DNS_PORT, DNS_TTL_SECONDS, DNS_ZONE, type DnsLimits } from './limits.js';
export { NameTable, nameKey, type NameSources } from './names.js';
export { answerQuery, Rcode, type DnsOutcome, type DnsReply, type NameLookup, type QueryContext } from './resolver.js';
export { DnsServer, type DnsServerOptions } from './server.js';
export { VpnNames, isLocalSource, startDnsResponder, type DnsResponderOptions, type VpnNamesOptions } from './service.js';
