// Test entry (not part of the plugin): a proxy-wasm module that runs the affinity map
// (assembly/affinity/map.ts) on each request's headers and answers with a local reply, so the map
// can be driven through the test host's workers sharing one shared-data store.
//   configuration: the number of buckets (decimal)
//   x-op: lookup | remember; x-key, x-model: hex; x-tokens, x-ttl-ms: decimal
//   answer: "hit <model hex> <tokens> <age ms>" | "miss" | "done" | "unavailable" | "contended"
import { BufferType } from "../../../assembly/abi/constants";
import { allocateForHost, currentTimeNanos, hostData, hostSize, readBuffer, readRequestHeader, releaseHostData, sendLocalResponse, serializePairs } from "../../../assembly/abi/host";
import { AffinityMap, DEFAULT_BUCKETS, Remembered } from "../../../assembly/affinity/map";

let map = new AffinityMap(DEFAULT_BUCKETS);

export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return allocateForHost(size); }
export function proxy_on_context_create(id: u32, parent: u32): void {}
export function proxy_on_vm_start(id: u32, size: usize): bool { return true; }

export function proxy_on_configure(id: u32, size: usize): bool {
  if (!readBuffer(BufferType.PluginConfiguration, size)) return false;
  const buckets = <u32>parseInt(String.UTF8.decodeUnsafe(hostData, hostSize));
  releaseHostData();
  map = new AffinityMap(buckets);
  return true;
}

function header(name: string): string {
  if (!readRequestHeader(String.UTF8.encode(name))) return "";
  const value = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return value;
}

function hex64(s: string): u64 {
  let v: u64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    v = (v << 4) | <u64>(c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);
  }
  return v;
}

export function proxy_on_request_headers(context: u32, headers: u32, endOfStream: u32): u32 {
  const now = <f64>currentTimeNanos() / 1e6;
  const op = header("x-op");
  const key = hex64(header("x-key"));
  let answer = "";
  if (op == "lookup") {
    answer = map.lookup(key, now, parseFloat(header("x-ttl-ms")))
      ? "hit " + map.model.toString(16) + " " + map.tokens.toString() + " " + (<i64>Math.round(map.ageMs)).toString()
      : "miss";
  } else {
    const r = map.remember(key, hex64(header("x-model")), <u32>parseInt(header("x-tokens")), now);
    answer = r == Remembered.Done ? "done" : r == Remembered.Unavailable ? "unavailable" : "contended";
  }
  const body = String.UTF8.encode(answer);
  sendLocalResponse(200, String.UTF8.encode("affinity_test"), changetype<usize>(body), body.byteLength, serializePairs([], []));
  return 1;
}
