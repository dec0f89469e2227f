// The consumer label: the value of a configured request header (an auth layer's, such as Higress's
// x-mse-consumer), capped process-wide so that no client can create series without bound. The first
// `maxConsumers` distinct values any worker sees get their own label; every later one counts as
// "other". The list of admitted names lives in Envoy's shared data (one key, appended with
// compare-and-swap), so the cap holds for the whole process, not per worker; each worker keeps a
// local index of it and reads the shared list only for a name it does not know while the list is
// not full. Once full, unknown names cost no host call at all.
import {
  ASCII_CASE_BIT, AT, DIGIT_0, DIGIT_9, LOWER_A, LOWER_Z, MINUS, NEWLINE, PLUS, SPACE, TAB, UNDERSCORE,
} from "../bytes";
import { Status } from "../abi/constants";
import { hostData, hostSize, readSharedData, releaseHostData, sharedCas, writeSharedData } from "../abi/host";
import { hashBytes } from "../config/name_index";
import { CONSUMERS_KEY } from "../names";

export const CONSUMER_NONE: i32 = 0;   // no header, or an empty value
export const CONSUMER_OTHER: i32 = 1;  // past the cap
const RESERVED: string[] = ["none", "other"];

// A label value is at most this long (longer values are cut).
const MAX_NAME_BYTES: i32 = 64;
const MAX_CAS_ATTEMPTS = 8;
const REGISTRY_KEY = String.UTF8.encode(CONSUMERS_KEY);
// A missing key is created only if still missing (see live/store.ts CREATE_ONLY).
const CREATE_ONLY: u32 = 0xffffffff;

const scratch = memory.data(MAX_NAME_BYTES);
let scratchLength: i32 = 0;

// Letters, digits and - _ @ + are kept; anything else (dots included: they separate the parts of a
// stat name) becomes '_'.
@inline function labelByte(c: u8): u8 {
  const keep = (c >= DIGIT_0 && c <= DIGIT_9) || ((c | ASCII_CASE_BIT) >= LOWER_A && (c | ASCII_CASE_BIT) <= LOWER_Z) ||
    c == MINUS || c == UNDERSCORE || c == AT || c == PLUS;
  return keep ? c : UNDERSCORE;
}

// The header value as a label, into scratch (spaces around it dropped).
function sanitize(p: usize, n: usize): void {
  while (n > 0 && (load<u8>(p) == SPACE || load<u8>(p) == TAB)) { p++; n--; }
  while (n > 0 && (load<u8>(p + n - 1) == SPACE || load<u8>(p + n - 1) == TAB)) n--;
  const k = <i32>min(n, <usize>MAX_NAME_BYTES);
  for (let i = 0; i < k; i++) store<u8>(scratch + <usize>i, labelByte(load<u8>(p + <usize>i)));
  scratchLength = k;
}

export class Consumers {
  readonly names: ArrayBuffer[] = [];   // by slot
  private slots: StaticArray<i32>;      // open addressing over names: slot, or -1
  private mask: u32;
  private listed: i32 = 0;              // names admitted (without the reserved ones)
  private full: bool = false;
  private localOnly: bool = false;      // the host refused shared data: a cap per worker

  constructor(readonly cap: i32) {
    let size: u32 = 16;
    while (size < <u32>(cap + RESERVED.length) * 2) size <<= 1;
    this.mask = size - 1;
    this.slots = new StaticArray<i32>(<i32>size);
    for (let i: u32 = 0; i < size; i++) this.slots[i] = -1;
    for (let i = 0; i < RESERVED.length; i++) this.insert(String.UTF8.encode(RESERVED[i]));
  }

  // The slot of the consumer named by the header value [p, p + n).
  slotOf(p: usize, n: usize): i32 {
    sanitize(p, n);
    if (scratchLength == 0) return CONSUMER_NONE;
    const known = this.find(scratch, <usize>scratchLength);
    if (known >= 0 || this.full) return known >= 0 ? known : CONSUMER_OTHER;
    return this.admit();
  }

  private find(p: usize, n: usize): i32 {
    let at = hashBytes(p, n) & this.mask;
    while (true) {
      const slot = unchecked(this.slots[at]);
      if (slot < 0) return -1;
      const name = unchecked(this.names[slot]);
      if (<usize>name.byteLength == n && memory.compare(changetype<usize>(name), p, n) == 0) return slot;
      at = (at + 1) & this.mask;
    }
  }

  private insert(name: ArrayBuffer): i32 {
    const slot = this.names.length;
    this.names.push(name);
    let at = hashBytes(changetype<usize>(name), name.byteLength) & this.mask;
    while (unchecked(this.slots[at]) >= 0) at = (at + 1) & this.mask;
    unchecked(this.slots[at] = slot);
    return slot;
  }

  private addListed(p: usize, n: usize): i32 {
    const slot = this.find(p, n);
    if (slot >= 0) return slot;
    const name = new ArrayBuffer(<i32>n);
    memory.copy(changetype<usize>(name), p, n);
    this.listed++;
    if (this.listed >= this.cap) this.full = true;
    return this.insert(name);
  }

  // The name in scratch is new to this worker: learn the shared list, and append it there while
  // the list has room.
  private admit(): i32 {
    if (this.localOnly) return this.listed < this.cap ? this.addListed(scratch, <usize>scratchLength) : CONSUMER_OTHER;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const status = readSharedData(REGISTRY_KEY);
      if (status != Status.Ok && status != Status.NotFound) {
        this.localOnly = true;
        return this.admit();
      }
      const cas = status == Status.Ok ? sharedCas : CREATE_ONLY;
      const count = status == Status.Ok ? this.learn(hostData, hostSize) : 0;
      const block = hostData, size = hostSize;
      const known = this.find(scratch, <usize>scratchLength);
      if (known >= 0 || count >= this.cap) {
        releaseHostData();
        if (count >= this.cap) this.full = true;
        return known >= 0 ? known : CONSUMER_OTHER;
      }
      const written = this.append(block, size, cas);
      releaseHostData();
      if (written == Status.Ok) return this.addListed(scratch, <usize>scratchLength);
      if (written != Status.CasMismatch) {
        this.localOnly = true;
        return this.admit();
      }
    }
    return CONSUMER_OTHER; // a storm of concurrent admissions: count this one as other
  }

  // Indexes every name of the shared list [p, p + n) (newline-separated); returns how many it holds.
  private learn(p: usize, n: usize): i32 {
    let count = 0, start: usize = 0;
    for (let i: usize = 0; i <= n; i++) {
      if (i < n && load<u8>(p + i) != NEWLINE) continue;
      if (i > start) {
        count++;
        if (this.listed < this.cap) this.addListed(p + start, i - start);
      }
      start = i + 1;
    }
    return count;
  }

  // Writes the shared list [p, p + n) plus the name in scratch, if nobody wrote since `cas`.
  private append(p: usize, n: usize, cas: u32): u32 {
    const size = n + (n > 0 ? 1 : 0) + <usize>scratchLength;
    const value = heap.alloc(size);
    memory.copy(value, p, n);
    if (n > 0) store<u8>(value + n, NEWLINE);
    memory.copy(value + size - <usize>scratchLength, scratch, <usize>scratchLength);
    const status = writeSharedData(REGISTRY_KEY, value, size, cas);
    heap.free(value);
    return status;
  }
}
