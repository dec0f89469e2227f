// Settlements this worker has not written to their records yet (ledger.ts). Envoy's shared data
// costs about a microsecond per read (Envoy calls back into the VM to allocate the copy), and a
// request reads and writes each of its records twice: at admission and at the end. Instead, the
// end of a request on a budget kept in this gateway only is noted here, in the worker's memory, and
// goes into the record with this worker's next write of it: its next admission against that budget
// and consumer, or the root's tick (Ledger.flushSettlements). Until then the record still holds the
// request's estimate as reserved, which is at least its cost, so no admission anywhere can pass a
// limit meanwhile; other workers merely see the budget a little fuller than it is for up to one tick.
// Budgets across gateways settle at once (their charge to the store needs the record).
import { LIMIT_KINDS } from "./budget";
import { BudgetKey, sameKey } from "./key";
import { Amount, BudgetRecord } from "./record";

// Records with a settlement waiting, per worker; one more settles at once.
const CAPACITY: i32 = 64;

export class Settlement {
  readonly key: BudgetKey = new BudgetKey();
  windowStart: i64 = 0;         // the window the requests settled in
  requests: u32 = 0;            // requests that ended (settled or released)
  readonly unreserve: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);
  readonly spend: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);

  // Puts what waits here into a record read (and rolled) just now. A spend from a window the record
  // has left belongs to a closed window: only the reservations are given back.
  applyTo(rec: BudgetRecord): void {
    for (let l = 0; l < LIMIT_KINDS; l++) rec.add(l, Amount.Reserved, -unchecked(this.unreserve[l]));
    rec.inflight = rec.inflight > this.requests ? rec.inflight - this.requests : 0;
    if (rec.inflight == 0) for (let l = 0; l < LIMIT_KINDS; l++) rec.set(l, Amount.Reserved, 0);
    if (this.windowStart >= rec.windowStart) for (let l = 0; l < LIMIT_KINDS; l++) rec.add(l, Amount.Spent, unchecked(this.spend[l]));
  }
}

export class Settlements {
  private readonly entries: Settlement[] = [];
  count: i32 = 0;

  constructor() {
    for (let i = 0; i < CAPACITY; i++) this.entries.push(new Settlement());
  }

  @inline at(i: i32): Settlement { return unchecked(this.entries[i]); }

  // The entry waiting for this key, or -1.
  indexOf(key: BudgetKey): i32 {
    for (let i = 0; i < this.count; i++) if (sameKey(unchecked(this.entries[i]).key, key)) return i;
    return -1;
  }

  // Notes one request's end: its estimate given back, `cost` spent in the window starting at
  // `windowStart` (request counted when `counts`). False when it cannot wait here (no room, or a
  // settlement of another window waits for the key): the caller writes it at once.
  add(key: BudgetKey, windowStart: i64, estimate: StaticArray<i64>, cost: StaticArray<i64>): bool {
    let i = this.indexOf(key);
    if (i >= 0 && unchecked(this.entries[i]).windowStart != windowStart) return false;
    if (i < 0) {
      if (this.count == CAPACITY) return false;
      i = this.count++;
      const e = unchecked(this.entries[i]);
      e.key.copyFrom(key);
      e.windowStart = windowStart;
      e.requests = 0;
      for (let l = 0; l < LIMIT_KINDS; l++) {
        unchecked(e.unreserve[l] = 0);
        unchecked(e.spend[l] = 0);
      }
    }
    const e = unchecked(this.entries[i]);
    e.requests++;
    for (let l = 0; l < LIMIT_KINDS; l++) {
      unchecked(e.unreserve[l] += unchecked(estimate[l]));
      unchecked(e.spend[l] += unchecked(cost[l]));
    }
    return true;
  }

  // Drops entry i once it is in its record (the last entry takes its place).
  remove(i: i32): void {
    const last = this.count - 1;
    if (i < 0 || i > last) return;
    if (i != last) {
      const e = unchecked(this.entries[i]);
      unchecked(this.entries[i] = unchecked(this.entries[last]));
      unchecked(this.entries[last] = e);
    }
    this.count = last;
  }
}
