// UTF-8 for the plugin's scanners: the one encoder of a code point (JSON escapes decoded by the
// lexer and by task detection), and validation 16 bytes at a time, for the text inside JSON strings (Keiser & Lemire,
// "Validating UTF-8 In Less Than One Instruction Per Byte", 2021: three nibble lookups classify
// every pair of adjacent bytes; a saturating subtraction finds where a third or fourth byte of a
// sequence must follow). CJK text is almost all multi-byte characters: checking them one by one ran
// at 0.6 GB/s; this keeps such bodies at several GB/s.

// Error classes of a (previous byte, byte) pair; a pair is invalid when all three lookups agree.
const TOO_SHORT: u8 = 1 << 0;      // a lead byte followed by a non-continuation
const TOO_LONG: u8 = 1 << 1;       // an ASCII byte followed by a continuation
const OVERLONG_3: u8 = 1 << 2;     // E0 followed by 80..9F
const TOO_LARGE: u8 = 1 << 3;      // above U+10FFFF
const SURROGATE: u8 = 1 << 4;      // ED followed by A0..BF
const OVERLONG_2: u8 = 1 << 5;     // C0 / C1
const TOO_LARGE_1000: u8 = 1 << 6; // F5..FF (and F4 90..) followed by 80..8F
const OVERLONG_4: u8 = 1 << 6;     // F0 followed by 80..8F
const TWO_CONTS: u8 = 1 << 7;      // two continuations: fine only as the 3rd/4th byte of a sequence
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

// By the high nibble of the previous byte.
const BYTE_1_HIGH = i8x16(
  TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
  TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
  TOO_SHORT | OVERLONG_2, TOO_SHORT, TOO_SHORT | OVERLONG_3 | SURROGATE,
  TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
);
// By the low nibble of the previous byte.
const BYTE_1_LOW = i8x16(
  CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
  CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
  CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
);
// By the high nibble of the byte itself.
const BYTE_2_HIGH = i8x16(
  TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
  TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
  TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
);

// Non-zero lanes where the pair (previous byte, byte) breaks UTF-8, or a third / fourth byte of a
// sequence is missing or misplaced. `prev` is the 16 bytes before `v`.
@inline function utf8Errors(prev: v128, v: v128): v128 {
  const low = i8x16.splat(0x0f);
  const prev1 = i8x16.shuffle(prev, v, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
  const special = v128.and(v128.and(
    i8x16.swizzle(BYTE_1_HIGH, i8x16.shr_u(prev1, 4)),
    i8x16.swizzle(BYTE_1_LOW, v128.and(prev1, low))),
    i8x16.swizzle(BYTE_2_HIGH, i8x16.shr_u(v, 4)));
  const prev2 = i8x16.shuffle(prev, v, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
  const prev3 = i8x16.shuffle(prev, v, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28);
  // 0x80 set where the byte two back is E0..FF or three back is F0..FF: this byte must continue.
  const third = i8x16.sub_sat_u(prev2, i8x16.splat(<i8>(0xe0 - 0x80)));
  const fourth = i8x16.sub_sat_u(prev3, i8x16.splat(<i8>(0xf0 - 0x80)));
  const mustContinue = v128.and(v128.or(third, fourth), i8x16.splat(<i8>0x80));
  return v128.xor(mustContinue, special);
}

// Lanes that end a run of string text: a quote, a backslash or a control byte.
@inline function specialBytes(v: v128): v128 {
  return v128.or(
    v128.or(i8x16.eq(v, i8x16.splat(0x22)), i8x16.eq(v, i8x16.splat(0x5c))),
    i8x16.lt_u(v, i8x16.splat(0x20)));
}

// Validates string text from p (a character boundary) in 16-byte blocks for as long as no quote,
// backslash or control byte comes. Returns where the validated run ends — a character boundary,
// at most a few bytes before the first unread block — or 0 when the text is not UTF-8. A result
// equal to p means no block could be read (the caller goes on byte by byte).
export function utf8Run(p: usize, end: usize): usize {
  let prev = i8x16.splat(0);
  let errors = i8x16.splat(0);
  const start = p;
  while (p + 16 <= end) {
    const v = v128.load(p);
    if (v128.any_true(specialBytes(v))) break;
    // Back to plain ASCII after complete characters (Latin text with the odd accent): the caller's
    // ASCII path is faster than the lookups.
    if (i8x16.bitmask(v) == 0 && p > start && load<u8>(p - 1) < 0xc0 && load<u8>(p - 2) < 0xe0 && load<u8>(p - 3) < 0xf0) break;
    errors = v128.or(errors, utf8Errors(prev, v));
    prev = v;
    p += 16;
  }
  if (v128.any_true(errors)) return 0;
  if (p == start) return start;
  // A character cut by the end of the last block was not checked yet: leave all of it to the caller.
  if (load<u8>(p - 1) >= 0xc0) return p - 1;
  if (load<u8>(p - 2) >= 0xe0) return p - 2;
  if (load<u8>(p - 3) >= 0xf0) return p - 3;
  return p;
}

// Writes code point `cp` (at most U+10FFFF, no surrogate) as UTF-8 at `out`; returns the bytes written.
@inline export function writeUtf8(out: usize, cp: u32): usize {
  if (cp < 0x80) { store<u8>(out, <u8>cp); return 1; }
  if (cp < 0x800) {
    store<u8>(out, <u8>(0xc0 | (cp >> 6)));
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 1);
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(out, <u8>(0xe0 | (cp >> 12)));
    store<u8>(out, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 2);
    return 3;
  }
  store<u8>(out, <u8>(0xf0 | (cp >> 18)));
  store<u8>(out, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
  store<u8>(out, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2);
  store<u8>(out, <u8>(0x80 | (cp & 0x3f)), 3);
  return 4;
}
