// What the host needs beyond the common request path, decided once per VM by the build's entry
// file (assembly/envoy.ts, assembly/higress.ts), never per request.
// - Higress caps buffered request bodies at 32 KiB unless a plugin raises the limit per request.
// - Upstream Envoy refreshes the route by itself after a header edit from an ABI 0.2.1 module
//   (onHeadersModified); Higress does so by default too, but another plugin may have switched it off
//   for the request (clear_route_cache=off), so the Higress build also clears the route cache
//   explicitly (foreign function clear_route_cache; NOT_FOUND on hosts without it is harmless).
// - Higress's Envoy runs Wasm filters only before the router (no upstream filter runs per attempt),
//   so its build makes no failover plans: a request goes to its first model, as before.
// - Envoy's route adds the opt-in decision header from filter state (the generated bootstrap's
//   response_headers_to_add), so the Envoy build needs no response-headers callback; Higress gives no
//   route headers, so its build writes the header itself from proxy_on_response_headers.
export let raiseDecoderBufferLimit = false;
export let clearRouteCacheExplicitly = false;
export let planFailovers = true;
export let decisionHeaderInFilterState = true;

export function adaptToHigress(): void {
  raiseDecoderBufferLimit = true;
  clearRouteCacheExplicitly = true;
  planFailovers = false;
  decisionHeaderInFilterState = false;
}
