// Words for the client when no candidate survives: each model with the reason it was ruled out,
// read from the candidate table of this very decision.
import { RouteSpec, RouterConfig } from "../config/types";
import { CandidateTable, Drop } from "./candidates";
import { RequestEstimate } from "./estimate";
import { ModelSignals } from "./signals";

function formatNumber(x: f64): string {
  return x == Math.floor(x) && Math.abs(x) < 1e15 ? (<i64>x).toString() : x.toString();
}

function endpointName(cfg: RouterConfig, bit: u32): string {
  const i = <i32>ctz(bit);
  return i < cfg.pathNames.length ? cfg.pathNames[i] : "this path";
}

function missingCapability(cfg: RouterConfig, mask: u32): string {
  for (let bit = 0; bit < cfg.capabilityNames.length; bit++) {
    if (mask & ((<u32>1) << bit)) return cfg.capabilityNames[bit];
  }
  return "?";
}

// A short phrase for one dropped candidate.
export function describeDrop(cfg: RouterConfig, route: RouteSpec, t: CandidateTable, slot: i32, e: RequestEstimate,
  signals: ModelSignals, nowMs: f64): string {
  const index = route.candidates[slot];
  const m = cfg.models[index];
  switch (<Drop>t.drop[slot]) {
    case Drop.Endpoint: return "does not serve " + endpointName(cfg, e.endpoint);
    case Drop.Context:
      return "needs " + formatNumber(e.inputTokens + e.outputTokens) + " tokens, context window is " + formatNumber(m.contextWindow);
    case Drop.Output:
      return "max output " + formatNumber(m.maxOutputTokens) + " < " + formatNumber(e.outputTokens) + " requested";
    case Drop.Vision: return "no vision (request has images)";
    case Drop.Tools: return "no tools (request has tools)";
    case Drop.Json: return "no json (request asks for a JSON response_format)";
    case Drop.Require: return "lacks required capability " + missingCapability(cfg, route.require & ~m.capabilities);
    case Drop.MinQuality:
      return "quality " + t.quality[slot].toString() + " < minQuality " + route.minQuality.toString();
    case Drop.MaxCost:
      return "estimated cost $" + t.cost[slot].toString() + " > maxCostUsd " + route.maxCostUsd.toString();
    case Drop.MaxTtft:
      return "ttftMs " + formatNumber(Math.round(signals.ttftMs[index])) + " > maxTtftMs " + formatNumber(route.maxTtftMs);
    case Drop.MinThroughput:
      return "tokensPerSecond " + formatNumber(Math.round(signals.tokensPerSecond[index])) + " < minTokensPerSecond " + formatNumber(route.minTokensPerSecond);
    case Drop.CoolingDown:
      return "cooling down for " + formatNumber(Math.ceil((signals.coolingUntilMs[index] - nowMs) / 1000)) + " s after " +
        signals.consecutiveFailures[index].toString() + " failures";
    default: return "available";
  }
}

// "no model can serve this request (route "cheap"): a: why; b: why".
export function noCandidateMessage(cfg: RouterConfig, route: RouteSpec, t: CandidateTable, e: RequestEstimate,
  signals: ModelSignals, nowMs: f64): string {
  let text = "no model can serve this request (route \"" + route.name + "\"): ";
  for (let slot = 0; slot < t.count; slot++) {
    if (slot > 0) text += "; ";
    text += cfg.models[route.candidates[slot]].name + ": " + describeDrop(cfg, route, t, slot, e, signals, nowMs);
  }
  return text;
}
