// Entry for Higress. Its proxy-wasm-cpp-host fork passes StopIteration from the headers callback
// through (holding headers while the body is read) only for modules marked 0_2_100, a marker
// upstream Envoy refuses to load: hence a second build from the same source.
import { adaptToHigress } from "./filter";
export * from "./exports";

export function proxy_abi_version_0_2_100(): void {}

// Higress buffers at most 32 KiB of request body by default (raised per request), and a plugin may
// have switched off re-routing after header edits (cleared explicitly): see filter.ts.
adaptToHigress();
