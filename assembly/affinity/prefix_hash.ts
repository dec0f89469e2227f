// The prefix key of a request: a 64-bit hash of what a provider's prompt cache matches on (tools and
// system prompt, then the conversation in the order sent), computed from the byte spans the body scan
// notes, with a snapshot at the previous turn's end so that one scan yields both the request's own key
// and the key of its conversation without the latest turn. What goes in and why: docs/affinity.md.
//
// Pure: no host call, no allocation after construction, imports nothing, so the request layer can
// drive it. Every byte fed is hashed (no sampling): NH over 32-bit words with Wasm SIMD (each 32-bit
// word plus a key, times its partner word plus a key, summed into 64-bit lanes: UMAC's NH, two
// different inputs collide with probability about 2^-32 per lane), about 27 GB/s on this project's
// machine. bench/affinity-entry.ts measures it against the alternatives docs/affinity.md compares
// (NH over 16-bit words, an xxHash3-like multiply-mix, scalar 64-bit, sampling).
//
// The hash is streaming within a unit (a message, the `tools` value, ...): bytes fed in pieces give the
// same result as the same bytes fed at once, so the scan can leave a member out of a message (Anthropic's
// `cache_control`, whose place moves from turn to turn) by feeding the pieces around it. A unit ends
// padded to a whole stripe and with its length mixed in, so the boundaries between units count.

// Bytes per stripe: four 16-byte vectors, the first paired word by word with the second, the third
// with the fourth.
export const STRIPE: usize = 64;

// Keys (arbitrary 64-bit constants). Stripe s uses KEY_x + s × STEP on both vectors of a pair, so
// equal content at two positions adds different terms. (Keying only the first vector of each pair is
// 10 % faster, but then a word changed in two stripes whose partner words are equal, as in repeated
// text, adds the same term: test/unit/affinity-hash.test.ts finds such collisions.)
const KEY_A0: u64 = 0x1cad21f72c81017c; const KEY_A1: u64 = 0xdb979083e96dd4de;
const KEY_B0: u64 = 0x1f67b3b7a4a44072; const KEY_B1: u64 = 0x78e5c0cc4ee679cb;
const KEY_C0: u64 = 0x2172ffcc7dd05a82; const KEY_C1: u64 = 0x8e2443f7744608b8;
const KEY_D0: u64 = 0x4c263a81e69035e0; const KEY_D1: u64 = 0xcb00c391bb52283c;
const STEP0: u64 = 0x9e3779b185ebca87; const STEP1: u64 = 0xc2b2ae3d27d4eb4f;
// Finalisation primes (xxHash64's).
const P1: u64 = 0x9e3779b185ebca87;
const P2: u64 = 0xc2b2ae3d27d4eb4f;
const P3: u64 = 0x165667b19e3779f9;

// Where a unit of the head came from: the same bytes as `tools` and as `system` are different prompts.
export const enum HeadPart { Tools = 1, Functions = 2, System = 3, Instructions = 4 }

// The hash state between units: copied whole for a snapshot (five vectors, two counters).
export class PrefixState {
  acc0: v128 = i64x2.splat(0);   // 64-bit sums of products: words 0-1 and 2-3 of the first pair,
  acc1: v128 = i64x2.splat(0);   // then of the second pair
  acc2: v128 = i64x2.splat(0);
  acc3: v128 = i64x2.splat(0);
  offset: v128 = i64x2.splat(0); // STEP × stripes processed: added to the keys
  stripes: u32 = 0;
  units: u32 = 0;

  clear(): void {
    const zero = i64x2.splat(0);
    this.acc0 = zero; this.acc1 = zero; this.acc2 = zero; this.acc3 = zero; this.offset = zero;
    this.stripes = 0;
    this.units = 0;
  }

  copyFrom(o: PrefixState): void {
    this.acc0 = o.acc0; this.acc1 = o.acc1; this.acc2 = o.acc2; this.acc3 = o.acc3;
    this.offset = o.offset;
    this.stripes = o.stripes;
    this.units = o.units;
  }

  // 64 bits of everything hashed so far (nothing is consumed: a state can be finished twice).
  finish(seed: u64): u64 {
    let h = seed ^ ((<u64>this.stripes << 32 | <u64>this.units) * P3);
    h = round(h, i64x2.extract_lane(this.acc0, 0)); h = round(h, i64x2.extract_lane(this.acc0, 1));
    h = round(h, i64x2.extract_lane(this.acc1, 0)); h = round(h, i64x2.extract_lane(this.acc1, 1));
    h = round(h, i64x2.extract_lane(this.acc2, 0)); h = round(h, i64x2.extract_lane(this.acc2, 1));
    h = round(h, i64x2.extract_lane(this.acc3, 0)); h = round(h, i64x2.extract_lane(this.acc3, 1));
    return avalanche(h);
  }
}

@inline function round(h: u64, lane: u64): u64 {
  return rotl<u64>((h ^ (lane * P2)) * P1, 27) * P1 + P3;
}

// xxHash64's final avalanche.
export function avalanche(h: u64): u64 {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

// A streaming hasher of units. The unit being fed keeps its last partial stripe in `pending`.
export class PrefixHasher {
  readonly state: PrefixState = new PrefixState();
  // Twice a stripe: a piece is appended by copying a whole stripe after what is pending.
  private readonly pending: usize = heap.alloc(2 * STRIPE);
  private pendingBytes: usize = 0;
  private unitBytes: u64 = 0;

  reset(): void {
    this.state.clear();
    this.pendingBytes = 0;
    this.unitBytes = 0;
  }

  // Becomes a copy of `o`, its partial stripe included (a snapshot that can be finished).
  copyFrom(o: PrefixHasher): void {
    this.state.copyFrom(o.state);
    v128.store(this.pending, v128.load(o.pending));
    v128.store(this.pending, v128.load(o.pending, 16), 16);
    v128.store(this.pending, v128.load(o.pending, 32), 32);
    v128.store(this.pending, v128.load(o.pending, 48), 48);
    this.pendingBytes = o.pendingBytes;
    this.unitBytes = o.unitBytes;
  }

  // Adds bytes [ptr, ptr + len) to the unit being fed.
  feed(ptr: usize, len: usize): void {
    if (len == 0) return;
    this.unitBytes += <u64>len;
    let have = this.pendingBytes;
    if (have > 0) {
      // a unit fed in pieces (a snapshot taken, a member left out): complete the pending stripe
      const take = min<usize>(STRIPE - have, len);
      copyStripe(this.pending + have, ptr, take);
      have += take;
      ptr += take;
      len -= take;
      if (have < STRIPE) { this.pendingBytes = have; return; }
      this.stripes(this.pending, 1);
      have = 0;
    }
    const whole = len / STRIPE;
    if (whole > 0) this.stripes(ptr, whole);
    const rest = len - whole * STRIPE;
    if (rest > 0) copyStripe(this.pending, ptr + whole * STRIPE, rest);
    this.pendingBytes = rest;
  }

  // Ends the unit: its last partial stripe zero-padded, then its length and `tag` mixed in. JSON text
  // holds no NUL byte, so padding never looks like content.
  endUnit(tag: u32): void {
    const have = this.pendingBytes;
    const s = this.state;
    if (have > 0) {
      // bytes past `have` are whatever copyStripe copied: zeroed here
      const n = <i32>have, b = this.pending;
      v128.store(b, v128.and(v128.load(b), firstBytes(n)));
      v128.store(b, v128.and(v128.load(b, 16), firstBytes(n - 16)), 16);
      v128.store(b, v128.and(v128.load(b, 32), firstBytes(n - 32)), 32);
      v128.store(b, v128.and(v128.load(b, 48), firstBytes(n - 48)), 48);
      this.stripes(b, 1);
      this.pendingBytes = 0;
    }
    s.acc0 = i64x2.add(s.acc0, i64x2(<i64>this.unitBytes, <i64>tag));
    s.units++;
    this.unitBytes = 0;
  }

  // `count` whole stripes from p. The loop's sums start from constants, and what it added is moved
  // into the state afterwards: in V8 (Node 20) the same loop runs 2.4 times slower when its vector
  // sums start from values loaded from memory or from zero (measured while writing this).
  private stripes(p: usize, count: usize): void {
    const s = this.state;
    const step = i64x2(<i64>STEP0, <i64>STEP1);
    const ka = i64x2(<i64>KEY_A0, <i64>KEY_A1), kb = i64x2(<i64>KEY_B0, <i64>KEY_B1);
    const kc = i64x2(<i64>KEY_C0, <i64>KEY_C1), kd = i64x2(<i64>KEY_D0, <i64>KEY_D1);
    let a0 = ka, a1 = kb, a2 = kc, a3 = kd, off = s.offset;
    const end = p + count * STRIPE;
    while (p < end) {
      const x0 = i32x4.add(v128.load(p), i64x2.add(ka, off));
      const y0 = i32x4.add(v128.load(p, 16), i64x2.add(kb, off));
      const x1 = i32x4.add(v128.load(p, 32), i64x2.add(kc, off));
      const y1 = i32x4.add(v128.load(p, 48), i64x2.add(kd, off));
      a0 = i64x2.add(a0, i64x2.extmul_low_i32x4_u(x0, y0));
      a1 = i64x2.add(a1, i64x2.extmul_high_i32x4_u(x0, y0));
      a2 = i64x2.add(a2, i64x2.extmul_low_i32x4_u(x1, y1));
      a3 = i64x2.add(a3, i64x2.extmul_high_i32x4_u(x1, y1));
      off = i64x2.add(off, step);
      p += STRIPE;
    }
    s.acc0 = i64x2.add(s.acc0, i64x2.sub(a0, ka)); s.acc1 = i64x2.add(s.acc1, i64x2.sub(a1, kb));
    s.acc2 = i64x2.add(s.acc2, i64x2.sub(a2, kc)); s.acc3 = i64x2.add(s.acc3, i64x2.sub(a3, kd));
    s.offset = off;
    s.stripes += <u32>count;
  }
}

const LANE_INDEX = i8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

// 0xff in the first n lanes (n may be below 0 or above 16), 0 in the others.
@inline function firstBytes(n: i32): v128 {
  return i8x16.gt_s(i8x16.splat(<i8>min(max(n, 0), 16)), LANE_INDEX);
}

// Copies [src, src + n) to `to` (n < STRIPE, `to` has STRIPE bytes of room): a whole stripe when it
// lies within memory (four vector moves; memory.copy runs out of line in V8, too slow for a few bytes
// per piece), byte by byte at the end of memory. Bytes past n are garbage until overwritten or
// zeroed by endUnit.
function copyStripe(to: usize, src: usize, n: usize): void {
  if (src + STRIPE <= (<usize>memory.size() << 16)) {
    v128.store(to, v128.load(src));
    v128.store(to, v128.load(src, 16), 16);
    v128.store(to, v128.load(src, 32), 32);
    v128.store(to, v128.load(src, 48), 48);
    return;
  }
  for (let i: usize = 0; i < n; i++) store<u8>(to + i, load<u8>(src + i));
}

// Seeds that keep the parts of a key apart.
const SEED_HEAD: u64 = 0x6a09e667f3bcc908;
const SEED_CONVERSATION: u64 = 0xbb67ae8584caa73b;
const SEED_CONSUMER: u64 = 0x3c6ef372fe94f82b;
const SEED_BYTES: u64 = 0xa54ff53a5f1d36f1;

const oneShot = new PrefixHasher();


// The hash of bytes [ptr, ptr + len) as one unit: for a consumer name or a model's identity.
export function hashBytes(ptr: usize, len: usize): u64 {
  oneShot.reset();
  oneShot.feed(ptr, len);
  oneShot.endUnit(0);
  return oneShot.state.finish(SEED_BYTES);
}

// Members left out of the key per request (cache_control members); a request with more has no key.
export const MAX_LEFT_OUT: i32 = 16;
// Head members (tools, functions, system, instructions) per request; later ones are ignored.
const MAX_HEAD: i32 = 4;

// The keys of one request (one instance per stream, reused). While the body scan passes the request,
// it only notes where things are (no hashing per message):
//   reset(body); consumer(hash) when one is known;
//   head(start, end, part) for the top-level `tools`, `functions`, `system`, `instructions` values;
//   message(start, end, fromModel) for each item of `messages` / `input` (and a string `input`), in order;
//   leaveOut(start, end) for each `cache_control` member (with its comma) inside those;
// then finish() hashes the head and, once, the conversation from its first item to the end of its
// last client item, taking the previous turn's snapshot on the way: hasKey() / key(),
// hasPrevious() / previousKey(). Offsets are byte offsets into the body.
//
// The conversation is hashed as the bytes between its items too (the commas and whitespace the client
// wrote), so the same client writing the same history gives the same bytes turn after turn.
export class PrefixKey {
  private readonly hasher: PrefixHasher = new PrefixHasher();
  private readonly snapshot: PrefixHasher = new PrefixHasher();
  private readonly headSpans: StaticArray<u32> = new StaticArray<u32>(MAX_HEAD * 3);
  private readonly leftOut: StaticArray<u32> = new StaticArray<u32>(MAX_LEFT_OUT * 2);
  private body: usize = 0;
  private headCount: i32 = 0;
  private leftOutCount: i32 = 0;
  private tooManyLeftOut: bool = false;
  private consumerHash: u64 = 0;
  private start: u32 = 0;           // the first item's start
  private inputEnd: u32 = 0;        // the end of the last client item
  private previousEnd: u32 = 0;     // the end of the client item before the model turn that precedes it
  private beforeModelTurn: u32 = 0; // the end of the client item before the last model turn
  private items: i32 = 0;
  private inputs: i32 = 0;
  private sawModelTurn: bool = false;
  private inModelTurn: bool = false;
  private previousValid: bool = false;
  private keyValue: u64 = 0;
  private previousValue: u64 = 0;

  reset(body: usize): void {
    this.body = body;
    this.headCount = 0;
    this.leftOutCount = 0;
    this.tooManyLeftOut = false;
    this.consumerHash = 0;
    this.items = 0;
    this.inputs = 0;
    this.sawModelTurn = false;
    this.inModelTurn = false;
    this.previousValid = false;
    this.keyValue = 0;
    this.previousValue = 0;
  }

  // The consumer (hashBytes of its name): requests of different consumers never share a key.
  consumer(hash: u64): void { this.consumerHash = hash; }

  head(start: u32, end: u32, part: HeadPart): void {
    const n = this.headCount;
    if (n == MAX_HEAD) return;
    unchecked(this.headSpans[n * 3] = start);
    unchecked(this.headSpans[n * 3 + 1] = end);
    unchecked(this.headSpans[n * 3 + 2] = <u32>part);
    this.headCount = n + 1;
  }

  leaveOut(start: u32, end: u32): void {
    const n = this.leftOutCount;
    if (n == MAX_LEFT_OUT) { this.tooManyLeftOut = true; return; }
    unchecked(this.leftOut[n * 2] = start);
    unchecked(this.leftOut[n * 2 + 1] = end);
    this.leftOutCount = n + 1;
  }

  // fromModel: the item is the model's output (role "assistant"; a Responses item of a `*_call`
  // type or `reasoning`). Otherwise it is client input (user, system, developer, tool results).
  message(start: u32, end: u32, fromModel: bool): void {
    if (this.items++ == 0) this.start = start;
    if (fromModel) {
      // A model turn before any input starts no conversation this gateway could have routed. Model
      // items in a row (a Responses `reasoning` item, then a `function_call`) are one turn.
      if (this.inputs > 0 && !this.inModelTurn) {
        this.beforeModelTurn = this.inputEnd;
        this.sawModelTurn = true;
      }
      this.inModelTurn = true;
      return;
    }
    this.inModelTurn = false;
    this.inputs++;
    this.inputEnd = end;
    this.previousValid = this.sawModelTurn;
    this.previousEnd = this.beforeModelTurn;
  }

  // Hashes what the scan noted; the keys are read after it.
  finish(): void {
    if (!this.hasKey()) return;
    const head = this.hasher;
    head.reset();
    for (let i = 0; i < this.headCount; i++) {
      this.feedKept(head, unchecked(this.headSpans[i * 3]), unchecked(this.headSpans[i * 3 + 1]));
      head.endUnit(unchecked(this.headSpans[i * 3 + 2]));
    }
    let h = avalanche(this.consumerHash ^ SEED_CONSUMER);
    h = avalanche((h ^ head.state.finish(SEED_HEAD)) * P1);
    const c = this.hasher;
    c.reset();
    let at = this.start;
    if (this.previousValid) {
      this.feedKept(c, at, this.previousEnd);
      at = this.previousEnd;
      // the turn before ends here: finish a copy, go on with the original
      const copy = this.snapshot;
      copy.copyFrom(c);
      copy.endUnit(0);
      this.previousValue = avalanche((h ^ copy.state.finish(SEED_CONVERSATION)) * P2);
    }
    this.feedKept(c, at, this.inputEnd);
    c.endUnit(0);
    this.keyValue = avalanche((h ^ c.state.finish(SEED_CONVERSATION)) * P2);
  }

  // Whether the request has a key: at least one client item, and not more cache_control members than noted.
  hasKey(): bool { return this.inputs > 0 && !this.tooManyLeftOut; }

  // Tools, system prompt and the conversation up to the end of its last client item (a trailing model
  // item, an assistant prefill, is left out: the next turn resends the whole answer instead).
  key(): u64 { return this.keyValue; }

  // Whether the conversation has an earlier turn: a model item before the last client item.
  hasPrevious(): bool { return this.previousValid && this.hasKey(); }

  // The key the previous turn was stored under: the conversation up to the last model turn (its model
  // items in a row) that precedes the last client item. Turn N+1 (turn N's items, the model's answer,
  // new input) gives turn N's key().
  previousKey(): u64 { return this.previousValue; }

  // Feeds [from, to) of the body without the left-out ranges (noted in body order).
  private feedKept(h: PrefixHasher, from: u32, to: u32): void {
    const body = this.body;
    for (let i = 0; i < this.leftOutCount && from < to; i++) {
      const a = unchecked(this.leftOut[i * 2]), b = unchecked(this.leftOut[i * 2 + 1]);
      if (b <= from || a >= to) continue;
      if (a > from) h.feed(body + <usize>from, <usize>(a - from));
      from = min<u32>(b, to);
    }
    if (to > from) h.feed(body + <usize>from, <usize>(to - from));
  }
}
