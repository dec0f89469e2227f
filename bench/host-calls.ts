// What one host call costs in real Envoy (bench only): on each request this plugin times a loop of
// each call the router's observability makes per request or per tick (a counter increment, a
// histogram record, a gauge set, a filter-state write, reading the consumer's request header,
// writing a response header) against the cheapest call there is (proxy_get_log_level), and logs
// `host-calls <name> <calls> <ns>` at warning level.
// bench/metrics.mjs runs it and reads the log.
@external("env", "proxy_log") declare function proxy_log(level: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_get_log_level") declare function proxy_get_log_level(out: usize): u32;
@external("env", "proxy_get_current_time_nanoseconds") declare function proxy_get_current_time_nanoseconds(out: usize): u32;
@external("env", "proxy_define_metric") declare function proxy_define_metric(type: u32, name: usize, len: usize, out: usize): u32;
@external("env", "proxy_increment_metric") declare function proxy_increment_metric(id: u32, delta: i64): u32;
@external("env", "proxy_record_metric") declare function proxy_record_metric(id: u32, value: u64): u32;
@external("env", "proxy_set_property") declare function proxy_set_property(path: usize, len: usize, value: usize, valueLen: usize): u32;
@external("env", "proxy_replace_header_map_value") declare function proxy_replace_header_map_value(map: u32, k: usize, kl: usize, v: usize, vl: usize): u32;
@external("env", "proxy_get_header_map_value") declare function proxy_get_header_map_value(map: u32, k: usize, kl: usize, outPtr: usize, outLen: usize): u32;

export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return heap.alloc(size); }

const OUT = memory.data(16);
const CALLS = 20000;
const KEYS = 200; // distinct filter-state keys per request (each a new object in Envoy)
let counter: u32 = 0, histogram: u32 = 0, gauge: u32 = 0;

function now(): u64 { proxy_get_current_time_nanoseconds(OUT); return load<u64>(OUT); }
function report(name: string, calls: i32, ns: u64): void {
  const b = String.UTF8.encode("host-calls " + name + " " + calls.toString() + " " + ns.toString());
  proxy_log(3, changetype<usize>(b), b.byteLength);
}
function define(type: u32, name: string): u32 {
  const b = String.UTF8.encode(name);
  proxy_define_metric(type, changetype<usize>(b), b.byteLength, OUT);
  return load<u32>(OUT);
}

export function proxy_on_context_create(id: u32, parent: u32): void {}
export function proxy_on_vm_start(id: u32, size: usize): bool { return true; }
export function proxy_on_configure(id: u32, size: usize): bool {
  counter = define(0, "route.r.upstream.u.model.m.consumer.none.metric.bench_counter");
  histogram = define(2, "gen_ai_bench_histogram.upstream.u.model.m");
  gauge = define(1, "llm_router_bench_gauge.upstream.u.model.m");
  return true;
}

const KEY = String.UTF8.encode("bench.decision");
const CONSUMER = String.UTF8.encode("x-consumer");
const VALUE = String.UTF8.encode("outcome=routed route=auto model=gpt-4o-mini strategy=balanced cost_usd=0.0003078");
const keys: ArrayBuffer[] = [];
for (let i = 0; i < KEYS; i++) keys.push(String.UTF8.encode("bench.k" + i.toString()));

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  let t = now();
  for (let i = 0; i < CALLS; i++) proxy_get_log_level(OUT);
  report("get_log_level", CALLS, now() - t);
  t = now();
  for (let i = 0; i < CALLS; i++) proxy_increment_metric(counter, 1);
  report("increment_counter", CALLS, now() - t);
  t = now();
  for (let i = 0; i < CALLS; i++) proxy_record_metric(histogram, <u64>(100 + (i & 1023)));
  report("record_histogram", CALLS, now() - t);
  t = now();
  for (let i = 0; i < CALLS; i++) proxy_record_metric(gauge, <u64>(i & 7));
  report("set_gauge", CALLS, now() - t);
  t = now();
  for (let i = 0; i < CALLS; i++) {
    proxy_get_header_map_value(0, changetype<usize>(CONSUMER), CONSUMER.byteLength, OUT, OUT + 4);
    heap.free(load<u32>(OUT)); // the value, in memory the host got from our malloc
  }
  report("get_request_header", CALLS, now() - t);
  t = now();
  for (let i = 0; i < KEYS; i++) proxy_set_property(changetype<usize>(keys[i]), keys[i].byteLength, changetype<usize>(VALUE), VALUE.byteLength);
  report("set_property_new_key", KEYS, now() - t);
  t = now();
  for (let i = 0; i < CALLS; i++) proxy_set_property(changetype<usize>(KEY), KEY.byteLength, changetype<usize>(VALUE), VALUE.byteLength);
  report("set_property_same_key", CALLS, now() - t);
  return 0;
}

const HEADER = String.UTF8.encode("x-llm-decision");
export function proxy_on_response_headers(id: u32, n: u32, eos: u32): u32 {
  const t = now();
  for (let i = 0; i < CALLS; i++) proxy_replace_header_map_value(2, changetype<usize>(HEADER), HEADER.byteLength, changetype<usize>(VALUE), VALUE.byteLength);
  report("replace_response_header", CALLS, now() - t);
  return 0;
}
export function proxy_on_done(id: u32): bool { return true; }
export function proxy_on_delete(id: u32): void {}
