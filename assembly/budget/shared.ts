// Budgets across gateways: Envoy's global rate limit service (envoyproxy/ratelimit, Redis behind
// it) as the shared store of what every gateway has SETTLED, asked by the plugin over gRPC.
// Reservations stay in each gateway's ledger (exact between its workers); the store adds up the
// real costs. At admission the plugin asks the store for each budget's total without adding to it
// (a descriptor's own hits_addend 0), and admits if that total, plus what this gateway settled
// and the store has not acknowledged, plus this gateway's reservations, plus this request fits.
// At the end the real cost is charged (hits_addend = the cost in store units). A budget can so be
// overspent only by what other gateways had admitted and not yet charged: at most the
// reservations in flight elsewhere when a gateway's last charge lands.
//
// Descriptors (domain `llm_router`): (llm_router_budget, <name>), (consumer, <name>) or
// (consumers, all | other), (limit, usd | tokens | requests) [, (month, 2026-12)], each with a
// limit override (the budget's limit in store units, see budget.ts) so the service needs no
// configuration of its own beyond the domain.
//
// Windows in the store: the service keys a counter by floor(now / unit) * unit with fixed units
// from the epoch. MINUTE, HOUR and DAY are the calendar windows in UTC. A calendar month is not a
// unit (MONTH is 30 days): the month's name goes into the descriptor and the unit is YEAR (365
// days), so the counter is the month's until a 365-day boundary falls inside it (00:00 UTC on
// 18 December 2026, 18 December 2027, 17 December 2028 …, one month a year). From then on the
// store counts the month afresh; each gateway charges what it had charged that month again (the
// ledger's carry, on its next admission or charge for that budget and consumer), so the store's
// total is whole again once every gateway that spent in it has touched it; a gateway restarted
// since cannot (its ledger is gone).
import { grpcCall, grpcCancel, hostData, hostSize, readGrpcMessage, releaseHostData } from "../abi/host";
import { Budget, ConsumerScope, LIMIT_KINDS, LIMIT_NAMES, NO_LIMIT } from "./budget";
import { BudgetKey, Ledger, Reservation } from "./ledger";
import { Code, grpcServiceFor, MAX_STATUSES, METHOD, RequestWriter, ResponseReader, SERVICE, Unit } from "./ratelimit";
import { monthLabel, Window, windowStart } from "./window";
import { RATELIMIT_BUDGET_ENTRY, RATELIMIT_DOMAIN } from "../names";

export const DOMAIN = RATELIMIT_DOMAIN;
const BUDGET_ENTRY = String.UTF8.encode(RATELIMIT_BUDGET_ENTRY);
const CONSUMER_ENTRY = String.UTF8.encode("consumer");
const CONSUMERS_ENTRY = String.UTF8.encode("consumers");
const ALL = String.UTF8.encode("all");
const OTHER = String.UTF8.encode("other");
const LIMIT_ENTRY = String.UTF8.encode("limit");
const MONTH_ENTRY = String.UTF8.encode("month");
const MAX_U32: i64 = 0xffffffff;
const LIMIT_NAME_BYTES: ArrayBuffer[] = [
  String.UTF8.encode(LIMIT_NAMES[0]), String.UTF8.encode(LIMIT_NAMES[1]), String.UTF8.encode(LIMIT_NAMES[2]),
];

export const enum CallKind { Peek, Charge }

// One call in flight; reused.
export class StoreCall {
  token: u32 = 0;
  kind: CallKind = CallKind.Peek;
  waiter: u32 = 0;                       // Peek: the stream context holding its request
  descriptors: i32 = 0;
  // Peek: descriptor i describes slot (at 2i) and limit (at 2i + 1) of the waiter's reservation.
  readonly map: StaticArray<i32> = new StaticArray<i32>(2 * MAX_STATUSES);
  readonly key: BudgetKey = new BudgetKey();  // Charge: the record charged
  readonly counts: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS);
}

export class SharedStore {
  readonly upstream: ArrayBuffer;
  readonly domain: ArrayBuffer;
  private readonly writer: RequestWriter = new RequestWriter();
  readonly answer: ResponseReader = new ResponseReader();
  private readonly active: StoreCall[] = [];
  private readonly free: StoreCall[] = [];
  // Charges the store did not take, retried by retryCharges (the root's tick).
  private readonly retry: BudgetKey[] = [];
  private retryCount: i32 = 0;
  private monthStart: i64 = -1;
  private monthBytes: ArrayBuffer = new ArrayBuffer(0);
  // Counters for tests and gauges: calls that failed (connect failure, timeout, bad answer).
  failures: i64 = 0;

  // cluster: the Envoy cluster (HTTP/2) of the rate limit service; timeoutMs: how long a request
  // waits for the store's answer before its budgets' failOpen decides.
  constructor(readonly ledger: Ledger, cluster: string, readonly timeoutMs: u32) {
    this.upstream = grpcServiceFor(cluster);
    this.domain = String.UTF8.encode(DOMAIN);
  }

  get inFlight(): i32 { return this.active.length; }

  // ---- admission ------------------------------------------------------------------------------

  // Asks the store for the totals of the budgets across gateways in `res` (after ledger.collect),
  // for the stream `waiter`. The call's token, or 0 when there is nothing to ask or the call could
  // not start (the reservation then has no store answer: each budget's failOpen decides).
  peek(res: Reservation, waiter: u32, now: i64): u32 {
    this.ledger.beforePeek(res, now);
    const call = this.take();
    call.kind = CallKind.Peek;
    call.waiter = waiter;
    call.descriptors = 0;
    this.writer.begin(this.domain);
    for (let slot = 0; slot < res.count && call.descriptors < MAX_STATUSES; slot++) {
      const key = unchecked(res.keys[slot]);
      if (!this.ledger.owns(key)) continue;
      const b = unchecked(this.ledger.budgets[key.budget]);
      if (!b.shared) continue;
      for (let l = 0; l < LIMIT_KINDS && call.descriptors < MAX_STATUSES; l++) {
        if (unchecked(b.limits[l]) == NO_LIMIT) continue;
        this.describe(b, key, l, now, 0);
        unchecked(call.map[2 * call.descriptors] = slot);
        unchecked(call.map[2 * call.descriptors + 1] = l);
        call.descriptors++;
      }
    }
    return this.send(call);
  }

  // Puts the store's answer to a peek (this.answer, after received) into the waiter's reservation.
  applyPeek(call: StoreCall, res: Reservation): void {
    const a = this.answer;
    for (let i = 0; i < call.descriptors && i < a.count; i++) {
      const slot = unchecked(call.map[2 * i]), l = unchecked(call.map[2 * i + 1]);
      if (slot >= res.count || !this.ledger.owns(unchecked(res.keys[slot]))) continue;
      const b = unchecked(this.ledger.budgets[res.budgetOf(slot)]);
      const unit = unchecked(b.storeUnits[l]);
      const sent = storeCount(b, l);
      const limit = unchecked(a.limits[i]) > 0 ? <i64>unchecked(a.limits[i]) : sent;
      const remaining = <i64>unchecked(a.remaining[i]);
      const counted = unchecked(a.codes[i]) == Code.OverLimit ? limit + 1 : (remaining <= limit ? limit - remaining : 0);
      res.setStoreTotal(slot, l, counted * unit);
    }
  }

  // ---- settlement -------------------------------------------------------------------------------

  // Sends what the ledger holds unsent for the budgets across gateways of `res` (after settle);
  // how many calls left.
  chargeAfter(res: Reservation, now: i64): i32 {
    let sent = 0;
    for (let slot = 0; slot < res.count; slot++) {
      const key = unchecked(res.keys[slot]);
      if (this.ledger.owns(key) && unchecked(this.ledger.budgets[key.budget]).shared && this.charge(key, now)) sent++;
    }
    return sent;
  }

  // Charges one record's unsent amounts; false when there was nothing to send or the call could
  // not start (the amounts then wait in the ledger for retryCharges).
  charge(key: BudgetKey, now: i64): bool {
    if (!this.ledger.owns(key)) return false;
    const call = this.take();
    if (!this.ledger.takeCharge(key, call.counts, now)) {
      this.free.push(call);
      return false;
    }
    call.kind = CallKind.Charge;
    call.waiter = 0;
    call.key.copyFrom(key);
    const b = unchecked(this.ledger.budgets[key.budget]);
    this.writer.begin(this.domain);
    call.descriptors = 0;
    for (let l = 0; l < LIMIT_KINDS; l++) {
      const count = unchecked(call.counts[l]);
      if (count <= 0) continue;
      this.describe(b, key, l, now, <u64>count);
      call.descriptors++;
    }
    if (this.send(call) != 0) return true;
    this.ledger.chargeAnswered(call.key, call.counts, false, now);
    this.remember(call.key);
    return false;
  }

  // Sends again the charges the store did not take (call from the root's tick).
  retryCharges(now: i64): void {
    const n = this.retryCount;
    this.retryCount = 0;
    for (let i = 0; i < n; i++) this.charge(unchecked(this.retry[i]), now);
  }

  // ---- the root's gRPC callbacks ------------------------------------------------------------------

  // proxy_on_grpc_receive: the call's answer of `size` bytes. Returns the call (a Peek's waiter
  // must now be decided: applyPeek, then reserve; call `done` after) or null for an unknown
  // token. A Charge is settled here. A call whose answer cannot be decoded counts as failed.
  received(token: u32, size: usize, now: i64): StoreCall | null {
    const call = this.find(token);
    if (call === null) return null;
    let ok = readGrpcMessage(size) && this.answer.parse(hostData, hostSize) && this.answer.count >= call.descriptors;
    releaseHostData();
    if (!ok) {
      this.failures++;
      this.answer.count = 0;
    }
    if (call.kind == CallKind.Charge) this.chargeOutcome(call, ok, now);
    return call;
  }

  // proxy_on_grpc_close: the call ended without an answer (status != 0: connect failure,
  // timeout, the service's error). Returns the call as received does (a Peek's waiter is decided
  // without the store), or null.
  closed(token: u32, status: u32, now: i64): StoreCall | null {
    const call = this.find(token);
    if (call === null) return null;
    this.answer.count = 0;
    if (status != 0) this.failures++;
    if (call.kind == CallKind.Charge) this.chargeOutcome(call, false, now);
    return call;
  }

  // Returns a call received or closed handed out, once its waiter is decided.
  done(call: StoreCall): void {
    for (let i = 0; i < this.active.length; i++) {
      if (unchecked(this.active[i]) === call) {
        const last = this.active.length - 1;
        unchecked(this.active[i] = unchecked(this.active[last]));
        this.active.pop();
        break;
      }
    }
    call.token = 0;
    this.free.push(call);
  }

  // Cancels a peek whose waiter went away (the client left): no callback will come for it.
  cancel(token: u32): void {
    const call = this.find(token);
    if (call === null) return;
    grpcCancel(token);
    this.done(call);
  }

  // ---- internals ------------------------------------------------------------------------------

  private chargeOutcome(call: StoreCall, ok: bool, now: i64): void {
    this.ledger.chargeAnswered(call.key, call.counts, ok, now);
    if (!ok) this.remember(call.key);
  }

  private remember(key: BudgetKey): void {
    for (let i = 0; i < this.retryCount; i++) {
      const k = unchecked(this.retry[i]);
      if (k.size == key.size && memory.compare(k.ptr, key.ptr, <usize>k.size) == 0) return;
    }
    if (this.retryCount == this.retry.length) this.retry.push(new BudgetKey());
    unchecked(this.retry[this.retryCount]).copyFrom(key);
    this.retryCount++;
  }

  private take(): StoreCall {
    return this.free.length > 0 ? this.free.pop() : new StoreCall();
  }

  private send(call: StoreCall): u32 {
    if (call.descriptors == 0) {
      this.free.push(call);
      return 0;
    }
    const w = this.writer.out;
    const token = grpcCall(this.upstream, SERVICE, METHOD, w.ptr, <usize>w.size, this.timeoutMs);
    if (token == 0) {
      this.failures++;
      this.free.push(call);
      return 0;
    }
    call.token = token;
    this.active.push(call);
    return token;
  }

  private find(token: u32): StoreCall | null {
    for (let i = 0; i < this.active.length; i++) {
      const call = unchecked(this.active[i]);
      if (call.token == token) return call;
    }
    return null;
  }

  private describe(b: Budget, key: BudgetKey, limit: i32, now: i64, hits: u64): void {
    const w = this.writer;
    w.entry(BUDGET_ENTRY, changetype<usize>(b.nameBytes), b.nameBytes.byteLength);
    if (b.scope == ConsumerScope.All) w.entry(CONSUMERS_ENTRY, changetype<usize>(ALL), ALL.byteLength);
    else if (key.overflow) w.entry(CONSUMERS_ENTRY, changetype<usize>(OTHER), OTHER.byteLength);
    else w.entry(CONSUMER_ENTRY, key.consumerPtr, key.consumerSize);
    const name = unchecked(LIMIT_NAME_BYTES[limit]);
    w.entry(LIMIT_ENTRY, changetype<usize>(name), name.byteLength);
    let unit = Unit.Year;
    if (b.window == Window.Month) {
      const month = this.month(now);
      w.entry(MONTH_ENTRY, changetype<usize>(month), month.byteLength);
    } else unit = b.window == Window.Minute ? Unit.Minute : b.window == Window.Hour ? Unit.Hour : Unit.Day;
    w.descriptor(<u32>storeCount(b, limit), unit, hits);
  }

  private month(now: i64): ArrayBuffer {
    const start = windowStart(Window.Month, now);
    if (start != this.monthStart) {
      this.monthStart = start;
      this.monthBytes = String.UTF8.encode(monthLabel(now));
    }
    return this.monthBytes;
  }
}

// A budget's limit in store units (budget.ts storeUnitFor keeps it within uint32).
function storeCount(b: Budget, limit: i32): i64 {
  const count = unchecked(b.limits[limit]) / unchecked(b.storeUnits[limit]);
  return count > MAX_U32 ? MAX_U32 : count;
}
