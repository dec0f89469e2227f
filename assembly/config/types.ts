import { Api } from "../api/apis";
import { DetectionConfig } from "./detection_config";
import { NameIndex } from "./name_index";
import { Strategy } from "./strategies";

// The configuration as the request path reads it: parsed and validated once in on_configure, never
// changed afterwards. Everything a request needs is precomputed here (UTF-8 bytes of names and
// headers, the JSON-encoded upstream model id, each route's candidates with their task quality).

export const CAP_TOOLS: u32 = 1;
export const CAP_VISION: u32 = 2;
export const CAP_JSON: u32 = 4;

export class ModelSpec {
  index: i32 = 0;               // position in the catalog: the row of its live signals
  name: string = "";
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  logName: ArrayBuffer = new ArrayBuffer(0); // as the decision line writes it (config/log_name.ts)
  upstream: string = "";
  upstreamBytes: ArrayBuffer = new ArrayBuffer(0);
  // The upstream model id as a JSON string literal, quotes included: the bytes spliced into the body.
  upstreamModelLiteral: ArrayBuffer = new ArrayBuffer(0);
  inputPrice: f64 = 0;          // USD per 1M input tokens
  outputPrice: f64 = 0;         // USD per 1M output tokens
  cachedInputPrice: f64 = 0;    // USD per 1M input tokens the provider served from its cache (default: inputPrice)
  ttftMs: f64 = 0;
  tokensPerSecond: f64 = 0;
  contextWindow: f64 = 0;
  maxOutputTokens: f64 = 0;
  capabilities: u32 = 0;
  quality: f64 = 5;
  taskNames: string[] = [];
  taskQualities: f64[] = [];
  weight: f64 = 1;
  // Bit i set: the model serves the configuration's paths[i] (default: every path but /embeddings).
  endpoints: u32 = 0;
  // Failover (config/failover.ts): the catalog's provider serving this model (-1 without
  // `providers`), and the model's own `fallbacks` (catalog indices, each on another provider).
  providerIndex: i32 = -1;
  fallbacks: i32[] = [];
  deploymentPath: ArrayBuffer = new ArrayBuffer(0); // Azure OpenAI (api/azure_openai.ts): "/openai/deployments/<upstreamModel>"

  qualityFor(task: string): f64 {
    for (let i = 0; i < this.taskNames.length; i++) if (this.taskNames[i] == task) return this.taskQualities[i];
    return this.quality;
  }
}

// How a provider wants its API key: `Authorization: Bearer <key>` (OpenAI and most compatible
// APIs), `api-key: <key>` (Azure OpenAI), `x-api-key: <key>` (Anthropic's native API), or none.
export const enum Auth { Bearer, ApiKey, XApiKey, None }

// A provider from the configuration's `providers`: which API it speaks, where it lives and how to
// authenticate. The CLI turns it into an Envoy cluster; the plugin keeps it for per-attempt rewrites.
export class ProviderSpec {
  name: string = "";
  api: Api = Api.OpenAI;          // `api`; before the field existed, `apiVersion` alone meant Azure OpenAI
  baseUrl: string = "";
  secure: bool = true;            // https
  host: string = "";              // without the port
  port: i32 = 443;
  basePath: string = "";          // "/compatible-mode/v1"; "" for the root
  apiKeyEnv: string = "";         // "" when auth is None
  auth: Auth = Auth.Bearer;
  headerNames: string[] = [];     // static headers, lower-case
  headerValues: string[] = [];
  apiVersion: string = "";        // Azure OpenAI's api-version; "" for every other API
  // Failover: what the upstream filter writes on an attempt that goes to this provider.
  index: i32 = 0;                 // position in Catalog.providers
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  authority: ArrayBuffer = new ArrayBuffer(0);        // the Host the provider expects (as the direct route's host rewrite)
  credentialHeader: ArrayBuffer = new ArrayBuffer(0); // authorization / api-key / x-api-key; empty with auth none
  headerNameBytes: ArrayBuffer[] = [];
  headerValueBytes: ArrayBuffer[] = [];
}

// A route's candidates' static values side by side in slot order, so that a decision walks
// contiguous memory instead of chasing one ModelSpec object per candidate.
export class CandidateColumns {
  inputPrice: StaticArray<f64>;
  outputPrice: StaticArray<f64>;
  contextWindow: StaticArray<f64>;
  maxOutputTokens: StaticArray<f64>;
  capabilities: StaticArray<u32>;
  endpoints: StaticArray<u32>;

  constructor(models: ModelSpec[], candidates: i32[]) {
    const n = candidates.length;
    this.inputPrice = new StaticArray<f64>(n);
    this.outputPrice = new StaticArray<f64>(n);
    this.contextWindow = new StaticArray<f64>(n);
    this.maxOutputTokens = new StaticArray<f64>(n);
    this.capabilities = new StaticArray<u32>(n);
    this.endpoints = new StaticArray<u32>(n);
    for (let slot = 0; slot < n; slot++) {
      const m = models[candidates[slot]];
      this.inputPrice[slot] = m.inputPrice;
      this.outputPrice[slot] = m.outputPrice;
      this.contextWindow[slot] = m.contextWindow;
      this.maxOutputTokens[slot] = m.maxOutputTokens;
      this.capabilities[slot] = m.capabilities;
      this.endpoints[slot] = m.endpoints;
    }
  }
}

export class RouteSpec {
  name: string = "";
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  logName: ArrayBuffer = new ArrayBuffer(0); // as the decision line writes it (config/log_name.ts)
  strategy: Strategy = Strategy.Balanced;
  candidates: i32[] = [];          // model indices, in tie-break order
  columns: CandidateColumns = new CandidateColumns([], []);
  candidateQuality: StaticArray<f64> = new StaticArray<f64>(0); // each candidate's quality for the route's task
  require: u32 = 0;
  minQuality: f64 = -Infinity;
  maxCostUsd: f64 = Infinity;
  maxTtftMs: f64 = Infinity;
  minTokensPerSecond: f64 = -Infinity;
  weightQuality: f64 = 0.4;
  weightPrice: f64 = 0.3;
  weightLatency: f64 = 0.2;
  weightThroughput: f64 = 0.1;
  onNoCandidate: i32 = -1;         // model index, or -1 to reject
  // Task detection (config/detection.ts). `"task": "auto"` ranks with the detected task's quality:
  // taskVariants[task] is this route read with that task. byTask / byComplexity hold the route
  // index per task / tier (-1: this route decides), resolved at configure time, one hop deep.
  taskAuto: bool = false;
  taskVariants: RouteSpec[] = [];
  byTask: StaticArray<i32> | null = null;
  byComplexity: StaticArray<i32> | null = null;

  needsDetection(): bool { return this.taskAuto || this.byTask !== null || this.byComplexity !== null; }
  // Failover: how many alternates (each the best survivor of another provider) follow the choice.
  maxFallbacks: i32 = 1;
  // Live routing (resolved from the route's own fields, else `live`; 0 when live is off): latency
  // and throughput routes pick at random among survivors within `spread` of the best, and send an
  // `explore` share of requests to survivors whose statistics are stale.
  spread: f64 = 0;
  explore: f64 = 0;
}

// The top-level `live` settings: how measured latency, throughput and health replace the table's
// values (see README "Live signals" for each default and why). A RouterConfig without them
// (`"live": false`) routes on the table alone.
export class LiveSettings {
  halfLifeMs: f64 = 60000;        // weight of a sample halves every halfLifeMs
  priorWeight: f64 = 5;           // the table value counts as this many samples
  refreshMs: u32 = 1000;          // how often each worker re-reads the shared statistics
  staleAfterMs: f64 = 120000;     // no sample for this long: a candidate for exploration
  failureThreshold: i32 = 3;      // consecutive failures that start a cooldown
  cooldownMs: f64 = 5000;         // the first cooldown; doubles each time a probe fails
  maxCooldownMs: f64 = 300000;
  probeTimeoutMs: f64 = 30000;    // how long one probe request holds the model for itself
  spread: f64 = 0.1;
  explore: f64 = 0.02;
}

// The models and providers of one configuration. Higress `_rules_` that keep the global model list
// share the global catalog instead of compiling it again (see rules.ts).
export class Catalog {
  id: i32 = 0;                     // position in PluginConfig.catalogs: runtime state is kept per catalog
  models: ModelSpec[] = [];
  modelIndex: NameIndex = new NameIndex([]);
  modelsByName: Map<string, i32> = new Map();
  capabilityNames: string[] = [];  // bit i of a capability mask is capabilityNames[i]
  providers: ProviderSpec[] = [];
  pathNames: string[] = [];        // bit i of a model's `endpoints` is pathNames[i]
  defaultEndpoints: u32 = 0;
  live: LiveSettings | null = null; // the settings its live signals are computed with
  // Every header some provider's attempt sets (credentials and static headers): an attempt on
  // another provider removes the ones it does not set, since attempts share one header map.
  providerHeaderNames: ArrayBuffer[] = [];
}

export class RouterConfig {
  id: i32 = 0;                     // position among the plugin's configurations (global first, then rules)
  catalog: Catalog = new Catalog();
  // The catalog's own arrays, kept here because the request path reads them on every request.
  models: ModelSpec[] = [];
  routes: RouteSpec[] = [];
  modelIndex: NameIndex = new NameIndex([]);
  routeIndex: NameIndex = new NameIndex([]);
  capabilityNames: string[] = [];
  upstreamHeader: ArrayBuffer = new ArrayBuffer(0);
  modelHeader: ArrayBuffer = new ArrayBuffer(0);
  maxBodyBytes: usize = 10485760;
  decoderBufferLimitText: ArrayBuffer = new ArrayBuffer(0);   // decimal, for Higress's buffer-limit property
  defaultOutputTokens: f64 = 512;
  bytesPerToken: f64 = 4;
  paths: ArrayBuffer[] = [];
  pathNames: string[] = [];
  // Paths whose answers have no output tokens (embeddings): bit i for paths[i].
  noOutputPaths: u32 = 0;
  // Every request header this configuration writes. Clients may never send them: the filter
  // strips them on every request, so a feature that adds a header only adds its name here.
  ownedRequestHeaders: ArrayBuffer[] = [];
  // GET …/models: answered with `modelList` (OpenAI's list format) unless listModels is false.
  listModels: bool = true;
  modelList: ModelList = new ModelList();
  // Task detection: null when no route needs it and `detection.always` is off.
  detection: DetectionConfig | null = null;
  taskHeader: ArrayBuffer = new ArrayBuffer(0);
  complexityHeader: ArrayBuffer = new ArrayBuffer(0);
  live: LiveSettings | null = null;  // null: `"live": false`, pure table routing
  // Response header explaining each routed request's decision; null: off (the default).
  decisionHeader: ArrayBuffer | null = null;
  decisionHeaderState: ArrayBuffer | null = null; // its filter state (Envoy adds the header from it)
  // Failover (config/failover.ts). A plan of 2..maxChainLength models on distinct providers is
  // named in chainHeader as its providers joined by '+': the fallback cluster Envoy moves along.
  // 1 = no failover (no `providers`, or every fallback count is 0).
  maxChainLength: i32 = 1;
  maxClientFallbacks: i32 = 1;     // entries of a client's `models` list honoured after its primary
  chainHeader: ArrayBuffer = new ArrayBuffer(0);
  servedModelHeader: string = "";  // response header naming the model that served (set by Envoy's routes)
}

// The top-level `metrics` settings, one set for the whole plugin (Higress rules cannot change them:
// every rule counts into the same series). Null in PluginConfig: `"metrics": false`.
export class MetricsSettings {
  // Request header naming the consumer (an auth layer's, e.g. Higress's x-mse-consumer); empty: none,
  // every series carries consumer "none".
  consumerHeader: ArrayBuffer = new ArrayBuffer(0);
  // Distinct consumer values counted under their own name, process-wide; later ones count as "other".
  maxConsumers: i32 = 100;
}

// The answer to GET /v1/models, built once per configuration: the whole list, and where in it each
// alias (by route index) and each catalog model (by model index) sits, so GET /v1/models/<id>
// answers with a slice of the same bytes.
export class ModelList {
  body: ArrayBuffer = new ArrayBuffer(0);
  routeStart: i32[] = [];
  routeEnd: i32[] = [];
  modelStart: i32[] = [];
  modelEnd: i32[] = [];
}
