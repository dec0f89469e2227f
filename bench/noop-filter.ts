// A proxy-wasm filter that does nothing: every callback answers Continue at once. Through Envoy it
// measures what the Wasm machinery itself costs a request (a context per stream, the calls into
// V8), so the benchmark can tell that apart from what the router's own work adds.
export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return heap.alloc(size); }
export function proxy_on_context_create(contextId: u32, parentId: u32): void {}
export function proxy_on_vm_start(rootId: u32, size: usize): bool { return true; }
export function proxy_on_configure(rootId: u32, size: usize): bool { return true; }
export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 { return 0; }
export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 { return 0; }
export function proxy_on_done(contextId: u32): bool { return true; }
export function proxy_on_delete(contextId: u32): void {}
