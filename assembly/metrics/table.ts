// Every metric the plugin exports, defined once, here. Nothing else names a metric: the registry
// (registry.ts) and the fallbacks counter (fallbacks.ts) turn these entries into Envoy stats, and the
// CLI's copies (cli/lib/names.mjs: the generator's stats_tags, `llm-router top`) and the dashboards
// (config/observability) read the same names, checked by test/unit/names.test.ts. The names follow
// the rule of assembly/names.ts: none is ever renamed; a new one starts with llm_router_ (or takes
// the name Higress's ai-statistics or OpenTelemetry's gen_ai conventions give it).
//
// Three name shapes, all made of labels from the configuration only (plus the capped consumer):
// - traffic, by route, upstream, model and consumer, the shape Higress's ai-statistics uses, so a
//   Higress gateway labels them with its own stats_tags:
//     route.<route>.upstream.<upstream>.model.<model>.consumer.<consumer>.metric.<name>[.<key>.<value>]
//   → route_upstream_model_consumer_metric_<name>{ai_route, ai_cluster, ai_model, ai_consumer[, key]}
//   "none" stands for no route (a catalog model named directly, or a request refused before its
//   model was known), no model, no consumer.
// - per model (measurements and live estimates):
//     <name>.upstream.<upstream>.model.<model>  → <name>{ai_cluster, ai_model}
// - per move between models (failover), defined the first time a move happens:
//     <name>.route.<route>.from.<model>.to.<model>  → <name>{ai_route, from_model, to_model}
//
// Adding a traffic counter is a member of T and its entry at that position in TRAFFIC (the entry
// names its position; test/unit/tables.test.ts checks the order), plus its call site; a counter
// keyed by a second model sets `rowLabel` and is counted in rows that carry that model
// (MetricsRoot.row's `rowModel`), as llm_router_cooldown_skips does with the model passed over. The
// same goes for H / MODEL_HISTOGRAMS and G / MODEL_GAUGES; a label value (outcome, result) is a
// member of its enum and its name, the member's in snake_case, at the same position.
import { MetricType } from "../abi/constants";

// Request outcomes (the `outcome` label of llm_router_requests), one per way a handled request ends
// on the request path. Rejections use the code of the error the client got.
export const enum RequestOutcome {
  None = -1,            // not a request the plugin handles (no count)
  Routed = 0,           // an alias: the route's best candidate
  Direct,               // the client named a catalog model
  Fallback,             // no candidate survived: the route's onNoCandidate model
  AllCooling,           // every candidate cooling down: the one whose cooldown ends first
  PassedThrough,        // not a name the plugin knows: forwarded untouched
  NoCandidate,          // 400 model_not_available
  InvalidJson,
  MissingModel,
  InvalidModel,
  DuplicateModel,
  InvalidMaxTokens,
  InvalidModels,
  UnsupportedMediaType,
  UnsupportedContentEncoding,
  RequestTooLarge,
  MissingBody,
  InternalError,
}
export const OUTCOME_NAMES: string[] = [
  "routed", "direct", "fallback", "all_cooling", "passed_through", "no_candidate", "invalid_json", "missing_model",
  "invalid_model", "duplicate_model", "invalid_max_tokens", "invalid_models", "unsupported_media_type", "unsupported_content_encoding",
  "request_too_large", "missing_body", "internal_error",
];

// How a forwarded request's response ended (the `result` label of llm_router_responses), as live
// signals classify it (response/classify.ts): a provider's 5xx or 429, or Envoy's reply for a failed
// provider, is a failure; any other answer of the provider a success, except a 4xx, which is the
// client's error (live signals count it as an answer, not a failure of the model); other filters'
// replies and clients that left say nothing about the model.
export const enum Result { Success = 0, Failure, ClientCancelled, OtherFilter, ClientError }
export const RESULT_NAMES: string[] = ["success", "failure", "client_cancelled", "other_filter", "client_error"];

export class TrafficMetric {
  firstColumn: i32 = 0; // where its accumulators start in a row (set by layoutRow)
  constructor(
    readonly at: T,     // its own position in TRAFFIC
    readonly name: string,
    readonly help: string,
    // One column per value, the stat name ending in ".<labelKey>.<value>"; "" = one column.
    readonly labelKey: string = "",
    readonly labelValues: string[] = [],
    // Counted only in rows keyed by a second model, the stat name ending in ".<rowLabel>.<model>".
    readonly rowLabel: string = "",
  ) {}

  get columns(): i32 { return this.labelKey.length > 0 ? this.labelValues.length : 1; }
}

// Positions in TRAFFIC (the registry adds to a metric by its position).
export const enum T {
  InputTokens, CachedInputTokens, OutputTokens, TotalTokens, CostMicroUsd, EstimatedCostMicroUsd,
  EstimatedInputTokens, FirstTokenDurationMs, StreamCount, ServiceDurationMs, DurationCount, UsageMissing,
  Requests, Responses, CooldownSkips,
}

export const TRAFFIC: TrafficMetric[] = [
  // Higress ai-statistics' own names (its dashboards read them), from the response's usage.
  new TrafficMetric(T.InputTokens, "input_token", "prompt tokens the provider billed (cached ones included)"),
  new TrafficMetric(T.CachedInputTokens, "cached_input_token", "of input_token, the tokens served from the provider's prompt cache"),
  new TrafficMetric(T.OutputTokens, "output_token", "completion tokens the provider billed"),
  new TrafficMetric(T.TotalTokens, "total_token", "input_token + output_token"),
  new TrafficMetric(T.CostMicroUsd, "llm_router_cost_micro_usd", "cost from usage and the model's prices, in millionths of a USD"),
  new TrafficMetric(T.EstimatedCostMicroUsd, "llm_router_estimated_cost_micro_usd", "the router's cost estimate before the request, for the same requests"),
  new TrafficMetric(T.EstimatedInputTokens, "llm_router_estimated_input_token", "the router's input-token estimate (bytesPerToken), for the same requests"),
  new TrafficMetric(T.FirstTokenDurationMs, "llm_first_token_duration", "sum of the streams' times to first token, ms"),
  new TrafficMetric(T.StreamCount, "llm_stream_duration_count", "streams with a first token"),
  new TrafficMetric(T.ServiceDurationMs, "llm_service_duration", "sum of the responses' durations, ms"),
  new TrafficMetric(T.DurationCount, "llm_duration_count", "responses with a duration"),
  new TrafficMetric(T.UsageMissing, "llm_router_usage_missing", "successful responses without a usage object (no tokens or cost counted)"),
  // What the router did.
  new TrafficMetric(T.Requests, "llm_router_requests", "handled requests by outcome", "outcome", OUTCOME_NAMES),
  new TrafficMetric(T.Responses, "llm_router_responses", "forwarded requests' responses by result", "result", RESULT_NAMES),
  // ai_model is where the request went ("none": nowhere), skipped_model the model passed over.
  new TrafficMetric(T.CooldownSkips, "llm_router_cooldown_skips", "requests a route sent elsewhere because a candidate was cooling down", "", [], "skipped_model"),
];

export class ModelMetric {
  // `at`: its own position in MODEL_HISTOGRAMS (an H) or MODEL_GAUGES (a G).
  constructor(readonly at: i32, readonly name: string, readonly type: MetricType, readonly help: string) {}
}

// Positions in MODEL_HISTOGRAMS / MODEL_GAUGES.
export const enum H { TimeToFirstTokenMs, RequestDurationMs, OutputTokensPerSecond }
export const enum G { TtftMs, TokensPerSecond, FailureRatePpm, CoolingDown, CooldownUntilMs, ConsecutiveFailures }

// Histograms follow OpenTelemetry's gen_ai names where one exists (in ms: Envoy's default buckets
// are made for milliseconds and histogram values are integers).
export const MODEL_HISTOGRAMS: ModelMetric[] = [
  new ModelMetric(H.TimeToFirstTokenMs, "gen_ai_server_time_to_first_token_ms", MetricType.Histogram, "streamed responses: forwarded → first body byte"),
  new ModelMetric(H.RequestDurationMs, "gen_ai_server_request_duration_ms", MetricType.Histogram, "forwarded → end of the response"),
  new ModelMetric(H.OutputTokensPerSecond, "llm_router_output_tokens_per_second", MetricType.Histogram, "streamed responses: output tokens / (end − first token)"),
];

// The live layer's view of each model, as routing sees it (set at every refresh tick).
export const MODEL_GAUGES: ModelMetric[] = [
  new ModelMetric(G.TtftMs, "llm_router_model_ttft_ms", MetricType.Gauge, "live time-to-first-token estimate"),
  new ModelMetric(G.TokensPerSecond, "llm_router_model_tokens_per_second", MetricType.Gauge, "live output-speed estimate"),
  new ModelMetric(G.FailureRatePpm, "llm_router_model_failure_rate_ppm", MetricType.Gauge, "live failure-rate estimate, per million"),
  new ModelMetric(G.CoolingDown, "llm_router_model_cooling_down", MetricType.Gauge, "1 while routing leaves the model out (cooldown or a probe out)"),
  new ModelMetric(G.CooldownUntilMs, "llm_router_model_cooldown_until_ms", MetricType.Gauge, "when the current cooldown ends, Unix ms (0: none)"),
  new ModelMetric(G.ConsecutiveFailures, "llm_router_model_consecutive_failures", MetricType.Gauge, "failures since the last success"),
];

// How often a request moved from one model to another because an attempt failed before the
// response started (fallbacks.ts), by the name the client asked for (an alias, or the catalog model
// itself), the model that failed and the model tried next.
export class MoveMetric {
  constructor(readonly name: string, readonly type: MetricType, readonly help: string) {}
}
export const FALLBACKS: MoveMetric = new MoveMetric("llm_router_fallbacks", MetricType.Counter,
  "requests moved to the next model of their plan after an attempt failed before the response started");

// Columns of one traffic row, in TRAFFIC order.
export let ROW_WIDTH: i32 = 0;
function layoutRow(): void {
  for (let i = 0; i < TRAFFIC.length; i++) {
    TRAFFIC[i].firstColumn = ROW_WIDTH;
    ROW_WIDTH += TRAFFIC[i].columns;
  }
}
layoutRow();
