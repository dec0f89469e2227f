// Which candidates can serve this request at all. Filtering comes before ranking, so a strategy
// never picks a model that would fail the request or break the route's limits.
import { RouteSpec, RouterConfig, CAP_TOOLS, CAP_VISION, CAP_JSON } from "../config/types";
import { RequestEstimate, estimateCostUsd } from "./estimate";

export const enum Drop {
  None, Endpoint, Context, Output, Vision, Tools, Json, Require, MinQuality, MaxCost, MaxTtft, MinThroughput,
}

// Why the route's candidate `slot` cannot serve the request, or Drop.None.
export function dropReason(cfg: RouterConfig, route: RouteSpec, slot: i32, e: RequestEstimate): Drop {
  const m = unchecked(cfg.models[unchecked(route.candidates[slot])]);
  if ((m.endpoints & e.endpoint) == 0) return Drop.Endpoint;
  if (e.inputTokens + e.outputTokens > m.contextWindow) return Drop.Context;
  if (e.outputTokens > m.maxOutputTokens) return Drop.Output;
  const missing = e.needs & ~m.capabilities;
  if (missing & CAP_VISION) return Drop.Vision;
  if (missing & CAP_TOOLS) return Drop.Tools;
  if (missing & CAP_JSON) return Drop.Json;
  if (route.require & ~m.capabilities) return Drop.Require;
  if (unchecked(route.candidateQuality[slot]) < route.minQuality) return Drop.MinQuality;
  if (estimateCostUsd(m, e) > route.maxCostUsd) return Drop.MaxCost;
  if (m.ttftMs > route.maxTtftMs) return Drop.MaxTtft;
  if (m.tokensPerSecond < route.minTokensPerSecond) return Drop.MinThroughput;
  return Drop.None;
}

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

// A short phrase for the error message the client gets when nothing survives.
export function describeDrop(cfg: RouterConfig, route: RouteSpec, slot: i32, e: RequestEstimate, why: Drop): string {
  const m = cfg.models[route.candidates[slot]];
  switch (why) {
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
      return "quality " + route.candidateQuality[slot].toString() + " < minQuality " + route.minQuality.toString();
    case Drop.MaxCost:
      return "estimated cost $" + estimateCostUsd(m, e).toString() + " > maxCostUsd " + route.maxCostUsd.toString();
    case Drop.MaxTtft: return "ttftMs " + formatNumber(m.ttftMs) + " > maxTtftMs " + formatNumber(route.maxTtftMs);
    case Drop.MinThroughput:
      return "tokensPerSecond " + formatNumber(m.tokensPerSecond) + " < minTokensPerSecond " + formatNumber(route.minTokensPerSecond);
    default: return "";
  }
}
