// Entry for Higress. Its proxy-wasm-cpp-host fork passes StopIteration from the headers callback
// through (holding headers while the body is read) only for modules marked 0_2_100, a marker
// upstream Envoy refuses to load: hence a second build from the same source.
import { adaptToHigress } from "./host_kind";
import { responseHeaders } from "./exports";
export {
  malloc, proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_validate_configuration,
  proxy_on_configure, proxy_on_tick, proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers,
  proxy_on_response_body, proxy_on_log, proxy_on_delete,
} from "./exports";

export function proxy_abi_version_0_2_100(): void {}

// Higress's route cannot add the decision header from filter state (its console and WasmPlugin give
// no route headers): the plugin writes it as the response headers pass, and returns at once.
export function proxy_on_response_headers(contextId: u32, headers: u32, endOfStream: u32): u32 {
  responseHeaders(contextId);
  return 0;
}

// Higress buffers at most 32 KiB of request body by default (raised per request), and a plugin may
// have switched off re-routing after header edits (cleared explicitly): see host_kind.ts.
adaptToHigress();
