/**
 * Two Ed25519 keys whose node ids share their first 7 characters (35 bits), found by a
 * birthday search (a few hundred thousand keys made and compared by id prefix; about a
 * minute of one core). That is the cheap version of what the issue describes: a stranger
 * grinding a key whose id starts like a contact's. Throw-away test identities: nothing
 * uses them outside these tests.
 */
export const GROUND_PAIR = {
  sharedPrefix: 'nenbxtp',
  contact: {
    id: 'nenbxtpad4te6drmwa37uvxn57dqkwmfhnjt5uhhivqsziqjc4wgf7d6',
    pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJTIfge/q8xQ9+6bkP1Ja/Qtw6UYWvJeUl0YMaB/h1aG\n-----END PRIVATE KEY-----\n',
  },
  stranger: {
    id: 'nenbxtpjqgbhyuallvancfsq7ictcc42lmn2e4zrpx2b6w7vdnq4ggp6',
    pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILcOdxlx34u49GbRXK1Y11lIchTr+lxMcKjxUVsAvfdV\n-----END PRIVATE KEY-----\n',
  },
} as const;
