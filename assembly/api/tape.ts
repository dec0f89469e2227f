// A JSON document as a tape (simdjson's idea): one entry per value, in document order, holding its
// kind and byte offsets into the original text, so a translator can look members up and copy
// strings with their escapes as they are, without building a tree or decoding a byte it does not
// need. The tape's block is kept across documents (no allocation once warm).
//
// Entry i (four u32): kind | flags, start, end, next.
//   string: start/end are its body's bounds (inside the quotes); ESCAPED when it holds a backslash;
//   number, true, false, null: their bytes;
//   object, array: start at the opening bracket, end after the closing one.
//   next: the entry after the value and everything inside it (i + 1 for a scalar).
// An object's entries are its members' names and values in turn (name i + 1, value i + 2, …).
import { scanNumber, scanString, stringHasEscape, decodeString } from "../json/lexer";

export const enum Kind { None = 0, Object = 1, Array = 2, String = 3, Number = 4, True = 5, False = 6, Null = 7 }

const KIND_MASK: u32 = 0xff;
const ESCAPED: u32 = 0x100;
const ENTRY: usize = 16;
const KEEP_ENTRIES: i32 = 16384;
// As the request rules (docs/behaviour.md): deeper documents are refused.
export const MAX_DEPTH: i32 = 256;
// Whole numbers are capped here (2^53: what a JSON.parse reader keeps exactly).
export const MAX_INTEGER: i64 = 9007199254740992;
export const NOT_INTEGER: i64 = -1;

@inline function isBlank(c: u32): bool { return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09; }

export class Tape {
  private entries: usize = 0;
  private capacity: i32 = 0;
  count: i32 = 0;
  // Where the document failed to parse (offset from its start), when parse returned false.
  errorAt: usize = 0;
  private base: usize = 0;
  private limit: usize = 0;

  // Parses [p, p + n) as one JSON value (blanks around it allowed). False when it is not JSON.
  parse(p: usize, n: usize): bool {
    // a block grown by one large document is given back: a 1 MB request must not keep its tape
    // for the VM's life
    if (this.capacity > KEEP_ENTRIES) {
      heap.free(this.entries);
      this.entries = 0;
      this.capacity = 0;
    }
    this.count = 0;
    this.base = p;
    this.limit = p + n;
    const at = this.value(this.skip(p), 0);
    if (at == 0 || this.skip(at) != this.limit) {
      if (at != 0) this.errorAt = this.skip(at) - p;
      return false;
    }
    return true;
  }

  @inline private skip(p: usize): usize {
    const end = this.limit;
    while (p < end && isBlank(<u32>load<u8>(p))) p++;
    return p;
  }

  private push(kind: u32, start: usize, end: usize): i32 {
    if (this.count == this.capacity) {
      const capacity = this.capacity == 0 ? 256 : this.capacity << 1;
      this.entries = this.entries == 0 ? heap.alloc(<usize>capacity * ENTRY) : heap.realloc(this.entries, <usize>capacity * ENTRY);
      this.capacity = capacity;
    }
    const i = this.count++;
    const e = this.entries + <usize>i * ENTRY;
    store<u32>(e, kind);
    store<u32>(e, <u32>(start - this.base), 4);
    store<u32>(e, <u32>(end - this.base), 8);
    store<u32>(e, <u32>(i + 1), 12);
    return i;
  }

  private fail(p: usize): usize {
    this.errorAt = p - this.base;
    return 0;
  }

  // Parses the value at p; returns the position after it, or 0.
  private value(p: usize, depth: i32): usize {
    const end = this.limit;
    if (p >= end) return this.fail(p);
    const c = <u32>load<u8>(p);
    if (c == 0x22) {
      const after = scanString(p + 1, end);
      if (after == 0) return this.fail(p);
      this.push(<u32>Kind.String | (stringHasEscape ? ESCAPED : 0), p + 1, after - 1);
      return after;
    }
    if (c == 0x7b || c == 0x5b) {
      if (depth >= MAX_DEPTH) return this.fail(p);
      return c == 0x7b ? this.object(p, depth + 1) : this.array(p, depth + 1);
    }
    if (c == 0x2d || c - 0x30 < 10) {
      const after = scanNumber(p, end);
      if (after == 0) return this.fail(p);
      this.push(<u32>Kind.Number, p, after);
      return after;
    }
    if (c == 0x74 && p + 4 <= end && load<u32>(p) == 0x65757274) { this.push(<u32>Kind.True, p, p + 4); return p + 4; }      // true
    if (c == 0x66 && p + 5 <= end && load<u32>(p + 1) == 0x65736c61) { this.push(<u32>Kind.False, p, p + 5); return p + 5; } // (f)alse
    if (c == 0x6e && p + 4 <= end && load<u32>(p) == 0x6c6c756e) { this.push(<u32>Kind.Null, p, p + 4); return p + 4; }      // null
    return this.fail(p);
  }

  private object(open: usize, depth: i32): usize {
    const i = this.push(<u32>Kind.Object, open, open);
    const end = this.limit;
    let p = this.skip(open + 1);
    if (p < end && load<u8>(p) == 0x7d) return this.close(i, p + 1);
    while (true) {
      if (p >= end || load<u8>(p) != 0x22) return this.fail(p);
      const after = scanString(p + 1, end);
      if (after == 0) return this.fail(p);
      this.push(<u32>Kind.String | (stringHasEscape ? ESCAPED : 0), p + 1, after - 1);
      p = this.skip(after);
      if (p >= end || load<u8>(p) != 0x3a) return this.fail(p);
      p = this.value(this.skip(p + 1), depth);
      if (p == 0) return 0;
      p = this.skip(p);
      if (p >= end) return this.fail(p);
      const c = load<u8>(p);
      if (c == 0x7d) return this.close(i, p + 1);
      if (c != 0x2c) return this.fail(p);
      p = this.skip(p + 1);
    }
    return 0;
  }

  private array(open: usize, depth: i32): usize {
    const i = this.push(<u32>Kind.Array, open, open);
    const end = this.limit;
    let p = this.skip(open + 1);
    if (p < end && load<u8>(p) == 0x5d) return this.close(i, p + 1);
    while (true) {
      p = this.value(p, depth);
      if (p == 0) return 0;
      p = this.skip(p);
      if (p >= end) return this.fail(p);
      const c = load<u8>(p);
      if (c == 0x5d) return this.close(i, p + 1);
      if (c != 0x2c) return this.fail(p);
      p = this.skip(p + 1);
    }
    return 0;
  }

  private close(i: i32, after: usize): usize {
    const e = this.entries + <usize>i * ENTRY;
    store<u32>(e, <u32>(after - this.base), 8);
    store<u32>(e, <u32>this.count, 12);
    return after;
  }

  // ---- reading ------------------------------------------------------------------------------------

  // Every accessor takes -1 (a member that is absent) and answers as for an empty value.
  @inline kind(i: i32): Kind { return i < 0 ? Kind.None : <Kind>(load<u32>(this.entries + <usize>i * ENTRY) & KIND_MASK); }
  @inline escaped(i: i32): bool { return i >= 0 && (load<u32>(this.entries + <usize>i * ENTRY) & ESCAPED) != 0; }
  @inline start(i: i32): usize { return i < 0 ? this.base : this.base + <usize>load<u32>(this.entries + <usize>i * ENTRY, 4); }
  @inline end(i: i32): usize { return i < 0 ? this.base : this.base + <usize>load<u32>(this.entries + <usize>i * ENTRY, 8); }
  @inline size(i: i32): usize { return this.end(i) - this.start(i); }
  @inline next(i: i32): i32 { return i < 0 ? 0 : <i32>load<u32>(this.entries + <usize>i * ENTRY, 12); }

  @inline isObject(i: i32): bool { return this.kind(i) == Kind.Object; }
  @inline isArray(i: i32): bool { return this.kind(i) == Kind.Array; }
  @inline isString(i: i32): bool { return this.kind(i) == Kind.String; }
  // Absent (-1) or null: what a reader treats as "not given".
  @inline isAbsent(i: i32): bool { return i < 0 || this.kind(i) == Kind.Null; }

  // The first member name of object `obj` (its value is name + 1), or -1 when it has none.
  @inline firstMember(obj: i32): i32 { return obj + 1 < this.next(obj) ? obj + 1 : -1; }
  // The member name after `name` in object `obj`, or -1.
  @inline nextMember(obj: i32, name: i32): i32 {
    const after = this.next(name + 1);
    return after < this.next(obj) ? after : -1;
  }
  // The first item of array `arr`, or -1; then nextItem.
  @inline firstItem(arr: i32): i32 { return arr + 1 < this.next(arr) ? arr + 1 : -1; }
  @inline nextItem(arr: i32, item: i32): i32 {
    const after = this.next(item);
    return after < this.next(arr) ? after : -1;
  }

  itemCount(arr: i32): i32 {
    let n = 0;
    for (let i = this.firstItem(arr); i >= 0; i = this.nextItem(arr, i)) n++;
    return n;
  }

  // The value of the member named `name` (the last one, as JSON.parse keeps), or -1.
  member(obj: i32, name: ArrayBuffer): i32 {
    if (this.kind(obj) != Kind.Object) return -1;
    let found = -1;
    for (let k = this.firstMember(obj); k >= 0; k = this.nextMember(obj, k)) {
      if (this.equals(k, name)) found = k + 1;
    }
    return found;
  }

  // The values of several members in one pass: values[i] is the value of the member named names[i]
  // (the last one, as JSON.parse keeps), or -1. Cheaper than one member() per name on hot paths.
  pick(obj: i32, names: StaticArray<ArrayBuffer>, values: StaticArray<i32>): void {
    const count = names.length;
    for (let i = 0; i < count; i++) unchecked(values[i] = -1);
    if (this.kind(obj) != Kind.Object) return;
    for (let k = this.firstMember(obj); k >= 0; k = this.nextMember(obj, k)) {
      const n = this.size(k);
      for (let i = 0; i < count; i++) {
        const name = unchecked(names[i]);
        if (<usize>name.byteLength == n || this.escaped(k)) {
          if (this.equals(k, name)) { unchecked(values[i] = k + 1); break; }
        }
      }
    }
  }

  // String entry i's value is exactly `text` (escapes resolved).
  equals(i: i32, text: ArrayBuffer): bool {
    if (this.kind(i) != Kind.String) return false;
    const p = this.start(i), n = this.size(i), m = <usize>text.byteLength;
    if (!this.escaped(i)) return n == m && memory.compare(p, changetype<usize>(text), m) == 0;
    if (n < m) return false;
    return equalsDecoded(p, n, changetype<usize>(text), m);
  }

  // Number entry i as a plain whole number (digits only, as the request rules read token counts:
  // 1.0, 1e3 and -0 are not), capped at MAX_INTEGER; NOT_INTEGER for anything else.
  integer(i: i32): i64 {
    if (this.kind(i) != Kind.Number) return NOT_INTEGER;
    let value: i64 = 0;
    for (let p = this.start(i), end = this.end(i); p < end; p++) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d >= 10) return NOT_INTEGER;
      if (value < MAX_INTEGER) value = min<i64>(value * 10 + <i64>d, MAX_INTEGER);
    }
    return value;
  }

  // Number entry i as a double (close enough to compare with limits such as 1.0), NaN otherwise.
  number(i: i32): f64 {
    if (this.kind(i) != Kind.Number) return NaN;
    let p = this.start(i);
    const end = this.end(i);
    let negative = false;
    if (load<u8>(p) == 0x2d) { negative = true; p++; }
    let value: f64 = 0;
    let scale: i32 = 0;
    let fraction = false;
    for (; p < end; p++) {
      const c = <u32>load<u8>(p);
      if (c == 0x2e) { fraction = true; continue; }
      if (c == 0x65 || c == 0x45) break;
      value = value * 10 + <f64>(c - 0x30);
      if (fraction) scale--;
    }
    if (p < end) {
      p++;
      let minus = false;
      if (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d) { minus = load<u8>(p) == 0x2d; p++; }
      let e: i32 = 0;
      for (; p < end; p++) if (e < 10000) e = e * 10 + <i32>(load<u8>(p) - 0x30);
      scale += minus ? -e : e;
    }
    const v = value * Math.pow(10, <f64>scale);
    return negative ? -v : v;
  }
}

// The JSON string body [p, p + n) (with escapes) decodes to exactly [text, text + m).
function equalsDecoded(p: usize, n: usize, text: usize, m: usize): bool {
  // Names compared this way are short: decode on the stack-like scratch below.
  if (n > SCRATCH_SIZE) return false;
  const length = decodeString(p, p + n, scratch);
  return length == m && memory.compare(scratch, text, m) == 0;
}

const SCRATCH_SIZE: usize = 256;
const scratch = heap.alloc(SCRATCH_SIZE);
