// `routes`: alias → strategy and candidate limits. Each route is compiled against the catalog into
// model indices and per-candidate task quality, so the request path does no name lookups.
import { jsonEscape } from "../json/escape";
import { JsonKind, JsonValue } from "../json/tree";
import { logfmtName } from "./log_name";
import { hashBytes } from "./name_index";
import { configError, fail } from "./errors";
import { checkFields, checkUniqueKeys, hasControlCharacter, isObject, join, readNumber, readString, readStringList, unknownName } from "./fields";
import { capabilityMask } from "./catalog";
import { delegatesEveryRequest, readRouteDelegations } from "./detection";
import { readRouteFallbacks } from "./failover";
import { readRouteLive } from "./live";
import { TASK_DEFAULT, TASK_NAMES } from "./tasks";
import { STRATEGY_NAMES, Strategy, strategyList } from "./strategies";
import { CandidateColumns, Catalog, RouteSpec, RouterConfig } from "./types";

const ROUTE_FIELDS: string[] = [
  "strategy", "models", "exclude", "require", "minQuality", "maxCostUsd", "maxTtftMs",
  "minTokensPerSecond", "task", "weights", "onNoCandidate", "byTask", "byComplexity", "spread", "explore",
  "maxFallbacks",
];
const WEIGHT_FIELDS: string[] = ["quality", "price", "latency", "throughput"];

export function readRoutes(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const catalog = cfg.catalog;
  const routes = root.get("routes");
  const where = join(path, "routes");
  if (routes === null) return true;
  if (!isObject(routes)) return fail(where, "expected an object of routes keyed by alias");
  if (!checkUniqueKeys(routes, where)) return false;
  for (let i = 0; i < routes.keys.length; i++) {
    const name = routes.keys[i];
    const routePath = join(where, name);
    if (name.length == 0) return fail(routePath, "a route name must not be empty");
    // Clients name the route in their body; it is written into log lines, metrics and headers.
    if (hasControlCharacter(name)) return fail(where, "\"" + jsonEscape(name) + "\": a route name must not contain control characters");
    if (catalog.modelsByName.has(name)) return fail(routePath, "a route must not have the name of a model");
    const route = readRoute(routes.values[i], routePath, catalog);
    if (route === null) return false;
    route.name = name;
    route.nameBytes = String.UTF8.encode(name);
    route.logName = logfmtName(route.nameBytes);
    if (route.taskAuto && !readTaskVariants(routes.values[i], routePath, catalog, route)) return false;
    cfg.routes.push(route);
  }
  return readRouteDelegations(routes, where, cfg);
}

// A "task": "auto" route ranks with the detected task's quality: one variant of the route per
// built-in task, read by the same code, so the request path only picks variant[task].
function readTaskVariants(v: JsonValue, path: string, catalog: Catalog, route: RouteSpec): bool {
  for (let t = 0; t <= TASK_DEFAULT; t++) {
    const variant = readRoute(v, path, catalog, TASK_NAMES[t]);
    if (variant === null) return false;
    variant.name = route.name;
    variant.nameBytes = route.nameBytes;
    variant.logName = route.logName;
    route.taskVariants.push(variant);
  }
  return true;
}

function readRoute(v: JsonValue, path: string, catalog: Catalog, taskOverride: string | null = null): RouteSpec | null {
  if (!isObject(v)) { fail(path, "expected an object"); return null; }
  if (!checkFields(v, path, ROUTE_FIELDS)) return null;
  const r = new RouteSpec();
  // A route that hands every request to another route (byTask "default", or all four tiers)
  // never ranks itself and needs no strategy.
  const read = readString(v, "strategy", path, !delegatesEveryRequest(v));
  if (read === null && configError.length > 0) return null;
  const strategy = read !== null ? read : "balanced";
  const s = STRATEGY_NAMES.indexOf(strategy);
  if (s < 0) {
    fail(join(path, "strategy"), unknownName("unknown strategy \"" + strategy + "\" (expected " + strategyList() + ")", strategy, STRATEGY_NAMES));
    return null;
  }
  r.strategy = <Strategy>s;
  if (!readCandidates(v, path, catalog, r)) return null;
  const required = readStringList(v, "require", path);
  if (configError.length > 0) return null;
  if (required !== null) {
    const mask = capabilityMask(required, catalog, join(path, "require"), false);
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
  r.candidateQuality = new StaticArray<f64>(r.candidates.length);
  for (let i = 0; i < r.candidates.length; i++) {
    const model = unchecked(catalog.models[unchecked(r.candidates[i])]);
    unchecked(r.candidateQuality[i] = task !== null ? model.qualityFor(task) : model.quality);
  }
  if (!readWeights(v, path, r)) return null;
  if (!readRouteLive(v, path, r)) return null;
  if (!readRouteFallbacks(v, path, r)) return null;
  return readOnNoCandidate(v, path, catalog, r) ? r : null;
}

// Model names → indices; each name must be in the catalog and listed once. Names are looked up by
// their bytes in the document, so a long list allocates nothing per name.
function readModelNames(v: JsonValue, key: string, path: string, catalog: Catalog, listed: StaticArray<bool>): i32[] | null {
  const list = v.get(key);
  if (list === null) return null;
  if (!list.isStringList && (list.kind != JsonKind.Array || list.items.length > 0)) {
    readStringList(v, key, path); // records the error for what is not a list of strings
    if (configError.length == 0) fail(join(path, key), "expected an array of strings");
    return null;
  }
  const out = new Array<i32>(list.stringCount);
  for (let i = 0; i < out.length; i++) {
    const index = modelNamed(list, i, catalog);
    if (index < 0 || listed[index]) {
      const where = join(path, key) + "[" + i.toString() + "]";
      const name = list.items[i].str;
      if (name.length == 0) fail(where, "expected a non-empty string");
      else if (index >= 0) fail(where, "model \"" + name + "\" listed twice");
      else fail(where, unknownName("unknown model \"" + name + "\"", name, catalog.models.map<string>((m) => m.name)));
      return null;
    }
    listed[index] = true;
    out[i] = index;
  }
  return out;
}

function modelNamed(list: JsonValue, i: i32, catalog: Catalog): i32 {
  const start = list.stringStartAt(i), n = list.stringEndAt(i) - start;
  if (!list.stringHasEscapeAt(i)) return catalog.modelIndex.find(start, n, hashBytes(start, n));
  const name = list.items[i].str;
  return catalog.modelsByName.has(name) ? catalog.modelsByName.get(name) : -1;
}

function readCandidates(v: JsonValue, path: string, catalog: Catalog, r: RouteSpec): bool {
  const count = catalog.models.length;
  const listedFlags = new StaticArray<bool>(count);
  const excludedFlags = new StaticArray<bool>(count);
  const listed = readModelNames(v, "models", path, catalog, listedFlags);
  if (configError.length > 0) return false;
  const excluded = readModelNames(v, "exclude", path, catalog, excludedFlags);
  if (configError.length > 0) return false;
  if (listed !== null && listed.length == 0) return fail(join(path, "models"), "expected at least one model");
  const n = listed !== null ? listed.length : count;
  const candidates = new Array<i32>(n);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const index = listed !== null ? unchecked(listed[i]) : i;
    if (excluded === null || !excludedFlags[index]) candidates[kept++] = index;
  }
  candidates.length = kept; // an excluded model the route did not list removes nothing
  if (candidates.length == 0) return fail(join(path, "exclude"), "excludes every candidate model");
  const shared = sharedCandidates(catalog, candidates);
  r.candidates = shared.list;
  r.columns = shared.columns;
  return true;
}

// Routes with the very same candidates (often all of the catalog's, in order) share one list and one
// set of columns: a catalog of 1000 models listed by 200 routes is compiled, and kept, once.
class SharedCandidates {
  constructor(readonly list: i32[], readonly columns: CandidateColumns) {}
}
let sharedCatalog: Catalog | null = null;
let shared = new Map<u32, SharedCandidates[]>();

function sharedCandidates(catalog: Catalog, candidates: i32[]): SharedCandidates {
  if (sharedCatalog !== catalog) {
    sharedCatalog = catalog;
    shared = new Map<u32, SharedCandidates[]>();
  }
  const bytes = <usize>candidates.length << 2;
  const data = changetype<ArrayBufferView>(candidates).dataStart;
  const hash = hashBytes(data, bytes);
  const same = shared.has(hash) ? shared.get(hash) : new Array<SharedCandidates>(0);
  for (let i = 0; i < same.length; i++) {
    const c = unchecked(same[i]);
    if (c.list.length == candidates.length && memory.compare(changetype<ArrayBufferView>(c.list).dataStart, data, bytes) == 0) return c;
  }
  const made = new SharedCandidates(candidates, new CandidateColumns(catalog.models, candidates));
  same.push(made);
  shared.set(hash, same);
  return made;
}

function readWeights(v: JsonValue, path: string, r: RouteSpec): bool {
  const w = v.get("weights");
  const where = join(path, "weights");
  if (w === null) return true;
  if (!isObject(w)) return fail(where, "expected an object {quality, price, latency, throughput}");
  if (!checkFields(w, where, WEIGHT_FIELDS)) return false;
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

function readOnNoCandidate(v: JsonValue, path: string, catalog: Catalog, r: RouteSpec): bool {
  const fallback = readString(v, "onNoCandidate", path, false);
  if (configError.length > 0) return false;
  if (fallback === null || fallback == "reject") return true;
  if (!catalog.modelsByName.has(fallback)) {
    return fail(join(path, "onNoCandidate"), unknownName("expected \"reject\" or a model name, got unknown model \"" + fallback + "\"", fallback, catalog.models.map<string>((m) => m.name)));
  }
  r.onNoCandidate = catalog.modelsByName.get(fallback);
  return true;
}
