// Configuration of task and complexity detection: the `detection` object, the `taskHeader` /
// `complexityHeader` names and each route's `byTask` / `byComplexity` delegation. Everything is
// validated with field paths and compiled once: keywords into one automaton, delegation targets
// into route indices, so the request path does no string work.
import { JsonKind, JsonValue } from "../json/tree";
import { DEFAULT_DETECTION_MAX_BYTES, DetectionConfig } from "./detection_config";
import { configError, fail } from "./errors";
import { checkFields, hasControlCharacter, describe, isObject, join, readString, unknownName } from "./fields";
import { readHeaderName } from "./header_names";
import {
  KeywordSpec, MAX_AUTOMATON_STATES, MAX_KEYWORD_BYTES, buildAutomaton, keywordSpec,
} from "./keyword_automaton";
import { BUILTIN_RULES } from "./task_rules";
import {
  MARKER_NAMES, MARKER_SIGNALS, SIGNAL_CODE_SYNTAX, SIGNAL_COUNT, SIGNAL_QUANTITY, TASK_COUNT, TASK_DEFAULT,
  TASK_MATH, TASK_NAMES, TIER_COUNT, TIER_NAMES,
} from "./tasks";
import { RouteSpec, RouterConfig } from "./types";

const DETECTION_FIELDS: string[] = ["maxBytes", "always", "tasks", "complexity"];
const RULE_FIELDS: string[] = ["keywords", "builtin"];
const MIN_MAX_BYTES: f64 = 64;
const MAX_MAX_BYTES: f64 = 1048576;
const MAX_KEYWORD_WEIGHT: f64 = 10;
const DETECTED_TASK_NAMES: string[] = TASK_NAMES.slice(0, TASK_DEFAULT);

// ---- names --------------------------------------------------------------------------------------

// " (did you mean "x"?)" for the closest known name within a few edits, else "".
function suggestion(name: string, known: string[]): string {
  return unknownName("", name, known);
}

function listNames(names: string[]): string {
  let text = "";
  for (let i = 0; i < names.length; i++) text += (i == 0 ? "" : i == names.length - 1 ? " or " : ", ") + names[i];
  return text;
}

// ---- headers ------------------------------------------------------------------------------------

function readHeaders(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const task = readHeaderName(root, "taskHeader", path, "x-llm-task");
  if (task === null) return false;
  const tier = readHeaderName(root, "complexityHeader", path, "x-llm-complexity");
  if (tier === null) return false;
  const upstream = String.UTF8.decode(cfg.upstreamHeader);
  const model = String.UTF8.decode(cfg.modelHeader);
  if (task == upstream || task == model) return fail(join(path, "taskHeader"), "must differ from upstreamHeader and modelHeader");
  if (tier == upstream || tier == model) return fail(join(path, "complexityHeader"), "must differ from upstreamHeader and modelHeader");
  if (tier == task) return fail(join(path, "complexityHeader"), "must differ from taskHeader");
  cfg.taskHeader = String.UTF8.encode(task);
  cfg.complexityHeader = String.UTF8.encode(tier);
  return true;
}

// ---- keywords -----------------------------------------------------------------------------------

function formatNumber(x: f64): string {
  return isFinite(x) && x == Math.floor(x) && Math.abs(x) < 1e15 ? (<i64>x).toString() : x.toString();
}

// `keywords`: {"phrase": weight, ...}; appends to specs.
function readKeywords(rule: JsonValue, path: string, signal: u8, specs: KeywordSpec[]): bool {
  const list = rule.get("keywords");
  if (list === null) return true;
  const where = join(path, "keywords");
  if (list.kind != JsonKind.Object) return fail(where, "expected an object of keyword → weight, e.g. {\"kubernetes\": 2}");
  for (let i = 0; i < list.keys.length; i++) {
    const text = list.keys[i];
    const at = join(where, text);
    for (let j = 0; j < i; j++) if (list.keys[j] == text) return fail(at, "duplicate keyword");
    if (hasControlCharacter(text)) return fail(at, "a keyword must not contain control characters");
    const weight = list.values[i];
    if (weight.kind != JsonKind.Number || !isFinite(weight.num) || Math.abs(weight.num) > MAX_KEYWORD_WEIGHT || weight.num == 0) {
      return fail(at, "expected a weight between -10 and 10, not 0, got " + (weight.kind == JsonKind.Number ? formatNumber(weight.num) : describe(weight)));
    }
    const spec = keywordSpec(text, signal, <f32>weight.num);
    if (spec === null) return fail(at, "expected 1 to " + MAX_KEYWORD_BYTES.toString() + " bytes of text (a trailing * marks a prefix)");
    specs.push(spec);
  }
  return true;
}

// One entry of `detection.tasks` or `detection.complexity`: {"keywords": {...}, "builtin": bool}.
function readRule(rule: JsonValue, path: string, signal: u8, specs: KeywordSpec[], d: DetectionConfig): bool {
  if (!isObject(rule)) return fail(path, "expected an object {\"keywords\": {...}, \"builtin\": true|false}");
  if (!checkFields(rule, path, RULE_FIELDS)) return false;
  const builtin = rule.get("builtin");
  if (builtin !== null) {
    if (builtin.kind != JsonKind.Bool) return fail(join(path, "builtin"), "expected true or false, got " + describe(builtin));
    if (!builtin.bool) d.builtin &= ~(<u32>1 << signal);
  }
  return readKeywords(rule, path, signal, specs);
}

function readRuleGroup(detection: JsonValue, key: string, names: string[], signals: u8[], path: string,
  specs: KeywordSpec[], d: DetectionConfig): bool {
  const group = detection.get(key);
  if (group === null) return true;
  const where = join(path, key);
  if (!isObject(group)) return fail(where, "expected an object keyed by " + listNames(names));
  for (let i = 0; i < group.keys.length; i++) {
    const name = group.keys[i];
    const at = names.indexOf(name);
    if (at < 0) {
      const why = key == "tasks" && name == "default"
        ? "\"default\" is what matches no task; it has no keywords"
        : "unknown " + (key == "tasks" ? "task" : "complexity marker") + suggestion(name, names) + " (expected " + listNames(names) + ")";
      return fail(join(where, name), why);
    }
    for (let j = 0; j < i; j++) if (group.keys[j] == name) return fail(join(where, name), "duplicate entry");
    if (!readRule(group.values[i], join(where, name), signals[at], specs, d)) return false;
  }
  return true;
}

function builtinSpecs(d: DetectionConfig, specs: KeywordSpec[]): void {
  for (let signal = 0; signal < SIGNAL_COUNT; signal++) {
    // Code syntax stays on with coding off: it also tells the complexity tier that code is present.
    if (signal == SIGNAL_QUANTITY ? !d.builtinOn(TASK_MATH) : signal != SIGNAL_CODE_SYNTAX && !d.builtinOn(signal)) continue;
    const entries = BUILTIN_RULES[signal].replaceAll("\n", "").split("|");
    for (let i = 0; i < entries.length; i++) {
      const space = entries[i].indexOf(" ");
      if (space <= 0) continue;
      const spec = keywordSpec(entries[i].substring(space + 1), <u8>signal, <f32>parseFloat(entries[i].substring(0, space)));
      if (spec !== null) specs.push(spec);
    }
  }
}

function readMaxBytes(detection: JsonValue, path: string, d: DetectionConfig): bool {
  const v = detection.get("maxBytes");
  if (v === null) return true;
  const where = join(path, "maxBytes");
  if (v.kind != JsonKind.Number || v.num != Math.floor(v.num) || v.num < MIN_MAX_BYTES || v.num > MAX_MAX_BYTES) {
    return fail(where, "expected a whole number of bytes from " + (<i32>MIN_MAX_BYTES).toString() + " to " + (<i32>MAX_MAX_BYTES).toString());
  }
  d.maxBytes = <i32>v.num;
  return true;
}

// ---- the detection object -----------------------------------------------------------------------

// A configuration whose `detection` object is the same JSON value as the last one compiled (the
// global configuration and Higress rules that do not override it) shares the compiled detector.
let lastSource: JsonValue | null = null;
let lastCompiled: DetectionConfig | null = null;
let builtinOnly: DetectionConfig | null = null;

function compileDetection(detection: JsonValue | null, path: string, build: bool): DetectionConfig | null {
  if (detection === null && builtinOnly !== null) return builtinOnly;
  if (detection !== null && detection === lastSource && lastCompiled !== null) return lastCompiled;
  const d = new DetectionConfig();
  const specs = new Array<KeywordSpec>(0);
  if (detection !== null) {
    if (!isObject(detection)) { fail(path, "expected an object {maxBytes, always, tasks, complexity}"); return null; }
    if (!checkFields(detection, path, DETECTION_FIELDS)) return null;
    if (!readMaxBytes(detection, path, d)) return null;
    const always = detection.get("always");
    if (always !== null) {
      if (always.kind != JsonKind.Bool) { fail(join(path, "always"), "expected true or false, got " + describe(always)); return null; }
      d.always = always.bool;
    }
    if (!readRuleGroup(detection, "tasks", DETECTED_TASK_NAMES, [0, 1, 2, 3, 4, 5, 6], path, specs, d)) return null;
    if (!readRuleGroup(detection, "complexity", MARKER_NAMES, MARKER_SIGNALS, path, specs, d)) return null;
  }
  if (!build && !d.always) return d; // validated; nothing routes by it, so no automaton
  const all = new Array<KeywordSpec>(0);
  builtinSpecs(d, all);
  for (let i = 0; i < specs.length; i++) all.push(specs[i]);
  const automaton = buildAutomaton(all);
  if (automaton === null) {
    fail(path.length > 0 ? path : "detection", "the keywords need more than " + MAX_AUTOMATON_STATES.toString() + " matcher states; use fewer or shorter keywords");
    return null;
  }
  d.automaton = automaton;
  d.scratch = new StaticArray<u8>(d.maxBytes + 64);
  if (detection === null) builtinOnly = d;
  else { lastSource = detection; lastCompiled = d; }
  return d;
}

function anyRouteNeedsDetection(cfg: RouterConfig): bool {
  for (let i = 0; i < cfg.routes.length; i++) if (cfg.routes[i].needsDetection()) return true;
  return false;
}

// Top-level `taskHeader`, `complexityHeader` and `detection` (after routes and the other headers).
export function readDetectionSettings(root: JsonValue, path: string, cfg: RouterConfig): bool {
  if (!readHeaders(root, path, cfg)) return false;
  const needed = anyRouteNeedsDetection(cfg);
  const d = compileDetection(root.get("detection"), join(path, "detection"), needed);
  if (d === null) return false;
  if (needed || d.always) cfg.detection = d;
  return true;
}

// ---- route delegation ---------------------------------------------------------------------------

// True when byTask names a `default` route or byComplexity names all four tiers: such a route
// never ranks by itself, so it needs no `strategy`.
export function delegatesEveryRequest(route: JsonValue): bool {
  const byTask = route.get("byTask");
  if (byTask !== null && byTask.kind == JsonKind.Object && byTask.get("default") !== null) return true;
  const byTier = route.get("byComplexity");
  if (byTier === null || byTier.kind != JsonKind.Object) return false;
  for (let t = 0; t < TIER_COUNT; t++) if (byTier.get(TIER_NAMES[t]) === null) return false;
  return true;
}

function routeIndex(cfg: RouterConfig, name: string): i32 {
  for (let i = 0; i < cfg.routes.length; i++) if (cfg.routes[i].name == name) return i;
  return -1;
}

function isModelName(cfg: RouterConfig, name: string): bool {
  for (let i = 0; i < cfg.models.length; i++) if (cfg.models[i].name == name) return true;
  return false;
}

// {"<task or tier>": "<route>"} → route index per name (-1 where absent).
function readTargets(route: JsonValue, key: string, names: string[], what: string, path: string,
  cfg: RouterConfig): StaticArray<i32> | null {
  const map = route.get(key);
  if (map === null) return null;
  const where = join(path, key);
  if (!isObject(map)) { fail(where, "expected an object of " + what + " → route name"); return null; }
  if (map.keys.length == 0) { fail(where, "expected at least one " + what); return null; }
  const out = new StaticArray<i32>(names.length);
  for (let i = 0; i < names.length; i++) out[i] = -1;
  for (let i = 0; i < map.keys.length; i++) {
    const name = map.keys[i];
    const at = join(where, name);
    const slot = names.indexOf(name);
    if (slot < 0) { fail(at, "unknown " + what + suggestion(name, names) + " (expected " + listNames(names) + ")"); return null; }
    for (let j = 0; j < i; j++) if (map.keys[j] == name) { fail(at, "duplicate entry"); return null; }
    const target = map.values[i];
    if (target.kind != JsonKind.String || target.str.length == 0) { fail(at, "expected a route name"); return null; }
    const index = routeIndex(cfg, target.str);
    if (index < 0) {
      fail(at, isModelName(cfg, target.str)
        ? "\"" + target.str + "\" is a model; delegation targets are routes (add a route with \"models\": [\"" + target.str + "\"])"
        : "unknown route \"" + target.str + "\"" + suggestion(target.str, routeNames(cfg)));
      return null;
    }
    out[slot] = index;
  }
  return out;
}

function routeNames(cfg: RouterConfig): string[] {
  const names = new Array<string>(0);
  for (let i = 0; i < cfg.routes.length; i++) names.push(cfg.routes[i].name);
  return names;
}

// A task without its own entry goes where `default` goes.
function applyDefaultTarget(byTask: StaticArray<i32>): void {
  const fallback = byTask[TASK_DEFAULT];
  for (let t = 0; t < TASK_COUNT; t++) if (byTask[t] < 0) byTask[t] = fallback;
}

// Reads every route's byTask / byComplexity once all routes exist (targets may be declared
// later). Delegation is one hop: a target must not delegate itself, which also rules out cycles.
export function readRouteDelegations(routes: JsonValue | null, where: string, cfg: RouterConfig): bool {
  if (routes === null) return true;
  for (let i = 0; i < routes.keys.length; i++) {
    const route = cfg.routes[i];
    const v = routes.values[i];
    const path = join(where, routes.keys[i]);
    route.byTask = readTargets(v, "byTask", TASK_NAMES, "task", path, cfg);
    if (configError.length > 0) return false;
    route.byComplexity = readTargets(v, "byComplexity", TIER_NAMES, "complexity tier", path, cfg);
    if (configError.length > 0) return false;
    if (route.byTask !== null) applyDefaultTarget(route.byTask!);
  }
  for (let i = 0; i < routes.keys.length; i++) {
    if (!checkOneHop(cfg.routes[i], "byTask", TASK_NAMES, routes.values[i], join(where, routes.keys[i]), cfg)) return false;
    if (!checkOneHop(cfg.routes[i], "byComplexity", TIER_NAMES, routes.values[i], join(where, routes.keys[i]), cfg)) return false;
  }
  return true;
}

function checkOneHop(route: RouteSpec, key: string, names: string[], v: JsonValue, path: string, cfg: RouterConfig): bool {
  const map = v.get(key);
  if (map === null) return true;
  for (let i = 0; i < map.keys.length; i++) {
    const target = cfg.routes[routeIndex(cfg, map.values[i].str)];
    if (target.byTask === null && target.byComplexity === null) continue;
    const why = target === route
      ? "a route cannot delegate to itself"
      : "route \"" + target.name + "\" delegates too (byTask/byComplexity); delegation is one hop";
    return fail(join(join(path, key), map.keys[i]), why);
  }
  return true;
}
