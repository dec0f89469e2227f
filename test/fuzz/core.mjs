// Differential fuzzing of the built plugin against JavaScript's own JSON stack.
// Plain ESM so both the vitest test (test/fuzz/fuzz.test.ts) and the CLI (test/fuzz/run.mjs) use it;
// the host class is passed in (the CLI bundles test/host with rolldown, vitest imports it directly).
//
// Oracle: TextDecoder('utf-8', {fatal: true, ignoreBOM: true}) + JSON.parse + the rules of
// docs/behaviour.md (depth ≤ 256, object, exactly one top-level "model" string, max_*tokens
// non-negative integers or null), plus how the request arrives: method, path spelling (trailing
// slashes, %-escapes, query, unhandled look-alikes), content type, content encoding and spoofed
// routing headers. Configuration cases include typos of known field names, for which the oracle
// names the exact error line. Every case is derived from (seed, index) alone, so any failure
// replays with `node test/fuzz/run.mjs --seed S --replay I`.
import { mulberry32 } from "../../bench/lib/bodies.mjs";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ROUTER_JSON_TEXT = readFileSync(join(ROOT, "config", "router.json"), "utf8");
// router.json plus routes that detect the task (so every fuzzed body can reach the detector,
// with a small window that exercises truncation) and the detection settings.
const CONFIG = JSON.parse(ROUTER_JSON_TEXT);
CONFIG.routes.smart = { strategy: "quality", task: "auto" };
CONFIG.routes.split = { byTask: { coding: "best", translation: "smart", default: "cheap" }, byComplexity: { simple: "fast" } };
CONFIG.detection = { maxBytes: 96, tasks: { coding: { keywords: { "日本": 1, "gateway*": 2 } } }, complexity: { simple: { keywords: { hello: 1 } } } };
export const FUZZ_CONFIG_TEXT = JSON.stringify(CONFIG);
const TASKS = ["coding", "math", "reasoning", "writing", "translation", "summarization", "extraction", "default"];
const TIERS = ["simple", "medium", "complex", "reasoning"];
const MODELS = new Map(CONFIG.models.map((m) => [m.name, m]));
const ROUTES = new Map(Object.entries(CONFIG.routes).map(([name, r]) => [name, r.byTask ? CONFIG.models.map((m) => m.name) : (r.models ?? CONFIG.models.map((m) => m.name))]));
const DETECTING = new Set(["smart", "split"]);
const ALIASES = [...ROUTES.keys()];
const NAMES = [...MODELS.keys()];
const UPSTREAMS = [...new Set(CONFIG.models.map((m) => m.upstream))];
const MAX_DEPTH = 256;
const PATHS = CONFIG.paths ?? ["/chat/completions", "/completions", "/responses", "/messages", "/embeddings"];
/** Which paths each model serves (`endpoints`, default every path but /embeddings). */
const SERVES = new Map(CONFIG.models.map((m) => [m.name, m.endpoints ?? PATHS.filter((p) => !p.endsWith("/embeddings"))]));

// ------------------------------------------------------------------------------------------ PRNG

/** The PRNG of case `index` under `seed` (independent of every other case). */
export function caseRng(seed, index) {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  const rnd = mulberry32(h ^ (h >>> 16));
  const r = {
    f: rnd,
    int: (n) => Math.floor(rnd() * n),
    chance: (p) => rnd() < p,
    pick: (a) => a[Math.floor(rnd() * a.length)],
  };
  return r;
}

// ------------------------------------------------------------------------------------- generator
// Values are a small AST so that objects can hold duplicate keys and strings can be spelt with
// arbitrary escapes: {t:"o", m:[[key, v]...]}, {t:"a", a:[...]}, {t:"s", s}, {t:"raw", raw}.

const enc = new TextEncoder();
const S = (s) => ({ t: "s", s });
const RAW = (raw) => ({ t: "raw", raw });
const O = (m) => ({ t: "o", m });
const A = (a) => ({ t: "a", a });

const WORDS = ["hello", "world", "model", "auto", "gateway", "token", "route", "stream", "café", "日本", "😀", "naïve", "→", "\u2028", "\u0000", "\"", "\\", "/", "\n", "\t", "\b\f\r", "\ud800", "\udfff", "\ud83d\ude00", "\uFEFF", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff",
  "translate", "翻译", "```", "python", "总结", "summarize", "３＋４＝？", "ｐｙｔｈｏｎ", "step by step", "def f(x):", "\\u4e2d"];
const NUMBERS = ["0", "-0", "1", "-1", "0.0", "1.5", "-1.5e10", "1e308", "1E-320", "1e999", "-1e999", "123456789012345678901234567890", "0.000001", "2.5E+3", "1e0", "9007199254740993", "4.9e-324", "0e0", "-0.0e-0"];
const MAX_TOKEN_VALUES = ["512", "0", "null", "4096", "1.0", "-1", "1e3", "\"512\"", "true", "[]", "{}", "99999999999999999999", "-0", "0.5", "131072", "200000"];
const MODEL_SPELLINGS = [
  ...ALIASES, ...NAMES, "unknown-model", "", "AUTO", "auto ", "gpt-4o-mini-2024", "llama-3.1-8b-instant",
];

function text(r) {
  const n = r.int(6);
  let s = "";
  for (let i = 0; i < n; i++) s += r.pick(WORDS) + (r.chance(0.5) ? " " : "");
  return s;
}

function randomValue(r, depth) {
  const k = r.int(depth > 6 ? 4 : 7);
  switch (k) {
    case 0: return S(text(r));
    case 1: return RAW(r.pick(NUMBERS));
    case 2: return RAW(r.pick(["true", "false", "null"]));
    case 3: return S(r.pick(MODEL_SPELLINGS));
    case 4: {
      const a = [];
      const n = r.int(4);
      for (let i = 0; i < n; i++) a.push(randomValue(r, depth + 1));
      return A(a);
    }
    default: {
      const m = [];
      const n = r.int(4);
      for (let i = 0; i < n; i++) m.push([r.chance(0.2) ? "model" : r.pick(["role", "content", "type", "url", "data", "image_url", "x", text(r)]), randomValue(r, depth + 1)]);
      return O(m);
    }
  }
}

function nested(depth, inner) {
  let v = inner;
  for (let i = 0; i < depth; i++) v = i % 3 === 0 ? O([["k", v]]) : A([v]);
  return v;
}

function chatMessages(r) {
  const msgs = [];
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const m = [["role", S(r.pick(["system", "user", "assistant", "tool"]))]];
    if (r.chance(0.15)) {
      m.push(["content", A([O([["type", S("text")], ["text", S(text(r))]]), O([["type", S(r.pick(["image_url", "input_image", "image"]))], ["image_url", O([["url", S("data:image/png;base64," + "iVBORw0KGgo".repeat(1 + r.int(20)))]])]])])]);
    } else m.push(["content", S(r.chance(0.05) ? Array.from({ length: 40 + r.int(400) }, () => text(r)).join(" ") : text(r))]);
    if (r.chance(0.1)) m.push(["model", S(r.pick(MODEL_SPELLINGS))]); // nested "model": plain data
    if (r.chance(0.3)) m.reverse(); // role after content
    msgs.push(O(m));
  }
  return A(msgs);
}

/** A client's `models` list (OpenRouter fallbacks): mostly names, sometimes not a list of strings. */
function modelsList(r) {
  if (r.chance(0.15)) return r.pick([S("auto"), RAW("null"), RAW("3"), O([["a", S("b")]]), A([S("gpt-4o"), RAW("1")]), A([A([])])]);
  const n = r.int(5);
  const names = [];
  for (let i = 0; i < n; i++) names.push(S(r.chance(0.85) ? r.pick(NAMES) : r.pick([...ALIASES, "nope", "", "gpt-4o\u002d"])));
  return A(names);
}

/** A chat-like request AST, with random extras. */
function chatRequest(r) {
  const members = [];
  const modelCount = r.chance(0.04) ? 0 : r.chance(0.05) ? 2 : 1;
  const modelValue = () =>
    r.chance(0.05) ? r.pick([RAW("null"), RAW("1"), A([S("auto")]), O([["name", S("auto")]]), RAW("true")]) : S(r.pick(MODEL_SPELLINGS));
  for (let i = 0; i < modelCount; i++) members.push(["model", modelValue()]);
  if (r.chance(0.06)) members.push(["models", modelsList(r)]);
  members.push(["messages", chatMessages(r)]);
  if (r.chance(0.3)) members.push([r.pick(["max_tokens", "max_completion_tokens", "max_output_tokens"]), RAW(r.pick(MAX_TOKEN_VALUES))]);
  if (r.chance(0.05)) members.push(["max_tokens", RAW(r.pick(MAX_TOKEN_VALUES))]);
  if (r.chance(0.3)) members.push(["stream", RAW(r.pick(["true", "false", "null", "1"]))]);
  if (r.chance(0.2)) members.push(["temperature", RAW(r.pick(NUMBERS))]);
  if (r.chance(0.15)) members.push(["tools", A(r.chance(0.8) ? [O([["type", S("function")], ["function", O([["name", S("f")], ["parameters", O([])]])]])] : [])]);
  if (r.chance(0.1)) members.push(["response_format", O([["type", S(r.pick(["json_object", "json_schema", "text"]))]])]);
  if (r.chance(0.2)) members.push([r.pick(["metadata", "extra", "prompt", "input", "system", "instructions"]), randomValue(r, 1)]);
  if (r.chance(0.05)) members.push(["deep", nested(r.pick([10, 100, 250, 253, 254, 255, 256, 300]), r.chance(0.5) ? S("x") : O([]))]);
  if (r.chance(0.03)) members.push(["long", S("a".repeat(r.pick([1000, 65536, 300000])) + text(r))]);
  if (r.chance(0.02)) members.push(["big", A(Array.from({ length: r.pick([1000, 20000]) }, (_, i) => (i % 2 ? RAW(String(i)) : S("x"))))]);
  for (let i = members.length - 1; i > 0; i--) {
    if (r.chance(0.5)) {
      const j = r.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
  }
  return O(members);
}

function ws(r, style) {
  if (style === 0 || !r.chance(style === 1 ? 0.2 : 0.6)) return "";
  let s = "";
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) s += r.pick([" ", "\n", "\t", "\r", "  ", "\r\n"]);
  return s;
}

/** Serialises a JS string as a JSON string with random (valid) escapes. */
function quote(r, s, escapeRate) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c < 0x20) {
      const short = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" }[c];
      out += short && r.chance(0.7) ? short : "\\u" + c.toString(16).padStart(4, "0");
    } else if (c >= 0xd800 && c < 0xe000) {
      // surrogates: a well-formed pair may stay raw (UTF-8 encoded) or be escaped; lone ones must be escaped
      const next = s.charCodeAt(i + 1);
      if (c < 0xdc00 && next >= 0xdc00 && next < 0xe000 && !r.chance(escapeRate + 0.2)) {
        out += s[i] + s[i + 1];
        i++;
      } else out += "\\u" + (r.chance(0.5) ? c.toString(16) : c.toString(16).toUpperCase()).padStart(4, "0");
    } else if (r.chance(escapeRate)) {
      out += c === 0x2f && r.chance(0.5) ? "\\/" : "\\u" + c.toString(16).padStart(4, "0");
    } else out += s[i];
  }
  return out + '"';
}

function serialize(r, v, style, escapeRate) {
  const parts = [];
  const walk = (x) => {
    switch (x.t) {
      case "s": parts.push(quote(r, x.s, escapeRate)); break;
      case "raw": parts.push(x.raw); break;
      case "a":
        parts.push("[", ws(r, style));
        x.a.forEach((e, i) => {
          if (i) parts.push(ws(r, style), ",", ws(r, style));
          walk(e);
        });
        parts.push(ws(r, style), "]");
        break;
      case "o":
        parts.push("{", ws(r, style));
        x.m.forEach(([k, e], i) => {
          if (i) parts.push(ws(r, style), ",", ws(r, style));
          parts.push(quote(r, k, escapeRate * 2), ws(r, style), ":", ws(r, style));
          walk(e);
        });
        parts.push(ws(r, style), "}");
        break;
    }
  };
  parts.push(ws(r, style));
  walk(v);
  parts.push(ws(r, style));
  return parts.join("");
}

const BAD_UTF8 = [[0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xbf], [0xff], [0xfe], [0xe0, 0x80, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]];
const GOOD_UTF8 = [[0xc2, 0x80], [0xdf, 0xbf], [0xe0, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xee, 0x80, 0x80], [0xef, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf]];
const SNIPPETS = ["{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "\\udc00", "\\u12", "\\x41", "01", "1.", ".5", "+1", "-", "1e", "NaN", "Infinity", "tru", "nul", "//c", "/*c*/", ",}", ",]", "'a'", "\u0000", "\u001f", "\u00a0", "\u2028", "\ufeff", '"model":"auto",', '"model":1,', '"mod\\u0065l":"auto",'];

/** Byte-level mutations: most make the body invalid, some keep it valid (e.g. a good UTF-8 sequence inside a string). */
function mutateBytes(r, bytes) {
  let b = Array.from(bytes);
  const n = 1 + (r.chance(0.7) ? 0 : r.int(4));
  for (let k = 0; k < n; k++) {
    const at = r.int(b.length + 1);
    switch (r.int(9)) {
      case 0: if (b.length) b[Math.min(at, b.length - 1)] = r.int(256); break;
      case 1: b.splice(at, 0, r.int(256)); break;
      case 2: b.splice(at, 1 + r.int(3)); break;
      case 3: b = b.slice(0, at); break; // truncation
      case 4: b.splice(at, 0, ...r.pick(BAD_UTF8)); break;
      case 5: b.splice(at, 0, ...r.pick(GOOD_UTF8)); break;
      case 6: b.splice(at, 0, ...enc.encode(r.pick(SNIPPETS))); break;
      case 7: b.unshift(0xef, 0xbb, 0xbf); break; // BOM
      default: b.splice(at, 0, ...enc.encode(r.pick([" ", "\t", "\n", "\r", "\u000b", "\u000c", "\u00a0"]))); break;
    }
  }
  return Uint8Array.from(b);
}

/**
 * One fuzz case: the body bytes plus how it is delivered.
 * @returns {{body: Uint8Array, chunkSize?: number, trailers?: boolean, kind: string}}
 */
export function generateCase(seed, index) {
  const r = caseRng(seed, index);
  const roll = r.f();
  let kind;
  let body;
  const style = r.int(3);
  const escapeRate = r.pick([0, 0, 0.02, 0.2, 1]);
  if (roll < 0.55) {
    kind = "valid-ish";
    body = enc.encode(serialize(r, chatRequest(r), style, escapeRate));
  } else if (roll < 0.85) {
    kind = "mutated";
    body = mutateBytes(r, enc.encode(serialize(r, chatRequest(r), style, escapeRate)));
  } else if (roll < 0.95) {
    kind = "random-json";
    const v = r.chance(0.7) ? O([["model", S(r.pick(MODEL_SPELLINGS))], ...randomValue(r, 0).m ?? []]) : randomValue(r, 0);
    body = enc.encode(serialize(r, v, style, escapeRate));
    if (r.chance(0.3)) body = mutateBytes(r, body);
  } else {
    kind = "random-bytes";
    const n = r.int(64);
    const pool = enc.encode('{}[]",:\\u0123456789abcdefnulltruefalse model auto \n\t');
    body = Uint8Array.from({ length: n }, () => (r.chance(0.8) ? r.pick(pool) : r.int(256)));
    if (r.chance(0.5)) body = Uint8Array.from([0x7b, ...body]);
  }
  if (r.chance(0.01)) {
    kind = "empty";
    body = new Uint8Array(0);
  }
  const delivery = r.f();
  const c = { body, kind };
  if (delivery < 0.25) c.chunkSize = 1 + r.int(body.length > 64 ? 64 : 8);
  else if (delivery < 0.3) c.trailers = true;
  c.higress = r.chance(0.15);
  Object.assign(c, requestShape(r));
  return c;
}

const JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON", "text/json", "application/vnd.api+json", " application/json ;charset=UTF-8"];
const OTHER_TYPES = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream", "", "application/jsonl", "application/x-ndjson", "json", "/json", "application/json-seq"];
const ENCODINGS = ["identity", " Identity ", "", "gzip", "br", "deflate", "gzip, identity", "zstd"];
const HANDLED_BASES = ["/v1/chat/completions", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/openai/v1/chat/completions"];
const UNHANDLED_PATHS = ["/v1/chat/completions/extra", "/v1/chat/completion", "/v1/chat/completions%3F", "/v1/files", "/v1/audio/speech", "/", "/v1/chat/completions%2", "/v1/models/unknown-model"];
const MODELS_PATHS = ["/v1/models", "/v1/models/", "/v1/models?limit=2", "/models", ...ALIASES.map((a) => `/v1/models/${a}`), ...NAMES.map((n) => `/v1/models/${encodeURIComponent(n)}`)];

/** Spells a handled path differently: %-escapes (any case), trailing slashes, a query or fragment. */
function spellPath(r, path) {
  let out = "";
  for (const ch of path) {
    out += ch !== "/" && r.chance(0.1) ? "%" + (r.chance(0.5) ? ch.charCodeAt(0).toString(16) : ch.charCodeAt(0).toString(16).toUpperCase()) : ch === "/" && r.chance(0.05) ? "%2F" : ch;
  }
  if (out.startsWith("%2F")) out = "/" + out.slice(3);
  if (r.chance(0.3)) out += "/".repeat(1 + r.int(2));
  if (r.chance(0.2)) out += r.pick(["?stream=true", "?a=/chat/completions", "#frag", "?"]);
  return out;
}

/** How the request arrives: mostly a plain JSON POST, sometimes anything a client might send. */
function requestShape(r) {
  const shape = { method: "POST", path: "/v1/chat/completions", contentType: "application/json", encoding: undefined, spoof: r.chance(0.3) };
  if (r.chance(0.6)) return shape;
  if (r.chance(0.5)) shape.contentType = r.chance(0.4) ? r.pick(JSON_TYPES) : r.chance(0.2) ? undefined : r.pick(OTHER_TYPES);
  if (r.chance(0.15)) shape.encoding = r.pick(ENCODINGS);
  const p = r.f();
  if (p < 0.6) shape.path = spellPath(r, r.pick(HANDLED_BASES));
  else if (p < 0.75) shape.path = r.pick(UNHANDLED_PATHS);
  else if (p < 0.85) {
    shape.method = "GET";
    shape.path = r.pick(MODELS_PATHS);
  } else if (p < 0.9) shape.method = r.pick(["GET", "PUT", "DELETE", "post"]);
  return shape;
}

// ---------------------------------------------------------------------------------------- oracle

const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Max container depth of valid JSON text (the top-level object is depth 1). */
function depthOf(text) {
  let d = 0, max = 0, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inStr = false;
      continue;
    }
    if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) { d++; if (d > max) max = d; }
    else if (c === 0x7d || c === 0x5d) d--;
  }
  return max;
}

/** Top-level members of a valid JSON object text given as bytes: key (decoded), value byte range. */
function topLevelMembers(b) {
  const out = [];
  let i = 0;
  const skipWs = () => { while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++; };
  const skipString = () => { i++; while (b[i] !== 0x22) { if (b[i] === 0x5c) i++; i++; } i++; };
  const skipValue = () => {
    if (b[i] === 0x22) return skipString();
    if (b[i] === 0x7b || b[i] === 0x5b) {
      let d = 0;
      do {
        if (b[i] === 0x22) { skipString(); continue; }
        if (b[i] === 0x7b || b[i] === 0x5b) d++;
        else if (b[i] === 0x7d || b[i] === 0x5d) d--;
        i++;
      } while (d > 0);
      return;
    }
    while (i < b.length && !(b[i] === 0x2c || b[i] === 0x7d || b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  };
  skipWs();
  i++; // {
  skipWs();
  if (b[i] === 0x7d) return out;
  for (;;) {
    skipWs();
    const ks = i;
    skipString();
    const key = JSON.parse(Buffer.from(b.subarray(ks, i)).toString("utf8"));
    skipWs();
    i++; // :
    skipWs();
    const vs = i;
    skipValue();
    out.push({ key, start: vs, end: i, raw: Buffer.from(b.subarray(vs, i)).toString("utf8") });
    skipWs();
    if (b[i++] === 0x7d) return out;
  }
}

/** The path as the router compares it: query and fragment cut, %XX decoded, trailing '/' dropped. */
export function normalisePath(path) {
  const cut = path.search(/[?#]/);
  const raw = Buffer.from(cut >= 0 ? path.slice(0, cut) : path, "latin1");
  const bytes = [];
  for (let i = 0; i < raw.length; i++) {
    const hex = raw[i] === 0x25 && i + 2 < raw.length ? Buffer.from(raw.subarray(i + 1, i + 3)).toString("latin1") : "";
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]);
  }
  let out = Buffer.from(bytes).toString("latin1");
  while (out.length > 1 && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

/** The configured path suffix a request is for (the longest that matches), or undefined. */
export function handledPath(path) {
  const p = normalisePath(path);
  return PATHS.filter((s) => p.endsWith(s)).sort((a, b) => b.length - a.length)[0];
}

/** The GET /v1/models answer for a path, or undefined when the plugin does not answer it. */
function modelsAnswer(path) {
  const p = normalisePath(path);
  const entries = [
    ...ALIASES.map((id) => ({ id, object: "model", owned_by: "model-router" })),
    ...CONFIG.models.map((m) => ({ id: m.name, object: "model", owned_by: m.upstream })),
  ];
  if (p.endsWith("/models")) return { object: "list", data: entries };
  for (let i = p.indexOf("/models/"); i >= 0; i = p.indexOf("/models/", i + 1)) {
    const entry = entries.find((e) => e.id === p.slice(i + "/models/".length));
    if (entry) return entry;
  }
  return undefined;
}

const isJsonType = (ct) => ct !== undefined && /^[ \t]*[^/;\s]+\/([^;\s]*\+)?json[ \t]*(;|$)/i.test(ct);
const isReadable = (enc) => enc === undefined || /^[ \t]*(identity)?[ \t]*$/i.test(enc);

/** What the plugin must do with this request (config/router.json). */
export function expectForRequest(c) {
  const method = c.method ?? "POST";
  const path = c.path ?? "/v1/chat/completions";
  if (method === "GET") {
    const answer = modelsAnswer(path);
    if (answer) return { models: answer };
  }
  const endpoint = method === "POST" ? handledPath(path) : undefined;
  if (!endpoint) return { unhandled: true };
  if (!isReadable(c.encoding)) return { reject: "unsupported_content_encoding", status: 415 };
  if (c.body.length === 0) return { reject: "missing_body" };
  const exp = expectFor(c.body);
  exp.endpoint = endpoint;
  exp.jsonType = isJsonType(c.contentType ?? undefined);
  if (exp.reject === "invalid_json" && !exp.jsonType) return { reject: "unsupported_media_type", status: 415, why: exp.why };
  if (exp.candidates) exp.candidates = exp.catalog ? exp.candidates : exp.candidates.filter((m) => SERVES.get(m).includes(endpoint));
  return exp;
}

/** What the plugin must do with this body (config/router.json). */
export function expectFor(body) {
  let text;
  try { text = fatalDecoder.decode(body); } catch { return { reject: "invalid_json", why: "invalid UTF-8" }; }
  let value;
  try { value = JSON.parse(text); } catch (e) { return { reject: "invalid_json", why: `JSON.parse: ${e.message}` }; }
  if (depthOf(text) > MAX_DEPTH) return { reject: "invalid_json", why: "deeper than 256" };
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { reject: "invalid_json", why: "not an object" };
  const members = topLevelMembers(body);
  // A client's `models` list (OpenRouter): one array of strings; without `model`, its first entry is the model.
  const lists = members.filter((m) => m.key === "models");
  let list = null;
  if (lists.length > 0) {
    list = lists.length === 1 ? JSON.parse(lists[0].raw) : null;
    if (!Array.isArray(list) || list.some((x) => typeof x !== "string")) return { reject: "invalid_models", why: "models is not one array of strings" };
  }
  const models = members.filter((m) => m.key === "model");
  if (models.length > 1) return { reject: "duplicate_model" };
  const fromList = models.length === 0 && list !== null && list.length > 0;
  if (models.length === 0 && !fromList) return { reject: "missing_model" };
  const m = fromList ? { raw: JSON.stringify(list[0]), start: -1, end: -1 } : models[0];
  if (!fromList && body[m.start] !== 0x22) return { reject: "invalid_model" };
  for (const t of members) {
    if (t.key === "max_tokens" || t.key === "max_completion_tokens" || t.key === "max_output_tokens") {
      if (t.raw !== "null" && !/^(0|[1-9][0-9]*)$/.test(t.raw)) return { reject: "invalid_max_tokens", why: `${t.key}=${t.raw}` };
    }
  }
  const name = JSON.parse(m.raw);
  const common = { value, model: m, list };
  // A routed request's fallbacks (the first eight entries) must be catalog models.
  const fallbacks = list === null ? [] : list.slice(fromList ? 1 : 0, 8);
  if ((ROUTES.has(name) || MODELS.has(name)) && fallbacks.some((x) => !MODELS.has(x))) {
    return { reject: "invalid_models", why: "a fallback is not a catalog model", unlessNoCandidate: ROUTES.has(name), route: ROUTES.has(name) ? name : undefined };
  }
  if (ROUTES.has(name)) return { route: name, candidates: ROUTES.get(name), ...common };
  if (MODELS.has(name)) return { catalog: name, candidates: [name], ...common };
  return { pass: true, ...common };
}

// ---------------------------------------------------------------------------------------- runner

const HEADERS = { "content-type": "application/json" };
const SPOOF = { "x-llm-upstream": "evil-cluster", "x-llm-model": "spoofed-by-client" };

function withoutModel(v) {
  const o = { ...v };
  delete o.model;
  return o;
}

function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Checks one result against the oracle; returns null or a description of the mismatch. */
export function check(body, exp, res, contentType) {
  if (res.outcome === "vm-failed") return `VM trapped: ${res.error}`;
  // whatever happened, the client's routing headers are gone (only the router's own may be set)
  const routedModel = res.finalHeaders.first("x-llm-model");
  if (res.finalHeaders.all("x-llm-model").length > 1 || res.finalHeaders.all("x-llm-upstream").length > 1) return "a routing header is set twice";
  if (routedModel === SPOOF["x-llm-model"] || res.finalHeaders.first("x-llm-upstream") === SPOOF["x-llm-upstream"]) return "a spoofed routing header survived";
  if (exp.models) {
    if (res.outcome !== "local" || res.localResponse.status !== 200) return `expected the model list, got ${res.outcome} ${res.localResponse?.status ?? ""}`;
    const got = res.localResponse.json();
    for (const e of got.data ?? [got]) {
      if (!Number.isInteger(e.created)) return `entry ${e.id} has created ${e.created}`;
      delete e.created;
    }
    if (!isDeepStrictEqual(got, exp.models)) return `model list ${JSON.stringify(got).slice(0, 300)}`;
    return null;
  }
  if (exp.unhandled) {
    if (res.returns[0]?.raw !== 0) return `expected an unhandled request (Continue from headers), got ${res.returns[0]?.raw}`;
    if (res.outcome !== "no-cluster") return `expected no route (the client's upstream header is gone), got ${res.outcome} ${res.localResponse?.text ?? ""}`;
    if (routedModel !== undefined) return "an unhandled request got x-llm-model";
    return null;
  }
  if (exp.reject) {
    const status = exp.status ?? 400;
    if (res.outcome !== "local") return `expected ${status} ${exp.reject} (${exp.why ?? ""}), got outcome ${res.outcome} ${res.upstream ? "(forwarded)" : ""}`;
    const code = (() => { try { return res.localResponse.json().error.code; } catch { return `<non-JSON: ${res.localResponse.text}>`; } })();
    // A route that has no candidate for this request answers before it looks at the list.
    if (exp.unlessNoCandidate && res.localResponse.status === 400 && code === "model_not_available") return null;
    if (res.localResponse.status !== status || code !== exp.reject) return `expected ${status} ${exp.reject} (${exp.why ?? ""}), got ${res.localResponse.status} ${code}`;
    return null;
  }
  if (exp.pass) {
    if (res.outcome !== "no-cluster" && res.outcome !== "upstream") return `expected pass-through, got ${res.outcome} ${res.localResponse?.text ?? ""}`;
    if (!sameBytes(res.finalBody, body)) return "pass-through body was altered";
    if (routedModel !== undefined) return "pass-through got x-llm-model";
    if (res.finalHeaders.first("content-type") !== contentType) return `pass-through content-type changed to ${res.finalHeaders.first("content-type")}`;
    return null;
  }
  if (res.outcome === "local") {
    const code = res.localResponse.json().error?.code;
    if (exp.route && res.localResponse.status === 400 && code === "model_not_available") return null;
    return `expected a rewrite (${exp.route ? `route ${exp.route}` : exp.catalog}), got ${res.localResponse.status} ${res.localResponse.text}`;
  }
  if (exp.candidates.length === 0) return `route ${exp.route} has no model for ${exp.endpoint}, yet chose ${routedModel}`;
  const forwardedType = res.upstream?.header("content-type");
  if (forwardedType !== (exp.jsonType === false ? "application/json" : contentType)) return `forwarded content-type ${forwardedType}`;
  if (res.outcome !== "upstream") return `expected upstream, got ${res.outcome}`;
  const chosen = res.upstream.header("x-llm-model");
  if (!exp.candidates.includes(chosen)) return `chose ${chosen}, not one of ${exp.candidates.join(",")}`;
  const task = res.upstream.header("x-llm-task"), tier = res.upstream.header("x-llm-complexity");
  if (exp.route && DETECTING.has(exp.route)) {
    if (!TASKS.includes(task) || !TIERS.includes(tier)) return `route ${exp.route}: task header ${task}, tier header ${tier}`;
  } else if (task !== undefined || tier !== undefined) return `task headers on a request that does not detect (${task}, ${tier})`;
  const spec = MODELS.get(chosen);
  if (res.upstream.cluster !== spec.upstream || res.upstream.header("x-llm-upstream") !== spec.upstream) return `cluster ${res.upstream.cluster} for ${chosen}`;
  if (res.contentLengthMismatch) return "forwarded content-length does not match the body";
  const out = res.upstream.body;
  const upstreamModel = spec.upstreamModel ?? spec.name;
  if (exp.list !== null) {
    // The list never reaches a provider: the body is the client's without it, model rewritten.
    let sent;
    try { sent = JSON.parse(fatalDecoder.decode(out)); } catch (e) { return `forwarded body is not valid JSON: ${e.message}`; }
    if ("models" in sent) return "the models list reached the provider";
    const want = { ...exp.value, model: upstreamModel };
    delete want.models;
    if (!isDeepStrictEqual(sent, want)) return `forwarded body ${JSON.stringify(sent).slice(0, 200)}, expected ${JSON.stringify(want).slice(0, 200)}`;
    return null;
  }
  // byte-identical outside the model value; the value is the upstream model as a JSON string
  const { start, end } = exp.model;
  const head = body.subarray(0, start), tail = body.subarray(end);
  if (out.length < head.length + tail.length + 2) return "rewritten body too short";
  if (!sameBytes(out.subarray(0, start), head)) return "bytes before the model value changed";
  if (!sameBytes(out.subarray(out.length - tail.length), tail)) return "bytes after the model value changed";
  const lit = Buffer.from(out.subarray(start, out.length - tail.length)).toString("utf8");
  let litValue;
  try { litValue = JSON.parse(lit); } catch { return `model literal ${lit} is not JSON`; }
  const unchanged = sameBytes(out, body);
  if (litValue !== upstreamModel && !(unchanged && JSON.parse(exp.model.raw) === upstreamModel)) return `model literal ${lit}, expected ${JSON.stringify(upstreamModel)}`;
  let parsed;
  try { parsed = JSON.parse(fatalDecoder.decode(out)); } catch (e) { return `forwarded body is not valid JSON: ${e.message}`; }
  if (parsed.model !== upstreamModel) return `forwarded model ${parsed.model}`;
  if (!isDeepStrictEqual(withoutModel(parsed), withoutModel(exp.value))) return "forwarded body differs outside model";
  return null;
}

export async function makeHosts(ProxyWasmHost, opts = {}) {
  const common = { configuration: opts.configuration ?? FUZZ_CONFIG_TEXT, clusters: UPSTREAMS, logLevel: 4, maxLogs: 1000, seed: 7 };
  const envoy = await ProxyWasmHost.load({ wasm: join(ROOT, "build", "envoy.wasm"), mode: "envoy-allow-stop-iteration", bufferLimit: 16 << 20, ...common });
  const higress = await ProxyWasmHost.load({ wasm: join(ROOT, "build", "higress.wasm"), mode: "higress", ...common });
  if (!envoy.configured || !higress.configured) throw new Error("the fuzz configuration was rejected by the plugin");
  return { envoy, higress };
}

/** Runs one body case; returns {ok, message, exp, res}. */
export function runCase(hosts, c) {
  const host = c.higress ? hosts.higress : hosts.envoy;
  const headers = {};
  if (c.contentType !== undefined) headers["content-type"] = c.contentType;
  if (c.encoding !== undefined) headers["content-encoding"] = c.encoding;
  if (c.spoof) Object.assign(headers, SPOOF);
  const req = { method: c.method ?? "POST", path: c.path ?? "/v1/chat/completions", headers, body: c.body };
  if (c.chunkSize) req.chunkSize = c.chunkSize;
  if (c.trailers) req.trailers = { "x-trailer": "1" };
  const exp = expectForRequest(c);
  let res;
  try {
    res = host.request(req);
  } catch (e) {
    return { ok: false, message: `host threw: ${e.stack ?? e}`, exp };
  }
  const message = check(c.body, exp, res, c.contentType);
  return { ok: message === null, message, exp, res };
}

/** Describes a body compactly for a failure report (JSON-escaped text, or hex when not UTF-8). */
export function describeBody(body, max = 600) {
  let s;
  try { s = JSON.stringify(fatalDecoder.decode(body)); } catch { s = "hex:" + Buffer.from(body).toString("hex"); }
  return s.length > max ? `${s.slice(0, max)}… (${body.length} bytes)` : s;
}

export function describeDelivery(c) {
  return { method: c.method, path: c.path, contentType: c.contentType, encoding: c.encoding, spoof: c.spoof, chunkSize: c.chunkSize, trailers: c.trailers, higress: c.higress };
}

/**
 * Runs `cases` body cases from `start` under `seed`. Recreates the hosts after a trap so one bug
 * does not mask others. Returns {failures: [{index, kind, message, body}], stats}.
 */
export async function fuzzBodies(ProxyWasmHost, { seed, cases, start = 0, maxFailures = 20, onProgress } = {}) {
  let hosts = await makeHosts(ProxyWasmHost);
  const failures = [];
  const stats = { cases: 0, reject: {}, routed: 0, passed: 0, noCandidate: 0, unhandled: 0, models: 0, kinds: {} };
  for (let i = start; i < start + cases; i++) {
    const c = generateCase(seed, i);
    const r = runCase(hosts, c);
    stats.cases++;
    stats.kinds[c.kind] = (stats.kinds[c.kind] ?? 0) + 1;
    if (r.exp.reject) stats.reject[r.exp.reject] = (stats.reject[r.exp.reject] ?? 0) + 1;
    else if (r.exp.unhandled) stats.unhandled++;
    else if (r.exp.models) stats.models++;
    else if (r.exp.pass) stats.passed++;
    else if (r.res?.outcome === "local") stats.noCandidate++;
    else stats.routed++;
    if (!r.ok) {
      failures.push({ index: i, kind: c.kind, message: r.message, body: describeBody(c.body), delivery: describeDelivery(c) });
      if (hosts.envoy.vmFailed || hosts.higress.vmFailed) hosts = await makeHosts(ProxyWasmHost);
      if (failures.length >= maxFailures) break;
    }
    if (onProgress && (i - start) % 10000 === 9999) onProgress(i - start + 1, failures.length);
  }
  return { failures, stats };
}

// -------------------------------------------------------------------------------- config fuzzing

const CONFIG_VALUES = [null, true, false, 0, -1, 1.5, 1e308, -0, "", "x", "openai", "auto", "gpt-4o", [], {}, [1], { a: 1 }, "a".repeat(5000), "\u0000", "é😀", 4294967296, 268435457];
const CONFIG_KEYS = ["endpoints", "listModels", "providers", "detection", "maxBytes", "always", "tasks", "complexity", "keywords", "builtin", "byTask", "byComplexity", "taskHeader", "complexityHeader", "coding", "default", "simple", "models", "routes", "upstreamHeader", "modelHeader", "maxBodyBytes", "defaultOutputTokens", "bytesPerToken", "paths", "name", "upstream", "upstreamModel", "price", "input", "output", "ttftMs", "tokensPerSecond", "contextWindow", "maxOutputTokens", "capabilities", "quality", "weight", "strategy", "weights", "models", "minQuality", "maxCostUsd", "maxTtftMs", "minTokensPerSecond", "task", "require", "onNoCandidate", "_rules_", "_match_route_", "unknown"];

function containersOf(v, acc = []) {
  if (v && typeof v === "object") {
    acc.push(v);
    for (const k of Object.keys(v)) containersOf(v[k], acc);
  }
  return acc;
}

// The field names the plugin knows in each kind of object (the oracle's own copy: a typo of one of
// them must be refused with the closest of them named).
const KNOWN_FIELDS = {
  top: ["models", "routes", "providers", "upstreamHeader", "modelHeader", "maxBodyBytes", "defaultOutputTokens", "bytesPerToken", "paths", "listModels", "detection", "taskHeader", "complexityHeader"],
  model: ["name", "upstream", "upstreamModel", "price", "ttftMs", "tokensPerSecond", "contextWindow", "maxOutputTokens", "capabilities", "quality", "weight", "endpoints"],
  price: ["input", "output"],
  route: ["strategy", "models", "exclude", "require", "minQuality", "maxCostUsd", "maxTtftMs", "minTokensPerSecond", "task", "weights", "onNoCandidate", "byTask", "byComplexity"],
  weights: ["quality", "price", "latency", "throughput"],
};

/** Case-insensitive edit distance with adjacent transpositions (optimal string alignment). */
function editDistance(a, b) {
  const x = a.toLowerCase(), y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[x.length][y.length];
}

/** The suggestion the error must make: the first known name closest to `name`, if close enough. */
function closestName(name, known) {
  let best = "";
  let bestDistance = Math.min(3, Math.max(1, Math.floor(name.length / 3))) + 1;
  for (const k of known) {
    const dist = editDistance(name, k);
    if (dist < bestDistance) { best = k; bestDistance = dist; }
  }
  return best;
}

/** A misspelling a person makes: two letters swapped, one dropped, doubled, replaced or re-cased. */
function typo(r, word) {
  const i = r.int(word.length);
  switch (r.int(5)) {
    case 0: return i + 1 < word.length ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2) : word + "s";
    case 1: return word.length > 2 ? word.slice(0, i) + word.slice(i + 1) : word + "x";
    case 2: return word.slice(0, i + 1) + word[i] + word.slice(i + 1);
    case 3: return word.slice(0, i) + r.pick("aeiouxz") + word.slice(i + 1);
    default: return word.toUpperCase() === word ? word.toLowerCase() : word.toUpperCase();
  }
}

/** Renames one known field of the shipped configuration to a typo; returns the expected error line. */
function misspellField(r, cfg) {
  const spots = [["", cfg, KNOWN_FIELDS.top]];
  cfg.models.forEach((m, i) => {
    spots.push([`models[${i}]`, m, KNOWN_FIELDS.model]);
    spots.push([`models[${i}].price`, m.price, KNOWN_FIELDS.price]);
  });
  for (const [alias, route] of Object.entries(cfg.routes)) {
    spots.push([`routes.${alias}`, route, KNOWN_FIELDS.route]);
    if (route.weights) spots.push([`routes.${alias}.weights`, route.weights, KNOWN_FIELDS.weights]);
  }
  const [path, obj, known] = r.pick(spots);
  const key = r.pick(Object.keys(obj));
  const bad = typo(r, key);
  if (bad === key || known.includes(bad) || bad.startsWith("_") || bad in obj) return null;
  // keep the member's place: the first unknown field in document order is the one reported
  const entries = Object.entries(obj).map(([k, v]) => [k === key ? bad : k, v]);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of entries) obj[k] = v;
  const guess = closestName(bad, known);
  const where = path ? `${path}.${bad}` : bad;
  return `model-router: invalid configuration: ${where}: unknown field${guess ? ` (did you mean "${guess}"?)` : ""}`;
}

/** A model's endpoints naming a misspelt path; returns the expected error line. */
function misspellEndpoint(r, cfg) {
  const i = r.int(cfg.models.length);
  const bad = typo(r, r.pick(PATHS));
  if (PATHS.includes(bad)) return null;
  cfg.models[i].endpoints = [bad];
  const guess = closestName(bad, PATHS);
  const what = `"${bad}" is not a handled path`;
  return `model-router: invalid configuration: models[${i}].endpoints[0]: ${guess ? `${what} (did you mean "${guess}"?)` : `${what}; expected one of ${PATHS.map((p) => `"${p}"`).join(", ")}`}`;
}

/** A configuration text: mostly structured mutations of router.json, some byte-level damage. */
export function generateConfig(seed, index) {
  const r = caseRng(seed ^ 0x5bd1e995, index);
  const cfg = JSON.parse(FUZZ_CONFIG_TEXT);
  if (r.chance(0.25)) {
    const expectError = r.chance(0.8) ? misspellField(r, cfg) : misspellEndpoint(r, cfg);
    if (expectError) return { kind: "typo", bytes: Buffer.from(JSON.stringify(cfg, null, 2), "utf8"), expectError };
  }
  const n = r.int(4); // 0 mutations: the original must be accepted
  for (let k = 0; k < n; k++) {
    const all = containersOf(cfg);
    const target = r.pick(all);
    const keys = Object.keys(target);
    switch (r.int(7)) {
      case 0: if (keys.length) { const key = r.pick(keys); if (Array.isArray(target)) target.splice(Number(key), 1); else delete target[key]; } break;
      case 1: if (keys.length) target[r.pick(keys)] = structuredClone(r.pick(CONFIG_VALUES)); break;
      case 2: if (!Array.isArray(target)) target[r.pick(CONFIG_KEYS)] = structuredClone(r.pick(CONFIG_VALUES)); break;
      case 3: if (Array.isArray(target) && target.length) target.push(structuredClone(r.pick(target))); break; // duplicates
      case 4: if (cfg.routes && typeof cfg.routes === "object") cfg.routes[r.pick([...NAMES, "x", "", "auto"])] = { strategy: r.pick(["price", "latency", "throughput", "quality", "balanced", "random", "nope"]), ...(r.chance(0.5) ? { models: [r.pick([...NAMES, "missing"])] } : {}) }; break;
      case 5: { let v = {}; for (let d = 0; d < r.pick([10, 63, 64, 65, 200]); d++) v = [v]; target[Array.isArray(target) ? 0 : r.pick(CONFIG_KEYS)] = v; break; }
      default: if (keys.length && typeof target[keys[0]] === "number") target[keys[0]] = r.pick([0, -5, 1e-9, 1e300]); break;
    }
  }
  let text = JSON.stringify(cfg, null, r.chance(0.5) ? 2 : undefined);
  let kind = n === 0 ? "original" : "mutated";
  if (r.chance(0.15)) {
    text = Buffer.from(mutateBytes(r, enc.encode(text))).toString("latin1");
    kind = "bytes";
    return { kind, bytes: Buffer.from(text, "latin1") };
  }
  if (r.chance(0.05)) { text = r.pick(["", "null", "[]", "{}", "1", '"x"', "{\"models\":[]}", "{".repeat(100)]); kind = "trivial"; }
  return { kind, bytes: Buffer.from(text, "utf8") };
}

/** One configuration case on a fresh VM: never traps; yes, or no with exactly one ERROR log line. */
export async function runConfigCase(ProxyWasmHost, c) {
  let host;
  try {
    host = await ProxyWasmHost.load({ wasm: join(ROOT, "build", "envoy.wasm"), configuration: c.bytes, clusters: UPSTREAMS, logLevel: 0 });
  } catch (e) {
    return `load threw: ${e.message}`;
  }
  if (host.vmFailed) return `VM trapped in on_configure: ${host.failure}`;
  const errors = host.logs.filter((l) => l.level >= 4);
  if (c.kind === "original" && !host.configured) return `original configuration rejected: ${errors.map((l) => l.message).join(" | ")}`;
  if (c.expectError !== undefined) {
    const got = errors.map((l) => l.message).join(" | ");
    if (host.configured || got !== c.expectError) return `expected exactly "${c.expectError}", got ${host.configured ? "an accepted configuration" : `"${got}"`}`;
  }
  if (!host.configured) {
    if (errors.length !== 1 || !errors[0].message.startsWith("model-router: invalid configuration: ")) {
      return `rejected with ${errors.length} error lines: ${errors.map((l) => l.message).join(" | ")}`;
    }
  } else {
    if (errors.length !== 0) return `accepted but logged errors: ${errors.map((l) => l.message).join(" | ")}`;
    // a usable configuration must serve requests without trapping
    for (const model of ["auto", "cheap", "mix", "smart", "split", "gpt-4o", "x"]) {
      const res = host.request({ headers: HEADERS, body: `{"model":"${model}","messages":[{"role":"user","content":"hi"}]}` });
      if (res.outcome === "vm-failed") return `VM trapped on a request with model ${model}: ${res.error}`;
    }
  }
  // proxy_validate_configuration must agree with proxy_on_configure
  const valid = host.vmFailed ? null : host.validateConfiguration(c.bytes);
  if (host.vmFailed) return `VM trapped: ${host.failure}`;
  if (valid !== null && host.configured && valid !== true) return "validate_configuration disagrees with on_configure";
  return null;
}

export async function fuzzConfigs(ProxyWasmHost, { seed, cases, start = 0, maxFailures = 20 } = {}) {
  const failures = [];
  const stats = { cases: 0, accepted: 0, rejected: 0, typos: 0 };
  for (let i = start; i < start + cases; i++) {
    const c = generateConfig(seed, i);
    const message = await runConfigCase(ProxyWasmHost, c);
    stats.cases++;
    if (c.kind === "typo") stats.typos++;
    if (message) {
      failures.push({ index: i, kind: c.kind, message, config: c.bytes.toString("utf8").slice(0, 400) });
      if (failures.length >= maxFailures) break;
    }
  }
  return { failures, stats };
}
