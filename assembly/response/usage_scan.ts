// Output tokens of a response, read from its body as the chunks pass by: the last
// `"completion_tokens": N` (Chat Completions, Completions) or `"output_tokens": N` (Responses API,
// Anthropic Messages) in a JSON body or in any server-sent event, and the number of SSE `data:`
// events carrying a JSON object (the estimate when no usage comes). Nothing is buffered: the state
// between chunks is a few fields, so a key, a number or a `data:` prefix may be split anywhere.
//
// Only an unescaped `"` can start a member name, and a name is recognised only when a `:` follows
// it, so text inside string values (where every quote is escaped) never matches.

const QUOTE: u32 = 0x22;
const BACKSLASH: u32 = 0x5c;
const NEWLINE: u32 = 0x0a;
const COLON: u32 = 0x3a;
const OPEN_BRACE: u32 = 0x7b;

const COMPLETION_TOKENS = "completion_tokens";
const OUTPUT_TOKENS = "output_tokens";
const DATA_PREFIX = "data:";
// Token counts above this are not token counts.
const MAX_TOKENS: i64 = 1_000_000_000_000;

const enum Stage { Scan, Name, Colon, Value, Number }

@inline function isBlank(c: u32): bool { return c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a; }

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
  outputTokens: i64 = -1;      // the last usage count seen, -1 when none
  events: i32 = 0;             // SSE data events whose payload is a JSON object
  private stage: Stage = Stage.Scan;
  private name: string = "";   // the member name being matched (Stage.Name)
  private namePos: i32 = 0;
  private number: i64 = 0;
  private line: i32 = 0;       // bytes of "data:" matched at the start of this line; -1: not at a line start
  private payloadStart: bool = false; // after "data:", looking for the payload's first byte
  private previous: u32 = 0;   // the byte before the current one (is a quote escaped?)

  reset(): void {
    this.outputTokens = -1;
    this.events = 0;
    this.stage = Stage.Scan;
    this.namePos = 0;
    this.number = 0;
    this.line = 0;
    this.payloadStart = false;
    this.previous = 0;
  }

  // Scans one chunk [p, p + size).
  feed(p: usize, size: usize): void {
    const end = p + size;
    while (p < end) {
      if (this.stage == Stage.Scan && this.line < 0 && !this.payloadStart) {
        const q = nextQuoteOrNewline(p, end);
        if (q > p) this.previous = <u32>load<u8>(q - 1);
        p = q;
        if (p >= end) break;
      }
      this.step(<u32>load<u8>(p));
      p++;
    }
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
        if (c - 0x30 < 10) { this.number = <i64>(c - 0x30); this.stage = Stage.Number; }
        else if (!isBlank(c)) { this.stage = Stage.Scan; this.scanStep(c); }
        break;
      case Stage.Number:
        if (c - 0x30 < 10) {
          if (this.number < MAX_TOKENS) this.number = this.number * 10 + <i64>(c - 0x30);
          break;
        }
        // A fraction or an exponent is not a token count.
        if (c != 0x2e && c != 0x65 && c != 0x45) this.commitNumber();
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
    if (this.namePos < 0) {
      if (c == 0x63) this.name = COMPLETION_TOKENS;
      else if (c == 0x6f) this.name = OUTPUT_TOKENS;
      else { this.stage = Stage.Scan; return false; }
      this.namePos = 1;
      return true;
    }
    const name = this.name;
    if (this.namePos == name.length) {
      this.stage = c == QUOTE ? Stage.Colon : Stage.Scan;
      return c == QUOTE;
    }
    if (c == <u32>name.charCodeAt(this.namePos)) {
      this.namePos++;
      return true;
    }
    this.stage = Stage.Scan;
    return false;
  }

  private commitNumber(): void {
    if (this.number <= MAX_TOKENS) this.outputTokens = this.number;
  }

  // SSE framing: a line starting with "data:" whose payload (after optional blanks) starts with '{'.
  private lineStep(c: u32): void {
    if (c == NEWLINE) {
      this.line = 0;
      this.payloadStart = false;
      return;
    }
    if (this.payloadStart) {
      if (c == 0x20 || c == 0x09) return;
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
