/**
 * A stack-wide budget for receive memory across all connections, so that
 * many connections together cannot grow memory without bound. Each
 * connection is charged what it may have to hold: its unread bytes plus the
 * window it has promised (out-of-order data lies inside that window). A
 * connection may widen its window only by what the budget has left, so the
 * sum of everything every peer may send us stays within the limit (plus the
 * unscaled windows of SYN segments).
 */
export class MemoryBudget {
  used = 0;
  constructor(readonly limit: number) {}

  get exhausted(): boolean {
    return this.used >= this.limit;
  }
}
