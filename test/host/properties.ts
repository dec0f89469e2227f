// What a Wasm filter reads through proxy_get_property about its stream, as Envoy 1.40 answers it
// (StreamActivation in source/extensions/filters/common/expr/context.cc, serialised by
// serializeValue in source/extensions/common/wasm/context.cc): integers as 8 bytes little-endian,
// strings as their bytes, messages as protobuf bytes, maps as proxy-wasm pairs.

/** StreamInfo::CoreResponseFlag bits (the uint64 `response.flags`). */
export const ResponseFlag = {
  NoHealthyUpstream: 0x2n, // UH
  UpstreamRequestTimeout: 0x4n, // UT
  UpstreamConnectionFailure: 0x20n, // UF
  UpstreamConnectionTermination: 0x40n, // UC
  DownstreamConnectionTermination: 0x4000n, // DC
  UpstreamRetryLimitExceeded: 0x8000n, // URX
  UpstreamProtocolError: 0x800000n, // UPE
  NoClusterFound: 0x1000000n, // NC
} as const;

export type MetadataValue = string | number | boolean;
/** filter_metadata: namespace → key → value (endpoint metadata of an upstream host). */
export type FilterMetadata = Record<string, Record<string, MetadataValue>>;

export interface UpstreamHostInfo {
  /** "IP:port" */
  address: string;
  metadata?: FilterMetadata;
}

const enc = new TextEncoder();

export function u64le(v: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return b;
}

export function f64le(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return b;
}

// ---- protobuf (envoy.config.core.v3.Metadata → google.protobuf.Struct) ----

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(tag: number, bytes: ArrayLike<number>): number[] {
  return [tag, ...varint(bytes.length), ...Array.from(bytes)];
}

function protoValue(v: MetadataValue): number[] {
  if (typeof v === "string") return field(0x1a, enc.encode(v)); // string_value = 3
  if (typeof v === "boolean") return [0x20, v ? 1 : 0]; // bool_value = 4
  return [0x11, ...Array.from(f64le(v))]; // number_value = 2
}

function protoStruct(fields: Record<string, MetadataValue>): number[] {
  const out: number[] = [];
  for (const [k, v] of Object.entries(fields)) out.push(...field(0x0a, [...field(0x0a, enc.encode(k)), ...field(0x12, protoValue(v))]));
  return out;
}

/** Serialised envoy.config.core.v3.Metadata (map entries in insertion order). */
export function metadataProto(md: FilterMetadata): Uint8Array {
  const out: number[] = [];
  for (const [ns, fields] of Object.entries(md)) out.push(...field(0x0a, [...field(0x0a, enc.encode(ns)), ...field(0x12, protoStruct(fields))]));
  return new Uint8Array(out);
}

function valueBytes(v: MetadataValue): Uint8Array {
  if (typeof v === "string") return enc.encode(v);
  if (typeof v === "boolean") return new Uint8Array([v ? 1 : 0]);
  return f64le(v);
}

/** pairs_util.cc layout over raw bytes (values need not be UTF-8). */
function rawPairs(pairs: Array<[Uint8Array, Uint8Array]>): Uint8Array {
  let size = 4;
  for (const [k, v] of pairs) size += 10 + k.length + v.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, pairs.length, true);
  let data = 4 + pairs.length * 8;
  pairs.forEach(([k, v], i) => {
    dv.setUint32(4 + i * 8, k.length, true);
    dv.setUint32(8 + i * 8, v.length, true);
    out.set(k, data);
    data += k.length + 1;
    out.set(v, data);
    data += v.length + 1;
  });
  return out;
}

/**
 * xds.upstream_host_metadata and its sub-paths: the message as protobuf bytes; .filter_metadata.<ns>
 * as a pairs map of its fields; .filter_metadata.<ns>.<key> as the value. Other paths: not found.
 */
export function hostMetadataProperty(md: FilterMetadata, rest: string[]): Uint8Array | undefined {
  if (rest.length === 0) return metadataProto(md);
  if (rest[0] !== "filter_metadata") return undefined;
  if (rest.length === 1) return undefined; // a map of messages: not serialisable as pairs here
  const ns = md[rest[1]];
  if (!ns) return undefined;
  if (rest.length === 2) {
    // CEL map values are serialised one by one: strings raw, numbers as doubles.
    return rawPairs(Object.entries(ns).map(([k, v]) => [enc.encode(k), valueBytes(v)]));
  }
  if (rest.length === 3 && Object.hasOwn(ns, rest[2])) return valueBytes(ns[rest[2]]);
  return undefined;
}

/** Grpc::Utility::httpToGrpcStatus, what `response.grpc_status` answers for a non-gRPC reply. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}
