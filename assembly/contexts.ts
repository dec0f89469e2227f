// Every context the host created, by its id, in one open-addressing table: each callback finds its
// context with one probe of a flat array (the AssemblyScript Map this replaces took two lookups per
// callback, three for an upstream attempt, and reallocated its entries as streams came and went).
// Ids are the host's, counted up from 1; 0 marks a free slot. Deletion shifts the entries of the
// probe run back (no tombstones), so a long-lived VM never degrades. The table grows (doubling) only
// when more contexts are alive at once than ever before: a warm VM allocates nothing here.

export const enum ContextKind { Root, UpstreamRoot, Stream, Attempt }

// What the table holds: the filter's per-context state objects extend this.
export class Context {
  id: u32 = 0;
  constructor(readonly kind: ContextKind) {}
}

export class ContextTable {
  private ids: StaticArray<u32> = new StaticArray<u32>(64);
  private entries: StaticArray<Context | null> = new StaticArray<Context | null>(64);
  private mask: u32 = 63;
  private count: u32 = 0;

  @inline private home(id: u32): u32 { return (id * 0x9e3779b1) >> 16 & this.mask; }

  // The context with this id, or null.
  find(id: u32): Context | null {
    if (id == 0) return null;
    const ids = this.ids, mask = this.mask;
    let i = this.home(id);
    while (true) {
      const at = unchecked(ids[i]);
      if (at == id) return unchecked(this.entries[i]);
      if (at == 0) return null;
      i = (i + 1) & mask;
    }
    return null;
  }

  set(id: u32, context: Context): void {
    if (id == 0) return;
    context.id = id;
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const ids = this.ids, mask = this.mask;
    let i = this.home(id);
    while (unchecked(ids[i]) != id && unchecked(ids[i]) != 0) i = (i + 1) & mask;
    if (unchecked(ids[i]) == 0) this.count++;
    unchecked(ids[i] = id);
    unchecked(this.entries[i] = context);
  }

  // Removes the context with this id (if any); returns it.
  remove(id: u32): Context | null {
    if (id == 0) return null;
    const ids = this.ids, entries = this.entries, mask = this.mask;
    let i = this.home(id);
    while (unchecked(ids[i]) != id) {
      if (unchecked(ids[i]) == 0) return null;
      i = (i + 1) & mask;
    }
    const removed = unchecked(entries[i]);
    // Backward-shift deletion: move later entries of the run into the hole when their home allows.
    let hole = i;
    for (let j = (i + 1) & mask; unchecked(ids[j]) != 0; j = (j + 1) & mask) {
      const home = this.home(unchecked(ids[j]));
      // j's entry may fill the hole when the hole lies cyclically in [home, j)
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        unchecked(ids[hole] = unchecked(ids[j]));
        unchecked(entries[hole] = unchecked(entries[j]));
        hole = j;
      }
    }
    unchecked(ids[hole] = 0);
    unchecked(entries[hole] = null);
    this.count--;
    return removed;
  }

  private grow(): void {
    const oldIds = this.ids, oldEntries = this.entries;
    const capacity = (this.mask + 1) << 1;
    this.ids = new StaticArray<u32>(<i32>capacity);
    this.entries = new StaticArray<Context | null>(<i32>capacity);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < oldIds.length; i++) {
      const id = unchecked(oldIds[i]);
      if (id != 0) this.set(id, unchecked(oldEntries[i])!);
    }
  }
}
