// Request paths as the router compares them. A client (or a library) may send
// `/v1/chat/completions/`, `/v1/chat/%63ompletions` or `/v1/chat%2Fcompletions`; servers behind the
// gateway (uvicorn under vLLM, SGLang, LiteLLM ...) decode escapes before routing and accept or
// redirect a trailing slash, so such a request still ends up as chat completions with the alias in
// it. The router therefore matches on the path
// with the query cut off, every %XX escape decoded and trailing slashes dropped; the path Envoy
// forwards is left as the client sent it.
import { ByteBuffer } from "../abi/byte_buffer";
import { ASCII_CASE_BIT, DIGIT_0, HASH, LOWER_A, PERCENT, QUESTION, SLASH } from "../bytes";
import { ModelList, RouterConfig } from "../config/types";
import { hashBytes } from "../config/name_index";

const decoded = new ByteBuffer();

// The normalised path of the current request (points into the header block or into `decoded`).
export let normalPath: usize = 0;
export let normalPathLength: usize = 0;

@inline function hexDigit(c: u32): i32 {
  if (c - DIGIT_0 < 10) return <i32>(c - DIGIT_0);
  const lower = c | ASCII_CASE_BIT;
  if (lower - LOWER_A < 6) return <i32>(lower - LOWER_A + 10);
  return -1;
}

// Decodes every well-formed %XX escape of [p, p+n) into `out`; a stray '%' stays as it is.
function decodeInto(p: usize, n: usize, out: usize): usize {
  let w: usize = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == PERCENT && i + 2 < n) {
      const hi = hexDigit(load<u8>(p + i + 1));
      const lo = hexDigit(load<u8>(p + i + 2));
      if (hi >= 0 && lo >= 0) {
        store<u8>(out + w++, <u8>((hi << 4) | lo));
        i += 2;
        continue;
      }
    }
    store<u8>(out + w++, c);
  }
  return w;
}

export function normalisePath(p: usize, n: usize): void {
  let end = n;
  let escaped = false;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == QUESTION || c == HASH) { end = i; break; }
    if (c == PERCENT) escaped = true;
  }
  let at = p, length = end;
  if (escaped) {
    at = decoded.reserve(end, 256); // decoding never lengthens the path
    length = decodeInto(p, end, at);
  }
  while (length > 1 && load<u8>(at + length - 1) == SLASH) length--;
  normalPath = at;
  normalPathLength = length;
}

@inline function endsWith(p: usize, n: usize, suffix: ArrayBuffer): bool {
  const k = <usize>suffix.byteLength;
  return k <= n && memory.compare(p + n - k, changetype<usize>(suffix), k) == 0;
}

// The index of the longest configured path suffix the normalised path ends with, or -1. The
// longest wins: "/v1/chat/completions" also ends with "/completions".
export function handledPathIndex(cfg: RouterConfig): i32 {
  let best = -1;
  let bestLength = 0;
  for (let i = 0; i < cfg.paths.length; i++) {
    const suffix = unchecked(cfg.paths[i]);
    if (suffix.byteLength > bestLength && endsWith(normalPath, normalPathLength, suffix)) {
      best = i;
      bestLength = suffix.byteLength;
    }
  }
  return best;
}

const MODELS = String.UTF8.encode("/models");
const MODELS_SLASH = String.UTF8.encode("/models/");

// Where the answer to a GET of the normalised path sits in `list.body`: [entryStart, entryEnd)
// for …/models (the whole list) or …/models/<alias or model> (its entry). False otherwise.
export let entryStart: i32 = 0;
export let entryEnd: i32 = 0;

export function findModelsEntry(cfg: RouterConfig): bool {
  const list = cfg.modelList;
  if (list.body.byteLength == 0) return false; // listModels is off
  const p = normalPath, n = normalPathLength;
  if (endsWith(p, n, MODELS)) {
    entryStart = 0;
    entryEnd = list.body.byteLength;
    return true;
  }
  // Model ids may contain '/' ("meta-llama/Llama-3.1-8B"): try every "/models/" in the path.
  const k = <usize>MODELS_SLASH.byteLength;
  for (let i: usize = 0; i + k < n; i++) {
    if (load<u8>(p + i) != SLASH || memory.compare(p + i, changetype<usize>(MODELS_SLASH), k) != 0) continue;
    if (findEntry(cfg, list, p + i + k, n - i - k)) return true;
  }
  return false;
}

function findEntry(cfg: RouterConfig, list: ModelList, id: usize, n: usize): bool {
  const hash = hashBytes(id, n);
  const route = cfg.routeIndex.find(id, n, hash);
  if (route >= 0) {
    entryStart = unchecked(list.routeStart[route]);
    entryEnd = unchecked(list.routeEnd[route]);
    return true;
  }
  const model = cfg.modelIndex.find(id, n, hash);
  if (model < 0) return false;
  entryStart = unchecked(list.modelStart[model]);
  entryEnd = unchecked(list.modelEnd[model]);
  return true;
}
