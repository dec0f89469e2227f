// Task and complexity detection from the spans the body scan recorded (request/features.ts):
// decode at most `maxBytes` of the last user message (the first and last half when it is longer)
// into the configuration's scratch buffer, count character classes, run the keyword automaton
// once over the text, then score. Nothing is allocated; no input can make it read outside the
// spans it was given or write outside the scratch buffer.
import {
  ASCII_CASE_BIT, BACKSLASH, BACKSLASH_U, BACKTICK, DIGIT_0, EXCLAMATION, LOWER_A, LOWER_B, LOWER_F, LOWER_N,
  LOWER_R, LOWER_T, LOWER_U, NEWLINE, QUOTE, SLASH, SPACE, UPPER_A, UPPER_Z,
} from "../bytes";
import { DetectionConfig } from "../config/detection_config";
import { BOUND_LEFT, BOUND_RIGHT, KeywordAutomaton, isWordByte } from "../config/keyword_automaton";
import {
  SIGNAL_CODE_SYNTAX, SIGNAL_COUNT, SIGNAL_QUANTITY, SIGNAL_TIER_COMPLEX, SIGNAL_TIER_REASONING, SIGNAL_TIER_SIMPLE,
  TASK_CODING, TASK_DEFAULT, TASK_MATH, TASK_REASONING, TASK_TRANSLATION, TIER_COMPLEX, TIER_MEDIUM,
  TIER_REASONING, TIER_SIMPLE,
} from "../config/tasks";
import { writeUtf8 } from "../json/utf8";
import { RequestFeatures } from "./features";

export class DetectedTask {
  task: i32 = TASK_DEFAULT;
  tier: i32 = TIER_MEDIUM;
}

// A task wins when its score reaches this (one decisive keyword, or two hints).
const TASK_THRESHOLD: f64 = 2;

// ---- per-request state (module scratch, reset by each detection) ---------------------------------

const scores = new StaticArray<f64>(SIGNAL_COUNT);
let stamp: u32 = 0;
let letters: i32 = 0;
let digits: i32 = 0;
let cjk: i32 = 0;
let codeMarks: i32 = 0;
let mathMarks: i32 = 0;
let questions: i32 = 0;
let newlines: i32 = 0;

// ---- decoding -----------------------------------------------------------------------------------

@inline function lowerAscii(c: u32): u32 { return c - UPPER_A < 26 ? c | ASCII_CASE_BIT : c; }

// The full-width ASCII forms U+FF01..U+FF5E ("！" … "～") stand for '!' … '~'; their UTF-8 lead byte.
const FULL_WIDTH_FIRST: u32 = 0xff01;
const FULL_WIDTH_COUNT: u32 = 0x5e;
const FULL_WIDTH_LEAD: u8 = 0xef;

// Hex digit values by byte, 255 for anything else.
const HEX = memory.data<u8>([
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 255, 255, 255, 255, 255,
  255, 10, 11, 12, 13, 14, 15, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 10, 11, 12, 13, 14, 15, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
]);

@inline function hexDigit(c: u32): i32 {
  const v = <i32>load<u8>(HEX + <usize>(c & 0xff));
  return v == 255 ? -1 : v;
}

// The 4 hex digits at p as a UTF-16 unit, or -1 (the caller checked that 4 bytes exist).
@inline function hex4(p: usize): i32 {
  const a = <i32>load<u8>(HEX + <usize>load<u8>(p)), b = <i32>load<u8>(HEX + <usize>load<u8>(p, 1));
  const c = <i32>load<u8>(HEX + <usize>load<u8>(p, 2)), d = <i32>load<u8>(HEX + <usize>load<u8>(p, 3));
  return (a | b | c | d) > 15 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
}

// Decodes "\uXXXX\uXXXX" at p (16 bytes readable) into the 6 UTF-8 bytes of two characters
// at dst (16 bytes writable) when both are 3-byte characters needing no folding (U+0800..U+FFFF
// without surrogates and full-width ASCII forms; Chinese text sent by Python's json.dumps).
// Returns false, writing nothing that matters, otherwise. All in SIMD: a scalar decoder spends
// about 6 ns per escape.
@inline function decodeEscapePair(p: usize, dst: usize): bool {
  // the eight hex digits, as nibbles
  const digits = i8x16.swizzle(v128.load(p), i8x16(2, 3, 4, 5, 8, 9, 10, 11, 2, 3, 4, 5, 8, 9, 10, 11));
  const lower = v128.or(digits, i8x16.splat(<i8>ASCII_CASE_BIT));
  const d = i8x16.sub(lower, i8x16.splat(<i8>DIGIT_0));
  const l = i8x16.sub(lower, i8x16.splat(<i8>LOWER_A));
  const isDigit = i8x16.lt_u(d, i8x16.splat(10));
  if (!i8x16.all_true(v128.or(isDigit, i8x16.lt_u(l, i8x16.splat(6))))) return false;
  const nibbles = v128.bitselect(d, i8x16.add(l, i8x16.splat(10)), isDigit);
  // u16 lane k = nibble 2k | nibble 2k+1 << 8 → the byte nibble 2k << 4 | nibble 2k+1 (lanes 0..3)
  const bytes = v128.or(i16x8.shl(v128.and(nibbles, i16x8.splat(0xff)), 4), i16x8.shr_u(nibbles, 8));
  // u16 lanes 0, 1 = the two units (high byte first in the text)
  const units = i8x16.swizzle(bytes, i8x16(2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4));
  const ok = v128.and(v128.and(
    i16x8.ge_u(units, i16x8.splat(0x800)),
    v128.or(i16x8.lt_u(units, i16x8.splat(<i16>0xd800)), i16x8.ge_u(units, i16x8.splat(<i16>0xe000)))),
    v128.or(i16x8.lt_u(units, i16x8.splat(<i16>FULL_WIDTH_FIRST)), i16x8.gt_u(units, i16x8.splat(<i16>(FULL_WIDTH_FIRST + FULL_WIDTH_COUNT - 1)))));
  if (!i16x8.all_true(ok)) return false;
  const lead = v128.or(i16x8.shr_u(units, 12), i16x8.splat(0xe0));
  const middle = v128.or(v128.and(i16x8.shr_u(units, 6), i16x8.splat(0x3f)), i16x8.splat(0x80));
  const last = v128.or(v128.and(units, i16x8.splat(0x3f)), i16x8.splat(0x80));
  // bytes: lead0 middle0 last0 lead1 middle1 last1
  const first = i8x16.shuffle(lead, middle, 0, 16, 0, 2, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  v128.store(dst, i8x16.shuffle(first, last, 0, 1, 16, 3, 4, 18, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  return true;
}

// Writes code point cp as the detector sees it: ASCII lowercased, full-width ASCII forms
// (U+FF01..U+FF5E, common in Chinese text) folded to ASCII, the rest as UTF-8. Returns bytes written.
function emit(dst: usize, cp: u32): usize {
  if (cp - FULL_WIDTH_FIRST < FULL_WIDTH_COUNT) cp = cp - FULL_WIDTH_FIRST + EXCLAMATION;
  if (cp < 0x80) { store<u8>(dst, <u8>lowerAscii(cp)); return 1; }
  return writeUtf8(dst, cp);
}

// Decodes raw JSON string content [src, srcEnd) (escapes included) into [dst, dstEnd), which
// must leave 16 bytes of room past the last byte written. Broken escapes are copied as text, an
// escape cut by srcEnd is dropped. Output never exceeds input. Returns the new dst.
function decodeRaw(src: usize, srcEnd: usize, dst: usize, dstEnd: usize): usize {
  while (src < srcEnd) {
    // Plain text 16 bytes at a time, stored lowercased, up to the first '\' or 0xEF lead byte
    // (the pointers advance by a constant, so iterations do not wait on each other).
    while (src + 16 <= srcEnd && dst + 16 <= dstEnd) {
      const v = v128.load(src);
      const special = v128.or(i8x16.eq(v, i8x16.splat(<i8>BACKSLASH)), i8x16.eq(v, i8x16.splat(<i8>FULL_WIDTH_LEAD)));
      const upper = v128.and(i8x16.ge_u(v, i8x16.splat(<i8>UPPER_A)), i8x16.le_u(v, i8x16.splat(<i8>UPPER_Z)));
      v128.store(dst, v128.or(v, v128.and(upper, i8x16.splat(<i8>ASCII_CASE_BIT))));
      if (v128.any_true(special)) {
        const run = <usize>ctz(i8x16.bitmask(special));
        src += run;
        dst += run;
        break;
      }
      src += 16;
      dst += 16;
    }
    // Runs of \uXXXX escapes of 3-byte characters (Chinese sent by Python's json.dumps): a loop
    // of its own, without the general token dispatch.
    while (src + 6 <= srcEnd && dst + 4 <= dstEnd && load<u16>(src) == BACKSLASH_U) {
      if (src + 16 <= srcEnd && dst + 16 <= dstEnd && load<u16>(src, 6) == BACKSLASH_U && decodeEscapePair(src, dst)) {
        src += 12;
        dst += 6;
        continue;
      }
      const unit = <u32>hex4(src + 2);
      if (unit - 0xd800 < 0x800 || unit > 0xffff) break; // surrogates and broken escapes: the general path
      dst += emit(dst, unit);
      src += 6;
    }
    if (src >= srcEnd) break;
    // One token at a time while escapes follow each other, or to the end when fewer than 16
    // bytes are left.
    do {
      if (dst + 4 > dstEnd) return dst;
      const step = decodeToken(src, srcEnd, dst);
      if (step == 0) return dst; // an escape cut by the end of the window
      src += step & 0xff;
      dst += step >> 8;
    } while (src < srcEnd && (src + 16 > srcEnd || load<u8>(src) == BACKSLASH || load<u8>(src) == FULL_WIDTH_LEAD));
  }
  return dst;
}

// Decodes the token (escape, full-width form or byte) at src into dst. Returns the bytes read
// plus 256 × the bytes written, or 0 when an escape does not fit before srcEnd.
@inline function decodeToken(src: usize, srcEnd: usize, dst: usize): u32 {
  const c = <u32>load<u8>(src);
  if (c == BACKSLASH) {
    if (src + 2 > srcEnd) return 0;
    const e = <u32>load<u8>(src, 1);
    if (e != LOWER_U) {
      // \n and \r break lines, \t \b \f separate words: the detector sees a newline or a space.
      const plain: u32 = e == LOWER_N || e == LOWER_R ? NEWLINE : e == LOWER_T || e == LOWER_B || e == LOWER_F ? SPACE : e;
      store<u8>(dst, <u8>lowerAscii(plain));
      return 2 | (1 << 8);
    }
    if (src + 6 > srcEnd) return 0;
    const unit = hex4(src + 2);
    if (unit < 0) { store<u8>(dst, BACKSLASH); return 1 | (1 << 8); } // a broken escape is text
    let cp = <u32>unit;
    let read: u32 = 6;
    if (cp - 0xd800 < 0x400 && src + 12 <= srcEnd && load<u8>(src, 6) == BACKSLASH && load<u8>(src, 7) == LOWER_U) {
      const low = hex4(src + 8);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (<u32>low - 0xdc00);
        read = 12;
      }
    }
    if (cp - 0xd800 < 0x800) cp = 0xfffd;
    return read | (<u32>emit(dst, cp) << 8);
  }
  if (c == FULL_WIDTH_LEAD && src + 3 <= srcEnd) {
    const b1 = <u32>load<u8>(src, 1), b2 = <u32>load<u8>(src, 2);
    if ((b1 == 0xbc || b1 == 0xbd) && (b2 & 0xc0) == 0x80) {
      return 3 | (<u32>emit(dst, 0xf000 | ((b1 & 0x3f) << 6) | (b2 & 0x3f)) << 8);
    }
  }
  store<u8>(dst, <u8>lowerAscii(c));
  return 1 | (1 << 8);
}

// A position at or after q (within [q, end)) where decoding can start: not inside an escape or a
// UTF-8 sequence. Text inside escapes is limited to \ " / b f n r t u and hex digits, so any other
// byte is plain text; a backslash starts an escape when an even number of backslashes precede it.
function safeStart(spanStart: usize, q: usize, end: usize): usize {
  while (q < end) {
    const c = <u32>load<u8>(q);
    if (c == BACKSLASH) {
      let run = 0;
      let r = q;
      while (r > spanStart && load<u8>(r - 1) == BACKSLASH && run < 64) { r--; run++; }
      return (run & 1) == 0 ? q : q + 1;
    }
    const hexOrEscape = hexDigit(c) >= 0 || c == QUOTE || c == SLASH || c == LOWER_N || c == LOWER_R || c == LOWER_T || c == LOWER_U;
    if (!hexOrEscape && (c & 0xc0) != 0x80) return q;
    q++;
  }
  return end;
}

// Decodes the examined window of the user text into d.scratch: the whole text when its raw size is
// at most maxBytes, else its first and last maxBytes/2 raw bytes. Spans are separated by a
// newline; the text starts at scratch offset 1 after a newline sentinel. Returns its length.
function decodeUserText(body: usize, f: RequestFeatures, d: DetectionConfig): i32 {
  const out = changetype<usize>(d.scratch);
  const outEnd = out + <usize>d.scratch.length - 2; // room for the closing sentinel
  store<u8>(out, NEWLINE);
  let dst = out + 1;
  const spans = f.userTextSpans;
  const count = min(f.userTextSpanCount, spans.length >> 1);
  let total: usize = 0;
  for (let i = 0; i < count; i++) total += <usize>(spans[2 * i + 1] - spans[2 * i]);
  const budget = <usize>d.maxBytes;
  if (total <= budget) {
    for (let i = 0; i < count; i++) {
      dst = decodeRaw(body + spans[2 * i], body + spans[2 * i + 1], dst, outEnd);
      if (dst < outEnd) { store<u8>(dst, NEWLINE); dst++; }
    }
  } else {
    const half = budget >> 1;
    // head: the first `half` raw bytes
    let left = half;
    for (let i = 0; i < count && left > 0; i++) {
      const s = body + spans[2 * i], e = body + spans[2 * i + 1];
      const take = min(left, e - s);
      dst = decodeRaw(s, s + take, dst, outEnd);
      left -= take;
      if (dst < outEnd) { store<u8>(dst, NEWLINE); dst++; }
    }
    // tail: the last `half` raw bytes, from a safe starting point
    let k = count - 1;
    let need = half;
    while (k > 0 && <usize>(spans[2 * k + 1] - spans[2 * k]) < need) {
      need -= <usize>(spans[2 * k + 1] - spans[2 * k]);
      k--;
    }
    for (let i = k; i < count; i++) {
      const s = body + spans[2 * i], e = body + spans[2 * i + 1];
      const from = i == k && e - s > need ? safeStart(s, e - need, e) : s;
      dst = decodeRaw(from, e, dst, outEnd);
      if (dst < outEnd) { store<u8>(dst, NEWLINE); dst++; }
    }
  }
  store<u8>(dst, NEWLINE);
  return <i32>(dst - out - 1);
}

// ---- character classes -------------------------------------------------------------------------
// One nibble lookup per byte (Langdale/Lemire style): class bits = LO[low nibble] & HI[high
// nibble]. Classes are disjoint: a-o, p-z, digits, CJK lead bytes (U+4000..U+9FFF), code marks
// ; < = > [ \ ] ^ { | } ~, math marks % * + /, '?', newline.
const LETTER_AO: u8 = 1, LETTER_PZ: u8 = 2, DIGIT: u8 = 4, CJK_LEAD: u8 = 8, CODE: u8 = 16, MATH: u8 = 32;
const QUESTION: u8 = 64, NEWLINE: u8 = 128;

@inline function classLow(): v128 {
  return i8x16(
    LETTER_PZ | DIGIT, LETTER_AO | LETTER_PZ | DIGIT, LETTER_AO | LETTER_PZ | DIGIT, LETTER_AO | LETTER_PZ | DIGIT,
    LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD, LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD | MATH,
    LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD, LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD,
    LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD, LETTER_AO | LETTER_PZ | DIGIT | CJK_LEAD,
    <i8>(LETTER_AO | LETTER_PZ | MATH | NEWLINE), LETTER_AO | CODE | MATH, LETTER_AO | CODE, LETTER_AO | CODE,
    LETTER_AO | CODE, LETTER_AO | MATH | QUESTION,
  );
}

@inline function classHigh(): v128 {
  return i8x16(
    <i8>NEWLINE, 0, MATH, DIGIT | CODE | QUESTION, 0, CODE, LETTER_AO, LETTER_PZ | CODE,
    0, 0, 0, 0, 0, 0, CJK_LEAD, 0,
  );
}

// Per-lane byte counters, flushed before they can overflow.
@inline function laneSum(acc: v128): i32 {
  const pairs = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(acc));
  return i32x4.extract_lane(pairs, 0) + i32x4.extract_lane(pairs, 1) + i32x4.extract_lane(pairs, 2) + i32x4.extract_lane(pairs, 3);
}

@inline function isIn(bits: v128, mask: u8): v128 {
  return i8x16.min_u(v128.and(bits, i8x16.splat(<i8>mask)), i8x16.splat(1));
}

function countClasses(text: usize, len: i32): void {
  letters = 0; digits = 0; cjk = 0; codeMarks = 0; mathMarks = 0; questions = 0; newlines = 0;
  v128.store(text + <usize>len, i8x16.splat(0)); // the last partial vector counts zeros past the end
  const low = classLow(), high = classHigh();
  let i = 0;
  while (i < len) {
    let aLetters = i8x16.splat(0), aDigits = i8x16.splat(0), aCjk = i8x16.splat(0), aCode = i8x16.splat(0);
    let aMath = i8x16.splat(0), aQuestions = i8x16.splat(0), aNewlines = i8x16.splat(0);
    const stop = min(len, i + 255 * 16);
    for (; i < stop; i += 16) {
      const v = v128.load(text + <usize>i);
      const bits = v128.and(
        i8x16.swizzle(low, v128.and(v, i8x16.splat(0x0f))),
        i8x16.swizzle(high, i8x16.shr_u(v, 4)));
      aLetters = i8x16.add(aLetters, isIn(bits, LETTER_AO | LETTER_PZ));
      aDigits = i8x16.add(aDigits, isIn(bits, DIGIT));
      aCjk = i8x16.add(aCjk, isIn(bits, CJK_LEAD));
      aCode = i8x16.add(aCode, isIn(bits, CODE));
      aMath = i8x16.add(aMath, isIn(bits, MATH));
      aQuestions = i8x16.add(aQuestions, isIn(bits, QUESTION));
      aNewlines = i8x16.add(aNewlines, isIn(bits, NEWLINE));
    }
    letters += laneSum(aLetters); digits += laneSum(aDigits); cjk += laneSum(aCjk); codeMarks += laneSum(aCode);
    mathMarks += laneSum(aMath); questions += laneSum(aQuestions); newlines += laneSum(aNewlines);
  }
}

// ---- keywords -----------------------------------------------------------------------------------

// Every keyword ending at text offset `at` in output state `state`: checks word boundaries,
// counts each keyword once per request. A state whose keywords have all counted is marked done,
// so a word repeated through the text costs one comparison per repetition.
function onMatch(a: KeywordAutomaton, text: usize, state: u32, at: i32): void {
  let complete = true;
  for (let s = <i32>state; s >= 0; s = unchecked(a.dictLink[s - <i32>a.firstOutput])) {
    for (let e = unchecked(a.stateEntry[s - <i32>a.firstOutput]); e >= 0; e = unchecked(a.entryNext[e])) {
      if (unchecked(a.seen[e]) == stamp) continue;
      const bounds = unchecked(a.entryBounds[e]);
      if (bounds != 0) {
        const start = at - <i32>unchecked(a.entryLength[e]) + 1;
        // offsets -1 and len are sentinels, so both loads stay inside the scratch
        if ((bounds & BOUND_LEFT) != 0 && isWordByte(load<u8>(text + <usize>(start - 1)))) { complete = false; continue; }
        if ((bounds & BOUND_RIGHT) != 0 && isWordByte(load<u8>(text + <usize>(at + 1)))) { complete = false; continue; }
      }
      unchecked(a.seen[e] = stamp);
      const signal = <i32>unchecked(a.entrySignal[e]);
      unchecked(scores[signal] += <f64>unchecked(a.entryWeight[e]));
    }
  }
  if (complete) unchecked(a.stateDone[<i32>state - <i32>a.firstOutput] = stamp);
}

// An output state worth looking at: not yet done in this request.
@inline function pending(done: usize, out: u32, state: u32): bool {
  return state >= out && load<u32>(done + (<usize>(state - out) << 2)) != stamp;
}

@inline function step(next: usize, width: u32, classes: usize, state: u32, c: u32): u32 {
  return <u32>load<u16>(next + (<usize>(state * width + <u32>load<u8>(classes + c)) << 1));
}

// Runs the automaton over text [from, to) from the start state, reporting matches that end at
// or after `reportFrom`.
function runStream(a: KeywordAutomaton, text: usize, from: i32, reportFrom: i32, to: i32): void {
  const next = changetype<usize>(a.next), width = a.classCount;
  const classes = changetype<usize>(a.classes), out = a.firstOutput, done = changetype<usize>(a.stateDone);
  let s: u32 = 0;
  for (let i = from; i < to; i++) {
    s = step(next, width, classes, s, load<u8>(text + <usize>i));
    if (pending(done, out, s) && i >= reportFrom) onMatch(a, text, s, i);
  }
}

// Four interleaved streams over four quarters of the text: one transition per byte is a chain of
// dependent loads, so independent chains let the CPU overlap them (about 2.5× faster). Each
// stream starts maxLength-1 bytes early so it is in the exact state where its quarter begins.
function runAutomaton(a: KeywordAutomaton, text: usize, len: i32): void {
  if (len < 256) { runStream(a, text, 0, 0, len); return; }
  const warm = a.maxLength - 1;
  const quarter = (len + 3) >> 2;
  const b1 = quarter, b2 = 2 * quarter, b3 = 3 * quarter;
  const next = changetype<usize>(a.next), width = a.classCount;
  const classes = changetype<usize>(a.classes), out = a.firstOutput, done = changetype<usize>(a.stateDone);
  let s0: u32 = 0, s1: u32 = 0, s2: u32 = 0, s3: u32 = 0;
  // warm-up of streams 1..3 (nothing to report: these bytes belong to the previous quarter)
  for (let i = max(0, b1 - warm); i < b1; i++) s1 = step(next, width, classes, s1, load<u8>(text + <usize>i));
  for (let i = max(0, b2 - warm); i < b2; i++) s2 = step(next, width, classes, s2, load<u8>(text + <usize>i));
  for (let i = max(0, b3 - warm); i < b3; i++) s3 = step(next, width, classes, s3, load<u8>(text + <usize>i));
  const last = len - b3; // the last quarter may be shorter
  for (let i = 0; i < last; i++) {
    s0 = step(next, width, classes, s0, load<u8>(text + <usize>i));
    s1 = step(next, width, classes, s1, load<u8>(text + <usize>(b1 + i)));
    s2 = step(next, width, classes, s2, load<u8>(text + <usize>(b2 + i)));
    s3 = step(next, width, classes, s3, load<u8>(text + <usize>(b3 + i)));
    if (max(max(s0, s1), max(s2, s3)) >= out) {
      if (pending(done, out, s0)) onMatch(a, text, s0, i);
      if (pending(done, out, s1)) onMatch(a, text, s1, b1 + i);
      if (pending(done, out, s2)) onMatch(a, text, s2, b2 + i);
      if (pending(done, out, s3)) onMatch(a, text, s3, b3 + i);
    }
  }
  for (let i = last; i < quarter; i++) {
    s0 = step(next, width, classes, s0, load<u8>(text + <usize>i));
    if (pending(done, out, s0)) onMatch(a, text, s0, i);
    s1 = step(next, width, classes, s1, load<u8>(text + <usize>(b1 + i)));
    if (pending(done, out, s1)) onMatch(a, text, s1, b1 + i);
    s2 = step(next, width, classes, s2, load<u8>(text + <usize>(b2 + i)));
    if (pending(done, out, s2)) onMatch(a, text, s2, b2 + i);
  }
}

// ---- code in the conversation before the last user message -------------------------------------

// A ``` fence in raw JSON [p, end).
function hasFence(p: usize, end: usize): bool {
  const tick = i8x16.splat(<i8>BACKTICK);
  while (p + 18 <= end) {
    let mask = i8x16.bitmask(i8x16.eq(v128.load(p), tick));
    while (mask != 0) {
      const at = p + <usize>ctz(mask);
      if (load<u8>(at, 1) == BACKTICK && load<u8>(at, 2) == BACKTICK) return true;
      mask &= mask - 1;
    }
    p += 16;
  }
  for (; p + 3 <= end; p++) if (load<u8>(p) == BACKTICK && load<u8>(p, 1) == BACKTICK && load<u8>(p, 2) == BACKTICK) return true;
  return false;
}

// The head and the tail (at most `cap` bytes each) of raw region [start, end).
function regionHasFence(body: usize, start: u32, end: u32, cap: usize): bool {
  if (end <= start) return false;
  const s = body + start, e = body + end;
  if (e - s <= 2 * cap) return hasFence(s, e);
  return hasFence(s, s + cap) || hasFence(e - cap, e);
}

function contextHasCode(body: usize, f: RequestFeatures, cap: usize): bool {
  return regionHasFence(body, f.contextStart, f.contextEnd, cap) || regionHasFence(body, f.systemStart, f.systemEnd, cap);
}

// ---- scoring ------------------------------------------------------------------------------------

@inline function score(signal: i32): f64 { return unchecked(scores[signal]); }
@inline function addScore(signal: i32, x: f64): void { unchecked(scores[signal] += x); }

// Structural rules of the text itself (each switched off with its task's built-in keywords).
function structuralSignals(d: DetectionConfig, len: i32, contextCode: bool): void {
  if (d.builtinOn(TASK_CODING)) {
    addScore(TASK_CODING, score(SIGNAL_CODE_SYNTAX));
    // code-shaped text: many of ; < = > [ ] { } | ~ ^
    // (unless it is LaTeX: math notation uses \ { } ^ _ as much as code does)
    const latex = score(TASK_MATH) >= 3 && score(TASK_MATH) > score(SIGNAL_CODE_SYNTAX);
    if (!latex && len >= 40 && codeMarks >= 6 && codeMarks * 100 >= len * 3) addScore(TASK_CODING, codeMarks * 100 >= len * 6 ? 3 : 2);
    if (contextCode) addScore(TASK_CODING, 2); // a follow-up in a conversation about code
  }
  if (d.builtinOn(TASK_MATH)) {
    // number-heavy questions: "3+2*4=?", "what is 17% of 2,340"
    if (digits >= 2 && mathMarks + codeMarks >= 1 && (digits + mathMarks) * 100 >= (len - cjk * 2) * 15) addScore(TASK_MATH, 2);
    else if (digits >= 6 && digits * 100 >= len * 10) addScore(TASK_MATH, 1);
    if (digits >= 2) addScore(TASK_MATH, min(score(SIGNAL_QUANTITY), 2.5));
  }
  if (d.builtinOn(TASK_REASONING)) {
    // an explicit request to reason step by step, with no other task, is a reasoning task
    addScore(TASK_REASONING, 0.5 * min(score(SIGNAL_TIER_REASONING), 3));
  }
  if (d.builtinOn(TASK_TRANSLATION)) {
    // mixed scripts: a Latin passage with a Chinese request, or the other way round
    if (letters >= 12 && cjk >= 4) addScore(TASK_TRANSLATION, 1);
  }
}

function pickTask(): i32 {
  let best = TASK_DEFAULT;
  let bestScore = TASK_THRESHOLD - 1e-9;
  for (let t = 0; t < TASK_DEFAULT; t++) {
    const s = score(t);
    if (s > bestScore) { best = t; bestScore = s; }
  }
  return best;
}

function pickTier(d: DetectionConfig, task: i32, length: f64, hasCode: bool): i32 {
  let c: f64 = length < 24 ? -2 : length < 80 ? -1 : length < 400 ? 0 : length < 2000 ? 1 : 2;
  if (hasCode) c += 1;
  c += min(score(SIGNAL_TIER_COMPLEX), 3);
  if (d.builtinOn(SIGNAL_TIER_COMPLEX)) {
    if (questions >= 3) c += 1;
    else if (questions == 2) c += 0.5;
    if (newlines >= 6) c += 0.5;
  }
  c -= min(score(SIGNAL_TIER_SIMPLE), 2);
  const reasoning = score(SIGNAL_TIER_REASONING);
  if (reasoning >= 2.5) return TIER_REASONING;
  if ((task == TASK_MATH || task == TASK_REASONING) && c + reasoning >= 2) return TIER_REASONING;
  if (c <= -1.5) return TIER_SIMPLE;
  if (c <= 1) return TIER_MEDIUM;
  return TIER_COMPLEX;
}

// Detects the task and complexity tier of the request whose body (scanned into f) is at `body`.
export function detectTask(body: usize, f: RequestFeatures, d: DetectionConfig, out: DetectedTask): void {
  for (let i = 0; i < SIGNAL_COUNT; i++) unchecked(scores[i] = 0);
  stamp++;
  if (stamp == 0) { // wrapped: forget every old stamp once
    const seen = d.automaton.seen, done = d.automaton.stateDone;
    for (let i = 0; i < seen.length; i++) unchecked(seen[i] = 0);
    for (let i = 0; i < done.length; i++) unchecked(done[i] = 0);
    stamp = 1;
  }
  out.task = TASK_DEFAULT;
  out.tier = TIER_MEDIUM;
  if (d.scratch.length == 0) return; // no automaton compiled: nothing routes by detection
  const text = changetype<usize>(d.scratch) + 1;
  const len = decodeUserText(body, f, d);
  countClasses(text, len);
  runAutomaton(d.automaton, text, len);
  let hasCode = score(SIGNAL_CODE_SYNTAX) >= 2 || (len >= 40 && codeMarks >= 6 && codeMarks * 100 >= len * 3);
  const contextCode = !hasCode && contextHasCode(body, f, <usize>d.maxBytes);
  structuralSignals(d, len, contextCode);
  out.task = pickTask();
  // Length in UTF-8 bytes (a Chinese character, 3 bytes, carries about as much as 3 Latin
  // letters), extrapolated from the examined window to the whole text.
  let raw: f64 = 0;
  for (let i = 0; i < f.userTextSpanCount; i++) raw += <f64>(f.userTextSpans[2 * i + 1] - f.userTextSpans[2 * i]);
  const examined = min(raw, <f64>d.maxBytes);
  const length = examined > 0 ? <f64>len * raw / examined : 0;
  out.tier = pickTier(d, out.task, length, hasCode || contextCode);
}

// The score of `signal` in the last detection (for the detection benchmark's diagnostics).
export function lastScore(signal: i32): f64 {
  return signal >= 0 && signal < SIGNAL_COUNT ? unchecked(scores[signal]) : 0;
}
