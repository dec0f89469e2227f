// Opt-in record of the host calls a module makes (LoadOptions.recordHostCalls): which callback of
// which filter made each one, and what it named (header, property path, shared-data key, buffer
// range). It lets a test or benchmark list, count and compare the host calls of one request, e.g.
// the plugin's against the benchmark's floor filter, which must make exactly the same ones.
import type { GuestMemory } from "./memory.ts";

export interface HostCall {
  /** The filter whose context made the call: the router filter, an upstream-filter attempt, or a root context (ticks, configuration). */
  filter: "router" | "upstream" | "root";
  /** The guest callback running, by its host name (requestHeaders, requestBody, responseBody, log, …). */
  callback: string;
  /** The import, e.g. proxy_replace_header_map_value. */
  name: string;
  /** What it named: a header, property path, shared-data key or buffer range (see describe). */
  detail: string;
  /** The raw arguments (guest pointers, sizes, ids). */
  args: number[];
  /** The name's bytes as passed: header name, property path (NUL-separated), shared-data key, metric name. */
  key?: Uint8Array;
  /** The bytes a header, property or shared-data write wrote (the first 4 KiB). */
  value?: Uint8Array;
  /** What a call returned through an out-parameter the caller needs: the id of proxy_define_metric. */
  result?: number;
}

const KEY_ARGS: Record<string, [number, number]> = {
  proxy_get_header_map_value: [1, 2],
  proxy_remove_header_map_value: [1, 2],
  proxy_replace_header_map_value: [1, 2],
  proxy_add_header_map_value: [1, 2],
  proxy_get_property: [0, 1],
  proxy_set_property: [0, 1],
  proxy_get_shared_data: [0, 1],
  proxy_set_shared_data: [0, 1],
  proxy_call_foreign_function: [0, 1],
  proxy_define_metric: [1, 2],
};

// The bytes of the (pointer, size) argument pair `at` of a call, at most `maxBytes` of them.
function argBytes(at: [number, number] | undefined, args: number[], mem: GuestMemory, maxBytes = Infinity): Uint8Array | undefined {
  if (!at) return undefined;
  return mem.copy(args[at[0]] >>> 0, Math.min(args[at[1]] >>> 0, maxBytes)) ?? undefined;
}

/** The name a call passes (header, property path, shared-data key, foreign function, metric), if any. */
export function keyOf(name: string, args: number[], mem: GuestMemory): Uint8Array | undefined {
  return argBytes(KEY_ARGS[name], args, mem);
}

const VALUE_ARGS: Record<string, [number, number]> = {
  proxy_replace_header_map_value: [3, 4],
  proxy_add_header_map_value: [3, 4],
  proxy_set_property: [2, 3],
  proxy_set_shared_data: [2, 3],
};

/** The bytes a write passes (header value, property value, shared-data value), if `name` writes any. */
export function writtenValue(name: string, args: number[], mem: GuestMemory): Uint8Array | undefined {
  return argBytes(VALUE_ARGS[name], args, mem, 4096);
}

const MAPS = ["request", "request-trailers", "response", "response-trailers"];
const BUFFERS = ["request-body", "response-body", "downstream-data", "upstream-data", "http-call-response", "grpc-receive", "vm-config", "plugin-config", "call-data"];
const dec = new TextDecoder("latin1");

function text(mem: GuestMemory, ptr: number, len: number): string {
  const v = mem.view(ptr >>> 0, len >>> 0);
  return v === null ? "?" : dec.decode(v).replace(/\0/g, ".");
}

/** A short description of one call's arguments (the values written are given by length only). */
export function describeHostCall(name: string, args: number[], mem: GuestMemory): string {
  switch (name) {
    case "proxy_get_header_map_pairs":
    case "proxy_set_header_map_pairs":
    case "proxy_get_header_map_size":
      return MAPS[args[0]] ?? String(args[0]);
    case "proxy_get_header_map_value":
    case "proxy_remove_header_map_value":
      return `${MAPS[args[0]] ?? args[0]} ${text(mem, args[1], args[2])}`;
    case "proxy_replace_header_map_value":
    case "proxy_add_header_map_value":
      return `${MAPS[args[0]] ?? args[0]} ${text(mem, args[1], args[2])} (${args[4] >>> 0} bytes)`;
    case "proxy_get_buffer_bytes":
      return `${BUFFERS[args[0]] ?? args[0]} [${args[1] >>> 0}, +${args[2] >>> 0})`;
    case "proxy_set_buffer_bytes":
      return `${BUFFERS[args[0]] ?? args[0]} [${args[1] >>> 0}, +${args[2] >>> 0}) ← ${args[4] >>> 0} bytes`;
    case "proxy_get_property":
    case "proxy_get_shared_data":
    case "proxy_call_foreign_function":
      return text(mem, args[0], args[1]);
    case "proxy_set_property":
    case "proxy_set_shared_data":
      return `${text(mem, args[0], args[1])} (${args[3] >>> 0} bytes)`;
    case "proxy_increment_metric":
    case "proxy_record_metric":
    case "proxy_get_metric":
      return `metric ${args[0] >>> 0}`;
    case "proxy_define_metric":
      return text(mem, args[1], args[2]);
    default:
      return "";
  }
}

/**
 * Wraps every function of an import module so that each call is handed to `before` (which returns
 * the call's record) and, once it returned, to `after` with that record.
 */
export function recordImports<T>(module: Record<string, WebAssembly.ImportValue>, before: (name: string, args: number[]) => T,
  after: (record: T, name: string, args: number[]) => void): Record<string, WebAssembly.ImportValue> {
  const out: Record<string, WebAssembly.ImportValue> = {};
  for (const [name, fn] of Object.entries(module)) {
    if (typeof fn !== "function") {
      out[name] = fn;
      continue;
    }
    out[name] = function (this: unknown, ...args: number[]) {
      const record = before(name, args);
      const result = (fn as Function).apply(this, args);
      after(record, name, args);
      return result;
    };
  }
  return out;
}

/** `{ "router requestBody proxy_set_property": 2, … }`: calls counted by filter, callback and import. */
export function countHostCalls(calls: HostCall[], by: (c: HostCall) => string = (c) => `${c.filter} ${c.callback} ${c.name}`): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[by(c)] = (out[by(c)] ?? 0) + 1;
  return out;
}
