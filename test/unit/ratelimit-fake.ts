// A stand-in for envoyproxy/ratelimit (Redis-backed fixed windows) in the emulated Envoy, for the
// unit tests of the budgets' shared store: RateLimitRequest decoded and RateLimitResponse encoded
// in JavaScript (independently of the plugin's AssemblyScript codec), counters keyed as the service
// keys them (domain, entries, floor(now / divider) * divider), hits_addend as
// utils.GetHitsAddends reads it (a descriptor's own value, 0 included; else the request's, 0 → 1),
// and OVER_LIMIT when the count after adding exceeds the limit override. The real service is
// checked by test/e2e/budget-store.test.ts.
import type { GrpcAnswer, GrpcRequest } from "../host/index.ts";

export interface Descriptor {
  entries: Array<[string, string]>;
  limit: { requestsPerUnit: number; unit: number } | null;
  hits: bigint | null;
}

export interface RateLimitRequest {
  domain: string;
  descriptors: Descriptor[];
  hitsAddend: number;
}

const DIVIDERS: Record<number, number> = { 1: 1, 2: 60, 3: 3600, 4: 86400, 5: 30 * 86400, 6: 365 * 86400, 7: 7 * 86400 };

function fields(bytes: Uint8Array): Array<{ field: number; wire: number; value: bigint; bytes: Uint8Array }> {
  const out: Array<{ field: number; wire: number; value: bigint; bytes: Uint8Array }> = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (p >= bytes.length) throw new Error("truncated varint");
      const b = bytes[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
  };
  while (p < bytes.length) {
    const tag = Number(varint());
    const field = tag >>> 3, wire = tag & 7;
    if (wire === 0) out.push({ field, wire, value: varint(), bytes: new Uint8Array(0) });
    else if (wire === 2) {
      const n = Number(varint());
      if (p + n > bytes.length) throw new Error("truncated bytes field");
      out.push({ field, wire, value: 0n, bytes: bytes.subarray(p, p + n) });
      p += n;
    } else throw new Error(`wire type ${wire} not expected`);
  }
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

export function decodeRequest(bytes: Uint8Array): RateLimitRequest {
  const r: RateLimitRequest = { domain: "", descriptors: [], hitsAddend: 0 };
  for (const f of fields(bytes)) {
    if (f.field === 1) r.domain = text(f.bytes);
    else if (f.field === 3) r.hitsAddend = Number(f.value);
    else if (f.field === 2) {
      const d: Descriptor = { entries: [], limit: null, hits: null };
      for (const g of fields(f.bytes)) {
        if (g.field === 1) {
          let k = "", v = "";
          for (const e of fields(g.bytes)) (e.field === 1 ? (k = text(e.bytes)) : e.field === 2 ? (v = text(e.bytes)) : null);
          d.entries.push([k, v]);
        } else if (g.field === 2) {
          const limit = { requestsPerUnit: 0, unit: 0 };
          for (const e of fields(g.bytes)) (e.field === 1 ? (limit.requestsPerUnit = Number(e.value)) : e.field === 2 ? (limit.unit = Number(e.value)) : null);
          d.limit = limit;
        } else if (g.field === 3) {
          d.hits = 0n;
          for (const e of fields(g.bytes)) if (e.field === 1) d.hits = e.value;
        }
      }
      r.descriptors.push(d);
    }
  }
  return r;
}

function varint(v: bigint | number): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}
const fieldVarint = (field: number, v: bigint | number) => (BigInt(v) === 0n ? [] : [...varint(field << 3), ...varint(v)]);
const fieldBytes = (field: number, b: number[]) => [...varint((field << 3) | 2), ...varint(b.length), ...b];

export interface Status { code: number; requestsPerUnit: number; unit: number; remaining: number; resetSeconds: number }

export function encodeResponse(overall: number, statuses: Status[]): Uint8Array {
  const out: number[] = [...fieldVarint(1, overall)];
  for (const s of statuses) {
    const limit = s.requestsPerUnit || s.unit ? fieldBytes(2, [...fieldVarint(1, s.requestsPerUnit), ...fieldVarint(2, s.unit)]) : [];
    const reset = s.resetSeconds ? fieldBytes(4, fieldVarint(1, s.resetSeconds)) : [];
    out.push(...fieldBytes(2, [...fieldVarint(1, s.code), ...limit, ...fieldVarint(3, s.remaining), ...reset]));
  }
  return Uint8Array.from(out);
}

export class FakeRateLimitService {
  readonly counters = new Map<string, bigint>();
  readonly requests: RateLimitRequest[] = [];
  /** Redis gone: the service answers every call with status 2, as the real one does. */
  redisDown = false;

  constructor(private readonly nowSeconds: () => number) {}

  readonly handler = (call: GrpcRequest): GrpcAnswer => {
    if (call.service !== "envoy.service.ratelimit.v3.RateLimitService" || call.method !== "ShouldRateLimit") {
      return { status: 12, statusMessage: "unknown service" };
    }
    if (this.redisDown) return { status: 2, statusMessage: "response returned from Conn: EOF{via_upstream}" };
    const req = decodeRequest(call.message);
    this.requests.push(req);
    const now = Math.floor(this.nowSeconds());
    let overall = 1;
    const statuses = req.descriptors.map((d): Status => {
      if (!d.limit) return { code: 1, requestsPerUnit: 0, unit: 0, remaining: 0, resetSeconds: 0 };
      const divider = DIVIDERS[d.limit.unit];
      const key = `${req.domain}_${d.entries.map(([k, v]) => `${k}_${v}_`).join("")}${Math.floor(now / divider) * divider}`;
      const hits = d.hits !== null ? d.hits : BigInt(Math.max(1, req.hitsAddend));
      const after = (this.counters.get(key) ?? 0n) + hits;
      this.counters.set(key, after);
      const limit = BigInt(d.limit.requestsPerUnit);
      const over = after > limit;
      if (over) overall = 2;
      return {
        code: over ? 2 : 1, requestsPerUnit: d.limit.requestsPerUnit, unit: d.limit.unit,
        remaining: over ? 0 : Number(limit - after), resetSeconds: divider - (now % divider),
      };
    });
    return { message: encodeResponse(overall, statuses), afterMs: 2 };
  };
}
