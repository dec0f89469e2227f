// Proxy-Wasm constants and the host-function registry of proxy-wasm-cpp-host, per ABI.
// Everything here mirrors include/proxy-wasm/exports.h and src/wasm.cc registerCallbacks:
// a module may import ONLY what the host registered for its ABI, otherwise Envoy refuses it.

export const Status = {
  OK: 0,
  NOT_FOUND: 1,
  BAD_ARGUMENT: 2,
  SERIALIZATION_FAILURE: 3,
  PARSE_FAILURE: 4,
  INVALID_MEMORY_ACCESS: 6,
  EMPTY: 7,
  CAS_MISMATCH: 8,
  INTERNAL_FAILURE: 10,
  UNIMPLEMENTED: 12,
} as const;

/** Envoy FilterHeadersStatus values as cpp-host passes them through. */
export const HeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

/** Envoy FilterDataStatus. */
export const DataStatus = {
  Continue: 0,
  StopIterationAndBuffer: 1,
  StopIterationAndWatermark: 2,
  StopIterationNoBuffer: 3,
} as const;

/** Envoy FilterTrailersStatus. */
export const TrailersStatus = { Continue: 0, StopIteration: 1 } as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;
export const BUFFER_TYPE_MAX = 8;

export const MapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
} as const;
export const MAP_TYPE_MAX = 7;

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;

/** WASI errno values cpp-host uses. */
export const Errno = { SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, NOSYS: 52, NOTCAPABLE: 76 } as const;

/** include/proxy-wasm/limits.h */
export const PAIRS_MAX_BYTES = 1024 * 1024;
export const PAIRS_MAX_COUNT = 1024;
export const RANDOM_GET_MAX_BYTES = 64 * 1024;

export type Abi = "0_1_0" | "0_2_0" | "0_2_1" | "0_2_100";

/** Signature strings: one char per parameter, 'i' = i32, 'I' = i64; then ':' and the results. */
type Sig = string;

/** Functions registered for every ABI (cpp-host FOR_ALL_HOST_FUNCTIONS), with their wasm signature. */
export const COMMON_HOST_FUNCTIONS: Record<string, Sig> = {
  proxy_log: "iii:i",
  proxy_get_current_time_nanoseconds: "i:i",
  proxy_set_tick_period_milliseconds: "i:i",
  proxy_get_buffer_bytes: "iiiii:i",
  proxy_set_buffer_bytes: "iiiii:i",
  proxy_get_buffer_status: "iii:i",
  proxy_get_header_map_size: "ii:i",
  proxy_get_header_map_pairs: "iii:i",
  proxy_set_header_map_pairs: "iii:i",
  proxy_get_header_map_value: "iiiii:i",
  proxy_add_header_map_value: "iiiii:i",
  proxy_replace_header_map_value: "iiiii:i",
  proxy_remove_header_map_value: "iii:i",
  proxy_get_status: "iii:i",
  proxy_send_local_response: "iiiiiiii:i",
  proxy_http_call: "iiiiiiiiii:i",
  proxy_grpc_call: "iiiiiiiiiiii:i",
  proxy_grpc_stream: "iiiiiiiii:i",
  proxy_grpc_send: "iiii:i",
  proxy_grpc_cancel: "i:i",
  proxy_grpc_close: "i:i",
  proxy_set_shared_data: "iiiii:i",
  proxy_get_shared_data: "iiiii:i",
  proxy_register_shared_queue: "iii:i",
  proxy_resolve_shared_queue: "iiiii:i",
  proxy_enqueue_shared_queue: "iii:i",
  proxy_dequeue_shared_queue: "iii:i",
  proxy_define_metric: "iiii:i",
  proxy_record_metric: "iI:i",
  proxy_increment_metric: "iI:i",
  proxy_get_metric: "ii:i",
  proxy_get_property: "iiii:i",
  proxy_set_property: "iiii:i",
  proxy_call_foreign_function: "iiiiii:i",
  proxy_set_effective_context: "i:i",
  proxy_done: ":i",
  // cpp-host registers these two emscripten helpers for every module.
  pthread_equal: "ii:i",
  emscripten_notify_memory_growth: "i:",
};

/** FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC */
export const ABI_SPECIFIC_HOST_FUNCTIONS: Record<Abi, Record<string, Sig>> = {
  "0_1_0": {
    proxy_get_configuration: "ii:i",
    proxy_continue_request: ":i",
    proxy_continue_response: ":i",
    proxy_clear_route_cache: ":i",
  },
  "0_2_0": { proxy_continue_stream: "i:i", proxy_close_stream: "i:i" },
  "0_2_1": { proxy_continue_stream: "i:i", proxy_close_stream: "i:i", proxy_get_log_level: "i:i" },
  // Higress's fork treats 0_2_100 like 0_2_1 plus the extras below.
  "0_2_100": { proxy_continue_stream: "i:i", proxy_close_stream: "i:i", proxy_get_log_level: "i:i" },
};

/**
 * Extra functions the Higress cpp-host fork registers for 0_2_1 and 0_2_100. Their exact signatures
 * are not pinned down in the reference, so the emulator accepts any signature for them (they only
 * ever return UNIMPLEMENTED here; the router plugin must not import them at all).
 */
export const HIGRESS_EXTRA_HOST_FUNCTIONS = [
  "proxy_redis_init",
  "proxy_redis_call",
  "proxy_get_upstream_hosts",
  "proxy_inject_encoded_data_to_filter_chain",
  "proxy_set_upstream_override_host",
];

/** FOR_ALL_WASI_FUNCTIONS, registered under both wasi_snapshot_preview1 and wasi_unstable. */
export const WASI_FUNCTIONS: Record<string, Sig> = {
  fd_write: "iiii:i",
  fd_read: "iiii:i",
  fd_seek: "iIii:i",
  fd_close: "i:i",
  fd_fdstat_get: "ii:i",
  fd_fdstat_set_flags: "ii:i",
  fd_prestat_get: "ii:i",
  fd_prestat_dir_name: "iii:i",
  environ_get: "ii:i",
  environ_sizes_get: "ii:i",
  args_get: "ii:i",
  args_sizes_get: "ii:i",
  clock_time_get: "iIi:i",
  clock_res_get: "ii:i",
  random_get: "ii:i",
  sched_yield: ":i",
  poll_oneoff: "iiii:i",
  proc_exit: "i:",
};
export const WASI_MODULES = ["wasi_snapshot_preview1", "wasi_unstable"];

/** Host calls allowed while _initialize/_start runs (cpp-host startVm allow-list). */
export const START_ALLOWED = new Set([
  "env.proxy_log",
  "env.emscripten_notify_memory_growth",
  ...WASI_MODULES.flatMap((m) =>
    ["fd_write", "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_time_get", "clock_res_get", "random_get"].map(
      (f) => `${m}.${f}`,
    ),
  ),
]);

/** The env functions a module with the given ABI may import under the given host flavour. */
export function registeredEnvFunctions(abi: Abi, higress: boolean): Map<string, Sig | null> {
  const out = new Map<string, Sig | null>();
  for (const [k, v] of Object.entries(COMMON_HOST_FUNCTIONS)) out.set(k, v);
  for (const [k, v] of Object.entries(ABI_SPECIFIC_HOST_FUNCTIONS[abi])) out.set(k, v);
  if (higress && (abi === "0_2_1" || abi === "0_2_100")) for (const k of HIGRESS_EXTRA_HOST_FUNCTIONS) out.set(k, null);
  return out;
}
