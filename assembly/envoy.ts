// Entry for upstream Envoy (>= 1.35 with allow_on_headers_stop_iteration: true).
export * from "./exports";

// cpp-host reads the ABI version from this export's name; it is never called.
export function proxy_abi_version_0_2_1(): void {}
