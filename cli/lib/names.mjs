// The plugin's names the gateway around it must spell the same way: the CLI's copy of
// assembly/names.ts (root id, filter-state keys, endpoint metadata, log prefix), of the metric
// table assembly/metrics/table.ts (metric names and label values) and of the provider APIs
// (assembly/api/apis.ts). test/unit/names.test.ts fails when either side changes alone; nothing
// else in cli/ spells these names.
//
// The rule (assembly/names.ts): an existing name is never renamed; every new name takes the prefix
// llm_router (filter state, metadata, metrics) or llm-router (anything spelt with dashes).

// The rate limit service's domain for budgets shared across gateways (assembly/names.ts).
export const RATELIMIT_DOMAIN = "llm_router";
export const UPSTREAM_ROOT_ID = "model-router-upstream";

// Filter-state keys as the plugin writes them; Envoy keeps each as wasm.<key> (envoyFilterState).
export const DECISION_FILTER_STATE = "model_router.decision";
export const DECISION_HEADER_FILTER_STATE_PREFIX = "model_router.decision.";
export const PLAN_FILTER_STATE = "llm_router.plan";
export const SERVED_FILTER_STATE = "llm_router.served";

/** The name Envoy's %FILTER_STATE(…)% and the filter-state matchers know a key by. */
export const envoyFilterState = (key) => `wasm.${key}`;

export const METADATA_NAMESPACE = "llm_router";
export const PROVIDER_METADATA_KEY = "provider";

export const LOG_PREFIX = "model-router: ";
export const CONFIG_ERROR_PREFIX = "model-router: invalid configuration: ";

// Provider APIs, as a provider's `api` spells them.
export const OPENAI = "openai";
export const AZURE_OPENAI = "azure-openai";
export const PROVIDER_APIS = [OPENAI, AZURE_OPENAI];

// Metric names the CLI reads or tags (Envoy prefixes every one with "wasmcustom.").
export const METRICS = {
  inputTokens: "input_token",
  outputTokens: "output_token",
  costMicroUsd: "llm_router_cost_micro_usd",
  requests: "llm_router_requests",
  responses: "llm_router_responses",
  timeToFirstTokenMs: "gen_ai_server_time_to_first_token_ms",
  outputTokensPerSecond: "llm_router_output_tokens_per_second",
  coolingDown: "llm_router_model_cooling_down",
  cooldownUntilMs: "llm_router_model_cooldown_until_ms",
  consecutiveFailures: "llm_router_model_consecutive_failures",
  ttftMs: "llm_router_model_ttft_ms",
  fallbacks: "llm_router_fallbacks",
};
// Every per-model metric (histograms and live gauges) matches this, and no traffic metric does:
// the stats_tags and `llm-router top` tell the two name shapes apart by it.
export const PER_MODEL_METRIC = "(?:gen_ai|llm_router)_[a-z0-9_]+";
// The histograms measured in milliseconds (their bucket settings go by this prefix).
export const MS_HISTOGRAM_PREFIX = "gen_ai_server_";

// llm_router_requests{outcome}: the outcomes of a request that went to a model.
export const FORWARDED_OUTCOMES = ["routed", "direct", "fallback", "all_cooling"];
// llm_router_responses{result}, in the plugin's order.
export const RESULTS = ["success", "failure", "client_cancelled", "other_filter", "client_error"];
