// Profiling aid (bench only): wraps every proxy_on_* callback of a module with two clock reads and
// logs, every PERIOD stream contexts, the mean wall time spent inside each callback (ns, the two
// clock reads' own cost not subtracted) at warning level: `timed <callback> <calls> <ns>`.
// bench/profile/envoy-profile.mjs writes a wrapper of this kind around the plugin and the floor filter.
import { proxy_get_current_time_nanoseconds, proxy_log } from "../../assembly/abi/imports";

const OUT = memory.data(8);
const PERIOD: u32 = 20000;
const NAMES = ["create", "request_headers", "request_body", "request_trailers", "response_headers", "response_body", "log", "done", "delete"];
const ns = new StaticArray<u64>(9);
const calls = new StaticArray<u32>(9);
let contexts: u32 = 0;

@inline export function now(): u64 { proxy_get_current_time_nanoseconds(OUT); return load<u64>(OUT); }

export function note(which: i32, start: u64): void {
  unchecked(ns[which] += now() - start);
  unchecked(calls[which]++);
}

export function countContext(): void {
  if (++contexts < PERIOD) return;
  contexts = 0;
  for (let i = 0; i < 9; i++) {
    if (calls[i] == 0) continue;
    const line = String.UTF8.encode("timed " + NAMES[i] + " " + calls[i].toString() + " " + ns[i].toString());
    proxy_log(3, changetype<usize>(line), line.byteLength);
    ns[i] = 0;
    calls[i] = 0;
  }
}
