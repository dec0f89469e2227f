// Entry for upstream Envoy (>= 1.35 with allow_on_headers_stop_iteration: true).
export {
  malloc, proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_validate_configuration,
  proxy_on_configure, proxy_on_tick, proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers,
  proxy_on_response_body, proxy_on_log, proxy_on_delete,
} from "./exports";

// cpp-host reads the ABI version from this export's name; it is never called.
export function proxy_abi_version_0_2_1(): void {}
