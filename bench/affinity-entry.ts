// Benchmark entry (not part of the plugin): the prefix key (assembly/affinity/prefix_hash.ts) fed a
// request's spans as the body scan will feed them, and an affinity-map lookup
// (assembly/affinity/map.ts) against a host stub that copies a record in as proxy-wasm-cpp-host does;
// plus, for the choice of hash (docs/affinity.md), the alternatives it was measured against.
import { allocateForHost } from "../assembly/abi/host";
import { HeadPart, PrefixHasher, PrefixKey } from "../assembly/affinity/prefix_hash";
import { AffinityMap } from "../assembly/affinity/map";

const key = new PrefixKey();
const map = new AffinityMap();
const hasher = new PrefixHasher();

export function alloc(n: usize): usize { return heap.alloc(n); }
export function malloc(n: usize): usize { return allocateForHost(n); }

// Spans: u32 triples (start, end, kind) with kind 0 = client item, 1 = model item, 2 + p = head
// member p, offsets into the body. `times` requests' keys, noted as the scan will note them and
// hashed; returns a value that depends on every key (kept alive).
export function keys(body: usize, spans: usize, count: i32, times: i32): u64 {
  let x: u64 = 0;
  for (let t = 0; t < times; t++) {
    key.reset(body);
    for (let i = 0; i < count; i++) {
      const s = spans + <usize>i * 12;
      const start = load<u32>(s), end = load<u32>(s, 4), kind = load<u32>(s, 8);
      if (kind >= 2) key.head(start, end, <HeadPart>(kind - 2));
      else key.message(start, end, kind == 1);
    }
    key.finish();
    x ^= key.key();
    if (key.hasPrevious()) x ^= key.previousKey();
  }
  return x;
}

// `times` lookups of `k` at nowMs with a 5-minute TTL; the number found.
export function lookups(k: u64, nowMs: f64, times: i32): i32 {
  let found = 0;
  for (let t = 0; t < times; t++) if (map.lookup(k, nowMs, 300_000)) found++;
  return found;
}

// ---- alternatives (docs/affinity.md, "Choosing the hash") ----------------------------------------

// The alternative of sampling: each item hashed as its own unit from its first and last 64 bytes
// (its length is mixed in when the unit ends), so the middle of a long item is never read.
export function sampledKeys(body: usize, spans: usize, count: i32, times: i32): u64 {
  let x: u64 = 0;
  for (let t = 0; t < times; t++) {
    hasher.reset();
    for (let i = 0; i < count; i++) {
      const s = spans + <usize>i * 12;
      const start = load<u32>(s), end = load<u32>(s, 4);
      const n = end - start;
      if (n <= 128) hasher.feed(body + start, n);
      else { hasher.feed(body + start, 64); hasher.feed(body + end - 64, 64); }
      hasher.endUnit(0);
    }
    x ^= hasher.state.finish(0);
  }
  return x;
}

// The chosen hash over one span (NH, 32-bit words).
export function nh32(p: usize, n: usize): u64 {
  hasher.reset();
  hasher.feed(p, n);
  hasher.endUnit(0);
  return hasher.state.finish(0);
}

const K0 = i64x2(0x1cad21f72c81017c, 0xdb979083e96dd4de);
const K1 = i64x2(0x1f67b3b7a4a44072, 0x78e5c0cc4ee679cb);
const K2 = i64x2(0x2172ffcc7dd05a82, 0x8e2443f7744608b8);
const K3 = i64x2(0x4c263a81e69035e0, 0xcb00c391bb52283c);
const STEP = i64x2(0x9e3779b185ebca87, 0xc2b2ae3d27d4eb4f);

@inline function fold(a: v128, b: v128, c: v128, d: v128): u64 {
  const s = v128.xor(v128.xor(a, b), v128.xor(c, d));
  return i64x2.extract_lane(s, 0) ^ i64x2.extract_lane(s, 1);
}

// NH over 16-bit words (i32x4.dot_i16x8_s: one multiply-add per 32 bytes): twice as fast, but
// near-duplicates collide about once in 2^16 pairs (see docs/affinity.md).
export function nh16(p: usize, n: usize): u64 {
  let a0 = K0, a1 = K1, a2 = K2, a3 = K3, c = STEP;
  const end = p + (n & ~127);
  while (p < end) {
    const k0 = i64x2.add(K0, c), k1 = i64x2.add(K1, c), k2 = i64x2.add(K2, c), k3 = i64x2.add(K3, c);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.add(v128.load(p), k0), i16x8.add(v128.load(p, 16), k1)));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.add(v128.load(p, 32), k2), i16x8.add(v128.load(p, 48), k3)));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.add(v128.load(p, 64), k0), i16x8.add(v128.load(p, 80), k1)));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.add(v128.load(p, 96), k2), i16x8.add(v128.load(p, 112), k3)));
    c = i64x2.add(c, STEP);
    p += 128;
  }
  return fold(a0, a1, a2, a3);
}

// xxHash3's accumulate step (data ^ key, low 32 bits × high 32 bits per 64-bit lane, plus the
// swapped data) with 16-byte lanes.
@inline function xxh3Lane(d: v128, k: v128): v128 {
  const dk = v128.xor(d, k);
  const lo = i8x16.shuffle(dk, dk, 0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11);
  const hi = i8x16.shuffle(dk, dk, 4, 5, 6, 7, 12, 13, 14, 15, 4, 5, 6, 7, 12, 13, 14, 15);
  return i64x2.add(i64x2.extmul_low_i32x4_u(lo, hi), i8x16.shuffle(d, d, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
}
export function xxh3Like(p: usize, n: usize): u64 {
  let a0 = K0, a1 = K1, a2 = K2, a3 = K3, c = STEP;
  const end = p + (n & ~63);
  while (p < end) {
    a0 = i64x2.add(a0, xxh3Lane(v128.load(p), v128.xor(c, K0)));
    a1 = i64x2.add(a1, xxh3Lane(v128.load(p, 16), v128.xor(c, K1)));
    a2 = i64x2.add(a2, xxh3Lane(v128.load(p, 32), v128.xor(c, K2)));
    a3 = i64x2.add(a3, xxh3Lane(v128.load(p, 48), v128.xor(c, K3)));
    c = i64x2.add(c, STEP);
    p += 64;
  }
  return fold(a0, a1, a2, a3);
}

// Scalar: four independent 64-bit multiply-rotate lanes, 8 bytes each.
export function scalar64(p: usize, n: usize): u64 {
  let h0: u64 = 0x1cad21f72c81017c, h1: u64 = 0xdb979083e96dd4de, h2: u64 = 0x1f67b3b7a4a44072, h3: u64 = 0x78e5c0cc4ee679cb;
  const end = p + (n & ~31);
  while (p < end) {
    h0 = rotl<u64>((h0 ^ load<u64>(p)) * 0x9e3779b185ebca87, 31);
    h1 = rotl<u64>((h1 ^ load<u64>(p, 8)) * 0x9e3779b185ebca87, 31);
    h2 = rotl<u64>((h2 ^ load<u64>(p, 16)) * 0x9e3779b185ebca87, 31);
    h3 = rotl<u64>((h3 ^ load<u64>(p, 24)) * 0x9e3779b185ebca87, 31);
    p += 32;
  }
  return h0 ^ h1 ^ h2 ^ h3;
}
