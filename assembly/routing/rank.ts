// Picks one surviving candidate by the route's strategy. Survivors are recomputed by dropReason in
// each pass instead of being stored, so a decision allocates nothing. A strict comparison keeps
// the earliest candidate on ties (configuration order).
import { ModelSpec, RouteSpec, RouterConfig, Strategy } from "../config/types";
import { Drop, dropReason } from "./candidate_filter";
import { RequestEstimate, estimateCostUsd, estimateLatencyMs } from "./estimate";
import { nextRandom } from "./random";

@inline function modelAt(cfg: RouterConfig, route: RouteSpec, slot: i32): ModelSpec {
  return unchecked(cfg.models[unchecked(route.candidates[slot])]);
}

// The metric a single-criterion strategy maximises (costs and latencies are negated).
function singleScore(cfg: RouterConfig, route: RouteSpec, slot: i32, e: RequestEstimate): f64 {
  const m = modelAt(cfg, route, slot);
  switch (route.strategy) {
    case Strategy.Price: return -estimateCostUsd(m, e);
    case Strategy.Latency: return -estimateLatencyMs(m, e);
    case Strategy.Throughput: return m.tokensPerSecond;
    default: return unchecked(route.candidateQuality[slot]);
  }
}

function pickBest(cfg: RouterConfig, route: RouteSpec, e: RequestEstimate): i32 {
  let best = -1;
  let bestScore = -Infinity;
  for (let slot = 0; slot < route.candidates.length; slot++) {
    if (dropReason(cfg, route, slot, e) != Drop.None) continue;
    const score = singleScore(cfg, route, slot, e);
    if (best < 0 || score > bestScore) { best = slot; bestScore = score; }
  }
  return best;
}

// Min-max normalisation among survivors, 1 for the best; a metric equal for all counts fully.
@inline function higherIsBetter(x: f64, lo: f64, hi: f64): f64 {
  return hi > lo ? (x - lo) / (hi - lo) : 1;
}

@inline function lowerIsBetter(x: f64, lo: f64, hi: f64): f64 {
  return hi > lo ? (hi - x) / (hi - lo) : 1;
}

function pickBalanced(cfg: RouterConfig, route: RouteSpec, e: RequestEstimate): i32 {
  let qLo = Infinity, qHi = -Infinity, cLo = Infinity, cHi = -Infinity;
  let lLo = Infinity, lHi = -Infinity, tLo = Infinity, tHi = -Infinity;
  let survivors = 0;
  for (let slot = 0; slot < route.candidates.length; slot++) {
    if (dropReason(cfg, route, slot, e) != Drop.None) continue;
    const m = modelAt(cfg, route, slot);
    const q = unchecked(route.candidateQuality[slot]), c = estimateCostUsd(m, e);
    const l = estimateLatencyMs(m, e), t = m.tokensPerSecond;
    qLo = Math.min(qLo, q); qHi = Math.max(qHi, q);
    cLo = Math.min(cLo, c); cHi = Math.max(cHi, c);
    lLo = Math.min(lLo, l); lHi = Math.max(lHi, l);
    tLo = Math.min(tLo, t); tHi = Math.max(tHi, t);
    survivors++;
  }
  if (survivors == 0) return -1;
  let best = -1;
  let bestScore = -Infinity;
  for (let slot = 0; slot < route.candidates.length; slot++) {
    if (dropReason(cfg, route, slot, e) != Drop.None) continue;
    const m = modelAt(cfg, route, slot);
    const score =
      route.weightQuality * higherIsBetter(unchecked(route.candidateQuality[slot]), qLo, qHi) +
      route.weightPrice * lowerIsBetter(estimateCostUsd(m, e), cLo, cHi) +
      route.weightLatency * lowerIsBetter(estimateLatencyMs(m, e), lLo, lHi) +
      route.weightThroughput * higherIsBetter(m.tokensPerSecond, tLo, tHi);
    if (best < 0 || score > bestScore) { best = slot; bestScore = score; }
  }
  return best;
}

function pickRandom(cfg: RouterConfig, route: RouteSpec, e: RequestEstimate): i32 {
  let total: f64 = 0;
  let first = -1;
  for (let slot = 0; slot < route.candidates.length; slot++) {
    if (dropReason(cfg, route, slot, e) != Drop.None) continue;
    if (first < 0) first = slot;
    total += modelAt(cfg, route, slot).weight;
  }
  if (first < 0 || total <= 0) return first;
  let ticket = nextRandom() * total;
  let last = first;
  for (let slot = 0; slot < route.candidates.length; slot++) {
    if (dropReason(cfg, route, slot, e) != Drop.None) continue;
    const w = modelAt(cfg, route, slot).weight;
    if (w <= 0) continue;
    last = slot;
    if (ticket < w) return slot;
    ticket -= w;
  }
  return last; // rounding left the ticket past the end
}

// The chosen slot in route.candidates, or -1 when no candidate survives the filter.
export function rankCandidates(cfg: RouterConfig, route: RouteSpec, e: RequestEstimate): i32 {
  if (route.strategy == Strategy.Balanced) return pickBalanced(cfg, route, e);
  if (route.strategy == Strategy.Random) return pickRandom(cfg, route, e);
  return pickBest(cfg, route, e);
}
