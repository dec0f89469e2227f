// The protobuf wire format, only as far as the rate limit service's two messages need it: a writer
// into one reused block, and a reader over bytes that never reads past their end (a malformed or
// hostile answer yields `false`, never a trap).

export const enum Wire { Varint = 0, Fixed64 = 1, Bytes = 2, Fixed32 = 5 }

@inline export function tag(field: u32, wire: Wire): u32 { return field << 3 | <u32>wire; }

export function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

// Size of a length-delimited field (tag, length, payload) with a payload of `size` bytes.
export function bytesFieldSize(field: u32, size: i32): i32 {
  return varintSize(<u64>tag(field, Wire.Bytes)) + varintSize(<u64>size) + size;
}

// Size of a varint field; 0 when the value is 0 (proto3 leaves defaults out).
export function varintFieldSize(field: u32, v: u64): i32 {
  return v == 0 ? 0 : varintSize(<u64>tag(field, Wire.Varint)) + varintSize(v);
}

export class Writer {
  ptr: usize = 0;
  size: i32 = 0;
  private capacity: i32 = 0;

  reset(): void { this.size = 0; }

  private room(n: i32): void {
    if (this.size + n <= this.capacity) return;
    let capacity = max(this.capacity * 2, 256);
    while (capacity < this.size + n) capacity *= 2;
    const grown = heap.alloc(<usize>capacity);
    if (this.ptr != 0) {
      memory.copy(grown, this.ptr, <usize>this.size);
      heap.free(this.ptr);
    }
    this.ptr = grown;
    this.capacity = capacity;
  }

  varint(v: u64): void {
    this.room(10);
    let p = this.ptr + <usize>this.size;
    while (v >= 0x80) {
      store<u8>(p++, <u8>(v & 0x7f) | 0x80);
      v >>= 7;
    }
    store<u8>(p++, <u8>v);
    this.size = <i32>(p - this.ptr);
  }

  // A length-delimited field's tag and length; its payload follows.
  open(field: u32, size: i32): void {
    this.varint(<u64>tag(field, Wire.Bytes));
    this.varint(<u64>size);
  }

  bytes(field: u32, p: usize, n: i32): void {
    this.open(field, n);
    this.room(n);
    memory.copy(this.ptr + <usize>this.size, p, <usize>n);
    this.size += n;
  }

  varintField(field: u32, v: u64): void {
    if (v == 0) return;
    this.varint(<u64>tag(field, Wire.Varint));
    this.varint(v);
  }
}

export class Reader {
  p: usize = 0;
  end: usize = 0;
  ok: bool = true;
  // The last field read: its number, wire type, and value (varint) or [at, at + length) (bytes).
  field: u32 = 0;
  wire: u32 = 0;
  value: u64 = 0;
  at: usize = 0;
  length: usize = 0;

  over(p: usize, size: usize): Reader {
    this.p = p;
    this.end = p + size;
    this.ok = true;
    return this;
  }

  @inline get more(): bool { return this.ok && this.p < this.end; }

  private varint(): u64 {
    let v: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.p >= this.end) break;
      const b = load<u8>(this.p++);
      v |= <u64>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    this.ok = false;
    return 0;
  }

  // Reads the next field (its value or its bytes' place); false at the end or on bad bytes.
  next(): bool {
    if (!this.more) return false;
    const t = this.varint();
    if (!this.ok) return false;
    this.field = <u32>(t >> 3);
    this.wire = <u32>(t & 7);
    switch (this.wire) {
      case Wire.Varint: this.value = this.varint(); break;
      case Wire.Fixed64: this.skip(8); break;
      case Wire.Fixed32: this.skip(4); break;
      case Wire.Bytes: {
        const n = this.varint();
        if (!this.ok || n > <u64>(this.end - this.p)) { this.ok = false; break; }
        this.at = this.p;
        this.length = <usize>n;
        this.p += <usize>n;
        break;
      }
      default: this.ok = false;  // groups (3, 4) and reserved wire types: not in these messages
    }
    return this.ok;
  }

  private skip(n: usize): void {
    if (<usize>(this.end - this.p) < n) { this.ok = false; return; }
    this.value = 0;
    this.p += n;
  }
}
