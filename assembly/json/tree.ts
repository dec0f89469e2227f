// A small JSON tree parser for the plugin configuration. Configuration arrives once per
// on_configure, so clarity beats speed here; what matters is that no input can make it trap:
// every malformed document yields null and a message with the byte offset.
import { scanNumber, scanString, decodeString, stringDecodedBytes } from "./lexer";

export const enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  constructor(public kind: JsonKind) {}
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JsonValue[] = [];      // array elements
  keys: string[] = [];          // object member names, in document order
  values: JsonValue[] = [];     // object member values, parallel to keys

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
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
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
  if (c == 0x7b) return depth >= MAX_CONFIG_DEPTH ? cur.fail("nesting too deep") : parseObject(cur, depth + 1);
  if (c == 0x5b) return depth >= MAX_CONFIG_DEPTH ? cur.fail("nesting too deep") : parseArray(cur, depth + 1);
  if (c == 0x22) {
    const s = parseStringValue(cur);
    if (s === null) return null;
    const v = new JsonValue(JsonKind.String);
    v.str = s;
    return v;
  }
  if (c == 0x74) return parseLiteral(cur, "true", JsonKind.Bool, true);
  if (c == 0x66) return parseLiteral(cur, "false", JsonKind.Bool, false);
  if (c == 0x6e) return parseLiteral(cur, "null", JsonKind.Null, false);
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return parseNumber(cur);
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

// Returns the decoded string whose opening quote is at cur.p, or null.
function parseStringValue(cur: Cursor): string | null {
  const bodyStart = cur.p + 1;
  const after = scanString(bodyStart, cur.end);
  if (after == 0) {
    cur.fail("invalid string");
    return null;
  }
  const out = new ArrayBuffer(<i32>stringDecodedBytes);
  decodeString(bodyStart, after - 1, changetype<usize>(out));
  cur.p = after;
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

function parseArray(cur: Cursor, depth: i32): JsonValue | null {
  const v = new JsonValue(JsonKind.Array);
  cur.p++;
  cur.skipWhitespace();
  if (cur.p < cur.end && load<u8>(cur.p) == 0x5d) { cur.p++; return v; }
  while (true) {
    cur.skipWhitespace();
    const item = parseValue(cur, depth);
    if (item === null) return null;
    v.items.push(item);
    cur.skipWhitespace();
    if (cur.p >= cur.end) return cur.fail("unterminated array");
    const c = load<u8>(cur.p++);
    if (c == 0x5d) return v;
    if (c != 0x2c) { cur.p--; return cur.fail("expected ',' or ']'"); }
  }
}

function parseObject(cur: Cursor, depth: i32): JsonValue | null {
  const v = new JsonValue(JsonKind.Object);
  cur.p++;
  cur.skipWhitespace();
  if (cur.p < cur.end && load<u8>(cur.p) == 0x7d) { cur.p++; return v; }
  while (true) {
    cur.skipWhitespace();
    if (cur.p >= cur.end || load<u8>(cur.p) != 0x22) return cur.fail("expected a member name");
    const key = parseStringValue(cur);
    if (key === null) return null;
    cur.skipWhitespace();
    if (cur.p >= cur.end || load<u8>(cur.p) != 0x3a) return cur.fail("expected ':'");
    cur.p++;
    cur.skipWhitespace();
    const value = parseValue(cur, depth);
    if (value === null) return null;
    v.keys.push(key);
    v.values.push(value);
    cur.skipWhitespace();
    if (cur.p >= cur.end) return cur.fail("unterminated object");
    const c = load<u8>(cur.p++);
    if (c == 0x7d) return v;
    if (c != 0x2c) { cur.p--; return cur.fail("expected ',' or '}'"); }
  }
}
