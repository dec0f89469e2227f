// The per-request candidate table: for every candidate of the chosen route, why it cannot serve
// this request (or Drop.None) and, for survivors, the request's own cost, latency, throughput and
// quality. Filled once per request in one pass; ranking, alternates and explanations all read it,
// so no value is derived twice. One module-level table is reused: a decision allocates nothing.
import { CandidateColumns, RouteSpec, CAP_TOOLS, CAP_VISION, CAP_JSON } from "../config/types";
import { RequestEstimate } from "./estimate";
import { ModelSignals } from "./signals";

export const enum Drop {
  None, Endpoint, Context, Output, Vision, Tools, Json, Require, MinQuality, MaxCost, MaxTtft, MinThroughput, CoolingDown,
}

export class CandidateTable {
  count: i32 = 0;
  survivors: i32 = 0;
  drop: StaticArray<u8> = new StaticArray<u8>(0);
  cost: StaticArray<f64> = new StaticArray<f64>(0);       // USD for this request
  latency: StaticArray<f64> = new StaticArray<f64>(0);    // ms the client waits (first token when streaming)
  throughput: StaticArray<f64> = new StaticArray<f64>(0); // tokens per second
  stale: StaticArray<bool> = new StaticArray<bool>(0);     // no recent measurements (exploration)
  quality: StaticArray<f64> = new StaticArray<f64>(0);
  score: StaticArray<f64> = new StaticArray<f64>(0);      // the strategy's score, higher is better
  costLo: f64 = 0; costHi: f64 = 0;
  latencyLo: f64 = 0; latencyHi: f64 = 0;
  throughputLo: f64 = 0; throughputHi: f64 = 0;
  qualityLo: f64 = 0; qualityHi: f64 = 0;

  // Sized once per configuration for its largest route.
  reserve(n: i32): void {
    if (this.drop.length >= n) return;
    this.drop = new StaticArray<u8>(n);
    this.cost = new StaticArray<f64>(n);
    this.latency = new StaticArray<f64>(n);
    this.throughput = new StaticArray<f64>(n);
    this.stale = new StaticArray<bool>(n);
    this.quality = new StaticArray<f64>(n);
    this.score = new StaticArray<f64>(n);
  }
}

// The first rule that rules the candidate out, in the order the no-candidate message explains.
function dropReason(c: CandidateColumns, slot: i32, route: RouteSpec, e: RequestEstimate, quality: f64, cost: f64,
  ttftMs: f64, tokensPerSecond: f64, cooling: bool): Drop {
  if ((c.endpoints[slot] & e.endpoint) == 0) return Drop.Endpoint;
  if (e.inputTokens + e.outputTokens > c.contextWindow[slot]) return Drop.Context;
  if (e.outputTokens > c.maxOutputTokens[slot]) return Drop.Output;
  const missing = e.needs & ~c.capabilities[slot];
  if (missing & CAP_VISION) return Drop.Vision;
  if (missing & CAP_TOOLS) return Drop.Tools;
  if (missing & CAP_JSON) return Drop.Json;
  if (route.require & ~c.capabilities[slot]) return Drop.Require;
  if (quality < route.minQuality) return Drop.MinQuality;
  if (cost > route.maxCostUsd) return Drop.MaxCost;
  if (ttftMs > route.maxTtftMs) return Drop.MaxTtft;
  if (tokensPerSecond < route.minTokensPerSecond) return Drop.MinThroughput;
  if (cooling) return Drop.CoolingDown;
  return Drop.None;
}

// A failure rate is capped here when it turns into expected tries (a model failing more often than
// this is cooling down anyway).
const MAX_FAILURE_RATE: f64 = 0.9;

// Fills `t` for `route` and this request. `quality` is the route's quality row for the task that
// applies (one value per candidate); `nowMs` decides which cooldowns are still running. The common
// case (the candidate passes every rule) is tested branch-free; only a dropped candidate pays for
// finding out which rule dropped it.
export function fillCandidates(route: RouteSpec, quality: StaticArray<f64>, e: RequestEstimate,
  signals: ModelSignals, nowMs: f64, t: CandidateTable): void {
  const n = route.candidates.length;
  const c = route.columns;
  t.count = n;
  let survivors = 0;
  let cLo = Infinity, cHi = -Infinity, lLo = Infinity, lHi = -Infinity;
  let tLo = Infinity, tHi = -Infinity, qLo = Infinity, qHi = -Infinity;
  const tokens = e.inputTokens + e.outputTokens, output = e.outputTokens, input = e.inputTokens;
  const needs = e.needs | route.require, endpoint = e.endpoint;
  const minQuality = route.minQuality, maxCost = route.maxCostUsd, maxTtft = route.maxTtftMs, minTps = route.minTokensPerSecond;
  const outputMs = e.stream ? 0 : output * 1000;
  for (let slot = 0; slot < n; slot++) {
    const index = unchecked(route.candidates[slot]);
    const q = unchecked(quality[slot]);
    const ttft = unchecked(signals.ttftMs[index]), tps = unchecked(signals.tokensPerSecond[index]);
    const cost = (input * unchecked(c.inputPrice[slot]) + output * unchecked(c.outputPrice[slot])) * 1e-6;
    // A model failing a share p of its requests needs 1 / (1 - p) tries on average: its expected
    // latency grows and its effective throughput shrinks by that factor (1 without live signals).
    const tries = 1 / (1 - min(unchecked(signals.failureRate[index]), MAX_FAILURE_RATE));
    const latency = (ttft + outputMs / tps) * tries;
    const throughput = tps / tries;
    const cooling = unchecked(signals.coolingUntilMs[index]) > nowMs;
    const passes = ((unchecked(c.endpoints[slot]) & endpoint) != 0) & (tokens <= unchecked(c.contextWindow[slot])) & (output <= unchecked(c.maxOutputTokens[slot])) &
      ((needs & ~unchecked(c.capabilities[slot])) == 0) & (q >= minQuality) & (cost <= maxCost) &
      (ttft <= maxTtft) & (tps >= minTps) & !cooling;
    unchecked(t.cost[slot] = cost);
    unchecked(t.quality[slot] = q);
    unchecked(t.throughput[slot] = throughput);
    unchecked(t.latency[slot] = latency);
    unchecked(t.stale[slot] = unchecked(signals.stale[index]));
    if (!passes) {
      unchecked(t.drop[slot] = <u8>dropReason(c, slot, route, e, q, cost, ttft, tps, cooling));
      continue;
    }
    unchecked(t.drop[slot] = <u8>Drop.None);
    survivors++;
    cLo = min(cLo, cost); cHi = max(cHi, cost);
    lLo = min(lLo, latency); lHi = max(lHi, latency);
    tLo = min(tLo, throughput); tHi = max(tHi, throughput);
    qLo = min(qLo, q); qHi = max(qHi, q);
  }
  t.survivors = survivors;
  t.costLo = cLo; t.costHi = cHi;
  t.latencyLo = lLo; t.latencyHi = lHi;
  t.throughputLo = tLo; t.throughputHi = tHi;
  t.qualityLo = qLo; t.qualityHi = qHi;
}

// When every candidate of the route is cooling down, the one whose cooldown ends first among those
// the request fits (dropped for nothing but the cooldown); -1 when some candidate is not cooling
// down (the request itself ruled it out) or none fits.
export function soonestCoolingSlot(route: RouteSpec, signals: ModelSignals, nowMs: f64, t: CandidateTable): i32 {
  let best = -1;
  let bestUntil = Infinity;
  for (let slot = 0; slot < t.count; slot++) {
    const until = unchecked(signals.coolingUntilMs[unchecked(route.candidates[slot])]);
    if (!(until > nowMs)) return -1;
    if (unchecked(t.drop[slot]) == <u8>Drop.CoolingDown && until < bestUntil) { best = slot; bestUntil = until; }
  }
  return best;
}
