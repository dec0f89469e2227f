// Profiling aid (bench only): how fast Envoy's V8 runs the plugin's own code, against Node's V8.
// The plugin configuration is a request body; every request scans it `REPEAT` times with the
// plugin's body scan and logs the wall time (`compute <ns>`). bench/profile/compute.mjs runs the
// same module in Node with stub host functions and compares.
import { proxy_get_current_time_nanoseconds, proxy_log, proxy_get_buffer_bytes } from "../../assembly/abi/imports";
import { BodyScanner } from "../../assembly/request/body_scan";
import { RequestFeatures } from "../../assembly/request/features";

const OUT = memory.data(16);
const REPEAT = 200;
const features = new RequestFeatures();
const scanner = new BodyScanner();
let body: usize = 0;
let size: usize = 0;

function now(): u64 { proxy_get_current_time_nanoseconds(OUT); return load<u64>(OUT); }

export function malloc(n: usize): usize { return heap.alloc(n); }
export function proxy_on_context_create(c: u32, p: u32): void {}
export function proxy_on_vm_start(c: u32, n: usize): bool { return true; }
export function proxy_on_configure(c: u32, n: usize): bool {
  store<usize>(OUT, 0);
  if (proxy_get_buffer_bytes(7, 0, n, OUT, OUT + 4) != 0) return false;
  body = load<usize>(OUT);
  size = load<usize>(OUT, 4);
  return true;
}
// The measurement itself, also called directly from Node.
export function scanRepeatedly(times: i32): i32 {
  let errors = 0;
  for (let i = 0; i < times; i++) { scanner.scan(body, size, features, true); errors += <i32>features.error; }
  return errors;
}
export function proxy_on_request_headers(c: u32, n: u32, e: u32): u32 {
  const t = now();
  scanRepeatedly(REPEAT);
  const line = String.UTF8.encode("compute " + ((now() - t) / REPEAT).toString());
  proxy_log(3, changetype<usize>(line), line.byteLength);
  return 0;
}
export function proxy_on_delete(c: u32): void {}
export function proxy_abi_version_0_2_1(): void {}
