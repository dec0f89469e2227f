// Test entry (not part of the plugin): the budget ledger and the shared-store client as a
// proxy-wasm module, run by the test host (test/unit/budget*.test.ts, several workers sharing data)
// and by real Envoy (test/e2e/budget-store.test.ts, with the real rate limit service and Redis).
//
// Configuration (plugin configuration, one item per line):
//   store <cluster> <timeoutMs>
//   budget <name> <consumer|-|*> <minute|hour|day|month> [usd=X] [tokens=N] [requests=N]
//          [downgrade=SHARE:ROUTE] [shared=open|closed] [max=N] [route=I] [model=I] [provider=I]
//
// A request (any path) is admitted or refused by its headers:
//   x-budget-consumer  the consumer (absent: none)
//   x-budget-estimate  "<nano-USD> <tokens>" reserved at admission
//   x-budget-cost      "<nano-USD> <tokens>" settled when the stream ends; "fail": released instead
// With budgets across gateways the request is held (StopIteration) while the store is asked, then
// resumed from the root's gRPC callback (proxy_continue_stream) or answered 429 from there. The
// response carries `x-budget-result` (what admission saw); every gRPC callback and charge is logged
// as a `budget-entry:` line.
import "../../../assembly/abi/abort";
import { BufferType, HeadersAction, LogLevel } from "../../../assembly/abi/constants";
import {
  actFor, allocateForHost, currentTimeNanos, grpcStatusMessage, hostData, hostSize, log, readBuffer, readRequestHeader,
  releaseHostData, replaceResponseHeader, readSharedDataAt, writeSharedDataAt, resumeRequest, sendLocalResponse, serializePairs, setTickPeriod,
} from "../../../assembly/abi/host";
import { Budget, LIMIT_KINDS, LIMIT_NAMES } from "../../../assembly/budget/budget";
import { Ledger, Reservation, Verdict } from "../../../assembly/budget/ledger";
import { CallKind, SharedStore, StoreCall } from "../../../assembly/budget/shared";
import { secondsUntilReset, windowByName, windowEnd, windowStart } from "../../../assembly/budget/window";
import { ResponseReader } from "../../../assembly/budget/ratelimit";
import { RECORD_SIZE } from "../../../assembly/budget/record";

export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return allocateForHost(size); }

let ledger = new Ledger([]);
let sharedStore: SharedStore | null = null;
let clockOverride: i64 = -1;   // seconds; -1: the host's clock

function nowSeconds(): i64 {
  return clockOverride >= 0 ? clockOverride : <i64>(currentTimeNanos() / 1_000_000_000);
}

class Stream {
  readonly res: Reservation;
  held: bool = false;
  token: u32 = 0;
  verdict: i32 = -1;
  result: string = "";
  cost: string = "";
  peekSentAt: u64 = 0;
  peekNs: u64 = 0;
  constructor(readonly id: u32) { this.res = ledger.newReservation(); }
}
const streams = new Map<u32, Stream>();
let rootId: u32 = 0;

export function proxy_on_context_create(id: u32, parent: u32): void {
  if (parent == 0) { rootId = id; return; }
  streams.set(id, new Stream(id));
}

export function proxy_on_vm_start(root: u32, size: usize): bool { return true; }

export function proxy_on_configure(root: u32, size: usize): bool {
  if (!readBuffer(BufferType.PluginConfiguration, size)) return true;
  const text = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  const budgets: Budget[] = [];
  let cluster = "", timeout: u32 = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const words = lines[i].trim().split(" ");
    if (words.length >= 3 && words[0] == "store") { cluster = words[1]; timeout = <u32>I32.parseInt(words[2]); continue; }
    if (words.length < 4 || words[0] != "budget") continue;
    const window = windowByName(words[3]);
    if (window < 0) { log(LogLevel.Error, "budget-entry: bad window " + words[3]); return false; }
    const b = new Budget(words[1], words[2] == "-" ? null : words[2], window);
    let route = -1, model = -1, provider = -1;
    for (let w = 4; w < words.length; w++) {
      const eq = words[w].indexOf("=");
      if (eq < 0) continue;
      const k = words[w].substring(0, eq), v = words[w].substring(eq + 1);
      if (k == "usd") b.limitUsd(F64.parseFloat(v));
      else if (k == "tokens") b.limitTokens(I64.parseInt(v));
      else if (k == "requests") b.limitRequests(I64.parseInt(v));
      else if (k == "downgrade") { const c = v.indexOf(":"); b.downgrade(F64.parseFloat(v.substring(0, c)), v.substring(c + 1)); }
      else if (k == "shared") b.acrossGateways(v == "open");
      else if (k == "max") b.maxConsumers = I32.parseInt(v);
      else if (k == "route") route = I32.parseInt(v);
      else if (k == "model") model = I32.parseInt(v);
      else if (k == "provider") provider = I32.parseInt(v);
    }
    b.narrow(route, model, provider);
    budgets.push(b);
  }
  ledger = new Ledger(budgets);
  sharedStore = cluster.length > 0 ? new SharedStore(ledger, cluster, timeout) : null;
  if (budgets.length > 0) setTickPeriod(200);
  return true;
}

// ---- the request path (real Envoy and the test host) -------------------------------------------

function header(name: string): string {
  if (!readRequestHeader(String.UTF8.encode(name))) return "";
  const v = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return v;
}

function pair(text: string, index: i32): i64 {
  const parts = text.split(" ");
  return index < parts.length && parts[index].length > 0 ? I64.parseInt(parts[index]) : 0;
}

export function proxy_on_request_headers(id: u32, headers: u32, eos: u32): u32 {
  if (!streams.has(id)) return HeadersAction.Continue;
  const s = streams.get(id);
  const consumer = String.UTF8.encode(header("x-budget-consumer"));
  const bench = header("x-budget-bench");
  if (bench.length > 0) {
    s.result = "bench_ns=" + timeLedger(s.res, consumer, I32.parseInt(bench), header("x-budget-bench-mode")).toString();
    return HeadersAction.Continue;
  }
  s.cost = header("x-budget-cost");
  s.result = header("x-budget-estimate");
  ledger.collect(s.res, changetype<usize>(consumer), consumer.byteLength, -1, -1, -1);
  const store = sharedStore;
  if (store !== null) {
    const token = store.peek(s.res, id, nowSeconds());
    if (token != 0) {
      s.token = token;
      s.held = true;
      s.peekSentAt = currentTimeNanos();
      log(LogLevel.Info, "budget-entry: peek sent token=" + token.toString() + " by context " + id.toString());
      return HeadersAction.StopIteration;
    }
  }
  return decide(s) ? HeadersAction.Continue : HeadersAction.StopIteration;
}

// What the ledger costs inside the host (bench/budget.mjs): `n` requests of this consumer, each
// collected, reserved and settled against the configured budgets; total wall-clock ns. With
// `x-budget-bench-mode: get` or `set` only one shared-data read or write of the first record.
const rawValue = heap.alloc(<usize>RECORD_SIZE);
function timeLedger(res: Reservation, consumer: ArrayBuffer, n: i32, mode: string): u64 {
  const now = nowSeconds();
  const started = currentTimeNanos();
  for (let i = 0; i < n; i++) {
    ledger.collect(res, changetype<usize>(consumer), consumer.byteLength, -1, -1, -1);
    // one of Envoy's shared-data calls alone, on the record's key (a calibration)
    if (mode == "get" && res.count > 0) { readSharedDataAt(res.keys[0].ptr, res.keys[0].size); releaseHostData(); continue; }
    if (mode == "set" && res.count > 0) { writeSharedDataAt(res.keys[0].ptr, res.keys[0].size, rawValue, RECORD_SIZE, 0); continue; }
    if (ledger.reserve(res, 2000, 100, now) == Verdict.Admitted) ledger.settle(res, 1000, 50, now);
  }
  return currentTimeNanos() - started;
}

// Reserves the stream's estimate; false when it answered 429 instead.
function decide(s: Stream): bool {
  const estimate = s.result;
  const now = nowSeconds();
  const verdict = ledger.reserve(s.res, pair(estimate, 0), pair(estimate, 1), now);
  s.verdict = verdict;
  let totals = "";
  for (let slot = 0; slot < s.res.count; slot++) {
    for (let l = 0; l < LIMIT_KINDS; l++) {
      const t = s.res.storeTotal[slot * LIMIT_KINDS + l];
      if (t >= 0) totals += (totals.length > 0 ? "," : "") + ledger.budgets[s.res.budgetOf(slot)].name + "." + LIMIT_NAMES[l] + "=" + t.toString();
    }
  }
  s.result = "verdict=" + verdict.toString() + " store=" + totals + (s.peekNs > 0 ? " peek_ns=" + s.peekNs.toString() : "");
  if (verdict == Verdict.Admitted) {
    if (s.held) resumeRequest(s.id);
    return true;
  }
  let name = "", retry: i64 = 1;
  if (s.res.refusedSlot >= 0) {
    const b = ledger.budgets[s.res.budgetOf(s.res.refusedSlot)];
    name = b.name;
    retry = secondsUntilReset(b.window, now);
  }
  const body = String.UTF8.encode('{"error":{"code":"budget_exceeded","budget":"' + name + '","verdict":' + verdict.toString() + "}}");
  if (s.held) actFor(s.id);
  sendLocalResponse(429, String.UTF8.encode("budget_exceeded"), changetype<usize>(body), body.byteLength,
    serializePairs(["retry-after", "x-budget-result"], [retry.toString(), s.result]));
  return false;
}

export function proxy_on_response_headers(id: u32, headers: u32, eos: u32): u32 {
  if (streams.has(id)) {
    const v = String.UTF8.encode(streams.get(id).result);
    replaceResponseHeader(String.UTF8.encode("x-budget-result"), changetype<usize>(v), v.byteLength);
  }
  return HeadersAction.Continue;
}

export function proxy_on_log(id: u32): void {
  if (!streams.has(id)) return;
  const s = streams.get(id);
  const now = nowSeconds();
  if (s.token != 0 && s.held && s.verdict < 0 && sharedStore !== null) sharedStore!.cancel(s.token);
  if (s.cost == "fail") ledger.release(s.res, now);
  else ledger.settle(s.res, pair(s.cost, 0), pair(s.cost, 1), now);
  if (sharedStore !== null) {
    const sent = sharedStore!.chargeAfter(s.res, now);
    if (sent > 0) log(LogLevel.Info, "budget-entry: charge sent by context " + id.toString() + " calls=" + sent.toString());
  }
}

export function proxy_on_delete(id: u32): void { streams.delete(id); }

// ---- the root: gRPC answers, retries -------------------------------------------------------

export function proxy_on_grpc_receive(context: u32, token: u32, size: usize): void {
  const store = sharedStore;
  if (store === null) return;
  const call = store.received(token, size, nowSeconds());
  log(LogLevel.Info, "budget-entry: grpc_receive context=" + context.toString() + " token=" + token.toString() +
    " size=" + size.toString() + " known=" + (call !== null ? "1" : "0"));
  if (call !== null) finish(store, call.kind, call.waiter, call);
}

export function proxy_on_grpc_close(context: u32, token: u32, status: u32): void {
  const store = sharedStore;
  if (store === null) return;
  const message = grpcStatusMessage();
  const call = store.closed(token, status, nowSeconds());
  log(LogLevel.Info, "budget-entry: grpc_close context=" + context.toString() + " token=" + token.toString() +
    " status=" + status.toString() + " message=" + message + " known=" + (call !== null ? "1" : "0"));
  if (call !== null) finish(store, call.kind, call.waiter, call);
}

function finish(store: SharedStore, kind: CallKind, waiter: u32, call: StoreCall): void {
  if (kind == CallKind.Peek && waiter == 0 && peekHandles.has(call.token)) {
    store.applyPeek(call, handles[peekHandles.get(call.token)]);
    peekHandles.delete(call.token);
  }
  if (kind == CallKind.Peek && streams.has(waiter)) {
    const s = streams.get(waiter);
    s.token = 0;
    s.peekNs = currentTimeNanos() - s.peekSentAt;
    store.applyPeek(call, s.res);
    decide(s);
  }
  if (kind == CallKind.Charge) log(LogLevel.Info, "budget-entry: charge answered");
  store.done(call);
}

export function proxy_on_tick(root: u32): void {
  ledger.flushSettlements(nowSeconds());
  if (sharedStore !== null) sharedStore!.retryCharges(nowSeconds());
}

// ---- driven from JavaScript (the test host's callExport) --------------------------------------

const handles: Reservation[] = [];
const peekHandles = new Map<u32, i32>();   // a peek's token → the reservation it answers
const consumerScratch = memory.data(256);

export function test_set_clock(seconds: i64): void { clockOverride = seconds; }
export function test_new(): i32 { handles.push(ledger.newReservation()); return handles.length - 1; }
// The consumer's bytes are written by the test at test_consumer_buffer().
export function test_consumer_buffer(): usize { return consumerScratch; }
export function test_collect(h: i32, consumerSize: i32, route: i32, model: i32, provider: i32): i32 {
  return ledger.collect(handles[h], consumerScratch, consumerSize, route, model, provider);
}
export function test_reserve(h: i32, usdNano: i64, tokens: i64): i32 { return ledger.reserve(handles[h], usdNano, tokens, nowSeconds()); }
export function test_settle(h: i32, usdNano: i64, tokens: i64): void { ledger.settle(handles[h], usdNano, tokens, nowSeconds()); }
export function test_release(h: i32): void { ledger.release(handles[h], nowSeconds()); }
export function test_flush(): void { ledger.flushSettlements(nowSeconds()); }
export function test_waiting(): i32 { return ledger.waitingSettlements; }
export function test_refused_slot(h: i32): i32 { return handles[h].refusedSlot; }
export function test_refused_limit(h: i32): i32 { return handles[h].refusedLimit; }
export function test_budget_of(h: i32, slot: i32): i32 { return handles[h].budgetOf(slot); }
export function test_remaining(h: i32, slot: i32, limit: i32): i64 { return ledger.remaining(handles[h], slot, limit, nowSeconds()); }
export function test_used(h: i32, slot: i32, limit: i32): i64 { return ledger.used(handles[h], slot, limit, nowSeconds()); }
export function test_downgrade_slot(h: i32): i32 { return ledger.downgradeSlot(handles[h], nowSeconds()); }
export function test_store_total(h: i32, slot: i32, limit: i32, total: i64): void { handles[h].setStoreTotal(slot, limit, total); }
export function test_window_start(kind: i32, now: i64): i64 { return windowStart(kind, now); }
export function test_window_end(kind: i32, now: i64): i64 { return windowEnd(kind, now); }

// The response decoder over bytes the test wrote at test_bytes(n) (fuzzed: must never trap).
const reader = new ResponseReader();
let bytes: usize = 0;
export function test_bytes(n: i32): usize { if (bytes != 0) heap.free(bytes); bytes = heap.alloc(<usize>max(n, 1)); return bytes; }
export function test_parse(n: i32): i32 { return reader.parse(bytes, <usize>n) ? reader.count : -1; }
export function test_status(i: i32, field: i32): i64 {
  if (i < 0 || i >= reader.count) return -1;
  return field == 0 ? <i64>reader.codes[i] : field == 1 ? <i64>reader.limits[i] : field == 2 ? <i64>reader.remaining[i] : reader.resetSeconds[i];
}

// The shared store driven for a reservation (the answer lands in it when the root gets it).
export function test_peek(h: i32): u32 {
  if (sharedStore === null) return 0;
  const token = sharedStore!.peek(handles[h], 0, nowSeconds());
  if (token != 0) peekHandles.set(token, h);
  return token;
}
export function test_charge(h: i32): i32 { return sharedStore === null ? 0 : sharedStore!.chargeAfter(handles[h], nowSeconds()); }
export function test_store_in_flight(): i32 { return sharedStore === null ? 0 : sharedStore!.inFlight; }
export function test_store_failures(): i64 { return sharedStore === null ? 0 : sharedStore!.failures; }
export function test_store_total_of(h: i32, slot: i32, limit: i32): i64 { return handles[h].storeTotal[slot * LIMIT_KINDS + limit]; }
export function test_retry_charges(): void { if (sharedStore !== null) sharedStore!.retryCharges(nowSeconds()); }
