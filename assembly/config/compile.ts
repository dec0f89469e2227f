// Turns a validated JSON object into an immutable RouterConfig, or records the first error.
import { JsonValue, JsonKind } from "../json/tree";
import { configError, fail } from "./errors";
import { describe, isObject, join, readNumber, readString, readStringList } from "./fields";
import { ModelSpec, RouteSpec, RouterConfig, Strategy } from "./types";
import { jsonEscape } from "../json/escape";
import { NameIndex } from "./name_index";
import { delegatesEveryRequest, readDetectionSettings, readRouteDelegations } from "./detection";
import { TASK_DEFAULT, TASK_NAMES } from "./tasks";

const DEFAULT_PATHS: string[] = ["/chat/completions", "/completions", "/responses", "/messages", "/embeddings"];
const MAX_BODY_LIMIT: f64 = 268435456;
// Keys starting with "_" belong to the host (Higress adds _rules_, _match_*_, _plugin_id_ ...).
const KNOWN_TOP_LEVEL: string[] = [
  "models", "routes", "upstreamHeader", "modelHeader", "maxBodyBytes", "defaultOutputTokens",
  "bytesPerToken", "paths", "detection", "taskHeader", "complexityHeader",
];

export function compileRouterConfig(root: JsonValue, path: string): RouterConfig | null {
  if (root.kind != JsonKind.Object) {
    fail(path, "expected a JSON object, got " + describe(root));
    return null;
  }
  for (let i = 0; i < root.keys.length; i++) {
    const key = root.keys[i];
    if (!key.startsWith("_") && !KNOWN_TOP_LEVEL.includes(key)) {
      fail(join(path, key), "unknown field");
      return null;
    }
  }
  const cfg = new RouterConfig();
  cfg.capabilityNames = ["tools", "vision", "json"];
  if (!readModels(root, path, cfg)) return null;
  if (!readRoutes(root, path, cfg)) return null;
  if (!readSettings(root, path, cfg)) return null;
  if (!readDetectionSettings(root, path, cfg)) return null;
  cfg.modelIndex = new NameIndex(cfg.models.map<ArrayBuffer>((m) => m.nameBytes));
  cfg.routeIndex = new NameIndex(cfg.routes.map<ArrayBuffer>((r) => r.nameBytes));
  return cfg;
}

function capabilityMask(names: string[], cfg: RouterConfig, where: string): i64 {
  let mask: u32 = 0;
  for (let i = 0; i < names.length; i++) {
    let bit = cfg.capabilityNames.indexOf(names[i]);
    if (bit < 0) {
      if (cfg.capabilityNames.length == 32) {
        fail(where, "more than 32 distinct capabilities");
        return -1;
      }
      bit = cfg.capabilityNames.length;
      cfg.capabilityNames.push(names[i]);
    }
    mask |= (<u32>1) << bit;
  }
  return <i64>mask;
}

function readModels(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const where = join(path, "models");
  const list = root.get("models");
  if (list === null) return fail(where, "required");
  if (list.kind != JsonKind.Array) return fail(where, "expected an array of models");
  if (list.items.length == 0) return fail(where, "expected at least one model");
  for (let i = 0; i < list.items.length; i++) {
    const model = readModel(list.items[i], where + "[" + i.toString() + "]", cfg);
    if (model === null) return false;
    for (let j = 0; j < cfg.models.length; j++) {
      if (cfg.models[j].name == model.name) {
        return fail(where + "[" + i.toString() + "].name", "duplicate model name \"" + model.name + "\"");
      }
    }
    cfg.models.push(model);
  }
  return true;
}

function hasControlCharacter(s: string): bool {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) == 0x7f) return true;
  return false;
}

function readModel(v: JsonValue, path: string, cfg: RouterConfig): ModelSpec | null {
  if (!isObject(v)) { fail(path, "expected an object"); return null; }
  const m = new ModelSpec();
  const name = readString(v, "name", path, true);
  if (name === null) return null;
  const upstream = readString(v, "upstream", path, true);
  if (upstream === null) return null;
  if (hasControlCharacter(upstream)) { fail(join(path, "upstream"), "must not contain control characters"); return null; }
  const upstreamModel = readString(v, "upstreamModel", path, false);
  if (upstreamModel === null && configError.length > 0) return null;
  m.name = name;
  m.nameBytes = String.UTF8.encode(name);
  m.upstream = upstream;
  m.upstreamBytes = String.UTF8.encode(upstream);
  // The literal spliced into bodies, quotes included: computed once here, not per request.
  m.upstreamModelLiteral = String.UTF8.encode("\"" + jsonEscape(upstreamModel !== null ? upstreamModel : name) + "\"");

  const price = v.get("price");
  const pricePath = join(path, "price");
  if (price === null) { fail(pricePath, "required"); return null; }
  if (!isObject(price)) { fail(pricePath, "expected an object {\"input\", \"output\"}"); return null; }
  m.inputPrice = readNumber(price, "input", pricePath, true, 0, 0, false);
  m.outputPrice = readNumber(price, "output", pricePath, true, 0, 0, false);
  m.ttftMs = readNumber(v, "ttftMs", path, true, 0, 0, false);
  m.tokensPerSecond = readNumber(v, "tokensPerSecond", path, true, 0, 0, true);
  m.contextWindow = readNumber(v, "contextWindow", path, true, 0, 0, true);
  if (configError.length > 0) return null;
  m.maxOutputTokens = readNumber(v, "maxOutputTokens", path, false, m.contextWindow, 0, true);
  m.weight = readNumber(v, "weight", path, false, 1, 0, false);
  if (configError.length > 0) return null;
  const caps = readStringList(v, "capabilities", path);
  if (configError.length > 0) return null;
  if (caps !== null) {
    const mask = capabilityMask(caps, cfg, join(path, "capabilities"));
    if (mask < 0) return null;
    m.capabilities = <u32>mask;
  }
  if (!readQuality(v, path, m)) return null;
  return m;
}

function readQuality(v: JsonValue, path: string, m: ModelSpec): bool {
  const q = v.get("quality");
  const where = join(path, "quality");
  if (q === null) return true;
  if (q.kind == JsonKind.Number) {
    m.quality = readNumber(v, "quality", path, true, 0, 0, false, 10);
    return configError.length == 0;
  }
  if (q.kind != JsonKind.Object) return fail(where, "expected a number from 0 to 10 or an object of task scores");
  for (let i = 0; i < q.keys.length; i++) {
    const score = readNumber(q, q.keys[i], where, true, 0, 0, false, 10);
    if (configError.length > 0) return false;
    if (q.keys[i] == "default") { m.quality = score; continue; }
    m.taskNames.push(q.keys[i]);
    m.taskQualities.push(score);
  }
  return true;
}

function modelIndex(cfg: RouterConfig, name: string): i32 {
  for (let i = 0; i < cfg.models.length; i++) if (cfg.models[i].name == name) return i;
  return -1;
}

function readRoutes(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const routes = root.get("routes");
  const where = join(path, "routes");
  if (routes === null) return true;
  if (!isObject(routes)) return fail(where, "expected an object of routes keyed by alias");
  for (let i = 0; i < routes.keys.length; i++) {
    const name = routes.keys[i];
    const routePath = join(where, name);
    if (name.length == 0) return fail(routePath, "a route name must not be empty");
    if (modelIndex(cfg, name) >= 0) return fail(routePath, "a route must not have the name of a model");
    for (let j = 0; j < i; j++) if (routes.keys[j] == name) return fail(routePath, "duplicate route");
    const route = readRoute(routes.values[i], routePath, cfg);
    if (route === null) return false;
    route.name = name;
    route.nameBytes = String.UTF8.encode(name);
    if (route.taskAuto && !readTaskVariants(routes.values[i], routePath, cfg, route)) return false;
    cfg.routes.push(route);
  }
  return readRouteDelegations(routes, where, cfg);
}

// A "task": "auto" route ranks with the detected task's quality: one variant of the route per
// built-in task, read by the same code, so the request path only picks variant[task].
function readTaskVariants(v: JsonValue, path: string, cfg: RouterConfig, route: RouteSpec): bool {
  for (let t = 0; t <= TASK_DEFAULT; t++) {
    const variant = readRoute(v, path, cfg, TASK_NAMES[t]);
    if (variant === null) return false;
    variant.name = route.name;
    variant.nameBytes = route.nameBytes;
    route.taskVariants.push(variant);
  }
  return true;
}

function parseStrategy(name: string): i32 {
  if (name == "price") return Strategy.Price;
  if (name == "latency") return Strategy.Latency;
  if (name == "throughput") return Strategy.Throughput;
  if (name == "quality") return Strategy.Quality;
  if (name == "balanced") return Strategy.Balanced;
  if (name == "random") return Strategy.Random;
  return -1;
}

function readModelNames(v: JsonValue, key: string, path: string, cfg: RouterConfig): i32[] | null {
  const names = readStringList(v, key, path);
  if (names === null) return null;
  const out = new Array<i32>(0);
  for (let i = 0; i < names.length; i++) {
    const index = modelIndex(cfg, names[i]);
    const where = join(path, key) + "[" + i.toString() + "]";
    if (index < 0) { fail(where, "unknown model \"" + names[i] + "\""); return null; }
    if (out.includes(index)) { fail(where, "model \"" + names[i] + "\" listed twice"); return null; }
    out.push(index);
  }
  return out;
}

function readRoute(v: JsonValue, path: string, cfg: RouterConfig, taskOverride: string | null = null): RouteSpec | null {
  if (!isObject(v)) { fail(path, "expected an object"); return null; }
  const r = new RouteSpec();
  // A route that hands every request to another route (byTask "default", or all four tiers)
  // never ranks itself and needs no strategy.
  const strategyRequired = !delegatesEveryRequest(v);
  const read = readString(v, "strategy", path, strategyRequired);
  if (read === null && configError.length > 0) return null;
  const strategy = read !== null ? read : "balanced";
  const s = parseStrategy(strategy);
  if (s < 0) {
    fail(join(path, "strategy"), "unknown strategy \"" + strategy + "\" (expected price, latency, throughput, quality, balanced or random)");
    return null;
  }
  r.strategy = <Strategy>s;
  if (!readCandidates(v, path, cfg, r)) return null;
  const required = readStringList(v, "require", path);
  if (configError.length > 0) return null;
  if (required !== null) {
    const mask = capabilityMask(required, cfg, join(path, "require"));
    if (mask < 0) return null;
    r.require = <u32>mask;
  }
  r.minQuality = readNumber(v, "minQuality", path, false, -Infinity, 0, false, 10);
  r.maxCostUsd = readNumber(v, "maxCostUsd", path, false, Infinity, 0, false);
  r.maxTtftMs = readNumber(v, "maxTtftMs", path, false, Infinity, 0, false);
  r.minTokensPerSecond = readNumber(v, "minTokensPerSecond", path, false, -Infinity, 0, false);
  if (configError.length > 0) return null;
  let task = taskOverride !== null ? taskOverride : readString(v, "task", path, false);
  if (configError.length > 0) return null;
  if (task == "auto") { r.taskAuto = true; task = "default"; }
  for (let i = 0; i < r.candidates.length; i++) {
    const model = cfg.models[r.candidates[i]];
    r.candidateQuality.push(task !== null ? model.qualityFor(task) : model.quality);
  }
  if (!readWeights(v, path, r)) return null;
  const fallback = readString(v, "onNoCandidate", path, false);
  if (configError.length > 0) return null;
  if (fallback !== null && fallback != "reject") {
    r.onNoCandidate = modelIndex(cfg, fallback);
    if (r.onNoCandidate < 0) {
      fail(join(path, "onNoCandidate"), "expected \"reject\" or a model name, got unknown model \"" + fallback + "\"");
      return null;
    }
  }
  return r;
}

function readCandidates(v: JsonValue, path: string, cfg: RouterConfig, r: RouteSpec): bool {
  const listed = readModelNames(v, "models", path, cfg);
  if (configError.length > 0) return false;
  const excluded = readModelNames(v, "exclude", path, cfg);
  if (configError.length > 0) return false;
  if (listed !== null && listed.length == 0) return fail(join(path, "models"), "expected at least one model");
  const count = listed !== null ? listed.length : cfg.models.length;
  for (let i = 0; i < count; i++) {
    const index = listed !== null ? listed[i] : i;
    if (excluded !== null && excluded.includes(index)) continue;
    r.candidates.push(index);
  }
  if (r.candidates.length == 0) return fail(join(path, "exclude"), "excludes every candidate model");
  return true;
}

function readWeights(v: JsonValue, path: string, r: RouteSpec): bool {
  const w = v.get("weights");
  const where = join(path, "weights");
  if (w === null) return true;
  if (!isObject(w)) return fail(where, "expected an object {quality, price, latency, throughput}");
  for (let i = 0; i < w.keys.length; i++) {
    const k = w.keys[i];
    if (k != "quality" && k != "price" && k != "latency" && k != "throughput") {
      return fail(join(where, k), "unknown weight (expected quality, price, latency or throughput)");
    }
  }
  r.weightQuality = readNumber(w, "quality", where, false, 0, 0, false);
  r.weightPrice = readNumber(w, "price", where, false, 0, 0, false);
  r.weightLatency = readNumber(w, "latency", where, false, 0, 0, false);
  r.weightThroughput = readNumber(w, "throughput", where, false, 0, 0, false);
  if (configError.length > 0) return false;
  if (r.weightQuality + r.weightPrice + r.weightLatency + r.weightThroughput == 0) {
    return fail(where, "at least one weight must be positive");
  }
  return true;
}

function isHeaderNameChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
}

function readHeaderName(root: JsonValue, key: string, path: string, fallback: string): string | null {
  const value = readString(root, key, path, false);
  if (configError.length > 0) return null;
  const name = value !== null ? value.toLowerCase() : fallback;
  for (let i = 0; i < name.length; i++) {
    if (!isHeaderNameChar(name.charCodeAt(i))) {
      fail(join(path, key), "expected an HTTP header name (letters, digits, '-', '_', '.')");
      return null;
    }
  }
  return name;
}

function readSettings(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const upstreamHeader = readHeaderName(root, "upstreamHeader", path, "x-llm-upstream");
  if (upstreamHeader === null) return false;
  const modelHeader = readHeaderName(root, "modelHeader", path, "x-llm-model");
  if (modelHeader === null) return false;
  if (upstreamHeader == modelHeader) return fail(join(path, "modelHeader"), "must differ from upstreamHeader");
  cfg.upstreamHeader = String.UTF8.encode(upstreamHeader);
  cfg.modelHeader = String.UTF8.encode(modelHeader);
  const maxBody = readNumber(root, "maxBodyBytes", path, false, 10485760, 0, true, MAX_BODY_LIMIT);
  cfg.defaultOutputTokens = readNumber(root, "defaultOutputTokens", path, false, 512, 0, false);
  cfg.bytesPerToken = readNumber(root, "bytesPerToken", path, false, 4, 0, true);
  if (configError.length > 0) return false;
  if (maxBody != Math.floor(maxBody)) return fail(join(path, "maxBodyBytes"), "expected a whole number of bytes");
  cfg.maxBodyBytes = <usize>maxBody;
  cfg.maxBodyBytesText = String.UTF8.encode(cfg.maxBodyBytes.toString());
  const paths = readStringList(root, "paths", path);
  if (configError.length > 0) return false;
  const list = paths !== null ? paths : DEFAULT_PATHS;
  if (list.length == 0) return fail(join(path, "paths"), "expected at least one path suffix");
  for (let i = 0; i < list.length; i++) {
    if (list[i].charCodeAt(0) != 0x2f) return fail(join(path, "paths") + "[" + i.toString() + "]", "expected a path suffix starting with '/'");
    cfg.paths.push(String.UTF8.encode(list[i]));
  }
  return true;
}
