// Typed reads of configuration fields with the field path in every error.
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

export function join(path: string, key: string): string {
  return path.length == 0 ? key : path + "." + key;
}

export function isObject(v: JsonValue | null): bool { return v !== null && v.kind == JsonKind.Object; }

// A number field: returns NaN (and records the error) when it is missing-but-required, not a number
// or below `min`; returns `fallback` when it is absent and optional.
export function readNumber(obj: JsonValue, key: string, path: string, required: bool, fallback: f64,
  min: f64, minExclusive: bool, max: f64 = Infinity): f64 {
  const v = obj.get(key);
  const where = join(path, key);
  if (v === null) {
    if (required) fail(where, "required");
    return required ? NaN : fallback;
  }
  const expected = minExclusive ? "expected a positive number" : min == 0 ? "expected a non-negative number" : "expected a number";
  if (v.kind != JsonKind.Number || !isFinite(v.num) || v.num < min || (minExclusive && v.num == min)) {
    fail(where, expected);
    return NaN;
  }
  if (v.num > max) {
    fail(where, "expected at most " + max.toString());
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
  if (v.kind != JsonKind.String || v.str.length == 0) {
    fail(join(path, key), "expected a non-empty string");
    return null;
  }
  return v.str;
}

// An array of non-empty strings; null when absent or invalid (check configError to tell apart).
export function readStringList(obj: JsonValue, key: string, path: string): string[] | null {
  const v = obj.get(key);
  if (v === null) return null;
  const where = join(path, key);
  if (v.kind != JsonKind.Array) {
    fail(where, "expected an array of strings");
    return null;
  }
  const out = new Array<string>(0);
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    if (item.kind != JsonKind.String || item.str.length == 0) {
      fail(where + "[" + i.toString() + "]", "expected a non-empty string");
      return null;
    }
    out.push(item.str);
  }
  return out;
}
