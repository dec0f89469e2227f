// The plugin without its response callbacks (bench only): the same request path, but Envoy never
// calls on_response_body / on_log for it. Against build/envoy.wasm this measures what watching
// responses adds to the response headers and the first token (bench/live.mjs).
export {
  malloc, proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_validate_configuration,
  proxy_on_configure, proxy_on_tick, proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers,
  proxy_on_delete,
} from "../assembly/exports";

export function proxy_abi_version_0_2_1(): void {}
