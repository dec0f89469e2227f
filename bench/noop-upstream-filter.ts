// A proxy-wasm filter that does nothing, with the callbacks the plugin exports (the response body and
// log too): as the router's upstream filter it measures what Envoy's Wasm machinery costs each
// attempt, so bench/failover.mjs can tell that apart from the upstream filter's own work.
export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return heap.alloc(size); }
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }
export function proxy_on_context_create(contextId: u32, parentId: u32): void {}
export function proxy_on_vm_start(rootId: u32, size: usize): bool { return true; }
export function proxy_on_configure(rootId: u32, size: usize): bool { return true; }
export function proxy_on_tick(rootId: u32): void {}
export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 { return 0; }
export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 { return 0; }
export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 { return 0; }
export function proxy_on_response_body(contextId: u32, size: usize, endOfStream: u32): u32 { return 0; }
export function proxy_on_log(contextId: u32): void {}
export function proxy_on_done(contextId: u32): bool { return true; }
export function proxy_on_delete(contextId: u32): void {}
