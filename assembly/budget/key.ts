// A record's key in Envoy's shared data: which budget, and the key bytes in a block kept across
// requests (grown when a longer key comes). The consumer's bytes follow the budget's prefix.

const NO_BYTES = new ArrayBuffer(0);

export class BudgetKey {
  budget: i32 = -1;
  ptr: usize = 0;
  size: i32 = 0;
  // Where the consumer's bytes start (after the budget's prefix); the overflow record's key has
  // the ledger's own suffix there instead.
  suffixAt: i32 = 0;
  overflow: bool = false;
  private capacity: i32 = 0;

  @inline get consumerPtr(): usize { return this.ptr + <usize>this.suffixAt; }
  @inline get consumerSize(): i32 { return this.size - this.suffixAt; }

  set(prefix: ArrayBuffer, suffix: usize, suffixSize: i32): void {
    const n = prefix.byteLength + suffixSize;
    if (n > this.capacity) {
      if (this.ptr != 0) heap.free(this.ptr);
      this.capacity = max(n, 64);
      this.ptr = heap.alloc(<usize>this.capacity);
    }
    memory.copy(this.ptr, changetype<usize>(prefix), <usize>prefix.byteLength);
    if (suffixSize > 0) memory.copy(this.ptr + <usize>prefix.byteLength, suffix, <usize>suffixSize);
    this.size = n;
    this.suffixAt = prefix.byteLength;
    this.overflow = false;
  }

  copyFrom(other: BudgetKey): void {
    this.set(NO_BYTES, other.ptr, other.size);
    this.budget = other.budget;
    this.suffixAt = other.suffixAt;
    this.overflow = other.overflow;
  }
}

// Whether two keys are the same bytes.
export function sameKey(a: BudgetKey, b: BudgetKey): bool {
  return a.size == b.size && memory.compare(a.ptr, b.ptr, <usize>a.size) == 0;
}
