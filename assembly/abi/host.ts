// Thin, typed wrappers over the imported host functions. Data the host returns lands in memory it
// obtained from our malloc; `hostData`/`hostSize` describe the last such block and releaseHostData
// gives it back. No wrapper ever traps on a host status other than OK: callers get a bool.
import {
  proxy_log, proxy_get_buffer_bytes, proxy_set_buffer_bytes, proxy_get_header_map_pairs,
  proxy_replace_header_map_value, proxy_remove_header_map_value, proxy_get_property,
  proxy_set_property, proxy_send_local_response, proxy_call_foreign_function,
  proxy_get_current_time_nanoseconds, proxy_get_header_map_value, proxy_get_shared_data,
  proxy_set_shared_data, proxy_set_tick_period_milliseconds, proxy_get_log_level, proxy_define_metric,
  proxy_increment_metric, proxy_record_metric, environ_sizes_get, environ_get, proxy_grpc_call, proxy_grpc_cancel,
  proxy_get_status, proxy_continue_stream, proxy_set_effective_context,
} from "./imports";
import { BufferType, LogLevel, MapType, MetricType, Status, StreamType } from "./constants";

const OUT = memory.data(16);   // out-parameters: [ptr, size] or a u64

export let hostData: usize = 0;
export let hostSize: usize = 0;

// Free room kept before and after every block the host fills, so the body's `model` can be
// replaced in place by moving the shorter side of it, instead of copying the whole body.
export const HOST_BLOCK_SLACK: usize = 256;

// The allocator the host calls (exported as malloc and proxy_on_memory_allocate). Raw heap
// blocks, not GC objects: the data is read once and freed by releaseHostData.
export function allocateForHost(size: usize): usize {
  return heap.alloc(size + 2 * HOST_BLOCK_SLACK) + HOST_BLOCK_SLACK;
}

// Frees a block the host filled through allocateForHost (0 is allowed: an empty answer).
export function freeHostBlock(ptr: usize): void {
  if (ptr != 0) heap.free(ptr - HOST_BLOCK_SLACK);
}

export function releaseHostData(): void {
  freeHostBlock(hostData);
  hostData = 0;
  hostSize = 0;
}

// Hands the last block to the caller, who frees it with freeHostBlock once done with it.
export function takeHostData(): usize {
  const block = hostData;
  hostData = 0;
  hostSize = 0;
  return block;
}

function takeOut(status: u32): bool {
  hostData = load<usize>(OUT);
  hostSize = load<usize>(OUT, sizeof<usize>());
  if (status != Status.Ok) {
    releaseHostData();
    return false;
  }
  return true;
}

@inline function ptrOf(b: ArrayBuffer): usize { return changetype<usize>(b); }

export function log(level: LogLevel, message: string): void {
  const bytes = String.UTF8.encode(message);
  proxy_log(level, ptrOf(bytes), bytes.byteLength);
}

export function readBuffer(type: BufferType, size: usize): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_buffer_bytes(type, 0, size, OUT, OUT + sizeof<usize>()));
}

// Replaces the first `oldSize` bytes of the request body with [ptr, ptr+size): with start 0, Envoy
// drains `oldSize` bytes and prepends the new ones. oldSize = the whole body replaces all of it,
// which older hosts (accepting only a length >= the current size) allow too.
export function replaceRequestBody(ptr: usize, size: usize, oldSize: usize): bool {
  return proxy_set_buffer_bytes(BufferType.RequestBody, 0, oldSize, ptr, size) == Status.Ok;
}

// The whole request-header map, serialised as pairs (see parse in request/headers.ts). An empty
// map comes back as ptr 0, size 0.
export function readRequestHeaderPairs(): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_header_map_pairs(MapType.RequestHeaders, OUT, OUT + sizeof<usize>()));
}

export function replaceRequestHeader(name: ArrayBuffer, value: ArrayBuffer): bool {
  return proxy_replace_header_map_value(MapType.RequestHeaders, ptrOf(name), name.byteLength, ptrOf(value), value.byteLength) == Status.Ok;
}

// Same, with the value given as bytes [ptr, ptr + size) (a value built in scratch memory).
export function replaceRequestHeaderBytes(name: ArrayBuffer, ptr: usize, size: usize): bool {
  return proxy_replace_header_map_value(MapType.RequestHeaders, ptrOf(name), name.byteLength, ptr, size) == Status.Ok;
}

export function removeRequestHeader(name: ArrayBuffer): void {
  proxy_remove_header_map_value(MapType.RequestHeaders, ptrOf(name), name.byteLength);
}

export function readProperty(path: ArrayBuffer): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_property(ptrOf(path), path.byteLength, OUT, OUT + sizeof<usize>()));
}

// A property holding a little-endian 64-bit integer (Envoy's request.time, request.duration, response
// codes and flags); `fallback` when it is absent or not 8 bytes long.
export function readPropertyInt64(path: ArrayBuffer, fallback: i64): i64 {
  if (!readProperty(path)) return fallback;
  const value = hostSize == 8 ? load<i64>(hostData) : fallback;
  releaseHostData();
  return value;
}

export function writeProperty(path: ArrayBuffer, value: ArrayBuffer): bool {
  return proxy_set_property(ptrOf(path), path.byteLength, ptrOf(value), value.byteLength) == Status.Ok;
}

// Calls a host foreign function without arguments and discards its result, leaving hostData
// alone (the caller may still own a block there). NOT_FOUND (an older host) is not an error.
export function callForeignFunction(name: ArrayBuffer): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  const status = proxy_call_foreign_function(ptrOf(name), name.byteLength, 0, 0, OUT, OUT + sizeof<usize>());
  freeHostBlock(load<usize>(OUT));
  return status == Status.Ok;
}

export function sendLocalResponse(status: u32, details: ArrayBuffer, body: usize, bodySize: usize, headers: ArrayBuffer): bool {
  return proxy_send_local_response(status, ptrOf(details), details.byteLength, body, bodySize,
    ptrOf(headers), headers.byteLength, -1) == Status.Ok;
}

// One response header's value (the first one), into hostData; false when absent or unreadable.
export function readResponseHeader(name: ArrayBuffer): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_header_map_value(MapType.ResponseHeaders, ptrOf(name), name.byteLength, OUT, OUT + sizeof<usize>()));
}

// One request header's value (the first one), into hostData; false when absent or unreadable. At
// on_log it reads the map as every filter left it.
export function readRequestHeader(name: ArrayBuffer): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_header_map_value(MapType.RequestHeaders, ptrOf(name), name.byteLength, OUT, OUT + sizeof<usize>()));
}

// The response body chunk the current on_response_body call was given, into hostData.
export function readResponseBody(size: usize): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_buffer_bytes(BufferType.ResponseBody, 0, size, OUT, OUT + sizeof<usize>()));
}

// The cas of the value the last successful readSharedData returned.
export let sharedCas: u32 = 0;

// A shared-data value into hostData (an empty value is ptr 0, size 0) and its cas into sharedCas.
// Returns the host status: Ok, NotFound (no such key), or anything else when the host cannot serve it.
export function readSharedData(key: ArrayBuffer): u32 {
  return readSharedDataAt(ptrOf(key), key.byteLength);
}

// Same, with the key given as bytes [key, key + keySize) (a key built in scratch memory).
export function readSharedDataAt(key: usize, keySize: usize): u32 {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  store<u32>(OUT, 0, 2 * sizeof<usize>());
  const status = proxy_get_shared_data(key, keySize, OUT, OUT + sizeof<usize>(), OUT + 2 * sizeof<usize>());
  sharedCas = status == Status.Ok ? load<u32>(OUT, 2 * sizeof<usize>()) : 0;
  takeOut(status);
  return status;
}

// Writes a shared-data value if its cas is still `cas` (0: unconditionally). Returns the host
// status: Ok, CasMismatch (someone wrote in between), or another failure.
export function writeSharedData(key: ArrayBuffer, value: usize, size: usize, cas: u32): u32 {
  return proxy_set_shared_data(ptrOf(key), key.byteLength, value, size, cas);
}

// Same, with the key given as bytes [key, key + keySize).
export function writeSharedDataAt(key: usize, keySize: usize, value: usize, size: usize, cas: u32): u32 {
  return proxy_set_shared_data(key, keySize, value, size, cas);
}

// Asks the host to call proxy_on_tick on the current root context every `ms` (0 stops it).
export function setTickPeriod(ms: u32): bool {
  return proxy_set_tick_period_milliseconds(ms) == Status.Ok;
}

// The level of Envoy's `wasm` logger (an admin /logging change shows at once); Info when the host
// cannot say.
export function hostLogLevel(): LogLevel {
  store<u32>(OUT, <u32>LogLevel.Info);
  if (proxy_get_log_level(OUT) != Status.Ok) return LogLevel.Info;
  const level = load<u32>(OUT);
  return level <= <u32>LogLevel.Critical ? <LogLevel>level : LogLevel.Info;
}

// Defines (or finds: the name is process-wide) a metric; its id, or 0 when the host refuses (ids
// Envoy hands out are never 0: the low two bits are the type and the rest counts from 1).
export function defineMetric(type: MetricType, name: ArrayBuffer): u32 {
  store<u32>(OUT, 0);
  if (proxy_define_metric(type, ptrOf(name), name.byteLength, OUT) != Status.Ok) return 0;
  return load<u32>(OUT);
}

// Adds `delta` (> 0 for counters: Envoy refuses zero and less) to a counter or gauge.
export function incrementMetric(id: u32, delta: i64): bool {
  return proxy_increment_metric(id, delta) == Status.Ok;
}

// Sets a gauge, or records one histogram value.
export function recordMetric(id: u32, value: u64): bool {
  return proxy_record_metric(id, value) == Status.Ok;
}

// Replaces a response header (every value of that name); the map is writable only while the
// response-headers callback runs.
export function replaceResponseHeader(name: ArrayBuffer, value: usize, valueSize: usize): bool {
  return proxy_replace_header_map_value(MapType.ResponseHeaders, ptrOf(name), name.byteLength, value, valueSize) == Status.Ok;
}

// Writes filter state from raw bytes (see writeProperty).
export function writePropertyBytes(path: ArrayBuffer, value: usize, size: usize): bool {
  return proxy_set_property(ptrOf(path), path.byteLength, value, size) == Status.Ok;
}

// The VM's environment (WASI environ): "NAME=value" entries as the host passes them. Envoy passes
// only the variables listed in vm_config.environment_variables (none by default). Empty when the
// host offers none or refuses.
export function readEnvironment(): string[] {
  const out = new Array<string>();
  store<u32>(OUT, 0);
  store<u32>(OUT, 0, 4);
  if (environ_sizes_get(OUT, OUT + 4) != 0) return out;
  const count = load<u32>(OUT), size = load<u32>(OUT, 4);
  if (count == 0 || size == 0 || count > 65536 || size > 16777216) return out;
  const pointers = heap.alloc(<usize>count * 4), buffer = heap.alloc(<usize>size);
  if (environ_get(pointers, buffer) == 0) {
    const end = buffer + <usize>size;
    for (let i: u32 = 0; i < count; i++) {
      const p = <usize>load<u32>(pointers + <usize>i * 4);
      if (p < buffer || p >= end) continue;
      let q = p;
      while (q < end && load<u8>(q) != 0) q++;
      out.push(String.UTF8.decodeUnsafe(p, q - p));
    }
  }
  heap.free(pointers);
  heap.free(buffer);
  return out;
}

export function currentTimeNanos(): u64 {
  store<u64>(OUT, 0);
  proxy_get_current_time_nanoseconds(OUT);
  return load<u64>(OUT);
}

// Serialises header pairs the way proxy-wasm-cpp-host's pairs_util reads them:
// u32 count, then (u32 key size, u32 value size) per pair, then each key and value NUL-terminated.
export function serializePairs(keys: string[], values: string[]): ArrayBuffer {
  const encodedKeys = new Array<ArrayBuffer>(keys.length);
  const encodedValues = new Array<ArrayBuffer>(keys.length);
  let size = 4;
  for (let i = 0; i < keys.length; i++) {
    encodedKeys[i] = String.UTF8.encode(keys[i]);
    encodedValues[i] = String.UTF8.encode(values[i]);
    size += 8 + encodedKeys[i].byteLength + 1 + encodedValues[i].byteLength + 1;
  }
  const out = new ArrayBuffer(size);
  const base = ptrOf(out);
  store<u32>(base, keys.length);
  let sizes = base + 4;
  let data = base + 4 + 8 * keys.length;
  for (let i = 0; i < keys.length; i++) {
    const k = encodedKeys[i], v = encodedValues[i];
    store<u32>(sizes, k.byteLength);
    store<u32>(sizes, v.byteLength, 4);
    sizes += 8;
    memory.copy(data, ptrOf(k), k.byteLength);
    data += k.byteLength;
    store<u8>(data++, 0);
    memory.copy(data, ptrOf(v), v.byteLength);
    data += v.byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

// ---- gRPC calls (budgets across gateways) ----------------------------------------------------

// The host status of the last grpcCall that returned 0.
export let grpcCallStatus: u32 = 0;

// Starts a unary gRPC call; its token, or 0 when the host refused (grpcCallStatus says why:
// ParseFailure for an upstream that is neither a GrpcService nor a known cluster, BadArgument
// for a GrpcService Envoy cannot build a client for). `upstream` is a serialized
// envoy.config.core.v3.GrpcService; no initial metadata.
export function grpcCall(upstream: ArrayBuffer, service: ArrayBuffer, method: ArrayBuffer, message: usize, size: usize, timeoutMs: u32): u32 {
  store<u32>(OUT, 0);
  const status = proxy_grpc_call(ptrOf(upstream), upstream.byteLength, ptrOf(service), service.byteLength,
    ptrOf(method), method.byteLength, 0, 0, message, size, timeoutMs, OUT);
  grpcCallStatus = status;
  return status == Status.Ok ? load<u32>(OUT) : 0;
}

export function grpcCancel(token: u32): bool {
  return proxy_grpc_cancel(token) == Status.Ok;
}

// The message of the answer proxy_on_grpc_receive announced (`size` bytes), into hostData.
export function readGrpcMessage(size: usize): bool {
  store<usize>(OUT, 0);
  store<usize>(OUT, 0, sizeof<usize>());
  return takeOut(proxy_get_buffer_bytes(BufferType.GrpcReceive, 0, size, OUT, OUT + sizeof<usize>()));
}

// The gRPC status message of a call proxy_on_grpc_close reports (Envoy's text: "upstream connect
// error …", "Request timeout" …); empty when the host has none.
export function grpcStatusMessage(): string {
  store<u32>(OUT, 0);
  store<usize>(OUT, 0, 4);
  store<usize>(OUT, 0, 4 + sizeof<usize>());
  if (proxy_get_status(OUT, OUT + 4, OUT + 4 + sizeof<usize>()) != Status.Ok) return "";
  const p = load<usize>(OUT, 4), n = load<usize>(OUT, 4 + sizeof<usize>());
  const text = n > 0 && n < 4096 ? String.UTF8.decodeUnsafe(p, n) : "";
  freeHostBlock(p);
  return text;
}

// Resumes the request of the stream context `context` (held since its headers or body) from a
// callback of another context (the root's gRPC answer).
export function resumeRequest(context: u32): bool {
  if (proxy_set_effective_context(context) != Status.Ok) return false;
  return proxy_continue_stream(StreamType.Request) == Status.Ok;
}

// Makes `context` the one later host calls of this callback act for (a local reply to a held
// stream from the root's gRPC answer).
export function actFor(context: u32): bool {
  return proxy_set_effective_context(context) == Status.Ok;
}
