// Higress per-route configuration: defaultConfig plus matchRules arrive as one JSON object whose
// `_rules_` array holds each rule's config with `_match_route_`, `_match_route_prefix_`,
// `_match_domain_` or `_match_service_` keys (higress pkg/ingress/config convertIstioWasmPlugin).
// Each rule is compiled once into its own RouterConfig: the global object with the rule's keys
// laid over it, so a rule may change only `routes` and keep the global model table.
import { JsonValue, JsonKind } from "../json/tree";
import { configError, fail } from "./errors";
import { join, readStringList, unknownName } from "./fields";
import { Catalog, MetricsSettings, RouterConfig } from "./types";
import { checkConsumerHeader, metricsValid, readMetrics } from "./observability";
import { compileRouterConfig } from "./compile";
import { buildModelList } from "./model_list";

const MATCH_KEYS: string[] = ["_match_route_", "_match_route_prefix_", "_match_domain_", "_match_service_"];

export class MatchRule {
  routes: string[] | null = null;
  routePrefixes: string[] | null = null;
  domains: string[] | null = null;
  services: string[] | null = null;
  config: RouterConfig = new RouterConfig();

  needsRouteName(): bool { return this.routes !== null || this.routePrefixes !== null; }
}

export class PluginConfig {
  // FNV-1a of the configuration text: the upstream filter checks that a plan was made by a filter
  // with the very same configuration (model indices mean nothing otherwise).
  fingerprint: u32 = 0;
  // null when the global configuration is disabled (Higress defaultConfigDisable): requests that
  // match no rule then pass through.
  global: RouterConfig | null = null;
  // Every distinct model catalog (the global one, and one per rule with its own models).
  catalogs: Catalog[] = [];
  rules: MatchRule[] = [];
  rulesNeedRouteName: bool = false;
  rulesNeedClusterName: bool = false;
  rulesNeedAuthority: bool = false;
  // Every request header any of the configurations writes (global and each rule), each name once:
  // the filter removes client copies of all of them on every request, whichever config serves it.
  ownedHeaders: ArrayBuffer[] = [];
  ownedHeaderNames: string[] = [];
  // Every compiled configuration, by RouterConfig.id: the global one (when present) and each rule's.
  configs: RouterConfig[] = [];
  // null: `"metrics": false`.
  metrics: MetricsSettings | null = null;

  addOwnedHeaders(cfg: RouterConfig): void {
    for (let i = 0; i < cfg.ownedRequestHeaders.length; i++) {
      const name = String.UTF8.decode(cfg.ownedRequestHeaders[i]);
      if (this.ownedHeaderNames.includes(name)) continue;
      this.ownedHeaderNames.push(name);
      this.ownedHeaders.push(cfg.ownedRequestHeaders[i]);
    }
  }
}

function overlay(global: JsonValue, rule: JsonValue): JsonValue {
  const merged = JsonValue.newObject();
  for (let i = 0; i < global.keys.length; i++) {
    if (global.keys[i] == "_rules_" || rule.get(global.keys[i]) !== null) continue;
    merged.keys.push(global.keys[i]);
    merged.values.push(global.values[i]);
  }
  for (let i = 0; i < rule.keys.length; i++) {
    if (MATCH_KEYS.includes(rule.keys[i])) continue;
    merged.keys.push(rule.keys[i]);
    merged.values.push(rule.values[i]);
  }
  return merged;
}

// A rule that sets none of `models`, `providers`, `paths` (model endpoints are bits over the paths)
// and `live` keeps the global catalog (and with it the global live signals; a rule with its own
// `live` settings gets signals of its own).
function sharedCatalog(global: RouterConfig | null, rule: JsonValue): Catalog | null {
  if (global === null || rule.get("models") !== null || rule.get("providers") !== null || rule.get("paths") !== null ||
      rule.get("live") !== null) return null;
  return global.catalog;
}

function readRule(root: JsonValue, global: RouterConfig | null, v: JsonValue, path: string): MatchRule | null {
  if (v.kind != JsonKind.Object) { fail(path, "expected an object"); return null; }
  for (let i = 0; i < v.keys.length; i++) {
    const key = v.keys[i];
    if (key.startsWith("_match") && !MATCH_KEYS.includes(key)) {
      fail(join(path, key), unknownName("unknown match key", key, MATCH_KEYS));
      return null;
    }
  }
  const rule = new MatchRule();
  rule.routes = readStringList(v, "_match_route_", path);
  rule.routePrefixes = readStringList(v, "_match_route_prefix_", path);
  rule.domains = readStringList(v, "_match_domain_", path);
  rule.services = readStringList(v, "_match_service_", path);
  if (configError.length > 0) return null;
  // Every rule counts into the same series, so there is one set of metrics settings.
  if (v.get("metrics") !== null) {
    fail(join(path, "metrics"), "metrics settings apply to the whole plugin: set them in the global configuration only");
    return null;
  }
  if (rule.routes === null && rule.routePrefixes === null && rule.domains === null && rule.services === null) {
    fail(path, "a rule needs at least one of _match_route_, _match_route_prefix_, _match_domain_, _match_service_");
    return null;
  }
  const config = compileRouterConfig(overlay(root, v), path, sharedCatalog(global, v));
  if (config === null) return null;
  rule.config = config;
  return rule;
}

function addConfig(plugin: PluginConfig, cfg: RouterConfig): void {
  cfg.id = plugin.configs.length;
  plugin.configs.push(cfg);
}

function addCatalog(plugin: PluginConfig, catalog: Catalog): void {
  if (plugin.catalogs.includes(catalog)) return;
  catalog.id = plugin.catalogs.length;
  plugin.catalogs.push(catalog);
}

// `created`: Unix seconds, the `created` of every entry in the GET /v1/models answer.
export function compilePluginConfig(root: JsonValue, created: i64 = 0): PluginConfig | null {
  if (root.kind != JsonKind.Object) {
    fail("", "expected a JSON object");
    return null;
  }
  const out = new PluginConfig();
  const rules = root.get("_rules_");
  if (rules !== null && rules.kind != JsonKind.Array) { fail("_rules_", "expected an array"); return null; }
  const hasRules = rules !== null && rules.items.length > 0;
  if (root.get("models") !== null || !hasRules) {
    const global = compileRouterConfig(root, "");
    if (global === null) return null;
    buildModelList(global, created);
    out.addOwnedHeaders(global);
    out.global = global;
    addConfig(out, global);
    addCatalog(out, global.catalog);
  }
  out.metrics = readMetrics(root);
  if (!metricsValid) return null;
  if (rules === null) return finish(out);
  for (let i = 0; i < rules.items.length; i++) {
    const rule = readRule(root, out.global, rules.items[i], "_rules_[" + i.toString() + "]");
    if (rule === null) return null;
    buildModelList(rule.config, created);
    out.addOwnedHeaders(rule.config);
    out.rules.push(rule);
    addConfig(out, rule.config);
    addCatalog(out, rule.config.catalog);
    if (rule.needsRouteName()) out.rulesNeedRouteName = true;
    if (rule.services !== null) out.rulesNeedClusterName = true;
    if (rule.domains !== null) out.rulesNeedAuthority = true;
  }
  return finish(out);
}

// Checks that need every configuration compiled.
function finish(plugin: PluginConfig): PluginConfig | null {
  const metrics = plugin.metrics;
  if (metrics !== null && !checkConsumerHeader(metrics, plugin.ownedHeaderNames)) return null;
  return plugin;
}
