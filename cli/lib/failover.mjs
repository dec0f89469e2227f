// Cross-model failover in the generated bootstrap. The plugin decides once, before the router, and
// names the request's plan in its chain header: the providers of the chosen model and its
// alternates, joined by "+" ("openai+deepseek"). Envoy then does the moving:
// - one aggregate cluster per chain, its children the provider clusters in plan order;
// - one route per chain length, selected by the chain header, routing on it (cluster_header), with
//   a retry policy of length − 1 retries that moves each retry to the next provider
//   (previous_priorities) on connect failure, reset, 5xx and 429 — before the first response byte only;
// - the same Wasm module as the router's upstream filter (root id model-router-upstream): per attempt
//   it writes that provider's model id, path, Host, key and static headers. Its keys come from the
//   environment Envoy passes to the VM (host_env_keys), never from this file;
// - endpoint metadata naming each endpoint's provider, so an attempt knows where it went.
// The chains are the plugin's own rule (assembly/config/failover.ts): every ordered list of 2 to
// 1 + F distinct providers, F the configuration's largest fallback count.
import { METADATA_NAMESPACE, METRICS, PROVIDER_METADATA_KEY, SERVED_FILTER_STATE, UPSTREAM_ROOT_ID, envoyFilterState } from "./names.mjs";
import { flow } from "./yaml.mjs";
const MAX_FALLBACKS = 3;
const DEFAULT_CHAIN_HEADER = "x-llm-chain";
const DEFAULT_SERVED_HEADER = "x-llm-served-model";

const T = {
  aggregate: "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig",
  previousPriorities: "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
  previousHosts: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
};

// The most fallback clusters a bootstrap may hold (the plugin refuses a configuration needing more,
// with the same number: assembly/config/failover.ts). Each costs Envoy about 50 KB and 0.5 ms to
// start (bench/results/abuse.md): 5,850 of them took a gateway from 94 to 420 MB before any request.
export const MAX_FALLBACK_CLUSTERS = 1000;

const count = (v, fallback) => (Number.isInteger(v) ? v : fallback);

/**
 * The configuration's largest fallback count (what the plugin computes for maxChainLength − 1) and
 * the field that sets it (the first one, in the plugin's order).
 */
export function largestFallbackCount(json) {
  let most = count(json.maxClientFallbacks, 1);
  let field = "maxClientFallbacks";
  for (const [name, r] of Object.entries(json.routes ?? {})) {
    if (count(r?.maxFallbacks, 1) > most) [most, field] = [count(r?.maxFallbacks, 1), `routes.${name}.maxFallbacks`];
  }
  (json.models ?? []).forEach((m, i) => {
    const n = Array.isArray(m?.fallbacks) ? m.fallbacks.length : 0;
    if (n > most) [most, field] = [n, `models[${i}].fallbacks`];
  });
  return { count: Math.min(most, MAX_FALLBACKS), field };
}

/** How many ordered chains of 2..maxLength distinct providers `providers` make: Σ P!/(P−L)!. */
export function chainCount(providers, maxLength) {
  let total = 0;
  let ordered = providers;
  for (let length = 2; length <= Math.min(maxLength, providers); length++) {
    ordered *= providers - length + 1;
    total += ordered;
  }
  return total;
}

/** Every ordered list of 2..maxLength distinct names, shortest first (iterative: no deep stacks). */
export function orderedChains(names, maxLength) {
  const out = [];
  let level = names.map((n) => [n]);
  for (let length = 2; length <= maxLength; length++) {
    const next = [];
    for (const prefix of level) for (const n of names) if (!prefix.includes(n)) next.push([...prefix, n]);
    for (const chain of next) out.push(chain);
    level = next;
  }
  return out;
}

/** The providers a model uses, in catalog order: a chain only ever holds those. */
function chainProviders(view) {
  return [...new Set((view.models ?? []).map((m) => m?.upstream))].filter((u) => view.providers.some((p) => p.name === u));
}

/**
 * The problem of a configuration whose fallback chains exceed MAX_FALLBACK_CLUSTERS, or null: the
 * field that sets the largest fallback count, the count it needs and the largest count that fits.
 */
export function fallbackClusterProblem(json, view) {
  const providers = chainProviders(view).length;
  if (view.providers.length < 2) return null;
  const { count: fallbacks, field } = largestFallbackCount(json);
  const needed = chainCount(providers, 1 + fallbacks);
  if (needed <= MAX_FALLBACK_CLUSTERS) return null;
  let fits = fallbacks - 1;
  while (fits > 0 && chainCount(providers, 1 + fits) > MAX_FALLBACK_CLUSTERS) fits--;
  return {
    field,
    message:
      `${fallbacks} fallbacks over ${providers} providers need ${needed} fallback clusters (one per ordered chain of 2` +
      `${fallbacks > 1 ? ` to ${1 + fallbacks}` : ""} providers); the gateway holds at most ${MAX_FALLBACK_CLUSTERS}: ` +
      (fits > 0 ? `use at most ${fits} (${chainCount(providers, 1 + fits)} clusters)` : "turn failover off (0 fallbacks) or use fewer providers"),
  };
}

/**
 * What the bootstrap needs for failover, or null when the configuration makes no chains (fewer than
 * two providers, every fallback count 0) or the gateway cannot run the upstream filter (Higress).
 * Throws when the chains would exceed MAX_FALLBACK_CLUSTERS (`llm-router check` says so first).
 */
export function failoverPlan(json, view, { higress = false } = {}) {
  if (higress) return null;
  const problem = fallbackClusterProblem(json, view);
  if (problem) throw new Error(`${problem.field}: ${problem.message}`);
  const used = chainProviders(view);
  const maxLength = view.providers.length >= 2 ? 1 + largestFallbackCount(json).count : 1;
  const chains = orderedChains(used, Math.min(maxLength, used.length));
  if (chains.length === 0) return null;
  return {
    chains,
    maxLength: Math.max(...chains.map((c) => c.length)),
    chainHeader: json.chainHeader ?? DEFAULT_CHAIN_HEADER,
    servedHeader: servedHeaderName(json),
    keyVariables: keyVariablesOf(view),
  };
}

export const chainName = (chain) => chain.join("+");

/** The environment variables holding the providers' keys, each once. */
export function keyVariablesOf(view) {
  return [...new Set(view.providers.filter((p) => p.auth !== "none").map((p) => p.apiKeyEnv))];
}

/** The response header naming the model that served (`servedModelHeader`). */
export function servedHeaderName(json) {
  return json.servedModelHeader ?? DEFAULT_SERVED_HEADER;
}

/**
 * That header's value (an Envoy formatter): a model served a request when its provider answered it
 * with a 2xx; then it is the model the router chose or, when the request moved on, the one the
 * upstream filter noted for the attempt that answered. Any other answer (a provider's error, the
 * gateway's own 503 after every attempt failed) names no model: the CEL value is empty, and Envoy
 * adds no header with an empty value. Route headers apply to Envoy's own replies too, which have
 * no upstream status: response.code_details tells them apart.
 */
export const SERVED_MODEL =
  "%CEL(response.code_details == 'via_upstream' && response.code >= 200 && response.code < 300 ? " +
  `('${envoyFilterState(SERVED_FILTER_STATE)}' in filter_state ? filter_state['${envoyFilterState(SERVED_FILTER_STATE)}'] : ` +
  `metadata.filter_metadata['${METADATA_NAMESPACE}']['model']) : '')%`;

/**
 * One aggregate cluster per chain: its children in plan order, one priority each. Its retry circuit
 * breaker allows as many retries at once as the gateway has connections: Envoy's default (3 at once
 * per cluster) would answer a provider outage under load with 503s instead of moving the requests on.
 */
export function chainClusters(plan, maxConnections) {
  return plan.chains.map((chain) => ({
    name: chainName(chain),
    connect_timeout: "5s",
    lb_policy: "CLUSTER_PROVIDED",
    cluster_type: { name: "envoy.clusters.aggregate", typed_config: { "@type": T.aggregate, clusters: flow(chain) } },
    circuit_breakers: { thresholds: [flow({ priority: "DEFAULT", max_retries: maxConnections })] },
  }));
}

/** A chain of `length` providers: the header holds exactly length − 1 "+" separators. */
function lengthRegex(length) {
  return `^[^+]+(\\+[^+]+){${length - 1}}$`;
}

/**
 * The routes of the fallback clusters, one per chain length: matched by the chain header, routed on
 * it, length − 1 retries, each on the next provider. The path, Host and key are the upstream
 * filter's per attempt; the route removes the routing headers and the client's credentials first.
 */
export function chainRoutes(plan, view, { bufferLimit, idleTimeout, headersToRemove, responseHeadersToAdd = [] }) {
  const routes = [];
  for (let length = 2; length <= plan.maxLength; length++) {
    routes.push({
      name: `fallback.${length}`,
      match: { prefix: "/", headers: [{ name: plan.chainHeader, string_match: flow({ safe_regex: { regex: lengthRegex(length) } }) }] },
      route: {
        cluster_header: plan.chainHeader,
        timeout: "0s",
        idle_timeout: idleTimeout,
        retry_policy: chainRetryPolicy(length - 1),
      },
      request_body_buffer_limit: bufferLimit,
      request_headers_to_remove: headersToRemove,
      response_headers_to_add: [responseHeader(plan.servedHeader, SERVED_MODEL), ...responseHeadersToAdd],
    });
  }
  return routes;
}

function chainRetryPolicy(retries) {
  return {
    retry_on: "5xx,reset,connect-failure,retriable-status-codes",
    retriable_status_codes: [429],
    num_retries: retries,
    retry_priority: { name: "envoy.retry_priorities.previous_priorities", typed_config: { "@type": T.previousPriorities, update_frequency: 1 } },
    retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": T.previousHosts } }],
    host_selection_retry_max_attempts: 5,
    // Another provider needs no back-off from this one's trouble.
    retry_back_off: flow({ base_interval: "0.01s", max_interval: "0.05s" }),
  };
}

/** A response header a route sets, replacing any the response has (value: an Envoy formatter). */
export function responseHeader(name, value) {
  return { header: flow({ key: name, value }), append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };
}

/** The upstream filter: the plugin again, in the router, with the same VM (vm_config) as the router filter. */
export function upstreamWasmFilter(routerFilter) {
  const config = routerFilter.typed_config.config;
  const { allow_on_headers_stop_iteration: _hold, ...rest } = config;
  return {
    name: UPSTREAM_ROOT_ID,
    typed_config: { ...routerFilter.typed_config, config: { ...rest, name: UPSTREAM_ROOT_ID, root_id: UPSTREAM_ROOT_ID } },
  };
}

/** The VM's environment: the provider key variables, read by the upstream filter at start-up. */
export function keyEnvironment(plan) {
  return plan.keyVariables.length > 0 ? { host_env_keys: plan.keyVariables } : undefined;
}

/**
 * A provider cluster's load-assignment policy for fallback chains. An aggregate cluster hands a
 * share of the first attempts to the next provider as soon as the first one has an unhealthy host
 * (Envoy's overprovisioning factor 1.4: with one of two endpoints ejected by outlier detection, 30 %
 * of the requests went straight to the alternate model, measured). A factor this large keeps every
 * first attempt on the chosen model while its provider has any healthy endpoint; a provider's own
 * route has one priority, where the factor changes nothing.
 */
export function chainOrderPolicy() {
  return flow({ overprovisioning_factor: 100000 });
}

/** Endpoint metadata: which provider an endpoint belongs to (an attempt reads it). */
export function providerMetadata(name) {
  return { filter_metadata: { [METADATA_NAMESPACE]: { [PROVIDER_METADATA_KEY]: name } } };
}

/**
 * stats_tags turning the fallbacks counter into llm_router_fallbacks{ai_route, from_model, to_model}
 * (ai_route: envoy.mjs PLUGIN_STATS_TAGS, one regex for every metric with that label; the from_model
 * cut takes the route's keyword and value too).
 */
export function fallbackStatsTags() {
  const base = `^wasmcustom\\.${METRICS.fallbacks}`;
  return [
    { tag_name: "from_model", regex: `${base}(\\.route\\..+?\\.from\\.(.+?))\\.to\\.` },
    { tag_name: "to_model", regex: `${base}\\.route\\..+?\\.from\\..+?(\\.to\\.(.+))$` },
  ];
}
