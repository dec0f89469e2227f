// Finds a route or model by the raw UTF-8 bytes of the requested name in O(1), so a catalog of a
// thousand models costs a request no more than one of ten. Built once per configuration.

// FNV-1a over the bytes [p, p+n).
export function hashBytes(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + i)) * 0x01000193;
  return h;
}

export class NameIndex {
  private slots: StaticArray<i32>;    // entry index, or -1 for an empty slot
  private mask: u32;
  private names: ArrayBuffer[];

  // `names` in entry order; names are unique (the configuration compiler checks that).
  constructor(names: ArrayBuffer[]) {
    let size: u32 = 8;
    while (size < <u32>names.length * 2) size <<= 1;
    this.names = names;
    this.mask = size - 1;
    this.slots = new StaticArray<i32>(<i32>size);
    for (let i: u32 = 0; i < size; i++) this.slots[i] = -1;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      let slot = hashBytes(changetype<usize>(name), name.byteLength) & this.mask;
      while (this.slots[slot] >= 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = i;
    }
  }

  // The entry whose name is exactly [p, p+n), or -1. `hash` = hashBytes(p, n).
  find(p: usize, n: usize, hash: u32): i32 {
    let slot = hash & this.mask;
    while (true) {
      const entry = unchecked(this.slots[slot]);
      if (entry < 0) return -1;
      const name = unchecked(this.names[entry]);
      if (<usize>name.byteLength == n && memory.compare(changetype<usize>(name), p, n) == 0) return entry;
      slot = (slot + 1) & this.mask;
    }
  }
}
