// Typed reads of configuration fields with the field path in every error.
import { DEL, SPACE, TAB } from "../bytes";
import { JsonValue, JsonKind } from "../json/tree";
import { fail } from "./errors";

export function describe(v: JsonValue): string {
  switch (v.kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return "a boolean";
    case JsonKind.Number: return "a number";
    case JsonKind.String: return "a string";
    case JsonKind.Array: return "an array";
    default: return "an object";
  }
}

// Whether `s` holds a control character (below a space, or DEL); a tab is allowed where
// `tabAllowed` (header values).
export function hasControlCharacter(s: string, tabAllowed: bool = false): bool {
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if ((c < SPACE && !(tabAllowed && c == TAB)) || c == DEL) return true;
  }
  return false;
}

export function join(path: string, key: string): string {
  return path.length == 0 ? key : path + "." + key;
}

export function isObject(v: JsonValue | null): bool { return v !== null && v.kind == JsonKind.Object; }

// A number field: returns NaN (and records the error) when it is missing-but-required, not a number
// or below `min`; returns `fallback` when it is absent and optional.
export function readNumber(obj: JsonValue, key: string, path: string, required: bool, fallback: f64,
  min: f64, minExclusive: bool, max: f64 = Infinity): f64 {
  const v = obj.get(key);
  // Paths are built only for errors: a big catalog reads thousands of fields.
  if (v === null) {
    if (required) fail(join(path, key), "required");
    return required ? NaN : fallback;
  }
  if (v.kind != JsonKind.Number || !isFinite(v.num) || v.num < min || (minExclusive && v.num == min)) {
    fail(join(path, key), minExclusive ? "expected a positive number" : min == 0 ? "expected a non-negative number" : "expected a number");
    return NaN;
  }
  if (v.num > max) {
    fail(join(path, key), "expected at most " + max.toString());
    return NaN;
  }
  return v.num;
}

// A string field: null (with the error recorded when required or of the wrong type) when absent.
export function readString(obj: JsonValue, key: string, path: string, required: bool): string | null {
  const v = obj.get(key);
  if (v === null) {
    if (required) fail(join(path, key), "required");
    return null;
  }
  if (v.kind != JsonKind.String || v.strIsEmpty) {
    fail(join(path, key), "expected a non-empty string");
    return null;
  }
  return v.str;
}

// An array of non-empty strings; null when absent or invalid (check configError to tell apart).
export function readStringList(obj: JsonValue, key: string, path: string): string[] | null {
  const v = obj.get(key);
  if (v === null) return null;
  if (v.kind != JsonKind.Array) {
    fail(join(path, key), "expected an array of strings");
    return null;
  }
  const out = new Array<string>(v.items.length);
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    if (item.kind != JsonKind.String || item.strIsEmpty) {
      fail(join(path, key) + "[" + i.toString() + "]", "expected a non-empty string");
      return null;
    }
    out[i] = item.str;
  }
  return out;
}

// Levenshtein distance with adjacent transpositions, case-insensitive: "maxCostUSD" is 0 from
// "maxCostUsd", "capabilites" 1 from "capabilities".
function editDistance(a: string, b: string): i32 {
  const x = a.toLowerCase(), y = b.toLowerCase();
  const n = y.length;
  let twoBack = new Array<i32>(n + 1), previous = new Array<i32>(n + 1), current = new Array<i32>(n + 1);
  for (let j = 0; j <= n; j++) previous[j] = j;
  for (let i = 1; i <= x.length; i++) {
    current[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = x.charCodeAt(i - 1) == y.charCodeAt(j - 1) ? 0 : 1;
      let d = min(min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
      if (i > 1 && j > 1 && x.charCodeAt(i - 1) == y.charCodeAt(j - 2) && x.charCodeAt(i - 2) == y.charCodeAt(j - 1)) {
        d = min(d, twoBack[j - 2] + 1);
      }
      current[j] = d;
    }
    const spare = twoBack;
    twoBack = previous;
    previous = current;
    current = spare;
  }
  return previous[n];
}

// The known name a typo most likely meant, or "" when none is close (at most a third of the
// name's letters wrong, and never more than 3).
export function closestName(name: string, known: string[]): string {
  let best = "";
  let bestDistance = min(3, max(1, name.length / 3)) + 1;
  for (let i = 0; i < known.length; i++) {
    const d = editDistance(name, known[i]);
    if (d < bestDistance) { best = known[i]; bestDistance = d; }
  }
  return best;
}

export function unknownName(what: string, name: string, known: string[]): string {
  const guess = closestName(name, known);
  return guess.length > 0 ? what + " (did you mean \"" + guess + "\"?)" : what;
}

// Every member of `obj` must be a known field; keys starting with "_" are allowed only where
// the host adds its own (`allowHostKeys`: Higress puts _rules_, _match_*_ and _plugin_id_ there).
export function checkFields(obj: JsonValue, path: string, known: string[], allowHostKeys: bool = false): bool {
  for (let i = 0; i < obj.keys.length; i++) {
    const key = obj.keys[i];
    if (allowHostKeys && key.startsWith("_")) continue;
    if (!known.includes(key)) return fail(join(path, key), unknownName("unknown field", key, known));
  }
  return checkUniqueKeys(obj, path);
}

// JSON.parse would keep the last of two equal keys silently; in a configuration a repeated key is
// almost always an edit gone wrong. Sorting keeps this linear-ish for objects with many keys.
export function checkUniqueKeys(obj: JsonValue, path: string): bool {
  if (obj.keys.length < 2) return true;
  const sorted = obj.keys.slice();
  sorted.sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] == sorted[i - 1]) return fail(join(path, sorted[i]), "duplicate field");
  }
  return true;
}
