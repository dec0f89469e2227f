// What the plugin tells operators about itself: `metrics` (Envoy stats, one set of settings for the
// whole plugin) and `decisionHeader` (a response header explaining each routed request's decision,
// per configuration). Metrics are on unless `"metrics": false` (or `{"enabled": false}`, the form a
// console's settings form produces): counting costs a request a few map updates in Wasm memory.
import { JsonKind, JsonValue } from "../json/tree";
import { configError, fail } from "./errors";
import { checkFields, describe, isObject, join, readNumber } from "./fields";
import { checkResponseHeaderName, readHeaderName } from "./header_names";
import { MetricsSettings, RouterConfig } from "./types";
import { DECISION_HEADER_FILTER_STATE_PREFIX } from "../names";

const METRICS_FIELDS: string[] = ["enabled", "consumerHeader", "maxConsumers"];
// Consumers become a label: a cap keeps the number of series bounded whatever clients send.
const MAX_CONSUMERS: f64 = 1000;

// Set by readMetrics: the `metrics` value was valid (the result may still be null: metrics off).
export let metricsValid = false;

function readMetricsObject(v: JsonValue, where: string): MetricsSettings | null {
  if (!checkFields(v, where, METRICS_FIELDS)) return null;
  const enabled = v.get("enabled");
  if (enabled !== null && enabled.kind != JsonKind.Bool) {
    fail(join(where, "enabled"), "expected true or false");
    return null;
  }
  const s = new MetricsSettings();
  const header = v.get("consumerHeader");
  if (header !== null) {
    const name = readHeaderName(v, "consumerHeader", where, "");
    if (name === null) return null;
    s.consumerHeader = String.UTF8.encode(name);
  }
  const cap = readNumber(v, "maxConsumers", where, false, <f64>s.maxConsumers, 0, true);
  if (configError.length > 0) return null;
  if (cap != Math.floor(cap)) {
    fail(join(where, "maxConsumers"), "expected a whole number");
    return null;
  }
  if (cap > MAX_CONSUMERS) {
    fail(join(where, "maxConsumers"), "expected at most " + (<i32>MAX_CONSUMERS).toString());
    return null;
  }
  s.maxConsumers = <i32>cap;
  metricsValid = true;
  return enabled !== null && !enabled.bool ? null : s;
}

// The plugin's `metrics`: settings, or null when metrics are off or the value is invalid (then
// metricsValid is false and the error is recorded). Absent means the defaults.
export function readMetrics(root: JsonValue): MetricsSettings | null {
  metricsValid = false;
  const v = root.get("metrics");
  if (v === null) { metricsValid = true; return new MetricsSettings(); }
  if (v.kind == JsonKind.Bool) { metricsValid = true; return v.bool ? new MetricsSettings() : null; }
  if (isObject(v)) return readMetricsObject(v, "metrics");
  fail("metrics", "expected true, false or an object of metrics settings, got " + describe(v));
  return null;
}

// A consumer header the plugin itself writes would count whatever the plugin wrote, not who asked.
export function checkConsumerHeader(s: MetricsSettings, ownedHeaderNames: string[]): bool {
  const name = String.UTF8.decode(s.consumerHeader);
  if (name.length == 0 || !ownedHeaderNames.includes(name)) return true;
  return fail("metrics.consumerHeader", "\"" + name + "\" is a header this plugin sets; name the header your authentication sets (e.g. x-mse-consumer)");
}

// `decisionHeader`: absent (no header), or a response header name.
export function readDecisionHeader(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const v = root.get("decisionHeader");
  if (v === null) return true;
  const where = join(path, "decisionHeader");
  if (v.kind != JsonKind.String || v.strIsEmpty) return fail(where, "expected a header name such as \"x-llm-decision\"");
  if (!checkResponseHeaderName(v.str, where)) return false;
  cfg.decisionHeader = String.UTF8.encode(v.str);
  // Envoy's route adds the header from this filter state:
  // %FILTER_STATE(wasm.model_router.decision.<header>:PLAIN)% (report.ts writes it).
  cfg.decisionHeaderState = String.UTF8.encode(DECISION_HEADER_FILTER_STATE_PREFIX + v.str);
  return true;
}
