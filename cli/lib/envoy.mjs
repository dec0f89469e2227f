// The Envoy 1.40 bootstrap for a router configuration. Envoy does the transport: one cluster per
// provider (DNS, TLS with SNI and the system CA bundle), the provider's path and Host, its key from
// the environment, retries, timeouts and memory limits. The plugin only decides: it sets the
// upstream and model headers, and a route per provider matches on them.
import { annotate, flow, Literal } from "./yaml.mjs";
import { gatewayView } from "./config.mjs";
import {
  chainClusters, chainOrderPolicy, chainRoutes, failoverPlan, fallbackStatsTags, keyEnvironment, keyVariablesOf, providerMetadata, responseHeader,
  SERVED_MODEL, servedHeaderName, upstreamWasmFilter,
} from "./failover.mjs";
import {
  AZURE_OPENAI, DECISION_FILTER_STATE, DECISION_HEADER_FILTER_STATE_PREFIX, METADATA_NAMESPACE, METRICS, MS_HISTOGRAM_PREFIX, PER_MODEL_METRIC,
  SERVED_FILTER_STATE, envoyFilterState,
} from "./names.mjs";

export const DEFAULTS = {
  listen: { host: "127.0.0.1", port: 10000 },
  admin: { host: "127.0.0.1", port: 9901 },
  wasmPath: "build/envoy.wasm",
  caFile: "/etc/ssl/certs/ca-certificates.crt",
  requestTimeoutSeconds: 60,
  streamIdleTimeoutSeconds: 600,
  maxHeapBytes: 1024 * 1024 * 1024,
  maxConnections: 10000,
};

// How long a new connection may stay silent: clients send their request as soon as they connect.
export const FIRST_BYTES_TIMEOUT_SECONDS = 5;
// Keep-alive connections idle this long are closed (scaled down near the connection limit).
const CONNECTION_IDLE_TIMEOUT_SECONDS = 300;
// What the idle timeouts shrink to as connections near the limit or the heap nears its budget.
const SATURATED_CONNECTION_IDLE = "2s";
const SATURATED_STREAM_IDLE = "2s";
// What Envoy reads from a client connection at a time. One call of the gzip decompressor inflates
// what one read brought, at most MAX_INFLATE_RATIO times its size: reads this small keep a
// decompression bomb to about 16 MiB before the 413, where whole-body reads let it reach 100 MiB.
export const READ_BUFFER_BYTES = 16 * 1024;
// zlib's own ceiling (deflate cannot compress more than 1032:1), so no valid body is ever cut.
export const MAX_INFLATE_RATIO = 1032;
// The RBAC policy refusing a declared content-length over maxBodyBytes (local reply mapped to a 413).
const TOO_LARGE_POLICY = "request_too_large";
const BODY_BUFFER_FILTER = "envoy.filters.http.buffer";

// The route that answers for everything the plugin did not route (see unroutedRoutes).
const NOT_ROUTED_MODEL =
  '{"error":{"message":"The model is not served by this gateway: use one of its aliases or catalog models (GET /v1/models lists them).","type":"invalid_request_error","param":"model","code":"model_not_found"}}';
const NOT_ROUTED_PATH =
  '{"error":{"message":"This gateway serves only the model APIs its router handles (POST /v1/chat/completions, /v1/completions, /v1/responses, /v1/messages, /v1/embeddings).","type":"invalid_request_error","param":null,"code":"unknown_url"}}';
const CLIENT_CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key"];
const AZURE_QUERY_FILTER = "llm-router-azure-api-version";

const T = {
  hcm: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  wasm: "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  lua: "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
  decompressor: "type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor",
  gunzip: "type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip",
  headerMutation: "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
  headerMutationPerRoute: "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute",
  headerToMetadata: "type.googleapis.com/envoy.extensions.filters.http.header_to_metadata.v3.Config",
  stdout: "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
  tls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  httpOptions: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  credentialInjector: "type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector",
  genericCredential: "type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic",
  upstreamCodec: "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec",
  previousHosts: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
  fixedHeap: "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
  connections: "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
  stringValue: "type.googleapis.com/google.protobuf.StringValue",
  celFilter: "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
  httpInspector: "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
  buffer: "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
  bufferPerRoute: "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute",
  rbac: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
  scaleTimers: "type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig",
};

const socket = (host, port) => ({ socket_address: flow({ address: host, port_value: port }) });
const seconds = (s) => `${s}s`;
// One secret per key variable, whichever providers share it.
const secretName = (variable) => `env.${variable}`;
// Envoy reads `%...%` in header values as a command; a literal percent sign is written `%%`.
const headerValue = (v) => v.replaceAll("%", "%%");
const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * @param {{ json: object, text: string }} config the parsed configuration and its exact text
 * @param {object} options see DEFAULTS, plus
 *   endpoints: { provider: [{host, port}] } addresses replacing a provider's own (TLS, SNI, Host kept),
 *   mocks: { provider: [{host, port}] } plain-HTTP mock providers replacing a provider entirely,
 *   clientKeysEnv: variable holding the gateway's client keys (off when absent),
 *   defaultProvider: provider for requests the plugin does not route (JSON 404 when absent),
 *   higress: true for the Higress gateway image (no allow_on_headers_stop_iteration, no injected keys),
 *   keyVariables: the key variables Envoy reads (default: the providers'; a live reload keeps the ones
 *     Envoy started with, see reload.mjs)
 * @returns {object} the bootstrap, ready for yaml.mjs
 */
export function buildBootstrap(config, options = {}) {
  const o = { ...DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) o[k] = v;
  const view = gatewayView(config.json);
  const providers = view.providers.map((p) => ({ ...p, mock: o.mocks?.[p.name], endpoints: o.endpoints?.[p.name] }));
  const injectKeys = !o.higress;
  const hasAzure = providers.some((p) => p.api === AZURE_OPENAI);
  const keyVariables = o.keyVariables ?? keyVariablesOf(view);
  const failover = failoverPlan(config.json, view, { higress: o.higress });
  if (failover) failover.keyVariables = keyVariables;
  view.failover = failover;
  view.servedHeader = servedHeaderName(config.json);
  view.decisionHeaders = o.higress ? [] : decisionHeaders(config.json);

  const routes = [];
  if (failover) {
    routes.push(...chainRoutes(failover, view, {
      bufferLimit: bufferLimit(view.maxBodyBytes),
      idleTimeout: seconds(o.streamIdleTimeoutSeconds),
      headersToRemove: routingHeadersToRemove(view),
      responseHeadersToAdd: view.decisionHeaders,
    }));
  }
  for (const p of providers) routes.push(...providerRoutes(p, view, o));
  const fallback = o.defaultProvider ? providers.find((p) => p.name === o.defaultProvider) : null;
  routes.push(...(fallback ? defaultProviderRoutes(fallback, view, o) : unroutedRoutes(view)));

  const hcm = annotate(
    {
      "@type": T.hcm,
      stat_prefix: "llm_gateway",
      normalize_path: true,
      merge_slashes: true,
      request_headers_timeout: "10s",
      request_timeout: seconds(o.requestTimeoutSeconds),
      stream_idle_timeout: seconds(o.streamIdleTimeoutSeconds),
      common_http_protocol_options: { idle_timeout: seconds(CONNECTION_IDLE_TIMEOUT_SECONDS) },
      http2_protocol_options: {
        max_concurrent_streams: 100,
        initial_stream_window_size: bufferLimit(view.maxBodyBytes),
        initial_connection_window_size: bufferLimit(view.maxBodyBytes),
      },
      access_log: [accessLog()],
      local_reply_config: localReplies(o, view),
      route_config: annotate(
        {
          name: "llm_routes",
          internal_only_headers: [view.upstreamHeader, view.modelHeader, ...(failover ? [failover.chainHeader] : [])],
          virtual_hosts: [
            annotate(
              { name: "llm", domains: ["*"], retry_policy: retryPolicy(), request_body_buffer_limit: bufferLimit(view.maxBodyBytes), routes },
              {
                retry_policy:
                  "Retries happen only before the first response byte reaches the client: a stream that has\n" +
                  "started is never replayed. On a provider's route every attempt sends the body the plugin\n" +
                  "rewrote once, to another endpoint of that provider.",
                request_body_buffer_limit: "The router keeps bodies up to maxBodyBytes + 1 MiB for retries: every body the plugin accepts stays retriable.",
                routes:
                  (failover
                    ? `First, one route per fallback chain length, chosen by the plugin's ${failover.chainHeader}: Envoy moves\n` +
                      "the attempts from provider to provider along the chain's fallback cluster, and the plugin, as the\n" +
                      "router's upstream filter, gives each attempt its provider's model, path, Host and key. Then\n"
                    : "") +
                  `one route per provider, chosen by the plugin's ${view.upstreamHeader} (Azure: per deployment, by\n` +
                  `${view.modelHeader} too). Each rewrites the path to the provider's base path, sets Host, removes the\n` +
                  "routing headers and the client's credentials; the cluster adds the provider's key.",
              },
            ),
          ],
        },
        {
          internal_only_headers:
            "Client copies of the routing headers are dropped before any filter runs (the plugin also removes\n" +
            "them itself on every request it sees).",
        },
      ),
      http_filters: [
        pathToMetadataFilter(),
        o.clientKeysEnv ? clientKeysFilter(o.clientKeysEnv) : undefined,
        declaredLengthFilter(view),
        decompressorFilter(),
        bodyBufferFilter(view),
        wasmFilter(config.text, o, failover),
        hasAzure ? { name: AZURE_QUERY_FILTER, typed_config: { "@type": T.headerMutation } } : undefined,
        modelToMetadataFilter(view),
        routerFilter(config.text, o, failover),
      ].filter(Boolean),
    },
    {
      normalize_path: "Paths are normalised (RFC 3986, merged slashes) before the plugin and the routes see them.",
      request_timeout:
        "The whole request (headers and body) must arrive within request_timeout: a stalled or trickled upload\n" +
        "is closed (408) and its buffered body freed. The timer stops once the request is complete, so a long\n" +
        "streamed answer is never cut; stream_idle_timeout ends streams silent in both directions.",
      http2_protocol_options:
        "Envoy limits what it buffers for an HTTP/2 request to the stream window: like the listener's\n" +
        "buffer limit it must exceed maxBodyBytes, or Envoy answers its own bare 413 before the plugin's JSON\n" +
        "one (Envoy's default window is 256 MiB).",
      access_log:
        "One line per request: the route and cluster chosen (a fallback chain: its providers), the model the plugin\n" +
        "picked and the model that served, the attempts, Envoy's response flags, and the plugin's decision\n" +
        "(outcome, alias, model, strategy, task, estimated cost) from its filter state.",
      local_reply_config:
        "Envoy's own refusals (timeouts, overload, an unreachable provider) in the OpenAI error format the\n" +
        "plugin uses, so clients and SDKs read every gateway error the same way.",
      http_filters: filterNotes(o),
    },
  );

  const clusters = providers.map((p) => cluster(p, o, injectKeys, failover !== null));
  if (failover) clusters.push(...chainClusters(failover, o.maxConnections));
  const secrets = injectKeys
    ? keyVariables.map((variable) => ({ name: secretName(variable), generic_secret: { secret: { environment_variable: variable } } }))
    : [];

  return annotate(
    {
      admin: { address: socket(o.admin.host, o.admin.port) },
      stats_config: statsConfig(failover),
      overload_manager: overloadManager(o),
      // Envoy >= 1.38 (the Higress gateway image's fork may be older: left out there).
      memory_allocator_manager: o.higress ? undefined : { soft_memory_limit_bytes: Math.floor(o.maxHeapBytes / 4) },
      static_resources: annotate(
        {
          secrets: secrets.length > 0 ? secrets : undefined,
          listeners: [
            annotate(
              {
                name: "llm_gateway",
                address: socket(o.listen.host, o.listen.port),
                per_connection_buffer_limit_bytes: READ_BUFFER_BYTES,
                listener_filters: [{ name: "envoy.filters.listener.http_inspector", typed_config: { "@type": T.httpInspector } }],
                listener_filters_timeout: seconds(FIRST_BYTES_TIMEOUT_SECONDS),
                filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
              },
              {
                listener_filters:
                  `A connection must send its first bytes within ${FIRST_BYTES_TIMEOUT_SECONDS} s (the HTTP inspector waits for them) or it is\n` +
                  "closed: request_headers_timeout only starts at the first byte, so a silent connection would\n" +
                  "otherwise hold one of the gateway's connections until the idle timeout.",
                per_connection_buffer_limit_bytes:
                  "What Envoy reads from a client at a time: one call of the gzip decompressor inflates at most\n" +
                  `${MAX_INFLATE_RATIO} times one read, so a decompression bomb stops near maxBodyBytes. Bodies up to maxBodyBytes are\n` +
                  "still buffered whole: the buffer filter raises each request's own limit.",
              },
            ),
          ],
          clusters,
        },
        {
          secrets: injectKeys
            ? "Provider keys, read from the environment when Envoy starts (never written here). Envoy refuses to\n" +
              "start when a variable is missing; `llm-router start` says which before it starts Envoy."
            : undefined,
        },
      ),
    },
    {
      stats_config:
        "Labels for the plugin's metrics (README \"Observability\"): Higress ai-statistics' names and labels\n" +
        "(ai_route, ai_cluster, ai_model, ai_consumer) plus request outcome, response result and skipped model;\n" +
        "finer histogram buckets for times to first token, durations and output speed" +
        (failover ? `;\nthe fallbacks counter as ${METRICS.fallbacks}{ai_route, from_model, to_model}.` : "."),
      overload_manager:
        "Memory and connection limits, in this order as pressure grows: idle timeouts shrink to seconds near\n" +
        "the connection limit or as the heap fills (stalled uploads and idle keep-alive connections go\n" +
        "first), the streams holding the most buffered bytes are reset (HTTP/2), keep-alive is turned off,\n" +
        "and only then are new requests refused (503) instead of growing until the kernel kills Envoy.",
      memory_allocator_manager: o.higress
        ? undefined
        : "Memory freed after a burst (held uploads, inflated bodies) goes back to the system once the process\n" +
          "holds more than a quarter of the heap budget: the heap monitor counts only memory in use.",
    },
  );
}

function filterNotes(o) {
  const lines = [];
  if (o.clientKeysEnv) lines.push(`client keys: only requests carrying a key listed in $${o.clientKeysEnv} get through (401 otherwise);`);
  lines.push(
    "a declared content-length over maxBodyBytes gets the JSON 413 at once (RBAC, mapped to a 413);",
    `gzip request bodies are decompressed before the plugin reads them (at most ${MAX_INFLATE_RATIO}:1 per read, zlib's ceiling);`,
    "the body is buffered whole, up to maxBodyBytes + 1 MiB (Envoy's 413 beyond);",
    "the plugin holds the headers, reads the JSON body once, picks the model (and its fallbacks) and sets the routing headers;",
    "the chosen model is kept as dynamic metadata for the access log (the header itself never reaches a provider).",
  );
  return lines.join("\n");
}

export function bufferLimit(maxBodyBytes) {
  return maxBodyBytes + 1024 * 1024;
}

// The plugin's metric names (assembly/metrics/table.ts) carry their labels in the name: the traffic
// series in Higress ai-statistics' shape, route.<r>.upstream.<u>.model.<m>.consumer.<c>.metric.<name>
// [.outcome|.result.<value>][.skipped_model.<model>], the per-model ones as <name>.upstream.<u>.model.<m>,
// the fallbacks counter as llm_router_fallbacks.route.<r>.from.<m>.to.<m>. Envoy runs every regex on
// the full name and cuts each first group out of it (the second group is the value); cuts may
// overlap. One regex per tag name: Envoy skips a second extractor of a name once the first has
// matched, and warns each time. So a label both shapes carry is read by one regex whose cut is the
// dot and the value, and the keywords a shape drops go with a wider cut: the per-model ai_model cut
// takes ".upstream.<u>.model.<m>", the fallbacks' from_model cut ".route.<r>.from.<m>". Envoy reads
// these as ECMAScript regexes (std::regex), lookahead included.
const TRAFFIC = "^wasmcustom\\.route\\.";
const PER_MODEL = PER_MODEL_METRIC;
export const PLUGIN_STATS_TAGS = [
  { tag_name: "ai_route", regex: `^wasmcustom\\.(?:${METRICS.fallbacks}\\.)?route(\\.(.*?))\\.(?:upstream|from)\\.` },
  { tag_name: "ai_cluster", regex: `^wasmcustom\\.(?:route\\..*?|${PER_MODEL})\\.upstream(\\.(.*?))\\.model\\.` },
  { tag_name: "ai_model", regex: `^wasmcustom\\.(?:route\\..*?\\.model|${PER_MODEL}(?=\\.upstream\\.))((?:\\.upstream\\..*?\\.model)?\\.(.*?))(?:\\.consumer\\.|$)` },
  { tag_name: "ai_consumer", regex: `${TRAFFIC}.*?\\.consumer\\.((.*?)\\.)metric\\.` },
  { tag_name: "outcome", regex: `${TRAFFIC}.*?\\.metric\\.[a-z0-9_]+(\\.outcome\\.([a-z0-9_]+))$` },
  { tag_name: "result", regex: `${TRAFFIC}.*?\\.metric\\.[a-z0-9_]+(\\.result\\.([a-z0-9_]+))$` },
  { tag_name: "skipped_model", regex: `${TRAFFIC}.*?\\.metric\\.[a-z0-9_]+(\\.skipped_model\\.(.+))$` },
];

// Envoy's default buckets jump from 250 to 500 to 1000 ms: too coarse for a p95 of first tokens.
const MS_BUCKETS = [5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000, 120000, 300000, 600000];
const SPEED_BUCKETS = [1, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000];

function statsConfig(failover) {
  return {
    stats_tags: [...PLUGIN_STATS_TAGS, ...(failover ? fallbackStatsTags() : [])].map((t) => flow(t)),
    histogram_bucket_settings: [
      { match: flow({ prefix: `wasmcustom.${MS_HISTOGRAM_PREFIX}` }), buckets: flow(MS_BUCKETS) },
      { match: flow({ prefix: `wasmcustom.${METRICS.outputTokensPerSecond}` }), buckets: flow(SPEED_BUCKETS) },
    ],
  };
}

function accessLog() {
  const format =
    `[access] %START_TIME(%Y-%m-%dT%T.%3fZ)% "%REQ(:METHOD)% %DYNAMIC_METADATA(${METADATA_NAMESPACE}:path)% %PROTOCOL%" %RESPONSE_CODE% ` +
    `flags=%RESPONSE_FLAGS% route=%ROUTE_NAME% cluster=%UPSTREAM_CLUSTER% model=%DYNAMIC_METADATA(${METADATA_NAMESPACE}:model)% ` +
    `served=%FILTER_STATE(${envoyFilterState(SERVED_FILTER_STATE)}:PLAIN)% ` +
    "upstream=%UPSTREAM_HOST% attempts=%UPSTREAM_REQUEST_ATTEMPT_COUNT% details=%RESPONSE_CODE_DETAILS% " +
    "bytes_in=%BYTES_RECEIVED% bytes_out=%BYTES_SENT% duration=%DURATION%ms " +
    // The plugin's decision for this request (routing/describe.ts), or "-" for requests it did not handle.
    `decision="%FILTER_STATE(${envoyFilterState(DECISION_FILTER_STATE)}:PLAIN)%"\n`;
  return {
    name: "envoy.access_loggers.stdout",
    typed_config: { "@type": T.stdout, log_format: { text_format_source: { inline_string: format } } },
  };
}

function celFilter(expression) {
  return { extension_filter: { name: "envoy.access_loggers.extension_filters.cel", typed_config: { "@type": T.celFilter, expression } } };
}

function openAiError(message, type, code) {
  return { json_format: { error: { message, type, param: null, code } }, content_type: "application/json" };
}

function localReplies(o, view) {
  const flags = (list) => ({ response_flag_filter: { flags: list } });
  const tooLarge = openAiError(
    view.oneMaxBodyBytes ? `request body is larger than ${view.maxBodyBytes} bytes` : "request body is larger than this route accepts",
    "invalid_request_error",
    "request_too_large",
  );
  return {
    mappers: [
      {
        // A declared content-length over the limit, refused before the client uploads the body.
        filter: celFilter(`response.code_details == 'rbac_access_denied_matched_policy[${TOO_LARGE_POLICY}]'`),
        status_code: 413,
        body_format_override: tooLarge,
      },
      {
        // Envoy's own 413: the buffer filter's limit is maxBodyBytes + 1 MiB, so the plugin's 413 (which
        // this also rewrites, with the same words) usually comes first, but a read that brings more than
        // 1 MiB past the limit (or a gzip body inflating past it) meets Envoy's. Every 413 reads alike.
        filter: { status_code_filter: { comparison: { op: "EQ", value: flow({ default_value: 413, runtime_key: "llm_router.too_large_status" }) } } },
        body_format_override: tooLarge,
      },
      {
        // The overload manager's refusal carries no response flag, only its details.
        filter: celFilter("response.code_details == 'overload'"),
        body_format_override: openAiError("The gateway is overloaded; retry later.", "server_error", "gateway_overloaded"),
      },
      {
        filter: flags(["UF", "UH", "UO", "URX", "UC", "UR", "LR"]),
        body_format_override: openAiError("The provider could not be reached: %LOCAL_REPLY_BODY%", "server_error", "provider_unavailable"),
      },
      {
        filter: flags(["UT"]),
        body_format_override: openAiError("The provider did not answer in time.", "server_error", "provider_timeout"),
      },
      {
        filter: { status_code_filter: { comparison: { op: "EQ", value: flow({ default_value: 408, runtime_key: "llm_router.timeout_status" }) } } },
        body_format_override: openAiError(
          `The request timed out: the whole request must arrive within ${o.requestTimeoutSeconds} s, and a stream may not stay silent for ${o.streamIdleTimeoutSeconds} s.`,
          "invalid_request_error",
          "request_timeout",
        ),
      },
    ],
  };
}

function retryPolicy() {
  return {
    retry_on: "5xx,reset,connect-failure,retriable-status-codes",
    retriable_status_codes: [429],
    num_retries: 2,
    retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": T.previousHosts } }],
    host_selection_retry_max_attempts: 5,
    retry_back_off: flow({ base_interval: "0.05s", max_interval: "0.5s" }),
  };
}

/** The path a client's `/v1/<api>` takes at this provider: `<base path>/<api>` (query kept). */
function pathRewrite(p, deployment) {
  const base = deployment === undefined ? p.basePath : `${p.basePath}/openai/deployments/${deployment}`;
  return { pattern: { regex: "^(?:/v1)?(/.*)$" }, substitution: `${base}\\1` };
}

function providerRouteAction(p, o) {
  return {
    cluster: p.name,
    host_rewrite_literal: p.defaultPort ? p.host : `${p.host.includes(":") ? `[${p.host}]` : p.host}:${p.port}`,
    timeout: "0s",
    idle_timeout: seconds(o.streamIdleTimeoutSeconds),
  };
}

// The plugin's routing headers and the client's credentials: Envoy routed on the former, and the
// provider gets its own key, never the client's.
function routingHeadersToRemove(view) {
  return [view.upstreamHeader, view.modelHeader, ...(view.failover ? [view.failover.chainHeader] : []), ...CLIENT_CREDENTIAL_HEADERS];
}

// The opt-in decision header (`decisionHeader`, also per `_rules_` entry): the plugin writes the text
// into filter state for each request it forwards (wasm.model_router.decision.<header>), and the routes
// that forward add the header from it; a request without it (another rule, the header off) gets none.
// The Envoy build has no response-headers callback at all: this costs a response nothing.
function decisionHeaders(json) {
  const names = new Set();
  if (typeof json.decisionHeader === "string") names.add(json.decisionHeader);
  for (const rule of Array.isArray(json._rules_) ? json._rules_ : []) if (typeof rule?.decisionHeader === "string") names.add(rule.decisionHeader);
  return [...names].map((name) => responseHeader(name, `%FILTER_STATE(${envoyFilterState(DECISION_HEADER_FILTER_STATE_PREFIX + name)}:PLAIN)%`));
}

function providerHeaders(p, view) {
  return {
    request_headers_to_remove: routingHeadersToRemove(view),
    response_headers_to_add: [responseHeader(view.servedHeader, SERVED_MODEL), ...view.decisionHeaders],
    request_headers_to_add:
      p.headers.length > 0
        ? p.headers.map(([key, value]) => ({ header: flow({ key, value: headerValue(value) }), append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }))
        : undefined,
  };
}

function providerRoutes(p, view, o) {
  const upstreamMatch = { name: view.upstreamHeader, string_match: flow({ exact: p.name }) };
  if (p.api !== AZURE_OPENAI) {
    return [
      {
        name: `provider.${p.name}`,
        match: { prefix: "/", headers: [upstreamMatch] },
        route: { ...providerRouteAction(p, o), regex_rewrite: pathRewrite(p) },
        ...providerHeaders(p, view),
      },
    ];
  }
  // Azure OpenAI: the deployment is part of the path, and every request needs ?api-version=.
  return view.models
    .filter((m) => m.upstream === p.name)
    .map((m) => ({
      name: `provider.${p.name}.${m.name}`,
      match: { prefix: "/", headers: [upstreamMatch, { name: view.modelHeader, string_match: flow({ exact: m.name }) }] },
      route: { ...providerRouteAction(p, o), regex_rewrite: pathRewrite(p, m.upstreamModel ?? m.name) },
      ...providerHeaders(p, view),
      typed_per_filter_config: {
        [AZURE_QUERY_FILTER]: {
          "@type": T.headerMutationPerRoute,
          mutations: {
            query_parameter_mutations: [
              { append: { record: flow({ key: "api-version", value: p.apiVersion }), action: "OVERWRITE_IF_EXISTS_OR_ADD" } },
            ],
          },
        },
      },
    }));
}

function defaultProviderRoutes(p, view, o) {
  const forward = { route: { ...providerRouteAction(p, o), regex_rewrite: pathRewrite(p) }, ...providerHeaders(p, view) };
  return [
    annotate(
      { name: `default.${p.name}`, match: handledPaths(view), ...forward },
      { name: `--default-provider ${p.name}: everything the plugin did not route goes to ${p.name}, with its key.` },
    ),
    annotate(
      {
        name: `default.${p.name}.other`,
        match: { prefix: "/" },
        ...forward,
        typed_per_filter_config: { [BODY_BUFFER_FILTER]: { "@type": T.bufferPerRoute, disabled: true } },
      },
      { name: "Paths the plugin never reads (file uploads …) stream through unbuffered, whatever their size." },
    ),
  ];
}

function jsonReply(status, body) {
  return {
    direct_response: { status, body: { inline_string: body } },
    response_headers_to_add: [{ header: flow({ key: "content-type", value: "application/json" }), append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
  };
}

/** The paths the plugin handles (`paths`), as a route's safe_regex match. */
function handledPaths(view) {
  return { safe_regex: { regex: `^.*(?:${view.paths.map(escapeRegex).join("|")})/?$` } };
}

function unroutedRoutes(view) {
  return [
    annotate(
      {
        name: "unrouted.model",
        match: { ...handledPaths(view), headers: [{ name: ":method", string_match: flow({ exact: "POST" }) }] },
        ...jsonReply(404, NOT_ROUTED_MODEL),
      },
      {
        name:
          "Nothing the plugin did not route reaches a provider (with the gateway's keys): a model outside the\n" +
          "configuration gets OpenAI's 404 model_not_found, any other path 404 unknown_url.",
      },
    ),
    annotate(
      {
        name: "unrouted.model_id",
        match: { safe_regex: { regex: "^.*/models/.+$" }, headers: [{ name: ":method", string_match: flow({ exact: "GET" }) }] },
        ...jsonReply(404, NOT_ROUTED_MODEL),
      },
      { name: "GET …/models/<id>: the plugin answers for its aliases and catalog models; any other id gets OpenAI's 404." },
    ),
    { name: "unrouted", match: { prefix: "/" }, ...jsonReply(404, NOT_ROUTED_PATH) },
  ];
}

function routerFilter(configText, o, failover) {
  const router = { "@type": T.router, suppress_envoy_headers: true };
  if (failover) {
    router.upstream_http_filters = [
      upstreamWasmFilter(wasmFilter(configText, o, failover)),
      { name: "envoy.filters.http.upstream_codec", typed_config: { "@type": T.upstreamCodec } },
    ];
  }
  return { name: "envoy.filters.http.router", typed_config: router };
}

function wasmFilter(configText, o, failover) {
  return {
    name: "model-router",
    typed_config: {
      "@type": T.wasm,
      config: annotate(
        {
          name: "model-router",
          allow_on_headers_stop_iteration: o.higress ? undefined : true,
          vm_config: {
            vm_id: "model-router",
            runtime: "envoy.wasm.runtime.v8",
            code: { local: { filename: o.wasmPath } },
            environment_variables: failover ? keyEnvironment(failover) : undefined,
          },
          configuration: { "@type": T.stringValue, value: new Literal(configText.endsWith("\n") ? configText : `${configText}\n`) },
        },
        {
          allow_on_headers_stop_iteration: "Envoy >= 1.35: lets the plugin hold the headers until it has read the body.",
          configuration: "The router configuration (generated from it; edit the JSON file and regenerate).",
        },
      ),
    },
  };
}

// A declared content-length over maxBodyBytes on a path the plugin reads is refused at once, before
// the client uploads the body (the buffer filter after this one holds the headers until the body is
// whole, so the plugin's own early 413 would come too late).
function declaredLengthFilter(view) {
  const over = { header: { name: "content-length", range_match: { start: view.maxBodyBytes + 1, end: Number.MAX_SAFE_INTEGER } } };
  const handled = { url_path: { path: handledPaths(view) } };
  return {
    name: "llm-router.declared-length",
    typed_config: {
      "@type": T.rbac,
      rules: { action: "DENY", policies: { [TOO_LARGE_POLICY]: { permissions: [{ and_rules: { rules: [over, handled] } }], principals: [{ any: true }] } } },
    },
  };
}

// Holds the (decompressed) body until it is whole, up to maxBodyBytes + 1 MiB: this is what lets a
// request's buffer exceed the listener's small reads, and the plugin then reads the body in one call.
function bodyBufferFilter(view) {
  return { name: BODY_BUFFER_FILTER, typed_config: { "@type": T.buffer, max_request_bytes: bufferLimit(view.maxBodyBytes) } };
}

function decompressorFilter() {
  return {
    name: "envoy.filters.http.decompressor",
    typed_config: {
      "@type": T.decompressor,
      decompressor_library: { name: "gzip", typed_config: { "@type": T.gunzip, max_inflate_ratio: MAX_INFLATE_RATIO } },
      request_direction_config: { common_config: { enabled: flow({ default_value: true, runtime_key: "llm_router.decompress_requests" }) } },
      response_direction_config: { common_config: { enabled: flow({ default_value: false, runtime_key: "llm_router.decompress_responses" }) } },
    },
  };
}

// The path as the client sent it, for the access log: the provider route rewrites :path before the
// log line is written. First in the chain, so requests refused early are logged with it too.
function pathToMetadataFilter() {
  return {
    name: "llm-router.client-path",
    typed_config: {
      "@type": T.headerToMetadata,
      request_rules: [{ header: ":path", on_header_present: flow({ metadata_namespace: METADATA_NAMESPACE, key: "path", type: "STRING" }), remove: false }],
    },
  };
}

function modelToMetadataFilter(view) {
  return {
    name: "envoy.filters.http.header_to_metadata",
    typed_config: {
      "@type": T.headerToMetadata,
      request_rules: [
        {
          header: view.modelHeader,
          on_header_present: flow({ metadata_namespace: METADATA_NAMESPACE, key: "model", type: "STRING" }),
          remove: false,
        },
      ],
    },
  };
}

// Envoy's Lua filter reads the keys from the environment when each worker starts: api_key_auth
// would need them written into this file, and basic_auth (which can read them from the
// environment) only understands `Authorization: Basic`, which OpenAI clients never send.
function clientKeysLua(variable) {
  return `-- Client keys for the gateway: $${variable}, comma- or space-separated, read when Envoy starts.
local keys = {}
for key in string.gmatch(os.getenv("${variable}") or "", "[^%s,]+") do keys[key] = true end
local DENIED = '{"error":{"message":"Incorrect or missing API key for this gateway: send Authorization: Bearer <key>.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'

function envoy_on_request(handle)
  local headers = handle:headers()
  local key = nil
  local authorization = headers:get("authorization")
  if authorization ~= nil then key = string.match(authorization, "^[Bb][Ee][Aa][Rr][Ee][Rr] +([^ ]+) *$") end
  if key == nil then key = headers:get("api-key") or headers:get("x-api-key") end
  if key == nil or keys[key] ~= true then
    handle:respond({[":status"] = "401", ["content-type"] = "application/json", ["www-authenticate"] = "Bearer"}, DENIED)
    return
  end
  -- The gateway's key is not the provider's: it never travels further.
  headers:remove("authorization")
  headers:remove("api-key")
  headers:remove("x-api-key")
end
`;
}

function clientKeysFilter(variable) {
  return {
    name: "llm-router.client-keys",
    typed_config: { "@type": T.lua, default_source_code: { inline_string: new Literal(clientKeysLua(variable)) } },
  };
}

function endpointList(list, provider) {
  return [{ lb_endpoints: list.map((e) => ({ endpoint: { address: socket(e.host, e.port) }, metadata: providerMetadata(provider) })) }];
}

function clusterType(p, addresses) {
  if (p.mock || p.endpoints) return addresses.every((a) => /^[0-9.]+$|:/.test(a.host)) ? "STATIC" : "STRICT_DNS";
  if (p.isIp) return "STATIC";
  // One logical host for public APIs behind anycast/CDN names; every resolved address for a
  // self-hosted service name (several replicas behind one DNS name).
  return p.secure ? "LOGICAL_DNS" : "STRICT_DNS";
}

function cluster(p, o, injectKeys, inChains = false) {
  const addresses = p.mock ?? p.endpoints ?? [{ host: p.host, port: p.port }];
  const type = clusterType(p, addresses);
  const tls = p.secure && !p.mock;
  const upstreamFilters = [];
  if (injectKeys && p.auth !== "none") upstreamFilters.push(credentialFilter(p));
  upstreamFilters.push({ name: "envoy.filters.http.upstream_codec", typed_config: { "@type": T.upstreamCodec } });
  const c = {
    name: p.name,
    type,
    dns_lookup_family: type === "STATIC" ? undefined : "V4_PREFERRED",
    connect_timeout: "5s",
    lb_policy: "ROUND_ROBIN",
    load_assignment: { cluster_name: p.name, endpoints: endpointList(addresses, p.name), policy: inChains ? chainOrderPolicy() : undefined },
    transport_socket: tls ? tlsSocket(p, o.caFile) : undefined,
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": T.httpOptions,
        explicit_http_config: { http_protocol_options: {} },
        http_filters: upstreamFilters,
      },
    },
    outlier_detection: flow({ consecutive_5xx: 5, interval: "10s", base_ejection_time: "30s", max_ejection_percent: 50 }),
  };
  const where = p.mock ? `local mock provider (plain HTTP) instead of ${p.baseUrl}` : p.baseUrl;
  const auth = !injectKeys || p.auth === "none" ? "no key" : `key from $${p.apiKeyEnv} as ${authDescription(p)}`;
  return annotate(c, { name: `${p.name}: ${where}; ${auth}` });
}

function authDescription(p) {
  if (p.auth === "api-key") return "api-key: <key>";
  if (p.auth === "x-api-key") return "x-api-key: <key>";
  return "Authorization: Bearer <key>";
}

function credentialFilter(p) {
  const header = p.auth === "api-key" ? "api-key" : p.auth === "x-api-key" ? "x-api-key" : "authorization";
  return {
    name: "envoy.filters.http.credential_injector",
    typed_config: {
      "@type": T.credentialInjector,
      overwrite: true,
      credential: {
        name: "envoy.http.injected_credentials.generic",
        typed_config: {
          "@type": T.genericCredential,
          credential: { name: secretName(p.apiKeyEnv) },
          header,
          header_value_prefix: p.auth === "bearer" ? "Bearer " : undefined,
        },
      },
    },
  };
}

function tlsSocket(p, caFile) {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": T.tls,
      sni: p.isIp ? undefined : p.host,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        validation_context: {
          trusted_ca: { filename: caFile },
          match_typed_subject_alt_names: [{ san_type: p.isIp ? "IP_ADDRESS" : "DNS", matcher: flow({ exact: p.host }) }],
        },
      },
    },
  };
}

function overloadManager(o) {
  const heap = "envoy.resource_monitors.fixed_heap";
  const connections = "envoy.resource_monitors.global_downstream_max_connections";
  return {
    refresh_interval: "0.25s",
    resource_monitors: [
      { name: heap, typed_config: { "@type": T.fixedHeap, max_heap_size_bytes: o.maxHeapBytes } },
      { name: connections, typed_config: { "@type": T.connections, max_active_downstream_connections: o.maxConnections } },
    ],
    actions: [
      {
        name: "envoy.overload_actions.reduce_timeouts",
        triggers: [
          { name: connections, scaled: flow({ scaling_threshold: 0.8, saturation_threshold: 0.95 }) },
          { name: heap, scaled: flow({ scaling_threshold: 0.7, saturation_threshold: 0.85 }) },
        ],
        typed_config: {
          "@type": T.scaleTimers,
          timer_scale_factors: [
            flow({ timer: "HTTP_DOWNSTREAM_CONNECTION_IDLE", min_timeout: SATURATED_CONNECTION_IDLE }),
            flow({ timer: "HTTP_DOWNSTREAM_STREAM_IDLE", min_timeout: SATURATED_STREAM_IDLE }),
          ],
        },
      },
      { name: "envoy.overload_actions.shrink_heap", triggers: [{ name: heap, threshold: flow({ value: 0.9 }) }] },
      { name: "envoy.overload_actions.disable_http_keepalive", triggers: [{ name: heap, threshold: flow({ value: 0.9 }) }] },
      {
        name: "envoy.overload_actions.reset_high_memory_stream",
        triggers: [{ name: heap, scaled: flow({ scaling_threshold: 0.85, saturation_threshold: 0.95 }) }],
      },
      { name: "envoy.overload_actions.stop_accepting_requests", triggers: [{ name: heap, threshold: flow({ value: 0.95 }) }] },
    ],
    // Streams holding at least 1 MiB of buffers are tracked, so the ones holding most are reset first.
    buffer_factory_config: { minimum_account_to_track_power_of_two: 20 },
  };
}
