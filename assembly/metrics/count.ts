// What one request adds to the metrics, all at the end of its stream (on_log): its outcome on the
// request path and the cooling models its route passed over, under the consumer the request headers
// name by then (an authentication filter after this one, such as Higress's key-auth, has set it),
// and what live signals observed of its response (status, timing, usage). No response is read twice:
// the numbers come from the stream's ResponseObservation.
import { Catalog, ModelSpec, RouterConfig } from "../config/types";
import { Health } from "../response/classify";
import { ResponseObservation } from "../response/observe";
import { Drop } from "../routing/candidates";
import { Decision } from "../routing/decide";
import { CONSUMER_NONE } from "./consumers";
import { MetricsRoot } from "./registry";
import { H, RequestOutcome, Result, T } from "./table";
import { hostData, hostSize, readRequestHeader, releaseHostData } from "../abi/host";

// A timing longer than this is not a measurement (a wall-clock step other checks missed).
const MAX_SAMPLE_MS: f64 = 3600000;

@inline function plausible(ms: f64): bool { return ms >= 0 && ms <= MAX_SAMPLE_MS; }

// The consumer of the current stream, from its request headers as every filter left them.
export function consumerOf(mr: MetricsRoot): i32 {
  if (mr.consumerHeader.byteLength == 0 || !readRequestHeader(mr.consumerHeader)) return CONSUMER_NONE;
  const slot = mr.consumers.slotOf(hostData, hostSize);
  releaseHostData();
  return slot;
}

// Counts a handled request's outcome; returns its row (for the response's counts). `route` is the
// index of the alias the client sent (-1: none), `model` the catalog model it went to (-1: none).
export function countRequest(mr: MetricsRoot, cfg: RouterConfig, route: i32, model: i32, consumer: i32, outcome: RequestOutcome): i32 {
  const row = mr.row(mr.routeId(cfg, route), mr.modelId(cfg.catalog, model), consumer);
  mr.add(row, T.Requests, 1, <i32>outcome);
  return row;
}

// The catalog models the decision's route left out because they were cooling down (not the one it
// chose when every candidate was), into `out` (kept until the stream ends).
export function noteCooldownSkips(d: Decision, out: i32[]): void {
  out.length = 0;
  const route = d.route;
  if (route === null) return;
  const t = d.candidates;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) == <u8>Drop.CoolingDown && slot != d.slot) out.push(unchecked(route.candidates[slot]));
  }
}

// Each skipped model, under the alias and the model the request went to instead (`chosen`, -1: none).
export function countCooldownSkips(mr: MetricsRoot, cfg: RouterConfig, route: i32, chosen: i32, consumer: i32, skipped: i32[]): void {
  const alias = mr.routeId(cfg, route), to = mr.modelId(cfg.catalog, chosen);
  for (let i = 0; i < skipped.length; i++) {
    mr.add(mr.row(alias, to, consumer, mr.modelId(cfg.catalog, unchecked(skipped[i]))), T.CooldownSkips, 1);
  }
}

function resultOf(o: ResponseObservation): Result {
  switch (o.health) {
    case Health.Success: return o.status >= 400 && o.status < 500 ? Result.ClientError : Result.Success;
    case Health.Failure: return Result.Failure;
    case Health.Neutral: return Result.OtherFilter;
    default: return Result.ClientCancelled;
  }
}

// The end of a forwarded request's response. `estimatedInputTokens` / `estimatedCostMicroUsd` are
// the router's numbers from before the request, counted next to the real ones.
export function countResponse(mr: MetricsRoot, row: i32, catalog: Catalog, model: ModelSpec, o: ResponseObservation,
  estimatedInputTokens: f64, estimatedCostMicroUsd: f64): void {
  const id = mr.modelId(catalog, model.index);
  mr.add(row, T.Responses, 1, <i32>resultOf(o));
  const ok = o.status >= 200 && o.status < 300;
  if (o.sawHeaders && o.timingsValid) countTimings(mr, row, id, o, ok);
  const u = o.usage;
  const input = u.inputTotal(), output = u.outputTokens;
  if (input < 0 && output < 0) {
    if (ok) mr.add(row, T.UsageMissing, 1);
    return;
  }
  const inputTokens = <f64>max<i64>(input, 0), outputTokens = <f64>max<i64>(output, 0);
  const cached = min(<f64>u.cachedTotal(), inputTokens);
  mr.add(row, T.InputTokens, inputTokens);
  mr.add(row, T.CachedInputTokens, cached);
  mr.add(row, T.OutputTokens, outputTokens);
  mr.add(row, T.TotalTokens, inputTokens + outputTokens);
  // Prices are USD per million tokens: tokens × price is micro-USD.
  mr.add(row, T.CostMicroUsd, (inputTokens - cached) * model.inputPrice + cached * model.cachedInputPrice + outputTokens * model.outputPrice);
  mr.add(row, T.EstimatedCostMicroUsd, estimatedCostMicroUsd);
  mr.add(row, T.EstimatedInputTokens, estimatedInputTokens);
}

function countTimings(mr: MetricsRoot, row: i32, model: i32, o: ResponseObservation, ok: bool): void {
  const duration = o.endMs - o.startMs;
  if (plausible(duration)) {
    mr.add(row, T.ServiceDurationMs, duration);
    mr.add(row, T.DurationCount, 1);
    mr.record(H.RequestDurationMs, model, duration);
  }
  if (!o.stream || !ok || o.firstByteMs < 0) return;
  const ttft = o.ttftMs();
  if (plausible(ttft)) {
    mr.add(row, T.FirstTokenDurationMs, ttft);
    mr.add(row, T.StreamCount, 1);
    mr.record(H.TimeToFirstTokenMs, model, ttft);
  }
  const tokens = o.usage.outputTokens >= 0 ? o.usage.outputTokens : <i64>o.usage.events;
  const generating = o.endMs - o.firstByteMs;
  if (tokens >= 2 && generating >= 1 && plausible(generating)) mr.record(H.OutputTokensPerSecond, model, <f64>tokens * 1000 / generating);
}
