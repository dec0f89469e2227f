// The floor filter with every callback timed (bench/profile/timed.ts).
import * as p from "../floor-filter";
import { countContext, note, now } from "./timed";
export { malloc, proxy_on_memory_allocate, proxy_on_vm_start, proxy_validate_configuration, proxy_on_configure, proxy_on_tick } from "../floor-filter";

export function proxy_on_context_create(c: u32, parent: u32): void {
  const t = now(); p.proxy_on_context_create(c, parent); if (parent != 0) { note(0, t); countContext(); }
}
export function proxy_on_request_headers(c: u32, n: u32, e: u32): u32 { const t = now(); const r = p.proxy_on_request_headers(c, n, e); note(1, t); return r; }
export function proxy_on_request_body(c: u32, n: usize, e: u32): u32 { const t = now(); const r = p.proxy_on_request_body(c, n, e); note(2, t); return r; }
export function proxy_on_request_trailers(c: u32, n: u32): u32 { const t = now(); const r = p.proxy_on_request_trailers(c, n); note(3, t); return r; }
export function proxy_on_response_body(c: u32, n: usize, e: u32): u32 { const t = now(); const r = p.proxy_on_response_body(c, n, e); note(5, t); return r; }
export function proxy_on_log(c: u32): void { const t = now(); p.proxy_on_log(c); note(6, t); }
export function proxy_on_delete(c: u32): void { const t = now(); p.proxy_on_delete(c); note(8, t); }
export function proxy_abi_version_0_2_1(): void {}
