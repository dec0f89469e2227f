// The request path: headers → body scan → request features → candidate filter → strategy
// ranking → decision → rewrite. Configuration is compiled once per root context (config/load.ts);
// per-request code only reads it.
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  callForeignFunction, freeHostBlock, hostData, hostSize, log, readBuffer, readProperty,
  releaseHostData, removeRequestHeader, replaceRequestHeader, setTickPeriod, writeProperty,
} from "./abi/host";
import { selectConfig } from "./config/match";
import { PluginConfig } from "./config/rules";
import { RouterConfig } from "./config/types";
import { scanBody } from "./request/body_scan";
import { BodyError, RequestFeatures } from "./request/features";
import { CONTENT_LENGTH, RequestHeaders } from "./request/headers";
import { replyWithError } from "./request/local_reply";
import { spliceModel } from "./request/rewrite";
import { Decision, Outcome, decide, explainNoCandidate } from "./routing/decide";
import { estimateOutputTokens } from "./routing/estimate";
import { ModelSignals } from "./routing/signals";
import { ResponseObservation, observeBody, observeEnd, wallClockMs } from "./response/observe";
import { LiveRoot, claimProbe, commitEnd, createLiveRoot, refreshLive, syncHealth } from "./live/live";

// Higress caps buffered request bodies at 32 KiB unless a plugin raises the limit per request.
let raiseDecoderBufferLimit = false;
export function raiseDecoderBufferLimitPerRequest(): void { raiseDecoderBufferLimit = true; }

const SET_DECODER_BUFFER_LIMIT = String.UTF8.encode("set_decoder_buffer_limit");
const CLEAR_ROUTE_CACHE = String.UTF8.encode("clear_route_cache");
const ROUTE_NAME = String.UTF8.encode("route_name");
const XDS_ROUTE_NAME = String.UTF8.encode("xds\0route_name");
const CLUSTER_NAME = String.UTF8.encode("cluster_name");
const XDS_CLUSTER_NAME = String.UTF8.encode("xds\0cluster_name");

// What a plugin root context owns: its compiled configuration and, per model catalog, the
// signals routing reads (configured values until the live layer measures better ones).
export class RootContext {
  readonly signals: ModelSignals[];
  readonly live: LiveRoot | null;       // null when every configuration says "live": false
  constructor(readonly plugin: PluginConfig) {
    this.signals = plugin.catalogs.map<ModelSignals>((c) => new ModelSignals(c.models));
    this.live = createLiveRoot(plugin, this.signals);
  }
}

export class StreamState {
  root: RootContext | null = null;      // the plugin root this stream belongs to
  config: RouterConfig | null = null;   // set when this request is handled
  finished: bool = false;               // the body has been answered or forwarded
  readonly observation: ResponseObservation = new ResponseObservation(); // the routed request's response
}

const headers = new RequestHeaders();
const features = new RequestFeatures();
const decision = new Decision();

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

// The configuration that handles this request, or null when the request is not ours.
function handlingConfig(plugin: PluginConfig): RouterConfig | null {
  if (!headers.isPost() || !headers.hasJsonContentType()) return null;
  const cfg = configForRequest(plugin);
  return cfg !== null && headers.pathIsHandled(cfg) ? cfg : null;
}

export function onRequestHeaders(state: StreamState, endOfStream: bool): HeadersAction {
  const root = state.root;
  if (root === null || !headers.read()) return HeadersAction.Continue;
  const cfg = handlingConfig(root.plugin);
  if (cfg === null) {
    headers.release();
    return HeadersAction.Continue;
  }
  state.config = cfg;
  // Only this plugin may name the upstream: drop whatever the client sent.
  if (headers.has(cfg.upstreamHeader)) removeRequestHeader(cfg.upstreamHeader);
  if (headers.has(cfg.modelHeader)) removeRequestHeader(cfg.modelHeader);
  // The body will change length; Envoy does not fix Content-Length itself.
  if (headers.hasContentLength) removeRequestHeader(CONTENT_LENGTH);
  headers.release();
  if (endOfStream) {
    state.finished = true;
    replyWithError(400, "missing_body", "request body is required");
    return HeadersAction.StopIteration;
  }
  if (raiseDecoderBufferLimit) writeProperty(SET_DECODER_BUFFER_LIMIT, cfg.maxBodyBytesText);
  return HeadersAction.StopIteration;
}

// ---- request body --------------------------------------------------------------------------

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
    default:
      replyWithError(400, "invalid_max_tokens", "max_tokens, max_completion_tokens and max_output_tokens must be non-negative integers");
  }
}

function replyTooLarge(cfg: RouterConfig): void {
  replyWithError(413, "request_too_large", "request body is larger than " + cfg.maxBodyBytes.toString() + " bytes");
}

// Routes the complete buffered body. Returns after answering the client or preparing the request.
function routeBody(state: StreamState, cfg: RouterConfig, body: usize, size: usize): void {
  scanBody(body, size, features);
  if (features.error != BodyError.None) { rejectBody(features.error); return; }
  const root = state.root!;
  const signals = unchecked(root.signals[cfg.catalog.id]);
  const nowMs = wallClockMs();
  const probe = decideClaimingProbes(root, cfg, body, signals, nowMs);
  if (decision.outcome == Outcome.PassThrough) return;
  if (decision.outcome == Outcome.NoCandidate) {
    replyWithError(400, "model_not_available", explainNoCandidate(cfg, decision, signals, nowMs));
    return;
  }
  const model = decision.model!;
  if (!spliceModel(body, size, features.modelStart, features.modelEnd, model.upstreamModelLiteral)) {
    log(LogLevel.Error, "model-router: the host refused the rewritten request body");
    replyWithError(500, "internal_error", "the gateway could not rewrite the request");
    return;
  }
  replaceRequestHeader(cfg.upstreamHeader, model.upstreamBytes);
  replaceRequestHeader(cfg.modelHeader, model.nameBytes);
  // ABI 0.2.1 header edits already clear Envoy's route cache; the explicit call covers hosts that
  // don't (Envoy >= 1.33 registers it; older ones answer NOT_FOUND, which is fine).
  callForeignFunction(CLEAR_ROUTE_CACHE);
  watchResponse(state, cfg, model.index, probe, nowMs);
}

// Reads the buffered body (at most `maxRead` bytes) and answers or forwards it.
function finishBody(state: StreamState, cfg: RouterConfig, maxRead: usize): void {
  state.finished = true;
  if (!readBuffer(BufferType.RequestBody, maxRead)) {
    log(LogLevel.Error, "model-router: could not read the request body from the host");
    replyWithError(500, "internal_error", "the gateway could not read the request body");
    return;
  }
  // Own the block before routing: routing makes further host calls.
  const body = hostData, size = hostSize;
  if (size > cfg.maxBodyBytes) replyTooLarge(cfg);
  else routeBody(state, cfg, body, size);
  freeHostBlock(body);
}

export function onRequestBody(state: StreamState, size: usize, endOfStream: bool): BodyAction {
  const cfg = state.config;
  if (cfg === null || state.finished) return BodyAction.Continue;
  if (size > cfg.maxBodyBytes) {
    state.finished = true;
    replyTooLarge(cfg);
    return BodyAction.StopIterationAndBuffer;
  }
  if (!endOfStream) return BodyAction.StopIterationAndBuffer;
  finishBody(state, cfg, size);
  return BodyAction.Continue;
}

// HTTP/2 requests with trailers end on the trailers, not on a body chunk.
export function onRequestTrailers(state: StreamState): void {
  const cfg = state.config;
  if (cfg === null || state.finished) return;
  finishBody(state, cfg, cfg.maxBodyBytes + 1);
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

// Starts watching the forwarded request's response for the live statistics of its model.
function watchResponse(state: StreamState, cfg: RouterConfig, modelIndex: i32, probe: bool, nowMs: f64): void {
  const live = state.root!.live;
  if (live === null || live.catalog(cfg.catalog.id) === null) return;
  const expected = decision.route !== null ? decision.estimate.outputTokens : estimateOutputTokens(features, cfg.defaultOutputTokens);
  const o = state.observation;
  o.begin(cfg.catalog.id, modelIndex, features.stream, expected, nowMs);
  o.probe = probe;
}

export function onResponseBody(state: StreamState, size: usize, endOfStream: bool): void {
  const o = state.observation;
  if (o.active) observeBody(o, size, endOfStream);
}

// The stream is over (on_log; on_delete for a host that never logs), aborted or not.
export function onStreamEnd(state: StreamState): void {
  const o = state.observation;
  if (!o.active) return;
  const nowMs = observeEnd(o);
  commitEnd(state.root!.live!, o, nowMs);
  o.clear();
}

// After on_configure: the first snapshot, and the tick that keeps it fresh.
export function startLive(root: RootContext): void {
  const live = root.live;
  if (live === null) return;
  refreshLive(live, wallClockMs());
  setTickPeriod(live.refreshMs);
}

export function onTick(root: RootContext): void {
  const live = root.live;
  if (live !== null) refreshLive(live, wallClockMs());
}
