// Benchmark entry (not part of the plugin): the routing decision alone — estimate, candidates with
// their drop reasons, rank — as plain exports, so bench/decide.mjs can time it per request without a
// host, for catalogs of any size.
import { parseJsonTree } from "../assembly/json/tree";
import { resetConfigError } from "../assembly/config/errors";
import { PluginConfig, compilePluginConfig } from "../assembly/config/rules";
import { BodyScanner } from "../assembly/request/body_scan";
import { ClientError } from "../assembly/request/client_error";
import { RequestFeatures } from "../assembly/request/features";
import { Decision, Outcome, decide } from "../assembly/routing/decide";
import { ModelSignals } from "../assembly/routing/signals";

let plugin: PluginConfig | null = null;
let signals: ModelSignals | null = null;
const features = new RequestFeatures();
const scanner = new BodyScanner();
const decision = new Decision();
let body: usize = 0;

export function alloc(size: usize): usize { return heap.alloc(size); }

export function configure(p: usize, n: usize): bool {
  resetConfigError();
  const tree = parseJsonTree(p, n);
  plugin = tree === null ? null : compilePluginConfig(tree);
  if (plugin === null || plugin!.global === null) return false;
  signals = new ModelSignals(plugin!.global!.models);
  return true;
}

// Scans the request body once (the decision reads what the scan found); false when it is invalid.
export function setBody(p: usize, n: usize): bool {
  body = p;
  scanner.scan(p, n, features, false);
  return features.error == ClientError.None;
}

// `times` decisions for the body set last; the number that routed.
export function run(times: i32): i32 {
  const cfg = plugin!.global!;
  let routed = 0;
  for (let i = 0; i < times; i++) {
    decide(cfg, body, features, signals!, 1.0e12, decision);
    if (decision.outcome == Outcome.Routed) routed++;
  }
  return routed;
}
