// The budget ledger of one gateway: every budget's use per consumer in Envoy's shared data (one
// process-wide map, the same for every worker), one record per (budget, consumer) changed only by
// compare-and-swap, so no two workers ever admit against the same remainder.
//
// A request's life: collect (which budgets cover it, at most one record each) → [budgets across
// gateways: beforePeek, the shared store's answer into the reservation (shared.ts)] → reserve
// (its estimate against every budget, all or nothing) → settle (the reservation replaced by the
// real cost) or release (the provider failed: nothing charged). Settlements of budgets kept in this
// gateway only wait in the worker until its next write of the record (settlements.ts); the root's
// tick calls flushSettlements.
//
// Windows: a record belongs to the window of its last change; the first change in a new window
// rolls it over (spent back to 0). A reservation is charged to the window it SETTLES in: money is
// spent when the provider answers, and a new window starts with the reservations still in flight,
// so the window a request settles in was checked against them at every admission. Reservations
// therefore survive a roll-over; only what was spent is forgotten.
//
// All or nothing across several budgets: each record is reserved in turn and, when one refuses,
// the ones already reserved are given back. Meanwhile another request may see those records
// fuller than they end up: it can be refused when it would have fit, never admitted past a limit.
import { Status } from "../abi/constants";
import { hostData, hostSize, readSharedDataAt, releaseHostData, sharedCas, writeSharedDataAt } from "../abi/host";
import { Budget, ConsumerScope, Limit, LIMIT_KINDS, NO_LIMIT } from "./budget";
import { BudgetKey } from "./key";
import { Amount, BudgetRecord, RECORD_SIZE } from "./record";
import { Settlements } from "./settlements";
import { Window, windowStart } from "./window";
import { BUDGET_KEY_PREFIX } from "../names";

const KEY_PREFIX = BUDGET_KEY_PREFIX;
// The consumer part of a key is the header value's bytes; HTTP header values never hold NUL, so
// the ledger's own keys under a budget (its consumer count, the overflow record) cannot collide.
const COUNT_SUFFIX = String.UTF8.encode("\0consumers");
const OVERFLOW_SUFFIX = String.UTF8.encode("\0other");
const MAX_CONSUMER_BYTES: i32 = 256;
const MAX_CAS_ATTEMPTS: i32 = 32;
// A cas no stored value carries: create a key only if nobody created it meanwhile (live/store.ts).
const CREATE_ONLY: u32 = 0xffffffff;
// The shared store's longest window: 365 days from the epoch (envoyproxy/ratelimit, unit YEAR).
export const STORE_YEAR_SECONDS: i64 = 365 * 86400;

export { BudgetKey };

export const enum Verdict { Admitted = 0, Refused = 1, StoreUnavailable = 2, LedgerUnavailable = 3 }

const enum Op { Prepare, Reserve, Unreserve, Settle, TakeCharge, ChargeDone, ChargeFailed, Flush }
const enum Read { Found, Missing, Garbage, Unavailable }

// What one request holds in the ledger; owned by its stream and reused for the next one.
export class Reservation {
  count: i32 = 0;
  readonly keys: BudgetKey[] = [];
  readonly estimate: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);
  // Budgets across gateways, per slot and limit: the store's total (-1: no answer) and the acked
  // amounts when the peek was sent, with the window they belong to.
  storeTotal: StaticArray<i64> = new StaticArray<i64>(0);
  ackedAtPeek: StaticArray<i64> = new StaticArray<i64>(0);
  peekWindow: StaticArray<i64> = new StaticArray<i64>(0);
  held: bool = false;
  // The budget that refused (slot, and which limit), after reserve said Refused.
  refusedSlot: i32 = -1;
  refusedLimit: i32 = -1;

  constructor(capacity: i32) {
    for (let i = 0; i < capacity; i++) this.keys.push(new BudgetKey());
    this.storeTotal = new StaticArray<i64>(capacity * LIMIT_KINDS);
    this.ackedAtPeek = new StaticArray<i64>(capacity * LIMIT_KINDS);
    this.peekWindow = new StaticArray<i64>(capacity);
  }

  // The ledger index of the budget in `slot` (< count); -1 for any other slot.
  budgetOf(slot: i32): i32 { return slot >= 0 && slot < this.count ? unchecked(this.keys[slot]).budget : -1; }

  // The shared store's answer for one slot and limit: its settled total in base units.
  setStoreTotal(slot: i32, limit: i32, total: i64): void {
    if (slot < 0 || slot >= this.keys.length || limit < 0 || limit >= LIMIT_KINDS) return;
    unchecked(this.storeTotal[slot * LIMIT_KINDS + limit] = total);
  }
}

export class Ledger {
  private readonly prefixes: ArrayBuffer[] = [];
  private readonly record: BudgetRecord = new BudgetRecord();
  private readonly scratch: usize = heap.alloc(<usize>RECORD_SIZE);
  private readonly countKey: BudgetKey = new BudgetKey();
  private readonly waiting: Settlements = new Settlements();
  private readonly noCost: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);
  private cas: u32 = 0;
  anyShared: bool = false;
  // Operands of the operation a CAS loop applies (see apply).
  private opLimits: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);
  private opSlot: i32 = 0;
  private opRes: Reservation = new Reservation(0);
  private readonly noReservation: Reservation = new Reservation(0);
  private opRefusedLimit: i32 = -1;
  private opNow: i64 = 0;
  private opChanged: bool = false;

  constructor(readonly budgets: Budget[]) {
    let shared = false;
    for (let i = 0; i < budgets.length; i++) {
      const b = budgets[i];
      b.index = i;
      this.prefixes.push(String.UTF8.encode(KEY_PREFIX + b.nameBytes.byteLength.toString() + "/" + b.name + "/"));
      if (b.shared) shared = true;
    }
    this.anyShared = shared;
  }

  newReservation(): Reservation { return new Reservation(this.budgets.length); }

  // Whether a key names one of this ledger's budgets (a key kept from another configuration may not).
  @inline owns(key: BudgetKey): bool { return key.budget >= 0 && key.budget < this.budgets.length; }

  // ---- 1. which budgets cover a request -------------------------------------------------------

  // Fills `res` with the budgets that cover a request of this consumer ([consumer, +size), empty
  // when the request has none), route, model and provider; returns how many. A request without a
  // consumer falls under "*" budgets as the consumer "" (one record for all such requests).
  collect(res: Reservation, consumer: usize, consumerSize: i32, routeId: i32, modelId: i32, providerId: i32): i32 {
    res.count = 0;
    res.held = false;
    res.refusedSlot = res.refusedLimit = -1;
    const n = consumerSize < MAX_CONSUMER_BYTES ? consumerSize : MAX_CONSUMER_BYTES;
    // A reservation made by another ledger (a configuration ago) may be too small: it holds what fits.
    const capacity = res.keys.length;
    for (let i = 0; i < this.budgets.length && res.count < capacity; i++) {
      const b = unchecked(this.budgets[i]);
      if (!b.covers(routeId, modelId, providerId)) continue;
      if (b.scope == ConsumerScope.Named && !sameBytes(changetype<usize>(b.consumerBytes), b.consumerBytes.byteLength, consumer, n)) continue;
      const key = unchecked(res.keys[res.count]);
      key.budget = i;
      key.set(unchecked(this.prefixes[i]), consumer, b.scope == ConsumerScope.All ? 0 : n);
      for (let l = 0; l < LIMIT_KINDS; l++) res.setStoreTotal(res.count, l, -1);
      res.count++;
    }
    return res.count;
  }

  // ---- 2. budgets across gateways: before the shared store is asked ---------------------------

  // Notes, for every budget across gateways, how much of this gateway's spend the store had
  // acknowledged when the peek left (see ackedSince), and carries a month's acknowledged spend
  // into the store's next 365-day bucket when one began within the month (shared.ts).
  beforePeek(res: Reservation, now: i64): void {
    for (let slot = 0; slot < res.count; slot++) {
      const key = unchecked(res.keys[slot]);
      if (!this.owns(key) || !unchecked(this.budgets[key.budget]).shared) continue;
      this.opRes = res;
      this.opSlot = slot;
      this.apply(key, Op.Prepare, now);
    }
  }

  // ---- 3. admission --------------------------------------------------------------------------

  // Reserves the estimate (nano-USD, tokens, and one request) against every budget of `res`, or
  // against none: Refused names the budget and limit in res.refusedSlot / refusedLimit.
  reserve(res: Reservation, usdNano: i64, tokens: i64, now: i64): Verdict {
    unchecked(res.estimate[<i32>Limit.Usd] = usdNano < 0 ? 0 : usdNano);
    unchecked(res.estimate[<i32>Limit.Tokens] = tokens < 0 ? 0 : tokens);
    unchecked(res.estimate[<i32>Limit.Requests] = 1);
    for (let slot = 0; slot < res.count; slot++) {
      this.opRes = res;
      this.opSlot = slot;
      const verdict = this.apply(unchecked(res.keys[slot]), Op.Reserve, now);
      if (verdict != Verdict.Admitted) {
        if (verdict == Verdict.Refused) {
          res.refusedSlot = slot;
          res.refusedLimit = this.opRefusedLimit;
        }
        for (let back = 0; back < slot; back++) this.apply(unchecked(res.keys[back]), Op.Unreserve, now);
        return verdict;
      }
    }
    res.held = res.count > 0;
    return Verdict.Admitted;
  }

  // ---- 4. the end of the request ---------------------------------------------------------------

  // Replaces the reservation by the real cost (nano-USD, tokens); the request counts as one. A
  // budget kept in this gateway only takes it with this worker's next write of its record
  // (settlements.ts); one across gateways at once.
  settle(res: Reservation, usdNano: i64, tokens: i64, now: i64): void {
    if (!res.held) return;
    unchecked(this.opLimits[<i32>Limit.Usd] = usdNano < 0 ? 0 : usdNano);
    unchecked(this.opLimits[<i32>Limit.Tokens] = tokens < 0 ? 0 : tokens);
    unchecked(this.opLimits[<i32>Limit.Requests] = 1);
    this.end(res, this.opLimits, Op.Settle, now);
  }

  // Gives the reservation back: the provider failed and nothing is charged.
  release(res: Reservation, now: i64): void {
    if (!res.held) return;
    this.end(res, this.noCost, Op.Unreserve, now);
  }

  private end(res: Reservation, cost: StaticArray<i64>, op: Op, now: i64): void {
    this.opRes = res;
    for (let slot = 0; slot < res.count; slot++) {
      const key = unchecked(res.keys[slot]);
      if (!this.owns(key)) continue;
      const b = unchecked(this.budgets[key.budget]);
      if (b.shared || !this.waiting.add(key, windowStart(b.window, now), res.estimate, cost)) this.apply(key, op, now);
    }
    res.held = false;
  }

  // Writes the settlements waiting in this worker into their records (call from the root's tick).
  flushSettlements(now: i64): void {
    for (let left = this.waiting.count; left > 0 && this.waiting.count > 0; left--) {
      if (this.apply(this.waiting.at(0).key, Op.Flush, now) != Verdict.Admitted) this.waiting.remove(0);
    }
  }

  // Settlements waiting in this worker (tests, gauges).
  get waitingSettlements(): i32 { return this.waiting.count; }

  // ---- the shared store's charges (shared.ts) ---------------------------------------------------

  // Moves what was settled and not yet sent (whole store units of it) into transit; the counts
  // sent, per limit, are left in `counts` (store units). False when there is nothing to send.
  takeCharge(key: BudgetKey, counts: StaticArray<i64>, now: i64): bool {
    this.opRes = this.noReservation;
    for (let l = 0; l < LIMIT_KINDS; l++) unchecked(this.opLimits[l] = 0);
    this.apply(key, Op.TakeCharge, now);
    let any = false;
    for (let l = 0; l < LIMIT_KINDS; l++) {
      unchecked(counts[l] = unchecked(this.opLimits[l]));
      if (unchecked(this.opLimits[l]) > 0) any = true;
    }
    return any;
  }

  // The store acknowledged (or did not take) a charge taken by takeCharge.
  chargeAnswered(key: BudgetKey, counts: StaticArray<i64>, acknowledged: bool, now: i64): void {
    for (let l = 0; l < LIMIT_KINDS; l++) unchecked(this.opLimits[l] = unchecked(counts[l]));
    this.opRes = this.noReservation;
    this.apply(key, acknowledged ? Op.ChargeDone : Op.ChargeFailed, now);
  }

  // ---- what is left ------------------------------------------------------------------------------

  // How much of one limit of one slot's budget is used now (spent or settled elsewhere, plus what
  // is reserved); -1 when the ledger cannot be read.
  used(res: Reservation, slot: i32, limit: i32, now: i64): i64 {
    if (slot < 0 || slot >= res.count || limit < 0 || limit >= LIMIT_KINDS) return -1;
    const key = unchecked(res.keys[slot]);
    if (!this.owns(key)) return -1;
    const b = unchecked(this.budgets[key.budget]);
    const read = this.read(key, b, now);
    if (read == Read.Unavailable) return -1;
    const w = this.waiting.indexOf(key);
    if (w >= 0) this.waiting.at(w).applyTo(this.record);
    return this.baseOf(this.record, b, res, slot, limit) + this.record.get(limit, Amount.Reserved);
  }

  // What is left of one limit (never below 0); -1 when the budget has no such limit.
  remaining(res: Reservation, slot: i32, limit: i32, now: i64): i64 {
    if (slot < 0 || slot >= res.count || limit < 0 || limit >= LIMIT_KINDS || !this.owns(unchecked(res.keys[slot]))) return -1;
    const b = unchecked(this.budgets[res.budgetOf(slot)]);
    const cap = unchecked(b.limits[limit]);
    if (cap == NO_LIMIT) return -1;
    const used = this.used(res, slot, limit, now);
    if (used < 0) return cap;
    return used >= cap ? 0 : cap - used;
  }

  // The first slot whose budget has a downgrade and has used at least `downgradeAt` of any of its
  // limits; -1 when none has.
  downgradeSlot(res: Reservation, now: i64): i32 {
    for (let slot = 0; slot < res.count; slot++) {
      if (!this.owns(unchecked(res.keys[slot]))) continue;
      const b = unchecked(this.budgets[res.budgetOf(slot)]);
      if (b.downgradeAt < 0) continue;
      for (let l = 0; l < LIMIT_KINDS; l++) {
        const cap = unchecked(b.limits[l]);
        if (cap == NO_LIMIT) continue;
        const used = this.used(res, slot, l, now);
        if (used >= 0 && <f64>used >= b.downgradeAt * <f64>cap) return slot;
      }
    }
    return -1;
  }

  // ---- records -------------------------------------------------------------------------------

  private read(key: BudgetKey, b: Budget, now: i64): Read {
    const start = windowStart(b.window, now);
    const status = readSharedDataAt(key.ptr, <usize>key.size);
    if (status == Status.NotFound) {
      this.cas = CREATE_ONLY;
      this.record.reset(b.window, start);
      return Read.Missing;
    }
    if (status != Status.Ok) {
      this.cas = 0;
      this.record.reset(b.window, start);
      return Read.Unavailable;
    }
    this.cas = sharedCas;
    const ok = this.record.parse(hostData, hostSize);
    releaseHostData();
    if (!ok) {
      this.record.reset(b.window, start);
      return Read.Garbage;
    }
    this.record.roll(b.window, start);
    return Read.Found;
  }

  private write(key: BudgetKey): u32 {
    this.record.serialize(this.scratch);
    return writeSharedDataAt(key.ptr, <usize>key.size, this.scratch, <usize>RECORD_SIZE, this.cas);
  }

  // Applies one operation to a record with compare-and-swap: read, change, write if nobody wrote
  // in between, else again. A record nobody can read or write (the host refuses shared data)
  // gives LedgerUnavailable; the operation is then lost, as a budget cannot be kept without it.
  private apply(key: BudgetKey, op: Op, now: i64): Verdict {
    if (!this.owns(key)) return Verdict.LedgerUnavailable;
    const b = unchecked(this.budgets[key.budget]);
    this.opNow = now;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const read = this.read(key, b, now);
      if (read == Read.Unavailable) return Verdict.LedgerUnavailable;
      if (read == Read.Missing && b.scope == ConsumerScope.Each && op == Op.Reserve && !key.overflow && !this.admitConsumer(key, b)) {
        continue;  // the key now names the overflow record: read that one
      }
      // This worker's settlements of the record go in with whatever changes it now.
      const w = this.waiting.indexOf(key);
      if (w >= 0) this.waiting.at(w).applyTo(this.record);
      this.opChanged = true;
      const verdict = this.change(b, op);
      if (verdict != Verdict.Admitted || (!this.opChanged && w < 0)) return verdict;
      const status = this.write(key);
      if (status == Status.Ok) {
        if (w >= 0) this.waiting.remove(w);
        return Verdict.Admitted;
      }
      if (status != Status.CasMismatch) return Verdict.LedgerUnavailable;
    }
    return Verdict.LedgerUnavailable;
  }

  private change(b: Budget, op: Op): Verdict {
    const rec = this.record;
    switch (op) {
      case Op.Prepare: {
        const res = this.opRes;
        this.opChanged = b.window == Window.Month && this.carryAcrossStoreBucket(rec);
        unchecked(res.peekWindow[this.opSlot] = rec.windowStart);
        for (let l = 0; l < LIMIT_KINDS; l++) unchecked(res.ackedAtPeek[this.opSlot * LIMIT_KINDS + l] = rec.get(l, Amount.Acked));
        return Verdict.Admitted;
      }
      case Op.Reserve: {
        const res = this.opRes;
        for (let l = 0; l < LIMIT_KINDS; l++) {
          const cap = unchecked(b.limits[l]);
          if (cap == NO_LIMIT) continue;
          if (b.shared && unchecked(res.storeTotal[this.opSlot * LIMIT_KINDS + l]) < 0 && !b.failOpen) return Verdict.StoreUnavailable;
          const used = this.baseOf(rec, b, res, this.opSlot, l) + rec.get(l, Amount.Reserved);
          if (used + unchecked(res.estimate[l]) > cap) {
            this.opRefusedLimit = l;
            return Verdict.Refused;
          }
        }
        for (let l = 0; l < LIMIT_KINDS; l++) rec.add(l, Amount.Reserved, unchecked(res.estimate[l]));
        rec.inflight++;
        return Verdict.Admitted;
      }
      case Op.Unreserve:
      case Op.Settle: {
        const res = this.opRes;
        for (let l = 0; l < LIMIT_KINDS; l++) rec.add(l, Amount.Reserved, -unchecked(res.estimate[l]));
        if (rec.inflight > 0) rec.inflight--;
        // Nothing in flight: nothing reserved, whatever a lost update may have left.
        if (rec.inflight == 0) for (let l = 0; l < LIMIT_KINDS; l++) rec.set(l, Amount.Reserved, 0);
        if (op == Op.Settle) {
          for (let l = 0; l < LIMIT_KINDS; l++) {
            const cost = unchecked(this.opLimits[l]);
            rec.add(l, Amount.Spent, cost);
            if (b.shared) rec.add(l, Amount.Pending, cost);
          }
        }
        return Verdict.Admitted;
      }
      case Op.TakeCharge: {
        if (b.window == Window.Month) this.carryAcrossStoreBucket(rec);
        let any = false;
        for (let l = 0; l < LIMIT_KINDS; l++) {
          const unit = unchecked(b.storeUnits[l]);
          const count = unchecked(b.limits[l]) == NO_LIMIT ? 0 : rec.get(l, Amount.Pending) / unit;
          unchecked(this.opLimits[l] = count);
          if (count > 0) {
            rec.add(l, Amount.Pending, -count * unit);
            rec.add(l, Amount.Transit, count * unit);
            any = true;
          }
        }
        if (b.window == Window.Month && rec.storeBucket < 0) {
          rec.storeBucket = this.opNow / STORE_YEAR_SECONDS;
          any = true;
        }
        this.opChanged = any;
        return Verdict.Admitted;
      }
      case Op.Flush: return Verdict.Admitted;  // the settlements merged in apply are the change
      default: {  // ChargeDone, ChargeFailed
        for (let l = 0; l < LIMIT_KINDS; l++) {
          const amount = unchecked(this.opLimits[l]) * unchecked(b.storeUnits[l]);
          rec.add(l, Amount.Transit, -amount);
          rec.add(l, op == Op.ChargeDone ? Amount.Acked : Amount.Pending, amount);
        }
        return Verdict.Admitted;
      }
    }
  }

  // What a budget had used before the reservations in flight: this gateway's spend in the window,
  // or for budgets across gateways with the store's answer, the store's total plus what this
  // gateway settled and the store has not acknowledged yet (see ackedSince).
  private baseOf(rec: BudgetRecord, b: Budget, res: Reservation, slot: i32, limit: i32): i64 {
    const spent = rec.get(limit, Amount.Spent);
    if (!b.shared) return spent;
    const total = unchecked(res.storeTotal[slot * LIMIT_KINDS + limit]);
    if (total < 0) return spent;
    const unsent = rec.get(limit, Amount.Pending) + rec.get(limit, Amount.Transit);
    // The store's answer was about another window than the record's now: only what this gateway
    // knows of the new one counts.
    if (unchecked(res.peekWindow[slot]) != rec.windowStart) return max(spent, rec.get(limit, Amount.Acked) + unsent);
    // A charge acknowledged after the peek left may be missing from the store's answer: counted
    // again (at worst twice, never not at all).
    const ackedSince = rec.get(limit, Amount.Acked) - unchecked(res.ackedAtPeek[slot * LIMIT_KINDS + limit]);
    return max(spent, total + (ackedSince > 0 ? ackedSince : 0) + unsent);
  }

  // The shared store keeps a calendar month in a 365-day bucket (shared.ts): when a new bucket
  // began within the month, what this gateway had charged this month is charged again into it.
  private carryAcrossStoreBucket(rec: BudgetRecord): bool {
    const bucket = this.opNow / STORE_YEAR_SECONDS;
    if (rec.storeBucket < 0 || rec.storeBucket == bucket) return false;
    for (let l = 0; l < LIMIT_KINDS; l++) {
      rec.add(l, Amount.Pending, rec.get(l, Amount.Acked));
      rec.set(l, Amount.Acked, 0);
    }
    rec.storeBucket = bucket;
    return true;
  }

  // A consumer seen for the first time by a "*" budget: counted against the budget's
  // maxConsumers; past it, the key is turned into the budget's overflow record (shared by every
  // consumer past the cap: they are held to one limit together, never to none). Returns true
  // when the consumer got its own record.
  private admitConsumer(key: BudgetKey, b: Budget): bool {
    const prefix = unchecked(this.prefixes[b.index]);
    this.countKey.set(prefix, changetype<usize>(COUNT_SUFFIX), COUNT_SUFFIX.byteLength);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const status = readSharedDataAt(this.countKey.ptr, <usize>this.countKey.size);
      let seen: u32 = 0;
      let cas = CREATE_ONLY;
      if (status == Status.Ok) {
        if (hostSize == 4) seen = load<u32>(hostData);
        cas = sharedCas;
        releaseHostData();
      } else if (status != Status.NotFound) return true;
      if (<i32>seen >= b.maxConsumers) break;
      store<u32>(this.scratch, seen + 1);
      const written = writeSharedDataAt(this.countKey.ptr, <usize>this.countKey.size, this.scratch, 4, cas);
      if (written == Status.Ok) return true;
      if (written != Status.CasMismatch) return true;
    }
    key.set(prefix, changetype<usize>(OVERFLOW_SUFFIX), OVERFLOW_SUFFIX.byteLength);
    key.overflow = true;
    return false;
  }
}

function sameBytes(a: usize, aSize: i32, b: usize, bSize: i32): bool {
  return aSize == bSize && memory.compare(a, b, <usize>aSize) == 0;
}
