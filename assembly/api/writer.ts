// The byte buffer a translation writes its output into: a raw heap block that grows by doubling and
// is kept across requests (reset() forgets the bytes, not the block), so a warm translator writes a
// body without allocating. JSON fragments are static byte constants (utf8() at module start), text
// taken from the input is copied with its escapes as they were, and the few values the translators
// compute (numbers, escaped raw JSON) are written in place.
import { decodeString, utf8SequenceLength } from "../json/lexer";

export const QUOTE: u32 = 0x22;
export const BACKSLASH: u32 = 0x5c;
export const COMMA: u32 = 0x2c;
export const COLON: u32 = 0x3a;
export const OPEN_BRACE: u32 = 0x7b;
export const CLOSE_BRACE: u32 = 0x7d;
export const OPEN_BRACKET: u32 = 0x5b;
export const CLOSE_BRACKET: u32 = 0x5d;
export const NEWLINE: u32 = 0x0a;
export const CARRIAGE_RETURN: u32 = 0x0d;
export const SPACE: u32 = 0x20;
export const TAB: u32 = 0x09;

// A static fragment's bytes (call at module start only: it allocates).
export function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s); }

const REPLACEMENT_CHARACTER = utf8("\uFFFD");
const FIRST_CAPACITY: usize = 4096;
// A block grown past this by one large body is given back at the next reset: one 1 MB request must
// not keep a megabyte per pooled translator for the VM's life.
const KEEP_CAPACITY: usize = 256 * 1024;

const HEX_DIGITS = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

// Lanes holding a byte a JSON string cannot carry as is: a quote, a backslash or a control byte.
@inline function needsEscape(v: v128): v128 {
  return v128.or(
    v128.or(i8x16.eq(v, i8x16.splat(<i8>QUOTE)), i8x16.eq(v, i8x16.splat(<i8>BACKSLASH))),
    i8x16.lt_u(v, i8x16.splat(0x20)));
}

export class ByteWriter {
  data: usize = 0;
  capacity: usize = 0;
  length: usize = 0;

  reset(): void {
    this.length = 0;
    if (this.capacity > KEEP_CAPACITY) {
      heap.free(this.data);
      this.data = 0;
      this.capacity = 0;
    }
  }

  // Room for n more bytes; returns where they go.
  @inline reserve(n: usize): usize {
    if (this.length + n > this.capacity) this.grow(n);
    return this.data + this.length;
  }

  private grow(n: usize): void {
    let capacity = this.capacity == 0 ? FIRST_CAPACITY : this.capacity << 1;
    while (capacity < this.length + n) capacity <<= 1;
    this.data = this.data == 0 ? heap.alloc(capacity) : heap.realloc(this.data, capacity);
    this.capacity = capacity;
  }

  @inline byte(c: u32): void {
    const at = this.reserve(1);
    store<u8>(at, <u8>c);
    this.length++;
  }

  @inline bytes(p: usize, n: usize): void {
    const at = this.reserve(n);
    memory.copy(at, p, n);
    this.length += n;
  }

  @inline text(fragment: ArrayBuffer): void {
    this.bytes(changetype<usize>(fragment), <usize>fragment.byteLength);
  }

  // A JSON string: the quotes around bytes that are a JSON string's body already (escapes kept).
  @inline quoted(p: usize, n: usize): void {
    const at = this.reserve(n + 2);
    store<u8>(at, <u8>QUOTE);
    memory.copy(at + 1, p, n);
    store<u8>(at + 1 + n, <u8>QUOTE);
    this.length += n + 2;
  }

  uint(value: u64): void {
    const at = this.reserve(20);
    let digits: usize = 1;
    for (let v = value / 10; v != 0; v /= 10) digits++;
    let p = at + digits;
    do {
      p--;
      store<u8>(p, <u8>(0x30 + value % 10));
      value /= 10;
    } while (value != 0);
    this.length += digits;
  }

  // Raw bytes (UTF-8 from a validated document, or any bytes of a provider's error page) as the
  // body of a JSON string: quotes, backslashes and control bytes escaped, everything else verbatim.
  escaped(p: usize, n: usize): void {
    const end = p + n;
    while (p < end) {
      let run = p;
      while (run + 16 <= end) {
        const mask = i8x16.bitmask(needsEscape(v128.load(run)));
        if (mask != 0) { run += <usize>ctz(mask); break; }
        run += 16;
      }
      if (run + 16 > end) while (run < end && !mustEscape(<u32>load<u8>(run))) run++;
      if (run > p) this.bytes(p, run - p);
      if (run >= end) return;
      this.escapeByte(<u32>load<u8>(run));
      p = run + 1;
    }
  }

  private escapeByte(c: u32): void {
    if (c == QUOTE || c == BACKSLASH) {
      const at = this.reserve(2);
      store<u8>(at, <u8>BACKSLASH);
      store<u8>(at, <u8>c, 1);
      this.length += 2;
      return;
    }
    const short = c == NEWLINE ? 0x6e : c == CARRIAGE_RETURN ? 0x72 : c == TAB ? 0x74 : 0;
    if (short != 0) {
      const at = this.reserve(2);
      store<u8>(at, <u8>BACKSLASH);
      store<u8>(at, <u8>short, 1);
      this.length += 2;
      return;
    }
    const at = this.reserve(6);
    store<u32>(at, 0x3030755c); // \u00
    store<u8>(at, load<u8>(HEX_DIGITS + (c >> 4)), 4);
    store<u8>(at, load<u8>(HEX_DIGITS + (c & 15)), 5);
    this.length += 6;
  }

  // Bytes from outside any JSON document (a provider's error page) as a JSON string body: escaped,
  // and what is not UTF-8 replaced by U+FFFD, so the result is always valid JSON text.
  escapedText(p: usize, n: usize): void {
    const end = p + n;
    let run = p;
    while (run < end) {
      const c = <u32>load<u8>(run);
      if (c < 0x80) { run++; continue; }
      const length = utf8SequenceLength(run, end);
      if (length != 0) { run += length; continue; }
      this.escaped(p, run - p);
      this.text(REPLACEMENT_CHARACTER);
      p = ++run;
    }
    this.escaped(p, end - p);
  }

  // A managed string's text escaped as a JSON string body (error messages only: it allocates).
  escapedString(s: string): void {
    const b = String.UTF8.encode(s);
    this.escaped(changetype<usize>(b), <usize>b.byteLength);
  }

  // The decoded value of a JSON string body [p, p + n) that the lexer accepted (escapes resolved).
  decoded(p: usize, n: usize): void {
    const at = this.reserve(n); // decoding never lengthens
    this.length += decodeString(p, p + n, at);
  }

  // Drops the bytes written from `mark` on (a fragment that turned out not to be needed).
  @inline truncate(mark: usize): void { this.length = mark; }
}

@inline function mustEscape(c: u32): bool { return c == QUOTE || c == BACKSLASH || c < 0x20; }
