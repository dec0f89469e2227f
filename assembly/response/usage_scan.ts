// Token usage of a response, read from its body as the chunks pass by: the last value of each usage
// member in a JSON body or in any server-sent event, and the number of SSE `data:` events carrying
// a JSON object (the estimate when no usage comes). Nothing is buffered: the state between chunks is
// a few fields, so a key, a number or a `data:` prefix may be split anywhere.
//
// Members read (the last value of each wins; streams repeat or complete them in their last event):
//   output: `completion_tokens` (Chat Completions, Completions), `output_tokens` (Responses API,
//           Anthropic Messages);
//   input:  `prompt_tokens`, `input_tokens` (OpenAI's include cached tokens; Anthropic's do not);
//   cached: `cached_tokens` (OpenAI `prompt_tokens_details` / `input_tokens_details`),
//           `prompt_cache_hit_tokens` (DeepSeek), `cache_read_input_tokens` (Anthropic, on top of its
//           input_tokens, as is `cache_creation_input_tokens`).
//
// Only an unescaped `"` can start a member name, and a name is recognised only when a `:` follows
// it, so text inside string values (where every quote is escaped) never matches.
import {
  BACKSLASH, CARRIAGE_RETURN, COLON, DIGIT_0, DOT, LOWER_E, NEWLINE, OPEN_BRACE, QUOTE, SPACE, TAB, UPPER_E,
} from "../bytes";

const enum Field { Output, Input, Cached, CacheRead, CacheWrite }
// Member names and the field each one sets, by bit position in a candidate mask.
const NAMES: string[] = [
  "completion_tokens", "output_tokens", "prompt_tokens", "input_tokens", "cached_tokens",
  "prompt_cache_hit_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
];
const NAME_FIELDS: StaticArray<u8> = [
  <u8>Field.Output, <u8>Field.Output, <u8>Field.Input, <u8>Field.Input, <u8>Field.Cached,
  <u8>Field.Cached, <u8>Field.CacheRead, <u8>Field.CacheWrite,
];
// Candidate mask per first byte of a member name (ASCII), and each name's bytes, built once.
const FIRST_BYTE_CANDIDATES = new StaticArray<u32>(128);
const NAME_BYTES = new StaticArray<ArrayBuffer>(NAMES.length);
for (let i = 0; i < NAMES.length; i++) {
  FIRST_BYTE_CANDIDATES[NAMES[i].charCodeAt(0)] |= (<u32>1) << i;
  NAME_BYTES[i] = String.UTF8.encode(NAMES[i]);
}
// A quote with at least this many bytes after it in the chunk is read by the direct path
// (member): the longest name, its closing quote, a colon and a number with some blanks fit.
const DIRECT_WINDOW: usize = 64;
const DATA_PREFIX = "data:";
// Token counts above this are not token counts.
const MAX_TOKENS: i64 = 1_000_000_000_000;

const enum Stage { Scan, Name, Colon, Value, Number }

@inline function isBlank(c: u32): bool { return c == SPACE || c == TAB || c == CARRIAGE_RETURN || c == NEWLINE; }
@inline function isLineBreak(c: u32): bool { return c == NEWLINE || c == CARRIAGE_RETURN; }

@inline function skipSpaces(p: usize, limit: usize): usize {
  while (p < limit && (load<u8>(p) == SPACE || load<u8>(p) == TAB)) p++;
  return p;
}

// First position in [p, end) holding a quote or a newline (end when none).
@inline function nextQuoteOrNewline(p: usize, end: usize): usize {
  while (p + 16 <= end) {
    const v = v128.load(p);
    const mask = i8x16.bitmask(v128.or(i8x16.eq(v, i8x16.splat(<i8>QUOTE)), i8x16.eq(v, i8x16.splat(<i8>NEWLINE))));
    if (mask != 0) return p + <usize>ctz(mask);
    p += 16;
  }
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == QUOTE || c == NEWLINE) return p;
    p++;
  }
  return end;
}

export class UsageScanner {
  outputTokens: i64 = -1;      // the last count seen of each, -1 when none
  inputTokens: i64 = -1;       // as the provider reports it (see inputTotal)
  cachedTokens: i64 = -1;
  cacheReadTokens: i64 = -1;   // Anthropic: prompt tokens read from its cache, not in input_tokens
  cacheWriteTokens: i64 = -1;  // Anthropic: prompt tokens written to its cache, not in input_tokens
  events: i32 = 0;             // SSE data events whose payload is a JSON object
  private stage: Stage = Stage.Scan;
  private candidates: u32 = 0; // bit i: NAMES[i] still matches the member name being read
  private namePos: i32 = 0;
  private field: Field = Field.Output; // what the number being read counts
  private number: i64 = 0;
  private line: i32 = 0;       // bytes of "data:" matched at the start of this line; -1: not at a line start
  private payloadStart: bool = false; // after "data:", looking for the payload's first byte
  private previous: u32 = 0;   // the byte before the current one (is a quote escaped?)

  reset(): void {
    this.outputTokens = -1;
    this.inputTokens = -1;
    this.cachedTokens = -1;
    this.cacheReadTokens = -1;
    this.cacheWriteTokens = -1;
    this.events = 0;
    this.stage = Stage.Scan;
    this.namePos = 0;
    this.number = 0;
    this.line = 0;
    this.payloadStart = false;
    this.previous = 0;
  }

  // Scans one chunk [p, p + size). Between quotes it jumps 16 bytes at a time; a quote well inside
  // the chunk is read directly (member); near the chunk's end, and at line starts (SSE framing),
  // byte by byte through the state machine, which carries a name or number on to the next chunk.
  feed(p: usize, size: usize): void {
    const end = p + size;
    while (p < end) {
      if (this.stage == Stage.Scan && this.line < 0 && !this.payloadStart) {
        const q = nextQuoteOrNewline(p, end);
        if (q > p) this.previous = <u32>load<u8>(q - 1);
        p = q;
        if (p >= end) break;
        if (load<u8>(p) == QUOTE && this.previous != BACKSLASH && end - p >= DIRECT_WINDOW) {
          const next = this.member(p + 1);
          if (next != 0) {
            this.previous = <u32>load<u8>(next - 1);
            p = next;
            continue;
          }
        }
      }
      this.step(<u32>load<u8>(p));
      p++;
    }
  }

  // The quote before n opens a string: a wanted member name (then its colon and number are read
  // and the count kept), or anything else. Returns where scanning goes on, or 0 when the bytes run
  // into a line break or out of the window (the state machine takes over from the quote). Reads
  // at most DIRECT_WINDOW - 1 bytes from n.
  private member(n: usize): usize {
    const first = <u32>load<u8>(n);
    let mask = first < 128 ? unchecked(FIRST_BYTE_CANDIDATES[first]) : 0;
    let field = -1;
    let q = n;
    for (; mask != 0; mask &= mask - 1) {
      const i = <i32>ctz(mask);
      const length = <usize>unchecked(NAME_BYTES[i]).byteLength;
      if (load<u8>(n + length) == QUOTE && memory.compare(n, changetype<usize>(unchecked(NAME_BYTES[i])), length) == 0) {
        field = <i32>unchecked(NAME_FIELDS[i]);
        q = n + length + 1;
        break;
      }
    }
    if (field < 0) return n; // not a wanted name: the quote only opened a string
    const limit = n + DIRECT_WINDOW - 1;
    q = skipSpaces(q, limit);
    if (q >= limit || isLineBreak(load<u8>(q))) return 0;
    if (load<u8>(q) != COLON) return q;
    q = skipSpaces(q + 1, limit);
    if (q >= limit || isLineBreak(load<u8>(q))) return 0;
    let c = <u32>load<u8>(q);
    if (c - DIGIT_0 >= 10) return q;
    let number: i64 = 0;
    while (c - DIGIT_0 < 10) {
      if (number < MAX_TOKENS) number = number * 10 + <i64>(c - DIGIT_0);
      if (++q >= limit) return 0;
      c = <u32>load<u8>(q);
    }
    // A fraction or an exponent is not a token count.
    if (c != DOT && c != LOWER_E && c != UPPER_E) {
      this.field = <Field>field;
      this.number = number;
      this.commitNumber();
    }
    return q;
  }

  // The body ended: a number still being read is complete.
  finish(): void {
    if (this.stage == Stage.Number) this.commitNumber();
    this.stage = Stage.Scan;
  }

  private step(c: u32): void {
    this.lineStep(c);
    switch (this.stage) {
      case Stage.Name: if (this.nameStep(c)) break; this.scanStep(c); break;
      case Stage.Colon:
        if (c == COLON) this.stage = Stage.Value;
        else if (!isBlank(c)) { this.stage = Stage.Scan; this.scanStep(c); }
        break;
      case Stage.Value:
        if (c - DIGIT_0 < 10) { this.number = <i64>(c - DIGIT_0); this.stage = Stage.Number; }
        else if (!isBlank(c)) { this.stage = Stage.Scan; this.scanStep(c); }
        break;
      case Stage.Number:
        if (c - DIGIT_0 < 10) {
          if (this.number < MAX_TOKENS) this.number = this.number * 10 + <i64>(c - DIGIT_0);
          break;
        }
        // A fraction or an exponent is not a token count.
        if (c != DOT && c != LOWER_E && c != UPPER_E) this.commitNumber();
        this.stage = Stage.Scan;
        this.scanStep(c);
        break;
      default: this.scanStep(c);
    }
    this.previous = c;
  }

  private scanStep(c: u32): void {
    if (c == QUOTE && this.previous != BACKSLASH) {
      this.stage = Stage.Name;
      this.namePos = -1; // the next byte picks the candidate name
    }
  }

  // True while the bytes still spell a wanted name (or just closed it).
  private nameStep(c: u32): bool {
    const pos = this.namePos;
    if (pos < 0) {
      const mask = c < 128 ? unchecked(FIRST_BYTE_CANDIDATES[c]) : 0;
      if (mask == 0) { this.stage = Stage.Scan; return false; }
      this.candidates = mask;
      this.namePos = 1;
      return true;
    }
    let kept: u32 = 0;
    for (let mask = this.candidates; mask != 0; mask &= mask - 1) {
      const i = <i32>ctz(mask);
      if (unchecked(NAME_BYTES[i]).byteLength == pos) {
        if (c == QUOTE) { // the name is complete: a member if a colon follows
          this.field = <Field>unchecked(NAME_FIELDS[i]);
          this.stage = Stage.Colon;
          return true;
        }
      } else if (<u32>load<u8>(changetype<usize>(unchecked(NAME_BYTES[i])) + <usize>pos) == c) kept |= (<u32>1) << i;
    }
    if (kept == 0) { this.stage = Stage.Scan; return false; }
    this.candidates = kept;
    this.namePos = pos + 1;
    return true;
  }

  private commitNumber(): void {
    if (this.number > MAX_TOKENS) return;
    switch (this.field) {
      case Field.Output: this.outputTokens = this.number; break;
      case Field.Input: this.inputTokens = this.number; break;
      case Field.Cached: this.cachedTokens = this.number; break;
      case Field.CacheRead: this.cacheReadTokens = this.number; break;
      default: this.cacheWriteTokens = this.number;
    }
  }

  // Prompt tokens billed, cached ones included (-1 when the response reported none): Anthropic
  // counts cache reads and writes apart from its input_tokens, OpenAI-style APIs inside them.
  inputTotal(): i64 {
    if (this.inputTokens < 0) return -1;
    return this.inputTokens + max<i64>(this.cacheReadTokens, 0) + max<i64>(this.cacheWriteTokens, 0);
  }

  // Of inputTotal, the tokens served from the provider's cache (0 when it said nothing).
  cachedTotal(): i64 {
    if (this.cacheReadTokens >= 0) return this.cacheReadTokens;
    return max<i64>(this.cachedTokens, 0);
  }

  // SSE framing: a line starting with "data:" whose payload (after optional blanks) starts with '{'.
  private lineStep(c: u32): void {
    if (c == NEWLINE) {
      this.line = 0;
      this.payloadStart = false;
      return;
    }
    if (this.payloadStart) {
      if (c == SPACE || c == TAB) return;
      if (c == OPEN_BRACE) this.events++;
      this.payloadStart = false;
      return;
    }
    if (this.line < 0) return;
    if (c == <u32>DATA_PREFIX.charCodeAt(this.line)) {
      this.line++;
      if (this.line == DATA_PREFIX.length) {
        this.line = -1;
        this.payloadStart = true;
      }
      return;
    }
    this.line = -1;
  }
}
