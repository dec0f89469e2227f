// The affinity map: which model a prefix key (prefix_hash.ts) was last routed to, how many input
// tokens that model was sent, and when. It lives in Envoy's shared data, so every worker of the
// process sees what any worker remembered (docs/affinity.md).
//
// Shared data has no delete, so the map is a fixed set of buckets, each one shared-data key holding a
// small record of WAYS entries: an entry is found by its full key within the bucket its key picks,
// and a new key replaces the oldest entry of its bucket. A lookup is one shared-data read; a write is
// a read and a compare-and-swap (retried), so concurrent workers never lose each other's entries. A
// record that is not a valid one (wrong size or layout: another version, garbage) counts as empty and
// is replaced by the next write; nothing traps.
//
// Memory: buckets × (RECORD_SIZE value bytes + its key of about 28 bytes + the host map's own
// overhead per key, about 100 bytes in proxy-wasm-cpp-host), for the whole Envoy process: the default
// 4096 buckets (16384 entries) take about 1 MB.
import { Status } from "../abi/constants";
import { hostData, hostSize, readSharedData, releaseHostData, sharedCas, writeSharedData } from "../abi/host";
import { AFFINITY_KEY_PREFIX } from "../names";

export const WAYS: i32 = 4;
export const DEFAULT_BUCKETS: u32 = 4096;
export const MAX_BUCKETS: u32 = 1 << 20;

// Record: u32 magic, u32 0, then WAYS entries of ENTRY_SIZE bytes:
//   u64 key (0: empty slot), u64 model identity, f64 time remembered (ms since the epoch),
//   u32 prefix tokens, u32 0.
const MAGIC: u32 = 0x31666661;  // "aff1"
const HEADER_SIZE: usize = 8;
const ENTRY_SIZE: usize = 32;
export const RECORD_SIZE: usize = HEADER_SIZE + <usize>WAYS * ENTRY_SIZE;
const KEY: usize = 0, MODEL: usize = 8, AT: usize = 16, TOKENS: usize = 24;

// An entry remembered further in the future than this was written by a clock that has since
// stepped back a long way, or is garbage: it is never found, and is the first replaced.
const MAX_CLOCK_AHEAD_MS: f64 = 60_000;

// A cas no stored value carries: creates a bucket only if nobody created it meanwhile (store.ts).
const CREATE_ONLY: u32 = 0xffffffff;
const MAX_WRITE_ATTEMPTS: i32 = 8;

// Bucket key names: this prefix, then the bucket number as five hex digits written in place.
const NAME_PREFIX = AFFINITY_KEY_PREFIX;
const NAME_DIGITS: i32 = 5;

export const enum Remembered { Done, Unavailable, Contended }

export class AffinityMap {
  private readonly mask: u64;
  private readonly name: ArrayBuffer;
  private readonly record: usize = heap.alloc(RECORD_SIZE);

  // What the last successful lookup found.
  model: u64 = 0;
  tokens: u32 = 0;
  ageMs: f64 = 0;

  // buckets: a power of two up to MAX_BUCKETS (anything else is rounded down into that range).
  constructor(buckets: u32 = DEFAULT_BUCKETS) {
    let n: u32 = 1;
    while (n < MAX_BUCKETS && (n << 1) <= buckets) n <<= 1;
    this.mask = <u64>(n - 1);
    const prefix = String.UTF8.encode(NAME_PREFIX);
    const name = new ArrayBuffer(prefix.byteLength + NAME_DIGITS);
    memory.copy(changetype<usize>(name), changetype<usize>(prefix), prefix.byteLength);
    this.name = name;
  }

  // Finds `key` remembered within ttlMs before nowMs; its model, tokens and age go to the fields.
  lookup(key: u64, nowMs: f64, ttlMs: f64): bool {
    key = usable(key);
    const status = readSharedData(this.bucketName(key));
    if (status != Status.Ok) return false;
    let found = false;
    if (hostSize == RECORD_SIZE && load<u32>(hostData) == MAGIC) {
      for (let i = 0; i < WAYS; i++) {
        const e = hostData + HEADER_SIZE + <usize>i * ENTRY_SIZE;
        if (load<u64>(e, KEY) != key) continue;
        const age = nowMs - load<f64>(e, AT);
        // NaN (garbage) fails both comparisons
        if (!(age >= -MAX_CLOCK_AHEAD_MS && age <= ttlMs)) break;
        this.model = load<u64>(e, MODEL);
        this.tokens = load<u32>(e, TOKENS);
        this.ageMs = max<f64>(age, 0);
        found = true;
        break;
      }
    }
    releaseHostData();
    return found;
  }

  // Remembers that `key` went to `model` with `tokens` input tokens at nowMs: its own entry if the
  // bucket has it, else the bucket's oldest (or empty) entry.
  remember(key: u64, model: u64, tokens: u32, nowMs: f64): Remembered {
    key = usable(key);
    const name = this.bucketName(key);
    const r = this.record;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const status = readSharedData(name);
      let cas = CREATE_ONLY;
      if (status == Status.Ok) {
        cas = sharedCas;
        const valid = hostSize == RECORD_SIZE && load<u32>(hostData) == MAGIC;
        if (valid) memory.copy(r, hostData, RECORD_SIZE);
        releaseHostData();
        if (!valid) clearRecord(r);
      } else if (status == Status.NotFound) {
        clearRecord(r);
      } else {
        return Remembered.Unavailable;
      }
      const e = r + HEADER_SIZE + <usize>slotFor(r, key, nowMs) * ENTRY_SIZE;
      store<u64>(e, key, KEY);
      store<u64>(e, model, MODEL);
      store<f64>(e, nowMs, AT);
      store<u32>(e, tokens, TOKENS);
      store<u32>(e, 0, TOKENS + 4);
      const written = writeSharedData(name, r, RECORD_SIZE, cas);
      if (written == Status.Ok) return Remembered.Done;
      if (written != Status.CasMismatch) return Remembered.Unavailable;
    }
    return Remembered.Contended;
  }

  // The bucket's key name, its digits written into the one buffer this map keeps.
  private bucketName(key: u64): ArrayBuffer {
    let b = <u32>((key >> 40) & this.mask);
    const digits = changetype<usize>(this.name) + <usize>this.name.byteLength;
    for (let i = 1; i <= NAME_DIGITS; i++) {
      const d = b & 15;
      store<u8>(digits - <usize>i, d < 10 ? 0x30 + d : 0x61 + d - 10);
      b >>= 4;
    }
    return this.name;
  }
}

// Key 0 marks an empty slot; a key that hashed to 0 is stored as 1.
@inline function usable(key: u64): u64 { return key == 0 ? 1 : key; }

function clearRecord(r: usize): void {
  memory.fill(r, 0, RECORD_SIZE);
  store<u32>(r, MAGIC);
}

// The slot `key` goes to: its own, else an empty one, else the oldest (an entry from the future,
// written before a clock step or garbage, counts as oldest).
function slotFor(r: usize, key: u64, nowMs: f64): i32 {
  let oldest = 0;
  let oldestAt = Infinity;
  for (let i = 0; i < WAYS; i++) {
    const e = r + HEADER_SIZE + <usize>i * ENTRY_SIZE;
    const k = load<u64>(e, KEY);
    if (k == key) return i;
    let at = load<f64>(e, AT);
    if (k == 0 || !(at <= nowMs + MAX_CLOCK_AHEAD_MS)) at = -Infinity;
    if (at < oldestAt) { oldestAt = at; oldest = i; }
  }
  return oldest;
}
