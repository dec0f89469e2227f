// `live` (top level) and the per-route `spread` / `explore`: the settings of measured latency,
// throughput and health. Absent or `true` means the defaults; `false` (or `{"enabled": false}`, the
// form a console's settings form produces) turns everything live off (pure table routing) and then
// also silences the routes' own spread and explore, so that it works as a kill switch without
// editing every route.
import { JsonKind, JsonValue } from "../json/tree";
import { configError, fail } from "./errors";
import { checkFields, describe, isObject, join, readNumber } from "./fields";
import { LiveSettings, RouteSpec, RouterConfig } from "./types";

const LIVE_FIELDS: string[] = [
  "enabled", "halfLifeMs", "priorWeight", "refreshMs", "staleAfterMs", "failureThreshold", "cooldownMs",
  "maxCooldownMs", "probeTimeoutMs", "spread", "explore",
];
// A share above one half would make exploring the main job of a route.
export const MAX_EXPLORE: f64 = 0.5;
const MIN_REFRESH_MS: f64 = 10;
const MAX_REFRESH_MS: f64 = 60000;

// 10000 rather than 10000.0 in messages.
function formatNumber(x: f64): string {
  return x == Math.floor(x) && Math.abs(x) < 1e15 ? (<i64>x).toString() : x.toString();
}

// A whole number from lo to hi.
function readWhole(v: JsonValue, key: string, path: string, fallback: f64, lo: f64, hi: f64): f64 {
  const x = readNumber(v, key, path, false, fallback, 0, false);
  if (configError.length > 0) return NaN;
  if (x != Math.floor(x)) { fail(join(path, key), "expected a whole number"); return NaN; }
  if (x < lo) { fail(join(path, key), "expected at least " + formatNumber(lo)); return NaN; }
  if (x > hi) { fail(join(path, key), "expected at most " + formatNumber(hi)); return NaN; }
  return x;
}

// A share from 0 to max.
function readShare(v: JsonValue, key: string, path: string, fallback: f64, max: f64): f64 {
  const x = readNumber(v, key, path, false, fallback, 0, false);
  if (configError.length > 0) return NaN;
  if (x > max) { fail(join(path, key), "expected at most " + formatNumber(max)); return NaN; }
  return x;
}

// Set by readSettingsObject: the object was valid and says "enabled": false.
let disabled = false;

function readSettingsObject(v: JsonValue, path: string): LiveSettings | null {
  disabled = false;
  if (!checkFields(v, path, LIVE_FIELDS)) return null;
  const enabled = v.get("enabled");
  if (enabled !== null && enabled.kind != JsonKind.Bool) {
    fail(join(path, "enabled"), "expected true or false");
    return null;
  }
  const s = new LiveSettings();
  s.halfLifeMs = readNumber(v, "halfLifeMs", path, false, s.halfLifeMs, 0, true);
  s.priorWeight = readNumber(v, "priorWeight", path, false, s.priorWeight, 0, true);
  const refresh = readWhole(v, "refreshMs", path, <f64>s.refreshMs, MIN_REFRESH_MS, MAX_REFRESH_MS);
  s.staleAfterMs = readNumber(v, "staleAfterMs", path, false, s.staleAfterMs, 0, true);
  const threshold = readWhole(v, "failureThreshold", path, <f64>s.failureThreshold, 1, 1000);
  s.cooldownMs = readNumber(v, "cooldownMs", path, false, s.cooldownMs, 0, true);
  s.maxCooldownMs = readNumber(v, "maxCooldownMs", path, false, max(s.maxCooldownMs, s.cooldownMs), 0, true);
  s.probeTimeoutMs = readNumber(v, "probeTimeoutMs", path, false, s.probeTimeoutMs, 0, true);
  s.spread = readShare(v, "spread", path, s.spread, 1);
  s.explore = readShare(v, "explore", path, s.explore, MAX_EXPLORE);
  if (configError.length > 0) return null;
  if (s.maxCooldownMs < s.cooldownMs) {
    fail(join(path, "maxCooldownMs"), "must be at least cooldownMs (" + formatNumber(s.cooldownMs) + ")");
    return null;
  }
  s.refreshMs = <u32>refresh;
  s.failureThreshold = <i32>threshold;
  if (enabled !== null && !enabled.bool) {
    disabled = true;
    return null;
  }
  return s;
}

// The configuration's `live`: true when it is valid (cfg.live is then set, or null for `false`).
export function readLive(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const v = root.get("live");
  const where = join(path, "live");
  let settings: LiveSettings | null = new LiveSettings();
  if (v !== null) {
    if (v.kind == JsonKind.Bool) settings = v.bool ? new LiveSettings() : null;
    else if (isObject(v)) settings = readSettingsObject(v, where);
    else return fail(where, "expected true, false or an object of live settings, got " + describe(v));
    if (settings === null && v.kind != JsonKind.Bool && !disabled) return false;
  }
  cfg.live = settings;
  for (let i = 0; i < cfg.routes.length; i++) resolveRoute(unchecked(cfg.routes[i]), settings);
  return true;
}

// Route fields `spread` and `explore`, NaN when absent (resolved once `live` is known).
export function readRouteLive(v: JsonValue, path: string, r: RouteSpec): bool {
  r.spread = readShare(v, "spread", path, NaN, 1);
  if (configError.length > 0) return false;
  r.explore = readShare(v, "explore", path, NaN, MAX_EXPLORE);
  return configError.length == 0;
}

function resolveRoute(r: RouteSpec, s: LiveSettings | null): void {
  if (s === null) {
    r.spread = 0;
    r.explore = 0;
    return;
  }
  if (isNaN(r.spread)) r.spread = s.spread;
  if (isNaN(r.explore)) r.explore = s.explore;
}
