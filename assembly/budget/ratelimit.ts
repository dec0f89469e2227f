// envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit, encoded and decoded by hand: only
// the fields the budgets use (envoyproxy/go-control-plane rls.pb.go and ratelimit.pb.go).
//
// RateLimitRequest   1 domain (string), 2 descriptors (RateLimitDescriptor), 3 hits_addend (uint32)
// RateLimitDescriptor 1 entries (Entry: 1 key, 2 value), 2 limit (RateLimitOverride:
//                    1 requests_per_unit uint32, 2 unit), 3 hits_addend (UInt64Value: 1 value)
// RateLimitResponse  1 overall_code, 2 statuses (DescriptorStatus: 1 code, 2 current_limit
//                    (RateLimit: 1 requests_per_unit, 2 unit), 3 limit_remaining uint32,
//                    4 duration_until_reset (Duration: 1 seconds))
import { bytesFieldSize, Reader, varintFieldSize, Writer } from "./protobuf";

export const SERVICE = String.UTF8.encode("envoy.service.ratelimit.v3.RateLimitService");
export const METHOD = String.UTF8.encode("ShouldRateLimit");

// RateLimitResponse.Code and RateLimitUnit values.
export const enum Code { Unknown = 0, Ok = 1, OverLimit = 2 }
export const enum Unit { Minute = 2, Hour = 3, Day = 4, Year = 6 }

const MAX_ENTRIES: i32 = 8;
// A response describes as many statuses as the request had descriptors; more are ignored.
export const MAX_STATUSES: i32 = 64;

export class RequestWriter {
  readonly out: Writer = new Writer();
  private entries: i32 = 0;
  private readonly keyAt: StaticArray<usize> = new StaticArray<usize>(MAX_ENTRIES);
  private readonly keySize: StaticArray<i32> = new StaticArray<i32>(MAX_ENTRIES);
  private readonly valueAt: StaticArray<usize> = new StaticArray<usize>(MAX_ENTRIES);
  private readonly valueSize: StaticArray<i32> = new StaticArray<i32>(MAX_ENTRIES);

  begin(domain: ArrayBuffer): void {
    this.out.reset();
    this.out.bytes(1, changetype<usize>(domain), domain.byteLength);
    this.entries = 0;
  }

  // One entry of the descriptor being written (at most MAX_ENTRIES; more are dropped).
  entry(key: ArrayBuffer, value: usize, valueSize: i32): void {
    const i = this.entries;
    if (i >= MAX_ENTRIES) return;
    unchecked(this.keyAt[i] = changetype<usize>(key));
    unchecked(this.keySize[i] = key.byteLength);
    unchecked(this.valueAt[i] = value);
    unchecked(this.valueSize[i] = valueSize);
    this.entries = i + 1;
  }

  // Writes the descriptor of the entries given since the last one, with its limit override and
  // its own hits_addend (0: the service only reports, nothing is added).
  descriptor(requestsPerUnit: u32, unit: Unit, hits: u64): void {
    let size = 0;
    for (let i = 0; i < this.entries; i++) size += bytesFieldSize(1, entrySize(unchecked(this.keySize[i]), unchecked(this.valueSize[i])));
    const limitSize = varintFieldSize(1, <u64>requestsPerUnit) + varintFieldSize(2, <u64>unit);
    size += bytesFieldSize(2, limitSize);
    const hitsSize = varintFieldSize(1, hits);
    size += bytesFieldSize(3, hitsSize);
    const w = this.out;
    w.open(2, size);
    for (let i = 0; i < this.entries; i++) {
      const k = unchecked(this.keySize[i]), v = unchecked(this.valueSize[i]);
      w.open(1, entrySize(k, v));
      w.bytes(1, unchecked(this.keyAt[i]), k);
      w.bytes(2, unchecked(this.valueAt[i]), v);
    }
    w.open(2, limitSize);
    w.varintField(1, <u64>requestsPerUnit);
    w.varintField(2, <u64>unit);
    w.open(3, hitsSize);
    w.varintField(1, hits);
    this.entries = 0;
  }
}

function entrySize(key: i32, value: i32): i32 {
  return bytesFieldSize(1, key) + bytesFieldSize(2, value);
}

// One answer, decoded into reused arrays. Statuses come in the order of the request's descriptors.
export class ResponseReader {
  overall: Code = Code.Unknown;
  count: i32 = 0;
  readonly codes: StaticArray<u32> = new StaticArray<u32>(MAX_STATUSES);
  readonly limits: StaticArray<u32> = new StaticArray<u32>(MAX_STATUSES);
  readonly remaining: StaticArray<u32> = new StaticArray<u32>(MAX_STATUSES);
  readonly resetSeconds: StaticArray<i64> = new StaticArray<i64>(MAX_STATUSES);
  private readonly outer: Reader = new Reader();
  private readonly inner: Reader = new Reader();
  private readonly leaf: Reader = new Reader();

  // False for bytes that are not a RateLimitResponse.
  parse(p: usize, size: usize): bool {
    this.overall = Code.Unknown;
    this.count = 0;
    const r = this.outer.over(p, size);
    while (r.next()) {
      if (r.field == 1 && r.wire == 0) this.overall = <Code>(<u32>r.value);
      else if (r.field == 2 && r.wire == 2 && this.count < MAX_STATUSES) {
        if (!this.status(r.at, r.length)) return false;
      }
    }
    return r.ok;
  }

  private status(p: usize, size: usize): bool {
    const i = this.count;
    let code: u32 = 0, limit: u32 = 0, remaining: u32 = 0, reset: i64 = 0;
    const r = this.inner.over(p, size);
    while (r.next()) {
      if (r.field == 1 && r.wire == 0) code = <u32>r.value;
      else if (r.field == 3 && r.wire == 0) remaining = <u32>r.value;
      else if ((r.field == 2 || r.field == 4) && r.wire == 2) {
        const leaf = this.leaf.over(r.at, r.length);
        while (leaf.next()) {
          if (leaf.field == 1 && leaf.wire == 0) {
            if (r.field == 2) limit = <u32>leaf.value;
            else reset = <i64>leaf.value;
          }
        }
        if (!leaf.ok) return false;
      }
    }
    if (!r.ok) return false;
    unchecked(this.codes[i] = code);
    unchecked(this.limits[i] = limit);
    unchecked(this.remaining[i] = remaining);
    unchecked(this.resetSeconds[i] = reset);
    this.count = i + 1;
    return true;
  }
}

// envoy.config.core.v3.GrpcService { envoy_grpc (1): { cluster_name (1) } }, serialized: what
// Envoy's proxy_grpc_call takes as its upstream (Context::grpcCall parses it; bytes that do not
// parse are taken as a bare cluster name, which an arbitrary name may not survive).
export function grpcServiceFor(cluster: string): ArrayBuffer {
  const name = String.UTF8.encode(cluster);
  const inner = bytesFieldSize(1, name.byteLength);
  const w = new Writer();
  w.open(1, inner);
  w.bytes(1, changetype<usize>(name), name.byteLength);
  const out = new ArrayBuffer(w.size);
  memory.copy(changetype<usize>(out), w.ptr, <usize>w.size);
  heap.free(w.ptr);
  return out;
}
