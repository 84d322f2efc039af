/**
 * RFC 5961 §7: "An implementation SHOULD include an ACK throttling
 * mechanism to be conservative." This is the host-wide half (each
 * connection first applies its own, TcpConfig.challengeAckPerConn).
 *
 * A fixed host-wide count is CVE-2016-5696 ("Off-Path TCP Exploits",
 * Cao et al., USENIX Security 2016): an off-path attacker who exhausts it
 * and counts the challenge ACKs left for himself learns whether a spoofed
 * segment drew one, hence the 4-tuple and then the sequence numbers. As
 * Linux since that fix (tcp_send_challenge_ack), each second's budget is
 * drawn at random in [limit/2, limit/2 + limit), so the count the attacker
 * would compare against is unknown to him. The draw is a PRF (HalfSipHash,
 * keyed from the ISN secret) of the second: deterministic for a given
 * secret (tests, the simulator), unpredictable without it — never
 * Math.random.
 */
import type { Instant } from '../base/time.ts';
import { halfSipHash24 } from './isn.ts';

export class ChallengeAckBudget {
  /** The second (of the clock) the budget was drawn for, and what is left of it. */
  private second = -1;
  private left = 0;
  /** Key of the PRF that draws each second's budget. */
  private readonly key: [number, number];

  /** Keyed from the stack's ISN secret. */
  constructor(secret: readonly [number, number]) {
    this.key = [(secret[0] ^ 0x7e57c4a1) >>> 0, (secret[1] ^ 0x1eb0a7c5) >>> 0];
  }

  /** Takes one challenge ACK from the budget of `now`'s second (for a limit of `limit` a second); false when none is left. */
  take(now: Instant, limit: number): boolean {
    const second = Math.floor(now / 1_000_000);
    if (second !== this.second) {
      this.second = second;
      const half = (limit + 1) >>> 1;
      const r = halfSipHash24(this.key[0], this.key[1], second >>> 0, Math.floor(second / 4294967296) >>> 0, 0x43484b41);
      this.left = limit === 0 ? 0 : half + (r % limit);
    }
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}
