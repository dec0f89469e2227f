// A small YAML writer for the files llm-router generates: block mappings and sequences, comments
// before keys, literal block scalars for embedded documents, flow style for short leaf objects.
// Strings that are not plainly safe are written as JSON strings (JSON's escapes are valid YAML
// double-quoted escapes), so any value round-trips through a YAML parser unchanged.

const NOTES = Symbol("yaml-notes");
const FLOW = Symbol("yaml-flow");

/** Attaches comments to the keys of `obj`: { key: "text, may span lines" }. Returns obj. */
export function annotate(obj, notes) {
  Object.defineProperty(obj, NOTES, { value: { ...(obj[NOTES] ?? {}), ...notes }, enumerable: false, configurable: true });
  return obj;
}

/** Writes `obj` on one line ({a: 1, b: 2}) when every value is a scalar. Returns obj. */
export function flow(obj) {
  Object.defineProperty(obj, FLOW, { value: true, enumerable: false, configurable: true });
  return obj;
}

/** A copy of `obj` with the entries of `first` before its own, its comments and flow style kept. */
export function withFirst(first, obj) {
  const out = { ...first, ...obj };
  if (obj[NOTES]) annotate(out, obj[NOTES]);
  if (obj[FLOW]) flow(out);
  return out;
}

/** A multi-line string written as a literal block scalar (`|`). */
export class Literal {
  constructor(text) {
    this.text = text;
  }
}

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./@+-]*$/;
const RESERVED = /^(?:true|false|yes|no|on|off|null|y|n|~)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as YAML`);
    return String(value);
  }
  if (typeof value === "string") {
    if (PLAIN.test(value) && !RESERVED.test(value)) return value;
    return JSON.stringify(value);
  }
  throw new Error(`not a scalar: ${typeof value}`);
}

const isScalar = (v) => v === null || v === undefined || typeof v !== "object";
const isLiteral = (v) => v instanceof Literal;

function comment(text, pad, out) {
  for (const line of text.split("\n")) out.push(line.length > 0 ? `${pad}# ${line}` : `${pad}#`);
}

function inline(value) {
  if (isScalar(value)) return scalar(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every(isScalar)) return `[${value.map(scalar).join(", ")}]`;
    return null;
  }
  if (isLiteral(value)) return null;
  const keys = Object.keys(value);
  if (keys.length === 0) return "{}";
  if (value[FLOW] && keys.every((k) => isScalar(value[k]) || (value[k] && value[k][FLOW]))) {
    const parts = keys.map((k) => `${scalar(k)}: ${inline(value[k])}`);
    if (parts.every((p) => p !== null)) return `{${parts.join(", ")}}`;
  }
  return null;
}

function literal(text, pad) {
  const body = text.replace(/\n+$/, "");
  const chomp = text.endsWith("\n") ? "" : "-";
  const lines = body.split("\n").map((l) => (l.length > 0 ? pad + l : ""));
  return { head: `|${chomp}`, lines };
}

function writeMapping(obj, indent, out, firstPrefix) {
  const pad = " ".repeat(indent);
  const notes = obj[NOTES] ?? {};
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  keys.forEach((key, i) => {
    const lead = i === 0 && firstPrefix !== undefined ? firstPrefix : pad;
    if (notes[key] && !(i === 0 && firstPrefix !== undefined)) comment(notes[key], pad, out);
    writeEntry(`${lead}${scalar(key)}:`, obj[key], indent, out);
  });
}

function writeEntry(head, value, indent, out) {
  const pad = " ".repeat(indent);
  const short = inline(value);
  if (short !== null) {
    out.push(`${head} ${short}`);
    return;
  }
  if (isLiteral(value)) {
    const { head: h, lines } = literal(value.text, pad + "  ");
    out.push(`${head} ${h}`);
    out.push(...lines);
    return;
  }
  out.push(head);
  if (Array.isArray(value)) writeSequence(value, indent, out);
  else writeMapping(value, indent + 2, out);
}

function writeSequence(items, indent, out) {
  const pad = " ".repeat(indent);
  for (const item of items) {
    const short = inline(item);
    if (short !== null) {
      out.push(`${pad}- ${short}`);
    } else if (isLiteral(item)) {
      const { head, lines } = literal(item.text, pad + "  ");
      out.push(`${pad}- ${head}`);
      out.push(...lines);
    } else if (Array.isArray(item)) {
      out.push(`${pad}-`);
      writeSequence(item, indent + 2, out);
    } else {
      const keys = Object.keys(item).filter((k) => item[k] !== undefined);
      const firstNote = (item[NOTES] ?? {})[keys[0]];
      if (firstNote) comment(firstNote, pad, out);
      writeMapping(item, indent + 2, out, `${pad}- `);
    }
  }
}

/** The YAML text of `value` (a mapping), with an optional comment block at the top. */
export function toYaml(value, header) {
  const out = [];
  if (header) comment(header, "", out);
  writeMapping(value, 0, out);
  return out.join("\n") + "\n";
}
