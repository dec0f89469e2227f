// A small JSON tree parser for the plugin configuration. Configuration arrives once per
// on_configure, so clarity beats speed here; what matters is that no input can make it trap:
// every malformed document yields null and a message with the byte offset.
import {
  CARRIAGE_RETURN, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, DIGIT_0, DIGIT_9, LOWER_F, LOWER_N, LOWER_T,
  MINUS, NEWLINE, OPEN_BRACE, OPEN_BRACKET, QUOTE, SPACE, TAB,
} from "../bytes";
import { scanNumber, scanString, decodeString, stringDecodedBytes, stringHasEscape } from "./lexer";

export const enum JsonKind { Null, Bool, Number, String, Array, Object }

// Scalars have no lists of their own and read these empty ones, so that a catalog with 200,000
// strings allocates 200,000 small objects and nothing more.
const NO_VALUES: JsonValue[] = [];
const NO_KEYS: string[] = [];

export class JsonValue {
  constructor(public kind: JsonKind) {}
  private ownItems: JsonValue[] | null = null;
  private ownKeys: string[] | null = null;
  private ownValues: JsonValue[] | null = null;
  bool: bool = false;
  num: f64 = 0;
  // A string is kept as its span in the parsed document and decoded only when read: a catalog's
  // route lists name thousands of models that are looked up by their bytes, never as strings.
  // The document must therefore outlive the tree (config/load.ts frees it after compiling).
  strStart: usize = 0;
  strEnd: usize = 0;
  strHasEscape: bool = false;

  // An array of strings only is kept as spans (start, end, escaped) until something asks for its
  // items: a catalog's routes list thousands of model names, read by their bytes (stringAt*).
  private spans: StaticArray<usize> | null = null;

  // Array elements.
  get items(): JsonValue[] {
    const own = this.ownItems;
    if (own !== null) return own;
    const spans = this.spans;
    if (spans === null) return NO_VALUES;
    const items = new Array<JsonValue>(spans.length / 3);
    for (let i = 0; i < items.length; i++) items[i] = stringValue(spans[3 * i], spans[3 * i + 1], spans[3 * i + 2] != 0);
    this.ownItems = items;
    return items;
  }

  get isStringList(): bool { return this.spans !== null; }
  get stringCount(): i32 { const spans = this.spans; return spans !== null ? spans.length / 3 : 0; }
  stringStartAt(i: i32): usize { return this.spans![3 * i]; }
  stringEndAt(i: i32): usize { return this.spans![3 * i + 1]; }
  stringHasEscapeAt(i: i32): bool { return this.spans![3 * i + 2] != 0; }
  // Object member names, in document order, and their values.
  get keys(): string[] { const own = this.ownKeys; return own !== null ? own : NO_KEYS; }
  get values(): JsonValue[] { const own = this.ownValues; return own !== null ? own : NO_VALUES; }

  static newArray(): JsonValue {
    const v = new JsonValue(JsonKind.Array);
    v.ownItems = [];
    return v;
  }

  static newStringList(spans: StaticArray<usize>): JsonValue {
    const v = new JsonValue(JsonKind.Array);
    v.spans = spans;
    return v;
  }

  static newObject(): JsonValue {
    const v = new JsonValue(JsonKind.Object);
    v.ownKeys = [];
    v.ownValues = [];
    return v;
  }

  get str(): string {
    if (!this.strHasEscape) return String.UTF8.decodeUnsafe(this.strStart, this.strEnd - this.strStart);
    const out = new ArrayBuffer(<i32>(this.strEnd - this.strStart)); // decoding never lengthens
    const n = decodeString(this.strStart, this.strEnd, changetype<usize>(out));
    return String.UTF8.decodeUnsafe(changetype<usize>(out), n);
  }

  get strIsEmpty(): bool { return this.strEnd == this.strStart; }

  // The member named `key` (the last one, as JSON.parse does), or null.
  get(key: string): JsonValue | null {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.values[i];
    return null;
  }
}

const MAX_CONFIG_DEPTH = 64;
export let parseError = "";

class Cursor {
  constructor(public p: usize, public end: usize, public start: usize) {}
  fail(what: string): JsonValue | null {
    if (parseError.length == 0) parseError = what + " at byte " + (this.p - this.start).toString();
    return null;
  }
  skipWhitespace(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c != SPACE && c != TAB && c != NEWLINE && c != CARRIAGE_RETURN) break;
      this.p++;
    }
  }
}

// Parses the UTF-8 JSON document at [ptr, ptr+len). On failure returns null and sets parseError.
export function parseJsonTree(ptr: usize, len: usize): JsonValue | null {
  parseError = "";
  const cur = new Cursor(ptr, ptr + len, ptr);
  cur.skipWhitespace();
  const value = parseValue(cur, 0);
  if (value === null) return null;
  cur.skipWhitespace();
  if (cur.p != cur.end) return cur.fail("unexpected data after the JSON value");
  return value;
}

function parseValue(cur: Cursor, depth: i32): JsonValue | null {
  if (cur.p >= cur.end) return cur.fail("unexpected end of JSON");
  const c = load<u8>(cur.p);
  if (c == OPEN_BRACE) return depth >= MAX_CONFIG_DEPTH ? cur.fail("nesting too deep") : parseObject(cur, depth + 1);
  if (c == OPEN_BRACKET) return depth >= MAX_CONFIG_DEPTH ? cur.fail("nesting too deep") : parseArray(cur, depth + 1);
  if (c == QUOTE) {
    const after = scanString(cur.p + 1, cur.end);
    if (after == 0) return cur.fail("invalid string");
    const v = stringValue(cur.p + 1, after - 1, stringHasEscape);
    cur.p = after;
    return v;
  }
  if (c == LOWER_T) return parseLiteral(cur, "true", JsonKind.Bool, true);
  if (c == LOWER_F) return parseLiteral(cur, "false", JsonKind.Bool, false);
  if (c == LOWER_N) return parseLiteral(cur, "null", JsonKind.Null, false);
  if (c == MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) return parseNumber(cur);
  return cur.fail("unexpected character");
}

function parseLiteral(cur: Cursor, word: string, kind: JsonKind, value: bool): JsonValue | null {
  const n = <usize>word.length;
  if (cur.p + n > cur.end) return cur.fail("invalid literal");
  for (let i: usize = 0; i < n; i++) {
    if (<u32>load<u8>(cur.p + i) != <u32>word.charCodeAt(<i32>i)) return cur.fail("invalid literal");
  }
  cur.p += n;
  const v = new JsonValue(kind);
  v.bool = value;
  return v;
}

function stringValue(start: usize, end: usize, escaped: bool): JsonValue {
  const v = new JsonValue(JsonKind.String);
  v.strStart = start;
  v.strEnd = end;
  v.strHasEscape = escaped;
  return v;
}

// Returns the decoded string whose opening quote is at cur.p, or null.
function parseStringValue(cur: Cursor): string | null {
  const bodyStart = cur.p + 1;
  const after = scanString(bodyStart, cur.end);
  if (after == 0) {
    cur.fail("invalid string");
    return null;
  }
  cur.p = after;
  if (!stringHasEscape) return String.UTF8.decodeUnsafe(bodyStart, after - 1 - bodyStart);
  const out = new ArrayBuffer(<i32>stringDecodedBytes);
  decodeString(bodyStart, after - 1, changetype<usize>(out));
  return String.UTF8.decode(out);
}

function parseNumber(cur: Cursor): JsonValue | null {
  const after = scanNumber(cur.p, cur.end);
  if (after == 0) return cur.fail("invalid number");
  const v = new JsonValue(JsonKind.Number);
  v.num = parseFloat(String.UTF8.decodeUnsafe(cur.p, after - cur.p));
  cur.p = after;
  return v;
}

const spanScratch = new Array<usize>();

function parseArray(cur: Cursor, depth: i32): JsonValue | null {
  cur.p++;
  cur.skipWhitespace();
  if (cur.p < cur.end && load<u8>(cur.p) == QUOTE) {
    const list = parseStringList(cur);
    if (list !== null || parseError.length > 0) return list;
  }
  const v = JsonValue.newArray();
  if (cur.p < cur.end && load<u8>(cur.p) == CLOSE_BRACKET) { cur.p++; return v; }
  return parseItems(cur, depth, v);
}

function parseItems(cur: Cursor, depth: i32, v: JsonValue): JsonValue | null {
  while (true) {
    cur.skipWhitespace();
    const item = parseValue(cur, depth);
    if (item === null) return null;
    v.items.push(item);
    cur.skipWhitespace();
    if (cur.p >= cur.end) return cur.fail("unterminated array");
    const c = load<u8>(cur.p++);
    if (c == CLOSE_BRACKET) return v;
    if (c != COMMA) { cur.p--; return cur.fail("expected ',' or ']'"); }
  }
}

// An array that starts with a string: read strings as spans for as long as they come. Returns null
// with cur back at the first item when a non-string item shows up (the caller parses it generally).
function parseStringList(cur: Cursor): JsonValue | null {
  const first = cur.p;
  spanScratch.length = 0;
  while (true) {
    if (cur.p >= cur.end || load<u8>(cur.p) != QUOTE) { cur.p = first; return null; }
    const after = scanString(cur.p + 1, cur.end);
    if (after == 0) return cur.fail("invalid string");
    spanScratch.push(cur.p + 1);
    spanScratch.push(after - 1);
    spanScratch.push(stringHasEscape ? 1 : 0);
    cur.p = after;
    cur.skipWhitespace();
    if (cur.p >= cur.end) return cur.fail("unterminated array");
    const c = load<u8>(cur.p++);
    if (c == CLOSE_BRACKET) return JsonValue.newStringList(StaticArray.fromArray<usize>(spanScratch));
    if (c != COMMA) { cur.p--; return cur.fail("expected ',' or ']'"); }
    cur.skipWhitespace();
  }
}

function parseObject(cur: Cursor, depth: i32): JsonValue | null {
  const v = JsonValue.newObject();
  cur.p++;
  cur.skipWhitespace();
  if (cur.p < cur.end && load<u8>(cur.p) == CLOSE_BRACE) { cur.p++; return v; }
  while (true) {
    cur.skipWhitespace();
    if (cur.p >= cur.end || load<u8>(cur.p) != QUOTE) return cur.fail("expected a member name");
    const key = parseStringValue(cur);
    if (key === null) return null;
    cur.skipWhitespace();
    if (cur.p >= cur.end || load<u8>(cur.p) != COLON) return cur.fail("expected ':'");
    cur.p++;
    cur.skipWhitespace();
    const value = parseValue(cur, depth);
    if (value === null) return null;
    v.keys.push(key);
    v.values.push(value);
    cur.skipWhitespace();
    if (cur.p >= cur.end) return cur.fail("unterminated object");
    const c = load<u8>(cur.p++);
    if (c == CLOSE_BRACE) return v;
    if (c != COMMA) { cur.p--; return cur.fail("expected ',' or '}'"); }
  }
}
