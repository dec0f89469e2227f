// The request path: headers → body scan → request features → candidate filter → strategy
// ranking → decision → rewrite. Configuration is compiled once per root context (config/load.ts);
// per-request code only reads it.
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  callForeignFunction, freeHostBlock, hostData, hostSize, log, readBuffer, readProperty,
  releaseHostData, removeRequestHeader, replaceRequestHeader, writeProperty,
} from "./abi/host";
import { selectConfig } from "./config/match";
import { PluginConfig } from "./config/rules";
import { RouterConfig } from "./config/types";
import { scanBody } from "./request/body_scan";
import { BodyError, RequestFeatures } from "./request/features";
import { CONTENT_LENGTH, RequestHeaders } from "./request/headers";
import { replyWithError } from "./request/local_reply";
import { spliceModel } from "./request/rewrite";
import { TASK_HEADER_VALUES, TIER_HEADER_VALUES } from "./config/tasks";
import { Decision, Outcome, decide, noCandidateMessage } from "./routing/decide";

// Higress caps buffered request bodies at 32 KiB unless a plugin raises the limit per request.
let raiseDecoderBufferLimit = false;
export function raiseDecoderBufferLimitPerRequest(): void { raiseDecoderBufferLimit = true; }

const SET_DECODER_BUFFER_LIMIT = String.UTF8.encode("set_decoder_buffer_limit");
const CLEAR_ROUTE_CACHE = String.UTF8.encode("clear_route_cache");
const ROUTE_NAME = String.UTF8.encode("route_name");
const XDS_ROUTE_NAME = String.UTF8.encode("xds\0route_name");
const CLUSTER_NAME = String.UTF8.encode("cluster_name");
const XDS_CLUSTER_NAME = String.UTF8.encode("xds\0cluster_name");

export class StreamState {
  plugin: PluginConfig | null = null;   // the root context's configuration
  config: RouterConfig | null = null;   // set when this request is handled
  finished: bool = false;               // the body has been answered or forwarded
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
  const plugin = state.plugin;
  if (plugin === null || !headers.read()) return HeadersAction.Continue;
  const cfg = handlingConfig(plugin);
  if (cfg === null) {
    headers.release();
    return HeadersAction.Continue;
  }
  state.config = cfg;
  // Only this plugin may name the upstream: drop whatever the client sent.
  if (headers.has(cfg.upstreamHeader)) removeRequestHeader(cfg.upstreamHeader);
  if (headers.has(cfg.modelHeader)) removeRequestHeader(cfg.modelHeader);
  removeClientDetectionHeaders(cfg);
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

// Upstream policies may trust the task headers: only this plugin sets them (also when it does
// not detect, so a header name configured for detection later was never the client's).
function removeClientDetectionHeaders(cfg: RouterConfig): void {
  if (headers.has(cfg.taskHeader)) removeRequestHeader(cfg.taskHeader);
  if (headers.has(cfg.complexityHeader)) removeRequestHeader(cfg.complexityHeader);
}

// ---- request body --------------------------------------------------------------------------

function setDetectionHeaders(cfg: RouterConfig, d: Decision): void {
  replaceRequestHeader(cfg.taskHeader, unchecked(TASK_HEADER_VALUES[d.task]));
  replaceRequestHeader(cfg.complexityHeader, unchecked(TIER_HEADER_VALUES[d.tier]));
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
    default:
      replyWithError(400, "invalid_max_tokens", "max_tokens, max_completion_tokens and max_output_tokens must be non-negative integers");
  }
}

function replyTooLarge(cfg: RouterConfig): void {
  replyWithError(413, "request_too_large", "request body is larger than " + cfg.maxBodyBytes.toString() + " bytes");
}

// Routes the complete buffered body. Returns after answering the client or preparing the request.
function routeBody(cfg: RouterConfig, body: usize, size: usize): void {
  // Only configurations that detect tasks pay for recording where the user text is.
  scanBody(body, size, features, cfg.detection !== null);
  if (features.error != BodyError.None) { rejectBody(features.error); return; }
  decide(cfg, body, features, decision);
  if (decision.outcome == Outcome.PassThrough) return;
  if (decision.outcome == Outcome.NoCandidate) {
    replyWithError(400, "model_not_available", noCandidateMessage(cfg, decision.route!, features));
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
  if (decision.detected) setDetectionHeaders(cfg, decision);
  // ABI 0.2.1 header edits already clear Envoy's route cache; the explicit call covers hosts that
  // don't (Envoy >= 1.33 registers it; older ones answer NOT_FOUND, which is fine).
  callForeignFunction(CLEAR_ROUTE_CACHE);
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
  else routeBody(cfg, body, size);
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
