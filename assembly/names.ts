// Every name the plugin shows outside itself, but the metrics' (metrics/table.ts, the one metric
// table): root ids, filter-state keys, endpoint metadata, shared-data keys, local-reply details, the
// log prefix. Operators' access-log formats, dashboards and bootstraps read them, so:
//
//   An existing name is never renamed (the early ones say model_router / model-router). Every NEW
//   name takes the one prefix llm_router (filter state, metadata, metrics: Envoy joins them with
//   dots) or llm-router (root ids, shared-data keys, anything spelt with dashes).
//
// The CLI's copies (cli/lib/names.mjs) are checked against this file and against the metric table by
// test/unit/names.test.ts. A leaf: it imports nothing, so every layer may read it.

// The root id of the upstream HTTP filter (the router's upstream_http_filters, one context per
// attempt); any other root id is the router filter.
export const UPSTREAM_ROOT_ID = "model-router-upstream";

// Filter state (proxy_set_property; Envoy keeps each as wasm.<key>, the access log reads
// %FILTER_STATE(wasm.<key>:PLAIN)%).
// The request's decision in words (routing/describe.ts).
export const DECISION_FILTER_STATE = "model_router.decision";
// The same text under <prefix><header name>, for the opt-in decision header Envoy's route adds.
export const DECISION_HEADER_FILTER_STATE_PREFIX = "model_router.decision.";
// The failover plan the router filter hands to every attempt (routing/plan_message.ts).
export const PLAN_FILTER_STATE = "llm_router.plan";
// The model that answered after a failover (the route's served-model header reads it).
export const SERVED_FILTER_STATE = "llm_router.served";

// Endpoint metadata the generated bootstrap writes on every provider endpoint: filter_metadata
// namespace and key, naming the endpoint's provider (without dots: one property path segment).
export const METADATA_NAMESPACE = "llm_router";
export const PROVIDER_METADATA_KEY = "provider";

// Shared data (one map per vm_id, every worker of the process): live statistics per model and the
// health generation (live/store.ts), the admitted consumer labels (metrics/consumers.ts).
export const LIVE_KEY_PREFIX = "model-router/live/v1/";
export const HEALTH_KEY = "model-router/live/v1/health";
export const CONSUMERS_KEY = "model-router/metrics/v1/consumers";
// Budgets: one ledger record per (budget, consumer) (budget/ledger.ts); prompt-cache affinity: one
// bucket of the affinity map per key (affinity/map.ts).
export const BUDGET_KEY_PREFIX = "llm_router/budget/v1/";
export const AFFINITY_KEY_PREFIX = "llm_router/affinity/v1/";

// The rate limit service's domain for budgets shared across gateways, and the descriptor entry
// naming the budget (budget/shared.ts); the service's configuration names the domain
// (cli/lib/shared-store.mjs).
export const RATELIMIT_DOMAIN = "llm_router";
export const RATELIMIT_BUDGET_ENTRY = "llm_router_budget";

// The response code details of the plugin's own replies (%RESPONSE_CODE_DETAILS%).
export const LOCAL_REPLY_DETAILS = "model_router";
// `owned_by` of the aliases in GET /v1/models.
export const ALIAS_OWNER = "model-router";
// Every log line the plugin writes starts with it (`llm-router start` finds configuration errors
// in Envoy's log by it).
export const LOG_PREFIX = "model-router: ";
export const CONFIG_ERROR_PREFIX = "model-router: invalid configuration: ";
