// Which configuration serves a request: the first `_rules_` entry whose every match key matches,
// else the global one. Comparisons follow Higress's wasm-go matcher (pkg/matcher/rule_matcher.go).
import { MatchRule, PluginConfig } from "./rules";
import { RouterConfig } from "./types";

// Host patterns: exact, "*.suffix" (any subdomain) or "prefix*". The port is stripped from the host.
export function hostMatches(pattern: string, authority: string): bool {
  let host = authority;
  const colon = host.lastIndexOf(":");
  if (colon >= 0 && !host.endsWith("]")) host = host.substring(0, colon);
  host = host.toLowerCase();
  const p = pattern.toLowerCase();
  if (p.startsWith("*")) return host.endsWith(p.substring(1));
  if (p.endsWith("*")) return host.startsWith(p.substring(0, p.length - 1));
  return host == p;
}

// Envoy names Higress service clusters "outbound|<port>||<fqdn>"; a rule names "<fqdn>" or
// "<fqdn>:<port>". Any other cluster name is compared whole.
export function serviceMatches(pattern: string, clusterName: string): bool {
  const parts = clusterName.split("|");
  if (parts.length == 4) return pattern == parts[3] || pattern == parts[3] + ":" + parts[1];
  return pattern == clusterName;
}

function anyOf(patterns: string[] | null, value: string, kind: i32): bool {
  if (patterns === null) return true;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (kind == 0 && p == value) return true;
    if (kind == 1 && value.startsWith(p)) return true;
    if (kind == 2 && hostMatches(p, value)) return true;
    if (kind == 3 && serviceMatches(p, value)) return true;
  }
  return false;
}

export function ruleMatches(rule: MatchRule, routeName: string, clusterName: string, authority: string): bool {
  return anyOf(rule.routes, routeName, 0) && anyOf(rule.routePrefixes, routeName, 1) &&
    anyOf(rule.domains, authority, 2) && anyOf(rule.services, clusterName, 3);
}

export function selectConfig(plugin: PluginConfig, routeName: string, clusterName: string, authority: string): RouterConfig | null {
  for (let i = 0; i < plugin.rules.length; i++) {
    const rule = plugin.rules[i];
    if (ruleMatches(rule, routeName, clusterName, authority)) return rule.config;
  }
  return plugin.global;
}
