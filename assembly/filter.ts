// The request path: headers → body scan → request features → candidate filter → strategy
// ranking → decision → rewrite. Configuration is compiled once per root context (config/load.ts);
// per-request code only reads it.
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  callForeignFunction, freeHostBlock, hostData, hostLogLevel, hostSize, log, readBuffer, readProperty,
  releaseHostData, removeRequestHeader, replaceRequestHeader, replaceRequestHeaderBytes, replaceResponseHeader, setTickPeriod,
  writeProperty,
  writePropertyBytes,
} from "./abi/host";
import { selectConfig } from "./config/match";
import { Context, ContextKind } from "./contexts";
import { PluginConfig } from "./config/rules";
import { ModelSpec, RouterConfig } from "./config/types";
import { scanBody } from "./request/body_scan";
import { BodyError, RequestFeatures } from "./request/features";
import { CONTENT_LENGTH, RequestHeaders, UNKNOWN_LENGTH } from "./request/headers";
import { replyWithError, replyWithJson } from "./request/local_reply";
import { entryEnd, entryStart, findModelsEntry, handledPathIndex, normalisePath } from "./request/path";
import { rewriteWithoutModelsList, spliceModel } from "./request/rewrite";
import { TASK_HEADER_VALUES, TIER_HEADER_VALUES } from "./config/tasks";
import { Decision, Outcome, decide, explainNoCandidate } from "./routing/decide";
import { DecisionSummary, decisionLogLine, textPtr, writeDecisionText } from "./routing/describe";
import { estimateOutputTokens, fillEstimate } from "./routing/estimate";
import { Drop } from "./routing/candidates";
import { ModelSignals } from "./routing/signals";
import { FailoverPlan, clientListError, planFailover } from "./routing/plan";
import { PLAN_PROPERTY, encodePlan, messageSize, vmNonce } from "./routing/plan_message";
import { AttemptLog } from "./response/attempts";
import { ResponseObservation, observeBody, observeEnd, wallClockMs } from "./response/observe";
import { Cause } from "./response/classify";
import { LiveRoot, claimProbe, commitAttemptFailure, commitEnd, createLiveRoot, refreshLive, syncHealth } from "./live/live";
import { consumerOf, countCooldownSkips, countRequest, countResponse, noteCooldownSkips } from "./metrics/count";
import { MetricsRoot, createMetrics } from "./metrics/registry";
import { OUTCOME_NAMES, RequestOutcome } from "./metrics/table";

// What the host needs beyond the common request path, decided once per VM by the build's entry
// file (assembly/envoy.ts, assembly/higress.ts), never per request.
// - Higress caps buffered request bodies at 32 KiB unless a plugin raises the limit per request.
// - Upstream Envoy refreshes the route by itself after a header edit from an ABI 0.2.1 module
//   (onHeadersModified); Higress does so by default too, but another plugin may have switched it off
//   for the request (clear_route_cache=off), so the Higress build also clears the route cache
//   explicitly (foreign function clear_route_cache; NOT_FOUND on hosts without it is harmless).
// - Higress's Envoy runs Wasm filters only before the router (no upstream filter runs per attempt),
//   so its build makes no failover plans: a request goes to its first model, as before.
// - Envoy's route adds the opt-in decision header from filter state (the generated bootstrap's
//   response_headers_to_add), so the Envoy build needs no response-headers callback; Higress gives no
//   route headers, so its build writes the header itself from proxy_on_response_headers.
let raiseDecoderBufferLimit = false;
let clearRouteCacheExplicitly = false;
let planFailovers = true;
let decisionHeaderInFilterState = true;
export function adaptToHigress(): void {
  raiseDecoderBufferLimit = true;
  clearRouteCacheExplicitly = true;
  planFailovers = false;
  decisionHeaderInFilterState = false;
}

const SET_DECODER_BUFFER_LIMIT = String.UTF8.encode("set_decoder_buffer_limit");
const CLEAR_ROUTE_CACHE = String.UTF8.encode("clear_route_cache");
const ROUTE_NAME = String.UTF8.encode("route_name");
const XDS_ROUTE_NAME = String.UTF8.encode("xds\0route_name");
const CLUSTER_NAME = String.UTF8.encode("cluster_name");
const XDS_CLUSTER_NAME = String.UTF8.encode("xds\0cluster_name");
const CONTENT_TYPE = String.UTF8.encode("content-type");
const APPLICATION_JSON = String.UTF8.encode("application/json");

// What a plugin root context owns: its compiled configuration and, per model catalog, the
// signals routing reads (configured values until the live layer measures better ones).
export class RootContext {
  readonly signals: ModelSignals[];
  readonly live: LiveRoot | null;       // null when every configuration says "live": false
  readonly metrics: MetricsRoot | null; // null with "metrics": false
  lastRefreshMs: f64 = -Infinity;       // the live snapshot's last refresh (ticks may come more often)
  tickMs: u32 = 0;
  constructor(readonly plugin: PluginConfig) {
    this.signals = plugin.catalogs.map<ModelSignals>((c) => new ModelSignals(c.models));
    this.live = createLiveRoot(plugin, this.signals);
    this.metrics = createMetrics(plugin);
  }
}

export class StreamState extends Context {
  constructor() { super(ContextKind.Stream); }
  root: RootContext | null = null;      // the plugin root this stream belongs to
  config: RouterConfig | null = null;   // set when this request is handled
  finished: bool = false;               // the body has been answered or forwarded
  readonly observation: ResponseObservation = new ResponseObservation(); // the routed request's response
  pathIndex: i32 = -1;                  // which of config.paths the request is for
  bodyBytes: usize = 0;                 // body bytes buffered so far
  jsonContentType: bool = true;         // the client said the body is JSON
  contentType: string = "";             // the client's content type when it is not JSON
  // Observability: how the request ended on the request path, in words and for the metrics, which
  // count it when the stream ends (the consumer header may be set by a later filter).
  readonly summary: DecisionSummary = new DecisionSummary();
  outcome: RequestOutcome = RequestOutcome.None; // None: nothing (more) to count
  countedRoute: i32 = -1;               // the alias (index in config.routes), -1: none
  countedModel: i32 = -1;               // the catalog model it went to, -1: none
  readonly skipped: i32[] = [];         // catalog models its route passed over while they cooled down
  estimatedInputTokens: f64 = 0;        // the router's estimates for the chosen model
  estimatedCostMicroUsd: f64 = 0;
  // The client's :path (copied at request headers: a failover plan carries it to every attempt).
  path: usize = 0;
  pathSize: usize = 0;
  pathCapacity: usize = 0;
  // Attempts the upstream filter saw (failover); empty when Envoy sent the request directly.
  readonly attempts: AttemptLog = new AttemptLog();
  chosenModel: i32 = -1;                // the decision's model (attempt 1 of a plan)
  heldAtMs: f64 = NaN;                  // wall clock when the headers were held (responses watched only)

  keepPath(p: usize, n: usize): void {
    if (n > this.pathCapacity) {
      if (this.path != 0) heap.free(this.path);
      this.pathCapacity = n + 32;
      this.path = heap.alloc(this.pathCapacity);
    }
    memory.copy(this.path, p, n);
    this.pathSize = n;
  }

  reset(root: RootContext | null): void {
    this.root = root;
    this.config = null;
    this.finished = false;
    this.pathIndex = -1;
    this.bodyBytes = 0;
    this.jsonContentType = true;
    this.contentType = "";
    this.observation.clear();
    this.summary.clear();
    this.outcome = RequestOutcome.None;
    this.skipped.length = 0;
    this.pathSize = 0;
    this.attempts.clear();
    this.chosenModel = -1;
    this.heldAtMs = NaN;
  }
}

const headers = new RequestHeaders();
const features = new RequestFeatures();
const decision = new Decision();
const plan = new FailoverPlan();

// ---- request headers -----------------------------------------------------------------------

function propertyText(name: ArrayBuffer, fallback: ArrayBuffer): string {
  if (!readProperty(name) && !readProperty(fallback)) return "";
  const text = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return text;
}

function configForRequest(plugin: PluginConfig): RouterConfig | null {
  if (plugin.rules.length == 0) return plugin.global;
  const routeName = plugin.rulesNeedRouteName ? propertyText(ROUTE_NAME, XDS_ROUTE_NAME) : "";
  const clusterName = plugin.rulesNeedClusterName ? propertyText(CLUSTER_NAME, XDS_CLUSTER_NAME) : "";
  const authority = plugin.rulesNeedAuthority ? headers.authority() : "";
  return selectConfig(plugin, routeName, clusterName, authority);
}

// Only this plugin may write the routing headers (the upstream Envoy routes on, the model): on
// every request, handled or not, client copies of every name any configuration uses are removed
// before anything else looks at the request. Envoy's internal_only_headers is not needed for this
// (and Higress has no equivalent).
function removeClientRoutingHeaders(plugin: PluginConfig): void {
  const owned = plugin.ownedHeaders;
  for (let i = 0; i < owned.length; i++) {
    if (headers.hasOwned(owned, i)) removeRequestHeader(unchecked(owned[i]));
  }
}

export function onRequestHeaders(state: StreamState, endOfStream: bool): HeadersAction {
  const root = state.root;
  if (root === null) return HeadersAction.Continue;
  const plugin = root.plugin;
  if (!headers.read(plugin.ownedHeaders)) return HeadersAction.Continue;
  if (headers.sentOwned(plugin.ownedHeaders)) removeClientRoutingHeaders(plugin);
  // Only a POST (routing) or a GET (the model list) can be ours: anything else costs no more.
  const post = headers.isPost();
  const cfg = post || headers.isGet() ? configForRequest(plugin) : null;
  if (cfg !== null) {
    normalisePath(headers.pathPtr, headers.pathLen);
    if (post) {
      const pathIndex = handledPathIndex(cfg);
      if (pathIndex >= 0) return holdRequest(state, cfg, pathIndex, endOfStream);
    } else if (cfg.listModels && findModelsEntry(cfg)) {
      headers.release();
      state.finished = true;
      replyWithJson(200, changetype<usize>(cfg.modelList.body) + <usize>entryStart, <usize>(entryEnd - entryStart));
      return HeadersAction.StopIteration;
    }
  }
  headers.release();
  return HeadersAction.Continue;
}

function replyTooLarge(state: StreamState, cfg: RouterConfig): void {
  reportOutcome(state, cfg, RequestOutcome.RequestTooLarge);
  replyWithError(413, "request_too_large", "request body is larger than " + cfg.maxBodyBytes.toString() + " bytes");
}

function replyMissingBody(state: StreamState, cfg: RouterConfig): void {
  reportOutcome(state, cfg, RequestOutcome.MissingBody);
  replyWithError(400, "missing_body", "request body is required");
}

// A POST to a handled path, whatever its content type: hold the headers and read the body, unless
// the headers alone already say how the request ends.
function holdRequest(state: StreamState, cfg: RouterConfig, pathIndex: i32, endOfStream: bool): HeadersAction {
  state.config = cfg;
  state.pathIndex = pathIndex;
  if (planFailovers && cfg.maxChainLength > 1) state.keepPath(headers.pathPtr, headers.pathLen);
  state.jsonContentType = headers.hasJsonContentType();
  if (!state.jsonContentType && headers.hasContentType) state.contentType = headers.contentTypeText();
  if (!headers.hasReadableEncoding()) {
    const encoding = headers.contentEncodingText();
    headers.release();
    state.finished = true;
    reportOutcome(state, cfg, RequestOutcome.UnsupportedContentEncoding);
    replyWithError(415, "unsupported_content_encoding", "the gateway cannot read a request body with Content-Encoding \"" + encoding + "\"; send it uncompressed");
    return HeadersAction.StopIteration;
  }
  const declared = headers.hasContentLength ? headers.contentLength : UNKNOWN_LENGTH;
  // The body will change length; Envoy does not fix Content-Length itself.
  if (headers.hasContentLength) removeRequestHeader(CONTENT_LENGTH);
  headers.release();
  if (declared != UNKNOWN_LENGTH && declared > <u64>cfg.maxBodyBytes) {
    // Answered before the client uploads the body (the body callbacks then never run).
    state.finished = true;
    replyTooLarge(state, cfg);
    return HeadersAction.StopIteration;
  }
  if (endOfStream) {
    state.finished = true;
    replyMissingBody(state, cfg);
    return HeadersAction.StopIteration;
  }
  if (raiseDecoderBufferLimit) writeProperty(SET_DECODER_BUFFER_LIMIT, cfg.decoderBufferLimitText);
  // The start of the request, for the clock-step check of its response's timings (one clock read
  // here instead of reading Envoy's request.time property at the end).
  const root = state.root!;
  if (root.live !== null || root.metrics !== null) state.heldAtMs = wallClockMs();
  return HeadersAction.StopIteration;
}

// ---- request body --------------------------------------------------------------------------

function setDetectionHeaders(cfg: RouterConfig, d: Decision): void {
  replaceRequestHeader(cfg.taskHeader, unchecked(TASK_HEADER_VALUES[d.task]));
  replaceRequestHeader(cfg.complexityHeader, unchecked(TIER_HEADER_VALUES[d.tier]));
}

function outcomeOf(error: BodyError): RequestOutcome {
  switch (error) {
    case BodyError.MissingModel: return RequestOutcome.MissingModel;
    case BodyError.InvalidModel: return RequestOutcome.InvalidModel;
    case BodyError.DuplicateModel: return RequestOutcome.DuplicateModel;
    case BodyError.InvalidMaxTokens: return RequestOutcome.InvalidMaxTokens;
    default: return RequestOutcome.InvalidJson;
  }
}

function rejectBody(error: BodyError): void {
  switch (error) {
    case BodyError.InvalidJson:
      replyWithError(400, "invalid_json", "request body is not valid JSON (error at byte " + features.errorOffset.toString() + ")");
      break;
    case BodyError.NotAnObject: replyWithError(400, "invalid_json", "request body must be a JSON object"); break;
    case BodyError.TooDeep: replyWithError(400, "invalid_json", "request body nests deeper than 256 levels"); break;
    case BodyError.MissingModel: replyWithError(400, "missing_model", "request body has no \"model\""); break;
    case BodyError.InvalidModel: replyWithError(400, "invalid_model", "\"model\" must be a string"); break;
    case BodyError.DuplicateModel:
      replyWithError(400, "duplicate_model", "request body has more than one top-level \"model\"");
      break;
    case BodyError.InvalidModels:
      replyWithError(400, "invalid_models", "\"models\" must be one array of model names (the fallbacks to try in order)");
      break;
    default:
      replyWithError(400, "invalid_max_tokens", "max_tokens, max_completion_tokens and max_output_tokens must be non-negative integers");
  }
}

// A body that is not a JSON object, sent without a JSON content type: the client most likely used
// the wrong encoding (curl -d sends a form, fetch() sends a string as text/plain).
function replyUnsupportedMediaType(state: StreamState): void {
  const got = state.contentType.length > 0 ? "Content-Type \"" + state.contentType + "\"" : "no Content-Type";
  replyWithError(415, "unsupported_media_type", "request body must be a JSON object sent with Content-Type: application/json (the request has " + got + ")");
}

@inline function isNotAJsonObject(error: BodyError): bool {
  return error == BodyError.InvalidJson || error == BodyError.NotAnObject || error == BodyError.TooDeep;
}

// Routes the complete buffered body. Returns after answering the client or preparing the request.
function routeBody(state: StreamState, cfg: RouterConfig, body: usize, size: usize): void {
  // Only configurations that detect tasks pay for recording where the user text is.
  scanBody(body, size, features, cfg.detection !== null);
  if (features.error != BodyError.None) {
    if (!state.jsonContentType && isNotAJsonObject(features.error)) {
      reportOutcome(state, cfg, RequestOutcome.UnsupportedMediaType);
      replyUnsupportedMediaType(state);
    } else {
      reportOutcome(state, cfg, outcomeOf(features.error));
      rejectBody(features.error);
    }
    return;
  }
  features.pathIndex = state.pathIndex;
  const root = state.root!;
  const signals = unchecked(root.signals[cfg.catalog.id]);
  const nowMs = wallClockMs();
  const probe = decideClaimingProbes(root, cfg, body, signals, nowMs);
  if (decision.outcome == Outcome.PassThrough) {
    reportOutcome(state, cfg, RequestOutcome.PassedThrough);
    if (debugLogging) log(LogLevel.Debug, decisionLogLine(cfg, decision, state.summary, signals, nowMs));
    return;
  }
  if (decision.outcome == Outcome.NoCandidate) {
    reportOutcome(state, cfg, RequestOutcome.NoCandidate, decision.requested);
    noteSkips(state);
    if (debugLogging) log(LogLevel.Debug, decisionLogLine(cfg, decision, state.summary, signals, nowMs));
    replyWithError(400, "model_not_available", explainNoCandidate(cfg, decision, signals, nowMs));
    return;
  }
  // Also where no plan is used (Higress): a client's list must name catalog models either way.
  if (!planFailover(cfg, decision, features, body, signals, nowMs, plan)) {
    replyWithError(400, "invalid_models", clientListError);
    return;
  }
  const model = decision.model!;
  const modelAt = rewriteModel(body, size, model.upstreamModelLiteral);
  if (modelAt < 0) {
    log(LogLevel.Error, "model-router: the host refused the rewritten request body");
    reportOutcome(state, cfg, RequestOutcome.InternalError, decision.requested);
    replyWithError(500, "internal_error", "the gateway could not rewrite the request");
    return;
  }
  replaceRequestHeader(cfg.upstreamHeader, model.upstreamBytes);
  replaceRequestHeader(cfg.modelHeader, model.nameBytes);
  state.chosenModel = model.index;
  if (planFailovers && plan.length > 1) handOverPlan(state, cfg, modelAt, <i32>model.upstreamModelLiteral.byteLength);
  if (decision.detected) setDetectionHeaders(cfg, decision);
  // The provider parses what the client sent as JSON only if it is labelled so.
  if (!state.jsonContentType) replaceRequestHeader(CONTENT_TYPE, APPLICATION_JSON);
  if (clearRouteCacheExplicitly) callForeignFunction(CLEAR_ROUTE_CACHE);
  reportRouted(state, cfg, model);
  if (debugLogging) log(LogLevel.Debug, decisionLogLine(cfg, decision, state.summary, signals, nowMs));
  watchResponse(state, cfg, model.index, probe, nowMs);
}

// Writes the chosen model into the body (and takes a client's `models` list out of it); returns
// where the model's literal now starts, or -1 when the host refused the new body.
function rewriteModel(body: usize, size: usize, literal: ArrayBuffer): i32 {
  if (features.modelsCount > 0) return rewriteWithoutModelsList(body, size, features, literal);
  return spliceModel(body, size, features.modelStart, features.modelEnd, literal) ? <i32>features.modelStart : -1;
}

// ---- failover: the chain for Envoy, the plan for the upstream filter ---------------------------

let chainScratch: usize = 0;
let chainScratchSize: usize = 0;

// The fallback cluster of the plan: its providers joined by '+' ("openai+deepseek").
function writeChainHeader(cfg: RouterConfig): void {
  let size: usize = 0;
  for (let i = 0; i < plan.length; i++) size += <usize>unchecked(cfg.models[plan.model(i)]).upstreamBytes.byteLength + 1;
  if (size > chainScratchSize) {
    if (chainScratch != 0) heap.free(chainScratch);
    chainScratchSize = size + 32;
    chainScratch = heap.alloc(chainScratchSize);
  }
  let q = chainScratch;
  for (let i = 0; i < plan.length; i++) {
    if (i > 0) store<u8>(q++, 0x2b);
    const name = unchecked(cfg.models[plan.model(i)]).upstreamBytes;
    memory.copy(q, changetype<usize>(name), name.byteLength);
    q += name.byteLength;
  }
  replaceRequestHeaderBytes(cfg.chainHeader, chainScratch, q - chainScratch);
}

// Envoy routes the request to the plan's fallback cluster; every attempt's upstream filter reads
// the plan (filter state) to know which model its provider gets, and where the model is in the body.
function handOverPlan(state: StreamState, cfg: RouterConfig, modelAt: i32, literalSize: i32): void {
  const root = state.root!;
  const message = encodePlan(plan, vmNonce, state.id, root.plugin.fingerprint, cfg.id,
    <u32>modelAt, <u32>(modelAt + literalSize), state.path, state.pathSize);
  if (message == 0) return; // a path too long to carry: the first model only
  if (!writePropertyBytes(PLAN_PROPERTY, message, messageSize)) return;
  writeChainHeader(cfg);
}

// Reads the buffered body (at most `maxRead` bytes) and answers or forwards it.
function finishBody(state: StreamState, cfg: RouterConfig, maxRead: usize): void {
  state.finished = true;
  if (!readBuffer(BufferType.RequestBody, maxRead)) {
    log(LogLevel.Error, "model-router: could not read the request body from the host");
    reportOutcome(state, cfg, RequestOutcome.InternalError);
    replyWithError(500, "internal_error", "the gateway could not read the request body");
    return;
  }
  // Own the block before routing: routing makes further host calls.
  const body = hostData, size = hostSize;
  if (size > cfg.maxBodyBytes) replyTooLarge(state, cfg);
  else if (size == 0) replyMissingBody(state, cfg);
  else routeBody(state, cfg, body, size);
  freeHostBlock(body);
}

export function onRequestBody(state: StreamState, size: usize, endOfStream: bool): BodyAction {
  const cfg = state.config;
  if (cfg === null || state.finished) return BodyAction.Continue;
  if (size > cfg.maxBodyBytes) {
    state.finished = true;
    replyTooLarge(state, cfg);
    return BodyAction.StopIterationAndBuffer;
  }
  state.bodyBytes = size;
  if (!endOfStream) return BodyAction.StopIterationAndBuffer;
  if (size == 0) {
    // HTTP/2 clients end a bodiless request with an empty DATA frame.
    state.finished = true;
    replyMissingBody(state, cfg);
    return BodyAction.StopIterationAndBuffer;
  }
  finishBody(state, cfg, size);
  return BodyAction.Continue;
}

// HTTP/2 requests with trailers end on the trailers, not on a body chunk.
export function onRequestTrailers(state: StreamState): void {
  const cfg = state.config;
  if (cfg === null || state.finished) return;
  if (state.bodyBytes == 0) {
    state.finished = true;
    replyMissingBody(state, cfg);
    return;
  }
  finishBody(state, cfg, cfg.maxBodyBytes + 1);
}

// ---- observability: where a handled request's outcome is told -----------------------------------

// Debug decision lines are built only while Envoy's wasm logger is at debug: its level is read when
// a configuration loads and at every tick (an admin /logging change shows within a second), never
// per request.
let debugLogging = false;

// Filter state `wasm.model_router.decision`: the access log prints it with
// %FILTER_STATE(wasm.model_router.decision:PLAIN)%.
const DECISION_PROPERTY = String.UTF8.encode("model_router.decision");

// The summary in filter state (and, for a forwarded request, for the decision header Envoy's route
// adds); what the metrics will count when the stream ends.
function publishDecision(state: StreamState, cfg: RouterConfig, outcome: RequestOutcome, route: i32, model: i32): void {
  const length = writeDecisionText(state.summary);
  writePropertyBytes(DECISION_PROPERTY, textPtr(), length);
  const headerState = cfg.decisionHeaderState;
  if (headerState !== null && decisionHeaderInFilterState && model >= 0) writePropertyBytes(headerState, textPtr(), length);
  state.outcome = outcome;
  state.countedRoute = route;
  state.countedModel = model;
}

// A handled request that goes to no model: refused, or passed through. `route`: the alias, if known.
function reportOutcome(state: StreamState, cfg: RouterConfig, outcome: RequestOutcome, route: i32 = -1): void {
  const s = state.summary;
  s.clear();
  s.outcome = unchecked(OUTCOME_NAMES[<i32>outcome]);
  s.cfg = cfg;
  s.requested = route >= 0 ? unchecked(cfg.routes[route]) : null;
  s.route = route >= 0 ? decision.route : null;
  s.detected = route >= 0 && decision.detected;
  s.task = decision.task;
  s.tier = decision.tier;
  publishDecision(state, cfg, outcome, route, -1);
}

function routedOutcome(d: Decision): RequestOutcome {
  if (d.route === null) return RequestOutcome.Direct;
  if (d.slot < 0) return RequestOutcome.Fallback;
  return unchecked(d.candidates.drop[d.slot]) == <u8>Drop.CoolingDown ? RequestOutcome.AllCooling : RequestOutcome.Routed;
}

// The request goes to `model`: the router's estimates for it, its summary, its counts.
function reportRouted(state: StreamState, cfg: RouterConfig, model: ModelSpec): void {
  const outcome = routedOutcome(decision);
  // A catalog model named directly was not estimated for ranking; the numbers are cheap to get.
  if (decision.route === null) fillEstimate(decision.estimate, features, cfg);
  const e = decision.estimate;
  // Prices are USD per million tokens: tokens × price is micro-USD.
  const costMicroUsd = e.inputTokens * model.inputPrice + e.outputTokens * model.outputPrice;
  state.estimatedInputTokens = e.inputTokens;
  state.estimatedCostMicroUsd = costMicroUsd;
  state.summary.fromDecision(unchecked(OUTCOME_NAMES[<i32>outcome]), cfg, decision, costMicroUsd * 1e-6);
  publishDecision(state, cfg, outcome, decision.requested, model.index);
  noteSkips(state);
}

function noteSkips(state: StreamState): void {
  if (state.root!.metrics !== null) noteCooldownSkips(decision, state.skipped);
}

// The request's counts (once: on_log, or on_delete for a host that never logs); its row for the
// response's counts, -1 when there is nothing to count.
function countOutcome(state: StreamState, metrics: MetricsRoot): i32 {
  if (state.outcome == RequestOutcome.None) return -1;
  const cfg = state.config!;
  const consumer = consumerOf(metrics);
  const row = countRequest(metrics, cfg, state.countedRoute, state.countedModel, consumer, state.outcome);
  if (state.skipped.length > 0) countCooldownSkips(metrics, cfg, state.countedRoute, state.countedModel, consumer, state.skipped);
  state.outcome = RequestOutcome.None;
  return row;
}

// The opt-in response header: the summary of a request the plugin forwarded (the response-headers
// callback; it returns at once for every other stream).
export function onResponseHeaders(state: StreamState): void {
  const cfg = state.config;
  if (cfg === null || !state.summary.forwarded) return;
  const name = cfg.decisionHeader;
  if (name === null) return;
  const length = writeDecisionText(state.summary);
  replaceResponseHeader(name, textPtr(), length);
}

// ---- live signals: probes, response observation, refresh --------------------------------------

// Enough for every model of a big catalog to come back from a cooldown at the same moment.
const MAX_PROBE_CLAIMS = 8;

// Decides; when the pick is a model whose cooldown is over but which has not succeeded since, this
// request must claim its one probe (process-wide) or be decided again without it. Returns whether
// this request is that probe.
function decideClaimingProbes(root: RootContext, cfg: RouterConfig, body: usize, signals: ModelSignals, nowMs: f64): bool {
  const live = root.live;
  if (live !== null) syncHealth(live, nowMs);
  decide(cfg, body, features, signals, nowMs, decision);
  if (live === null) return false;
  for (let attempt = 0; attempt < MAX_PROBE_CLAIMS; attempt++) {
    if (decision.outcome != Outcome.Routed || decision.route === null) return false;
    const index = decision.model!.index;
    // Still cooling: every candidate is, and this one ends first; it goes without a probe.
    if (!unchecked(signals.needsProbe[index]) || unchecked(signals.coolingUntilMs[index]) > nowMs) return false;
    if (claimProbe(live, cfg.catalog.id, index, nowMs)) return true;
    decide(cfg, body, features, signals, nowMs, decision);
  }
  return false;
}

// Starts watching the forwarded request's response, for the live statistics of its model and the
// metrics.
function watchResponse(state: StreamState, cfg: RouterConfig, modelIndex: i32, probe: bool, nowMs: f64): void {
  const root = state.root!;
  const live = root.live;
  const liveOn = live !== null && live.catalog(cfg.catalog.id) !== null;
  if (!liveOn && root.metrics === null) return;
  const expected = decision.route !== null ? decision.estimate.outputTokens : estimateOutputTokens(features, cfg.defaultOutputTokens);
  const o = state.observation;
  o.begin(cfg.catalog.id, modelIndex, features.stream, expected, nowMs);
  o.requestStartMs = state.heldAtMs;
  o.probe = probe;
}

export function onResponseBody(state: StreamState, size: usize, endOfStream: bool): void {
  const o = state.observation;
  if (o.active) observeBody(o, size, endOfStream);
}

// The stream is over (on_log; on_delete for a host that never logs), aborted or not.
export function onStreamEnd(state: StreamState): void {
  const root = state.root;
  if (root === null) return;
  const o = state.observation;
  const nowMs = o.active ? observeEnd(o) : 0;
  if (o.active && state.attempts.count > 0) takeServedModel(state);
  const metrics = root.metrics;
  const row = metrics !== null ? countOutcome(state, metrics) : -1;
  if (!o.active) return;
  if (metrics !== null && row >= 0) {
    const cfg = state.config!;
    countResponse(metrics, row, cfg.catalog, unchecked(cfg.models[o.modelIndex]), o, state.estimatedInputTokens, state.estimatedCostMicroUsd);
  }
  const live = root.live;
  if (live !== null) {
    if (state.attempts.count > 0) chargeFailedAttempts(state, live, nowMs);
    commitEnd(live, o, nowMs);
  }
  o.clear();
}

// Envoy moved the request between models (failover): the response, or the last failure, belongs
// to the model of the last attempt, timed from that attempt's start; counted and measured as such.
function takeServedModel(state: StreamState): void {
  const o = state.observation, attempts = state.attempts;
  const last = attempts.count - 1;
  const served = attempts.model(last);
  // The probe was the first model's: settled by its own attempt when another model answered.
  if (served != state.chosenModel) o.probe = false;
  o.modelIndex = served;
  const startMs = unchecked(attempts.startMs[last]);
  if (!isNaN(startMs)) o.startMs = startMs; // NaN: the first attempt, timed from the decision
  if (state.countedModel >= 0) state.countedModel = served;
}

// Each attempt Envoy retried failed, and is charged to its own model.
function chargeFailedAttempts(state: StreamState, live: LiveRoot, nowMs: f64): void {
  const o = state.observation, attempts = state.attempts;
  for (let i = 0; i < attempts.count - 1; i++) {
    commitAttemptFailure(live, o.catalogId, attempts.model(i), <Cause>unchecked(attempts.causes[i]), nowMs);
  }
}

// Counters reach Envoy at least this often (Prometheus scrapes every 15 s or so).
const METRICS_FLUSH_MS: u32 = 1000;

// After on_configure: the live gauges, the first snapshot, and the tick that keeps both fresh and
// pushes the counters.
export function startRoot(root: RootContext): void {
  debugLogging = hostLogLevel() <= LogLevel.Debug;
  const live = root.live, metrics = root.metrics;
  if (metrics !== null) {
    const catalogs = root.plugin.catalogs;
    for (let i = 0; i < catalogs.length; i++) if (catalogs[i].live !== null) metrics.defineGauges(catalogs[i]);
  }
  let period: u32 = metrics !== null ? METRICS_FLUSH_MS : 0;
  if (live !== null) {
    refreshLive(live, wallClockMs());
    period = period > 0 ? min(period, live.refreshMs) : live.refreshMs;
  }
  root.lastRefreshMs = wallClockMs();
  root.tickMs = period;
  if (period > 0) setTickPeriod(period);
  onTick(root);
}

// The live snapshot is due every refreshMs; ticks come every second when that is sooner. A clock
// stepped back refreshes at once.
function refreshDue(root: RootContext, live: LiveRoot, nowMs: f64): bool {
  return nowMs < root.lastRefreshMs || nowMs - root.lastRefreshMs >= <f64>live.refreshMs - <f64>root.tickMs / 2;
}

export function onTick(root: RootContext): void {
  const nowMs = wallClockMs();
  const live = root.live;
  if (live !== null && refreshDue(root, live, nowMs)) {
    refreshLive(live, nowMs);
    root.lastRefreshMs = nowMs;
  }
  debugLogging = hostLogLevel() <= LogLevel.Debug;
  const metrics = root.metrics;
  if (metrics === null) return;
  metrics.flushCounters();
  if (live === null) return;
  const catalogs = root.plugin.catalogs;
  for (let i = 0; i < catalogs.length; i++) {
    const c = catalogs[i];
    if (c.live !== null) metrics.setGauges(c, unchecked(root.signals[c.id]), nowMs);
  }
}

// The VM is going away: what the counters still hold goes to Envoy.
export function onRootDone(root: RootContext): void {
  const metrics = root.metrics;
  if (metrics !== null) metrics.flushCounters();
}
