// JSON lexing over raw UTF-8 bytes: escape-aware strings and the number grammar. The same
// routines serve the body scanner (hot path: they never allocate) and the configuration parser.
import { ASCII_CASE_BIT, BACKSLASH_U, BACKSLASH, BACKSPACE, CARRIAGE_RETURN, DIGIT_0, DOT, FIRST_NON_ASCII, FORM_FEED, LOWER_A, LOWER_B, LOWER_E, LOWER_F, LOWER_N, LOWER_R, LOWER_T, LOWER_U, MINUS, NEWLINE, PLUS, QUOTE, SPACE, TAB } from "../bytes";
import { utf8Run, writeUtf8 } from "./utf8";

// Set by scanString for the string just scanned.
export let stringHasEscape = false;
// UTF-8 byte length of the string's decoded value (what JSON.parse + TextEncoder would give).
export let stringDecodedBytes: usize = 0;

// Lane i all ones when byte i of the 16 at p needs attention: a quote, a backslash, a control
// byte or a non-ASCII byte (the signed compare < 0x20 catches both 0x00-0x1f and 0x80-0xff).
@inline function attention(p: usize): v128 {
  const v = v128.load(p);
  return v128.or(
    v128.or(i8x16.eq(v, i8x16.splat(<i8>QUOTE)), i8x16.eq(v, i8x16.splat(<i8>BACKSLASH))),
    i8x16.lt_s(v, i8x16.splat(<i8>SPACE)));
}

@inline function hexValue(c: u32): i32 {
  if (c - DIGIT_0 < 10) return <i32>(c - DIGIT_0);
  const lower = c | ASCII_CASE_BIT;
  if (lower - LOWER_A < 6) return <i32>(lower - LOWER_A + 10);
  return -1;
}

// Reads the 4 hex digits at p; -1 when they are not hex digits (the caller checked 4 bytes exist).
@inline function readHex4(p: usize): i32 {
  const a = hexValue(load<u8>(p)), b = hexValue(load<u8>(p, 1));
  const c = hexValue(load<u8>(p, 2)), d = hexValue(load<u8>(p, 3));
  if ((a | b | c | d) < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

// Length of the well-formed UTF-8 sequence starting at p (lead byte >= 0x80), or 0 when it is not
// well formed (RFC 3629: no overlongs, no encoded surrogates, nothing above U+10FFFF).
export function utf8SequenceLength(p: usize, end: usize): usize {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) {
    if (p + 2 > end) return 0;
    return (<u32>load<u8>(p, 1) & 0xc0) == 0x80 ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (p + 3 > end) return 0;
    const b1 = <u32>load<u8>(p, 1), b2 = <u32>load<u8>(p, 2);
    if ((b1 & 0xc0) != 0x80 || (b2 & 0xc0) != 0x80) return 0;
    if (b0 == 0xe0 && b1 < 0xa0) return 0;
    if (b0 == 0xed && b1 >= 0xa0) return 0;
    return 3;
  }
  if (b0 < 0xf5) {
    if (p + 4 > end) return 0;
    const b1 = <u32>load<u8>(p, 1), b2 = <u32>load<u8>(p, 2), b3 = <u32>load<u8>(p, 3);
    if ((b1 & 0xc0) != 0x80 || (b2 & 0xc0) != 0x80 || (b3 & 0xc0) != 0x80) return 0;
    if (b0 == 0xf0 && b1 < 0x90) return 0;
    if (b0 == 0xf4 && b1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

@inline function utf8LengthOfUnit(unit: i32): usize {
  // A lone surrogate becomes U+FFFD (3 bytes) when the decoded string is encoded again.
  return unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
}

let escapesDecodedBytes: usize = 0;

// Reads a run of \uXXXX escapes starting at p (which holds one), as Python's json.dumps writes every
// non-ASCII character by default: one after another without going back to the block scan. Returns
// the position after the run (UTF-8 bytes they decode to in escapesDecodedBytes), or 0 when an
// escape is malformed.
function scanUnicodeEscapes(p: usize, end: usize): usize {
  let decoded: usize = 0;
  do {
    if (p + 6 > end) return 0;
    const unit = readHex4(p + 2);
    if (unit < 0) return 0;
    p += 6;
    if (unit >= 0xd800 && unit < 0xdc00 && p + 6 <= end && load<u16>(p) == BACKSLASH_U) {
      const low = readHex4(p + 2);
      if (low >= 0xdc00 && low < 0xe000) {
        p += 6;
        decoded += 4;
        continue;
      }
    }
    decoded += utf8LengthOfUnit(unit);
  } while (p + 2 <= end && load<u16>(p) == BACKSLASH_U);
  escapesDecodedBytes = decoded;
  return p;
}

// Bit i set when byte i of the 64 at p needs attention (see `attention`).
@inline function attentionMask(p: usize): u64 {
  return <u64>i8x16.bitmask(attention(p)) | (<u64>i8x16.bitmask(attention(p + 16)) << 16) |
    (<u64>i8x16.bitmask(attention(p + 32)) << 32) | (<u64>i8x16.bitmask(attention(p + 48)) << 48);
}

// One-byte escapes by the byte after the backslash: 1 for " \ / b f n r t.
const SIMPLE_ESCAPE = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
  0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

// The next byte at or after p that needs attention, or `end`. Text is read 64 bytes at a time; the
// mask of the last block read is kept (blockAt, blockMask), so the events of one block — a text's
// escapes, accents, quotes — cost a bit search each, not another read of the block.
let blockAt: usize = 0;
let blockMask: u64 = 0;
// No block kept: with blockAt = end, every position before end is "not in the block" (the
// unsigned offset wraps) and end itself finds nothing.
@inline function forgetBlock(end: usize): void {
  blockAt = end;
  blockMask = 0;
}

@inline function nextAttention(p: usize, end: usize): usize {
  const offset = p - blockAt;
  if (offset < 64) {
    const rest = blockMask & (<u64>-1 << <u64>offset);
    if (rest != 0) return blockAt + <usize>ctz(rest);
    p = blockAt + 64;
  }
  // Most member names and short values end within 16 bytes: no block for them.
  if (p + 16 <= end) {
    const near = i8x16.bitmask(attention(p));
    if (near != 0) return p + <usize>ctz(near);
  }
  while (p + 64 <= end) {
    if (v128.any_true(v128.or(v128.or(attention(p), attention(p + 16)), v128.or(attention(p + 32), attention(p + 48))))) {
      blockAt = p;
      blockMask = attentionMask(p);
      return p + <usize>ctz(blockMask);
    }
    p += 64;
  }
  // The last bytes of the text: no block to keep.
  forgetBlock(end);
  while (p < end) {
    const c = <u32>load<u8>(p);
    // a quote, a backslash, or (one unsigned compare) a control or non-ASCII byte
    if (c == QUOTE || c == BACKSLASH || c - SPACE >= <u32>(FIRST_NON_ASCII - SPACE)) return p;
    p++;
  }
  return end;
}

// Scans the JSON string whose opening quote is at p - 1. Returns the position after the closing
// quote, or 0 when the string is malformed or unterminated. Sets stringHasEscape and
// stringDecodedBytes.
export function scanString(p: usize, end: usize): usize {
  const start = p;
  let saved: usize = 0; // bytes the escapes lose when decoded
  forgetBlock(end);     // a mask kept from another text means nothing here
  while (true) {
    p = nextAttention(p, end);
    if (p >= end) return 0;
    const c = <u32>load<u8>(p);
    if (c == QUOTE) {
      stringHasEscape = saved != 0;
      stringDecodedBytes = p - start - saved;
      return p + 1;
    }
    if (c == BACKSLASH) {
      if (p + 1 >= end) return 0;
      const e = <u32>load<u8>(p, 1);
      if (e == LOWER_U) {
        const after = scanUnicodeEscapes(p, end);
        if (after == 0) return 0;
        saved += after - p - escapesDecodedBytes;
        p = after;
        continue;
      }
      if (e >= FIRST_NON_ASCII || load<u8>(SIMPLE_ESCAPE + <usize>e) == 0) return 0;
      p += 2;
      saved += 1;
      continue;
    }
    if (c < SPACE) return 0;
    // Non-ASCII text (CJK is little else): validate it a block at a time, UTF-8 in, UTF-8 out.
    const run = utf8Run(p, end);
    if (run == 0) return 0;
    if (run > p) {
      p = run;
      continue;
    }
    const n = utf8SequenceLength(p, end);
    if (n == 0) return 0;
    p += n;
  }
  return 0;
}

// Decodes the body of a string that scanString accepted (between the quotes, [p, end)) into out,
// which has room for at least stringDecodedBytes. Returns the number of bytes written.
export function decodeString(p: usize, end: usize, out: usize): usize {
  const start = out;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c != BACKSLASH) {
      store<u8>(out, <u8>c);
      p++;
      out++;
      continue;
    }
    const e = <u32>load<u8>(p, 1);
    if (e != LOWER_U) {
      store<u8>(out, <u8>(e == LOWER_B ? BACKSPACE : e == LOWER_F ? FORM_FEED : e == LOWER_N ? NEWLINE : e == LOWER_R ? CARRIAGE_RETURN : e == LOWER_T ? TAB : e));
      p += 2;
      out++;
      continue;
    }
    let cp = <u32>readHex4(p + 2);
    p += 6;
    if (cp >= 0xd800 && cp < 0xdc00 && p + 6 <= end && load<u8>(p) == BACKSLASH && load<u8>(p, 1) == LOWER_U) {
      const low = <u32>readHex4(p + 2);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        p += 6;
      }
    }
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
    out += writeUtf8(out, cp);
  }
  return out - start;
}

@inline function isDigit(c: u32): bool { return c - DIGIT_0 < 10; }

// Validates the JSON number starting at p (p < end); returns the position after it, or 0.
export function scanNumber(p: usize, end: usize): usize {
  if (load<u8>(p) == MINUS) p++;
  if (p >= end || !isDigit(load<u8>(p))) return 0;
  if (load<u8>(p) == DIGIT_0) p++;
  else while (p < end && isDigit(load<u8>(p))) p++;
  if (p < end && load<u8>(p) == DOT) {
    p++;
    if (p >= end || !isDigit(load<u8>(p))) return 0;
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  if (p < end && (load<u8>(p) | ASCII_CASE_BIT) == LOWER_E) {
    p++;
    if (p < end && (load<u8>(p) == PLUS || load<u8>(p) == MINUS)) p++;
    if (p >= end || !isDigit(load<u8>(p))) return 0;
    while (p < end && isDigit(load<u8>(p))) p++;
  }
  return p;
}
