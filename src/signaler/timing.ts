/**
 * When should each side of a punch start? The signaler sends PUNCH_START to both at the
 * same moment; each copy takes about half that node's RTT to arrive. Telling each side to
 * wait `T - rtt/2` after receipt, with `T = max(rttA, rttB)/2 + margin`, makes both start
 * at about signaler-time + T.
 */
export function punchDelays(rttA: number, rttB: number, marginMs: number): { a: number; b: number } {
  const t = Math.max(rttA, rttB) / 2 + marginMs;
  return { a: Math.round(t - rttA / 2), b: Math.round(t - rttB / 2) };
}
