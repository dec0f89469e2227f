// The attempts of one request that Envoy moved between providers: which model each attempt went to,
// when it started, and how the ones that were retried failed. The upstream filter (one context per
// attempt, in the same VM as the request's downstream filter) writes it; the downstream filter reads
// it when the stream ends, so the live statistics charge each failure to the model that failed and
// the answer to the model that gave it. Lives in the stream's pooled state: no allocation.
import { MAX_CHAIN_LENGTH } from "../config/failover";
import { Cause } from "./classify";

export class AttemptLog {
  count: i32 = 0;
  readonly models: StaticArray<i32> = new StaticArray<i32>(MAX_CHAIN_LENGTH);
  readonly startMs: StaticArray<f64> = new StaticArray<f64>(MAX_CHAIN_LENGTH);
  // How an attempt ended without its response reaching the client: Cause.Status (an HTTP error
  // Envoy retried: 5xx or 429, status not seen) or Cause.NoResponse (connect failure or reset);
  // Cause.None while it runs or once its response is passed on.
  readonly causes: StaticArray<u8> = new StaticArray<u8>(MAX_CHAIN_LENGTH);

  // Bumped whenever the log is cleared for another request: an attempt that outlives its request
  // (the client left) must not write into the next request's log.
  generation: u32 = 0;

  clear(): void {
    this.count = 0;
    this.generation++;
  }

  // A new attempt; its slot, or -1 when more attempts came than the longest chain (a wrap-around
  // after every provider failed: Envoy's retries then start again at the first).
  begin(model: i32, nowMs: f64): i32 {
    const i = this.count;
    if (i >= MAX_CHAIN_LENGTH) return -1;
    unchecked(this.models[i] = model);
    unchecked(this.startMs[i] = nowMs);
    unchecked(this.causes[i] = <u8>Cause.None);
    this.count = i + 1;
    return i;
  }

  @inline model(i: i32): i32 { return unchecked(this.models[i]); }
}
