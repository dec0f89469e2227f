// The prefix key of a request: a 64-bit hash of what a provider's prompt cache matches on (tools and
// system prompt, then the conversation in the order sent), computed from the byte spans the body scan
// passes, with snapshots at message boundaries so that one scan yields both the request's own key and
// the key of its conversation without the latest turn. What goes in and why: docs/affinity.md.
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

// Keys (arbitrary 64-bit constants). Stripe s uses KEY_x + s × STEP, so equal content at two
// positions adds different terms.
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
  private readonly pending: usize = heap.alloc(STRIPE);
  private pendingBytes: usize = 0;
  private unitBytes: u64 = 0;

  reset(): void {
    this.state.clear();
    this.pendingBytes = 0;
    this.unitBytes = 0;
  }

  // Adds bytes [ptr, ptr + len) to the unit being fed.
  feed(ptr: usize, len: usize): void {
    if (len == 0) return;
    this.unitBytes += <u64>len;
    let have = this.pendingBytes;
    if (have > 0) {
      const take = min<usize>(STRIPE - have, len);
      memory.copy(this.pending + have, ptr, take);
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
    if (rest > 0) memory.copy(this.pending, ptr + whole * STRIPE, rest);
    this.pendingBytes = rest;
  }

  // Ends the unit: its last partial stripe zero-padded, then its length and `tag` mixed in. JSON text
  // holds no NUL byte, so padding never looks like content.
  endUnit(tag: u32): void {
    const have = this.pendingBytes;
    if (have > 0) {
      memory.fill(this.pending + have, 0, STRIPE - have);
      this.stripes(this.pending, 1);
      this.pendingBytes = 0;
    }
    const s = this.state;
    s.acc0 = i64x2.add(s.acc0, i64x2(<i64>this.unitBytes, <i64>tag));
    s.units++;
    this.unitBytes = 0;
  }

  // `count` whole stripes from p.
  private stripes(p: usize, count: usize): void {
    const s = this.state;
    let a0 = s.acc0, a1 = s.acc1, a2 = s.acc2, a3 = s.acc3, off = s.offset;
    const step = i64x2(<i64>STEP0, <i64>STEP1);
    const ka = i64x2(<i64>KEY_A0, <i64>KEY_A1), kb = i64x2(<i64>KEY_B0, <i64>KEY_B1);
    const kc = i64x2(<i64>KEY_C0, <i64>KEY_C1), kd = i64x2(<i64>KEY_D0, <i64>KEY_D1);
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
    s.acc0 = a0; s.acc1 = a1; s.acc2 = a2; s.acc3 = a3; s.offset = off;
    s.stripes += <u32>count;
  }
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

// The keys of one request, filled as the body scan passes its members (one instance per stream,
// reused). The calls, in body order:
//   reset(); consumer(hash) when one is known;
//   for `tools`, `functions`, `system`, `instructions` (top level): the value's bytes with feedHead, then endHead(part);
//   for each message of `messages` / item of `input` (and a string `input`): beginMessage(), its
//   bytes with feedMessage (cache_control members left out), endMessage(fromModel);
// then hasKey() / key(), hasPrevious() / previousKey().
export class PrefixKey {
  private readonly head: PrefixHasher = new PrefixHasher();
  private readonly conversation: PrefixHasher = new PrefixHasher();
  private readonly messageStart: PrefixState = new PrefixState();
  private readonly modelTurnStart: PrefixState = new PrefixState();  // start of the last model message
  private readonly untilInput: PrefixState = new PrefixState();      // after the last client message
  private readonly previous: PrefixState = new PrefixState();        // before the model message preceding it
  private consumerHash: u64 = 0;
  private sawModelTurn: bool = false;
  private inModelTurn: bool = false;
  private inputs: i32 = 0;
  private previousValid: bool = false;

  reset(): void {
    this.head.reset();
    this.conversation.reset();
    this.consumerHash = 0;
    this.sawModelTurn = false;
    this.inModelTurn = false;
    this.inputs = 0;
    this.previousValid = false;
  }

  // The consumer (its hash: hashBytes of the name): requests of different consumers never share a key.
  consumer(hash: u64): void { this.consumerHash = hash; }

  feedHead(ptr: usize, len: usize): void { this.head.feed(ptr, len); }
  endHead(part: HeadPart): void { this.head.endUnit(<u32>part); }

  beginMessage(): void { this.messageStart.copyFrom(this.conversation.state); }
  feedMessage(ptr: usize, len: usize): void { this.conversation.feed(ptr, len); }

  // fromModel: the message is the model's output (role "assistant"; a Responses item of a `*_call`
  // type or `reasoning`). Otherwise it is client input (user, system, developer, tool results).
  endMessage(fromModel: bool): void {
    const c = this.conversation;
    c.endUnit(0);
    if (fromModel) {
      // A model turn before any input starts no conversation this gateway could have routed. Model
      // messages in a row (a Responses `reasoning` item, then a `function_call`) are one turn.
      if (this.inputs > 0 && !this.inModelTurn) {
        this.modelTurnStart.copyFrom(this.messageStart);
        this.sawModelTurn = true;
      }
      this.inModelTurn = true;
      return;
    }
    this.inModelTurn = false;
    this.inputs++;
    this.untilInput.copyFrom(c.state);
    this.previousValid = this.sawModelTurn;
    if (this.sawModelTurn) this.previous.copyFrom(this.modelTurnStart);
  }

  // Whether the request has a key: at least one message of client input.
  hasKey(): bool { return this.inputs > 0; }

  // Tools, system prompt and the conversation up to its last client message (a trailing model
  // message, an assistant prefill, is left out: the next turn resends the whole answer instead).
  key(): u64 { return this.combine(this.untilInput); }

  // Whether the conversation has an earlier turn: a model message before the last client message.
  hasPrevious(): bool { return this.previousValid; }

  // The key the previous turn was stored under: everything before the last model turn (its model
  // messages in a row) that precedes the last client message. Turn N+1 (turn N's messages, the model's answer, new input)
  // gives turn N's key().
  previousKey(): u64 { return this.combine(this.previous); }

  private combine(conversation: PrefixState): u64 {
    let h = avalanche(this.consumerHash ^ SEED_CONSUMER);
    h = avalanche((h ^ this.head.state.finish(SEED_HEAD)) * P1);
    return avalanche((h ^ conversation.finish(SEED_CONVERSATION)) * P2);
  }
}
