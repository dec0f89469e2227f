// What routing knows about each catalog model right now: its time to first token, throughput,
// failure rate and health. The tables start as the configuration's values; the live layer (which
// measures real traffic) overwrites them between requests. Routing only reads them, indexed by
// catalog position, so a decision costs no lookups and no host calls.
import { ModelSpec } from "../config/types";

export class ModelSignals {
  ttftMs: StaticArray<f64>;
  tokensPerSecond: StaticArray<f64>;
  failureRate: StaticArray<f64>;
  // Wall-clock ms until which the model is cooling down (0: healthy); a model past its cooldown
  // but not yet proven healthy again admits one probe request at a time (needsProbe).
  coolingUntilMs: StaticArray<f64>;
  // The model failed and has not succeeded since: once its cooldown is over, the request that picks
  // it must first claim the probe (live/live.ts), or be decided again without it.
  needsProbe: StaticArray<bool>;
  consecutiveFailures: StaticArray<i32>;
  // No recent samples: exploration may send a little traffic here to refresh the numbers.
  stale: StaticArray<bool>;

  constructor(models: ModelSpec[]) {
    const n = models.length;
    this.ttftMs = new StaticArray<f64>(n);
    this.tokensPerSecond = new StaticArray<f64>(n);
    this.failureRate = new StaticArray<f64>(n);
    this.coolingUntilMs = new StaticArray<f64>(n);
    this.needsProbe = new StaticArray<bool>(n);
    this.consecutiveFailures = new StaticArray<i32>(n);
    this.stale = new StaticArray<bool>(n);
    for (let i = 0; i < n; i++) {
      this.ttftMs[i] = models[i].ttftMs;
      this.tokensPerSecond[i] = models[i].tokensPerSecond;
    }
  }
}
