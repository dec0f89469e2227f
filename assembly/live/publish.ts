// From a model's shared statistics to the values routing reads (ModelSignals): each estimate is
// the decayed mean of the samples blended with the table value as a prior worth `priorWeight`
// samples, so one odd sample moves it a little, steady evidence moves it all the way, and without
// fresh samples it drifts back to the table.
import { LiveSettings, ModelSpec } from "../config/types";
import { ModelSignals } from "../routing/signals";
import { LiveRecord } from "./record";

// Without samples an estimate is the table value itself (not its logarithm and back, which could
// land a hair off and flip a limit such as minTokensPerSecond).
export function estimateTtftMs(r: LiveRecord, m: ModelSpec, s: LiveSettings, nowMs: f64): f64 {
  if (r.ttft.weight == 0) return m.ttftMs;
  return Math.exp(r.ttft.blend(Math.log(1 + m.ttftMs), s.priorWeight, nowMs, s.halfLifeMs)) - 1;
}

export function estimateTokensPerSecond(r: LiveRecord, m: ModelSpec, s: LiveSettings, nowMs: f64): f64 {
  if (r.tps.weight == 0) return m.tokensPerSecond;
  return Math.exp(r.tps.blend(Math.log(m.tokensPerSecond), s.priorWeight, nowMs, s.halfLifeMs));
}

// The table has no failure rate: its prior is 0.
export function estimateFailureRate(r: LiveRecord, s: LiveSettings, nowMs: f64): f64 {
  return r.failure.blend(0, s.priorWeight, nowMs, s.halfLifeMs);
}

export function publish(r: LiveRecord, m: ModelSpec, s: LiveSettings, nowMs: f64, out: ModelSignals): void {
  const i = m.index;
  unchecked(out.ttftMs[i] = estimateTtftMs(r, m, s, nowMs));
  unchecked(out.tokensPerSecond[i] = estimateTokensPerSecond(r, m, s, nowMs));
  unchecked(out.failureRate[i] = estimateFailureRate(r, s, nowMs));
  unchecked(out.coolingUntilMs[i] = r.coolingUntil(nowMs));
  unchecked(out.needsProbe[i] = r.open);
  unchecked(out.consecutiveFailures[i] = <i32>min(r.consecutive, 1e9));
  unchecked(out.stale[i] = r.lastSampleAt < 0 || nowMs - r.lastSampleAt > s.staleAfterMs);
}
