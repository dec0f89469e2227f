// Host functions this plugin imports. Every one is registered by proxy-wasm-cpp-host for ABI 0.2.1
// (and by Higress's fork for 0_2_100); importing anything else would stop the module loading.
// Pointers are guest addresses; `**` out-parameters receive memory the host allocated via malloc.

@external("env", "proxy_log")
export declare function proxy_log(level: u32, msg: usize, len: usize): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(type: u32, start: usize, max: usize, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(type: u32, start: usize, len: usize, ptr: usize, size: usize): u32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(map: u32, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(map: u32, key: usize, keyLen: usize, value: usize, valueLen: usize): u32;

@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(map: u32, key: usize, keyLen: usize): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(path: usize, pathLen: usize, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_set_property")
export declare function proxy_set_property(path: usize, pathLen: usize, value: usize, valueLen: usize): u32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  status: u32, details: usize, detailsLen: usize, body: usize, bodyLen: usize,
  headers: usize, headersLen: usize, grpcStatus: i32): u32;

@external("env", "proxy_call_foreign_function")
export declare function proxy_call_foreign_function(
  name: usize, nameLen: usize, args: usize, argsLen: usize, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(out: usize): u32;

@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(map: u32, key: usize, keyLen: usize, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(key: usize, keyLen: usize, outPtr: usize, outLen: usize, outCas: usize): u32;

@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(key: usize, keyLen: usize, value: usize, valueLen: usize, cas: u32): u32;

@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(period: u32): u32;

@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(out: usize): u32;

// Failover: the fallback counter (metrics), and the provider keys, read once from the environment
// Envoy passes to the VM (vm_config.environment_variables.host_env_keys) by the upstream filter.
@external("env", "proxy_define_metric")
export declare function proxy_define_metric(type: u32, name: usize, nameLen: usize, outId: usize): u32;

@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(id: u32, delta: i64): u32;

@external("env", "proxy_record_metric")
export declare function proxy_record_metric(id: u32, value: u64): u32;

@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function environ_sizes_get(outCount: usize, outSize: usize): u16;

@external("wasi_snapshot_preview1", "environ_get")
export declare function environ_get(outPointers: usize, outBuffer: usize): u16;

// Budgets across gateways: unary calls to the rate limit service. cpp-host issues every call on the
// ROOT context (exports.cc grpc_call: contextOrEffectiveContext()->root_context()), so answers come
// to proxy_on_grpc_receive / proxy_on_grpc_close of the root, whichever context asked, and outlive
// the stream that asked; a held stream is resumed with proxy_continue_stream after
// proxy_set_effective_context names it.
@external("env", "proxy_grpc_call")
export declare function proxy_grpc_call(
  upstream: usize, upstreamLen: usize, service: usize, serviceLen: usize, method: usize, methodLen: usize,
  metadata: usize, metadataLen: usize, message: usize, messageLen: usize, timeoutMs: u32, outToken: usize): u32;

@external("env", "proxy_grpc_cancel")
export declare function proxy_grpc_cancel(token: u32): u32;

@external("env", "proxy_get_status")
export declare function proxy_get_status(outCode: usize, outPtr: usize, outLen: usize): u32;

@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(stream: u32): u32;

@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(context: u32): u32;
