// Picks one surviving candidate by the route's strategy, from values the candidate table already
// holds. Every survivor gets a score (higher is better) so that alternates and explanations can be
// read off the same table. A strict comparison keeps the earliest candidate on ties (the route's
// order, else the catalog's).
import { STRATEGIES, Strategy } from "../config/strategies";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { CandidateTable, Drop } from "./candidates";
import { nextRandom } from "./random";

// Balanced: each metric min-max normalised among survivors (1 for the best; a metric equal for
// all counts fully), weighted and summed. Normalisation is linear, so the whole score is
// a·quality + b·cost + c·latency + d·throughput + k with coefficients fixed per decision.
class LinearScore {
  quality: f64 = 0; cost: f64 = 0; latency: f64 = 0; throughput: f64 = 0; constant: f64 = 0;
}
const balanced = new LinearScore();

// Adds weight·(x − lo)/(hi − lo) (higher is better) or weight·(hi − x)/(hi − lo); returns x's factor.
@inline function term(weight: f64, lo: f64, hi: f64, higherIsBetter: bool, s: LinearScore): f64 {
  if (!(hi > lo)) { s.constant += weight; return 0; }
  const factor = weight / (hi - lo);
  s.constant += higherIsBetter ? -lo * factor : hi * factor;
  return higherIsBetter ? factor : -factor;
}

function prepareBalanced(route: RouteSpec, t: CandidateTable): void {
  const s = balanced;
  s.constant = 0;
  s.quality = term(route.weightQuality, t.qualityLo, t.qualityHi, true, s);
  s.cost = term(route.weightPrice, t.costLo, t.costHi, false, s);
  s.latency = term(route.weightLatency, t.latencyLo, t.latencyHi, false, s);
  s.throughput = term(route.weightThroughput, t.throughputLo, t.throughputHi, true, s);
}

// The strategy's score for one survivor; `strategy` is a constant in each specialised loop below.
@inline function scoreOf(strategy: Strategy, t: CandidateTable, slot: i32): f64 {
  switch (strategy) {
    case Strategy.Price: return -unchecked(t.cost[slot]);
    case Strategy.Latency: return -unchecked(t.latency[slot]);
    case Strategy.Throughput: return unchecked(t.throughput[slot]);
    case Strategy.Quality: return unchecked(t.quality[slot]);
    default: {
      const s = balanced;
      return s.quality * unchecked(t.quality[slot]) + s.cost * unchecked(t.cost[slot]) +
        s.latency * unchecked(t.latency[slot]) + s.throughput * unchecked(t.throughput[slot]) + s.constant;
    }
  }
}

// Scores every survivor and returns the best slot.
@inline function pickBestBy(strategy: Strategy, t: CandidateTable): i32 {
  let best = -1;
  let bestScore = -Infinity;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) != Drop.None) continue;
    const score = scoreOf(strategy, t, slot);
    unchecked(t.score[slot] = score);
    if (best < 0 || score > bestScore) { best = slot; bestScore = score; }
  }
  return best;
}

function pickBest(route: RouteSpec, t: CandidateTable): i32 {
  switch (route.strategy) {
    case Strategy.Price: return pickBestBy(Strategy.Price, t);
    case Strategy.Latency: return pickBestBy(Strategy.Latency, t);
    case Strategy.Throughput: return pickBestBy(Strategy.Throughput, t);
    case Strategy.Quality: return pickBestBy(Strategy.Quality, t);
    default:
      prepareBalanced(route, t);
      return pickBestBy(Strategy.Balanced, t);
  }
}

// Weighted by each model's `weight`; the score is the weight, so alternates follow weight order.
function pickRandom(cfg: RouterConfig, route: RouteSpec, t: CandidateTable): i32 {
  let total: f64 = 0;
  let first = -1;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) != Drop.None) continue;
    if (first < 0) first = slot;
    const w = modelAt(cfg, route, slot).weight;
    unchecked(t.score[slot] = w);
    total += w;
  }
  if (first < 0 || total <= 0) return first;
  let ticket = nextRandom() * total;
  let last = first;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) != Drop.None) continue;
    const w = unchecked(t.score[slot]);
    if (w <= 0) continue;
    last = slot;
    if (ticket < w) return slot;
    ticket -= w;
  }
  return last; // rounding left the ticket past the end
}

@inline function modelAt(cfg: RouterConfig, route: RouteSpec, slot: i32): ModelSpec {
  return unchecked(cfg.models[unchecked(route.candidates[slot])]);
}

// ---- live routing: spread and exploration ------------------------------------------------------

// Is the survivor in `slot` within `spread` of the best one's latency or throughput?
@inline function nearBest(strategy: Strategy, t: CandidateTable, slot: i32, best: i32, spread: f64): bool {
  if (strategy == Strategy.Latency) return unchecked(t.latency[slot]) <= unchecked(t.latency[best]) * (1 + spread);
  return unchecked(t.throughput[slot]) * (1 + spread) >= unchecked(t.throughput[best]);
}

// Latency and throughput routes do not herd onto the single fastest model: every survivor within
// the route's `spread` of the best is equally likely.
function spreadPick(route: RouteSpec, t: CandidateTable, best: i32): i32 {
  const strategy = route.strategy, spread = route.spread;
  let near = 0;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) == Drop.None && nearBest(strategy, t, slot, best, spread)) near++;
  }
  if (near < 2) return best;
  let ticket = <i32>(nextRandom() * <f64>near);
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) != Drop.None || !nearBest(strategy, t, slot, best, spread)) continue;
    if (ticket-- == 0) return slot;
  }
  return best;
}

// A share `explore` of a route's requests goes to another survivor whose measurements are stale,
// chosen uniformly, so a model that was slow once (or never measured) gets fresh numbers; -1 when
// this request does not explore or no such survivor exists.
function explorePick(route: RouteSpec, t: CandidateTable, best: i32): i32 {
  if (nextRandom() >= route.explore) return -1;
  let stale = 0;
  for (let slot = 0; slot < t.count; slot++) {
    if (slot != best && unchecked(t.drop[slot]) == Drop.None && unchecked(t.stale[slot])) stale++;
  }
  if (stale == 0) return -1;
  let ticket = <i32>(nextRandom() * <f64>stale);
  for (let slot = 0; slot < t.count; slot++) {
    if (slot == best || unchecked(t.drop[slot]) != Drop.None || !unchecked(t.stale[slot])) continue;
    if (ticket-- == 0) return slot;
  }
  return -1;
}

// The chosen slot in route.candidates, or -1 when no candidate survives the filter.
export function rankCandidates(cfg: RouterConfig, route: RouteSpec, t: CandidateTable): i32 {
  if (t.survivors == 0) return -1;
  if (route.strategy == Strategy.Random) return pickRandom(cfg, route, t);
  const best = pickBest(route, t);
  // Only strategies that rank on measured values explore and spread (config/strategies.ts).
  const strategy = unchecked(STRATEGIES[<i32>route.strategy]);
  if (t.survivors < 2 || !strategy.measured) return best;
  if (route.explore > 0) {
    const explored = explorePick(route, t, best);
    if (explored >= 0) return explored;
  }
  if (route.spread > 0 && strategy.spreads) return spreadPick(route, t, best);
  return best;
}
