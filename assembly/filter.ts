// The router filter's request lifecycle, one HttpContext per stream: headers → body scan → request
// features → candidate filter → strategy ranking → decision → rewrite, then watching the response
// until the stream ends. Configuration is compiled once per root context (root.ts); per-request code
// only reads it. What a callback works in is the VM's RequestScratch (scratch.ts); what must outlive
// a callback lives here, on the context, which a free list reuses for later streams.
import { ByteBuffer } from "./abi/byte_buffer";
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  callForeignFunction, freeHostBlock, hostData, hostSize, log, readBuffer, removeRequestHeader, replaceRequestHeader, writeProperty,
} from "./abi/host";
import { CLIENT_ERRORS } from "./client_errors";
import { TASK_HEADER_VALUES, TIER_HEADER_VALUES } from "./config/tasks";
import { RouterConfig } from "./config/types";
import { Context, ContextKind } from "./contexts";
import { clearRouteCacheExplicitly, planFailovers, raiseDecoderBufferLimit } from "./host_kind";
import { commitEnd, commitFailedAttempts, decideClaimingProbe } from "./live/live";
import { RequestOutcome } from "./metrics/table";
import { LOG_PREFIX } from "./names";
import { RequestReport } from "./report";
import { ClientError, isNotAJsonObject } from "./request/client_error";
import { CONTENT_LENGTH, UNKNOWN_LENGTH } from "./request/headers";
import { ClientApi, replyWithError, replyWithJson } from "./request/local_reply";
import { entryEnd, entryStart, findModelsEntry, handledPathIndex, normalisePath } from "./request/path";
import { configForRequest } from "./request/select_config";
import { rewriteModel } from "./request/rewrite";
import { AttemptLog } from "./response/attempts";
import { ResponseObservation, observeBody, observeEnd, wallClockMs } from "./response/observe";
import { Decision, Outcome, explainNoCandidate } from "./routing/decide";
import { clientListError, planFailover } from "./routing/plan";
import { handOverPlan } from "./routing/plan_message";
import { RootContext } from "./root";

const SET_DECODER_BUFFER_LIMIT = String.UTF8.encode("set_decoder_buffer_limit");
const CLEAR_ROUTE_CACHE = String.UTF8.encode("clear_route_cache");
const CONTENT_TYPE = String.UTF8.encode("content-type");
const APPLICATION_JSON = String.UTF8.encode("application/json");

export class HttpContext extends Context {
  constructor() { super(ContextKind.Stream); }
  root: RootContext | null = null;      // the configured plugin root this stream belongs to
  config: RouterConfig | null = null;   // set when this request is handled
  api: ClientApi = ClientApi.OpenAI;    // the API the client speaks (the shape of its errors)
  finished: bool = false;               // the body has been answered or forwarded
  readonly observation: ResponseObservation = new ResponseObservation(); // the routed request's response
  readonly report: RequestReport = new RequestReport();                  // its outcome, told at the end
  pathIndex: i32 = -1;                  // which of config.paths the request is for
  bodyBytes: usize = 0;                 // body bytes buffered so far
  jsonContentType: bool = true;         // the client said the body is JSON
  contentType: string = "";             // the client's content type when it is not JSON
  // The client's :path (copied at request headers: a failover plan carries it to every attempt).
  readonly path: ByteBuffer = new ByteBuffer();
  // Attempts the upstream filter saw (failover); empty when Envoy sent the request directly.
  readonly attempts: AttemptLog = new AttemptLog();
  chosenModel: i32 = -1;                // the decision's model (attempt 1 of a plan)
  heldAtMs: f64 = NaN;                  // wall clock when the headers were held (responses watched only)

  // A new stream under `root` (null: not a configured router root; the stream passes through).
  reset(root: RootContext | null): void {
    this.root = root;
    this.config = null;
    this.api = ClientApi.OpenAI;
    this.finished = false;
    this.pathIndex = -1;
    this.bodyBytes = 0;
    this.jsonContentType = true;
    this.contentType = "";
    this.observation.clear();
    this.report.clear();
    this.path.size = 0;
    this.attempts.clear();
    this.chosenModel = -1;
    this.heldAtMs = NaN;
  }

  // ---- request headers -----------------------------------------------------------------------

  onRequestHeaders(endOfStream: bool): HeadersAction {
    const root = this.root;
    if (root === null) return HeadersAction.Continue;
    const plugin = root.plugin!;
    const headers = root.scratch.headers;
    if (!headers.read(plugin.ownedHeaders)) return HeadersAction.Continue;
    headers.removeOwned(plugin.ownedHeaders);
    // Only a POST (routing) or a GET (the model list) can be ours: anything else costs no more.
    const post = headers.isPost();
    const cfg = post || headers.isGet() ? configForRequest(plugin, headers) : null;
    if (cfg !== null) {
      normalisePath(headers.pathPtr, headers.pathLen);
      if (post) {
        const pathIndex = handledPathIndex(cfg);
        if (pathIndex >= 0) return this.holdRequest(root, cfg, pathIndex, endOfStream);
      } else if (cfg.listModels && findModelsEntry(cfg)) {
        headers.release();
        this.finished = true;
        replyWithJson(200, changetype<usize>(cfg.modelList.body) + <usize>entryStart, <usize>(entryEnd - entryStart));
        return HeadersAction.StopIteration;
      }
    }
    headers.release();
    return HeadersAction.Continue;
  }

  // A POST to a handled path, whatever its content type: hold the headers and read the body, unless
  // the headers alone already say how the request ends.
  private holdRequest(root: RootContext, cfg: RouterConfig, pathIndex: i32, endOfStream: bool): HeadersAction {
    const headers = root.scratch.headers;
    this.config = cfg;
    this.pathIndex = pathIndex;
    if (planFailovers && cfg.maxChainLength > 1) this.path.copy(headers.pathPtr, headers.pathLen);
    this.jsonContentType = headers.hasJsonContentType();
    if (!this.jsonContentType && headers.hasContentType) this.contentType = headers.contentTypeText();
    if (!headers.hasReadableEncoding()) {
      const encoding = headers.contentEncodingText();
      headers.release();
      this.finished = true;
      this.refuse(cfg, ClientError.UnsupportedContentEncoding, encoding);
      return HeadersAction.StopIteration;
    }
    const declared = headers.hasContentLength ? headers.contentLength : UNKNOWN_LENGTH;
    // The body will change length; Envoy does not fix Content-Length itself.
    if (headers.hasContentLength) removeRequestHeader(CONTENT_LENGTH);
    headers.release();
    if (declared != UNKNOWN_LENGTH && declared > <u64>cfg.maxBodyBytes) {
      // Answered before the client uploads the body (the body callbacks then never run).
      this.finished = true;
      this.refuseTooLarge(cfg);
      return HeadersAction.StopIteration;
    }
    if (endOfStream) {
      this.finished = true;
      this.refuse(cfg, ClientError.MissingBody);
      return HeadersAction.StopIteration;
    }
    if (raiseDecoderBufferLimit) writeProperty(SET_DECODER_BUFFER_LIMIT, cfg.decoderBufferLimitText);
    // The start of the request, for the clock-step check of its response's timings (one clock read
    // here instead of reading Envoy's request.time property at the end).
    if (root.live !== null || root.metrics !== null) this.heldAtMs = wallClockMs();
    return HeadersAction.StopIteration;
  }

  // ---- request body --------------------------------------------------------------------------

  onRequestBody(size: usize, endOfStream: bool): BodyAction {
    const cfg = this.config;
    if (cfg === null || this.finished) return BodyAction.Continue;
    if (size > cfg.maxBodyBytes) {
      this.finished = true;
      this.refuseTooLarge(cfg);
      return BodyAction.StopIterationAndBuffer;
    }
    this.bodyBytes = size;
    if (!endOfStream) return BodyAction.StopIterationAndBuffer;
    if (size == 0) {
      // HTTP/2 clients end a bodiless request with an empty DATA frame.
      this.finished = true;
      this.refuse(cfg, ClientError.MissingBody);
      return BodyAction.StopIterationAndBuffer;
    }
    this.finishBody(cfg, size);
    return BodyAction.Continue;
  }

  // HTTP/2 requests with trailers end on the trailers, not on a body chunk.
  onRequestTrailers(): void {
    const cfg = this.config;
    if (cfg === null || this.finished) return;
    if (this.bodyBytes == 0) {
      this.finished = true;
      this.refuse(cfg, ClientError.MissingBody);
      return;
    }
    this.finishBody(cfg, cfg.maxBodyBytes + 1);
  }

  // Reads the buffered body (at most `maxRead` bytes) and answers or forwards it.
  private finishBody(cfg: RouterConfig, maxRead: usize): void {
    this.finished = true;
    if (!readBuffer(BufferType.RequestBody, maxRead)) {
      log(LogLevel.Error, LOG_PREFIX + "could not read the request body from the host");
      this.refuse(cfg, ClientError.BodyUnreadable);
      return;
    }
    // Own the block before routing: routing makes further host calls.
    const body = hostData, size = hostSize;
    if (size > cfg.maxBodyBytes) this.refuseTooLarge(cfg);
    else if (size == 0) this.refuse(cfg, ClientError.MissingBody);
    else this.routeBody(cfg, body, size);
    freeHostBlock(body);
  }

  // Routes the complete buffered body. Returns after answering the client or preparing the request.
  private routeBody(cfg: RouterConfig, body: usize, size: usize): void {
    const root = this.root!, scratch = root.scratch;
    const features = scratch.features, decision = scratch.decision;
    // Only configurations that detect tasks pay for recording where the user text is.
    scratch.scanner.scan(body, size, features, cfg.detection !== null);
    const error = features.error;
    if (error != ClientError.None) {
      if (!this.jsonContentType && isNotAJsonObject(error)) {
        const got = this.contentType.length > 0 ? "Content-Type \"" + this.contentType + "\"" : "no Content-Type";
        this.refuse(cfg, ClientError.UnsupportedMediaType, got);
      } else {
        this.refuse(cfg, error, error == ClientError.InvalidJson ? features.errorOffset.toString() : "");
      }
      return;
    }
    features.pathIndex = this.pathIndex;
    const signals = unchecked(root.signals[cfg.catalog.id]);
    const nowMs = wallClockMs();
    const probe = decideClaimingProbe(root.live, cfg, body, features, signals, nowMs, decision);
    if (decision.outcome == Outcome.PassThrough) {
      this.report.refused(cfg, RequestOutcome.PassedThrough, decision);
      this.report.logDecision(cfg, decision, signals, nowMs);
      return;
    }
    if (decision.outcome == Outcome.NoCandidate) {
      const row = unchecked(CLIENT_ERRORS[ClientError.ModelNotAvailable]);
      this.report.refused(cfg, row.outcome, decision, decision.requested);
      if (root.metrics !== null) this.report.noteSkips(decision);
      this.report.logDecision(cfg, decision, signals, nowMs);
      replyWithError(this.api, row.status, row.code, row.message(explainNoCandidate(cfg, decision, signals, nowMs)));
      return;
    }
    // Also where no plan is used (Higress): a client's list must name catalog models either way.
    const plan = scratch.plan;
    if (!planFailover(cfg, decision, features, body, signals, nowMs, plan)) {
      this.refuse(cfg, ClientError.UnknownFallback, clientListError, decision.requested);
      return;
    }
    const model = decision.model!;
    const literal = model.upstreamModelLiteral;
    const modelAt = rewriteModel(body, size, features, literal);
    if (modelAt < 0) {
      log(LogLevel.Error, LOG_PREFIX + "the host refused the rewritten request body");
      this.refuse(cfg, ClientError.RewriteRefused, "", decision.requested);
      return;
    }
    replaceRequestHeader(cfg.upstreamHeader, model.upstreamBytes);
    replaceRequestHeader(cfg.modelHeader, model.nameBytes);
    this.chosenModel = model.index;
    if (planFailovers && plan.length > 1) {
      handOverPlan(cfg, plan, this.id, root.plugin!.fingerprint, <u32>modelAt, <u32>(modelAt + literal.byteLength), this.path.ptr, this.path.size);
    }
    if (decision.detected) {
      replaceRequestHeader(cfg.taskHeader, unchecked(TASK_HEADER_VALUES[decision.task]));
      replaceRequestHeader(cfg.complexityHeader, unchecked(TIER_HEADER_VALUES[decision.tier]));
    }
    // The provider parses what the client sent as JSON only if it is labelled so.
    if (!this.jsonContentType) replaceRequestHeader(CONTENT_TYPE, APPLICATION_JSON);
    if (clearRouteCacheExplicitly) callForeignFunction(CLEAR_ROUTE_CACHE);
    this.report.routed(cfg, model, decision, features, root.metrics !== null);
    this.report.logDecision(cfg, decision, signals, nowMs);
    this.watchResponse(root, cfg, decision, model.index, probe, nowMs);
  }

  // Answers with a row of the error catalogue (client_errors.ts), counted under its outcome.
  private refuse(cfg: RouterConfig, error: ClientError, detail: string = "", route: i32 = -1): void {
    const row = unchecked(CLIENT_ERRORS[error]);
    if (row.outcome != RequestOutcome.None) this.report.refused(cfg, row.outcome, this.root!.scratch.decision, route);
    replyWithError(this.api, row.status, row.code, row.message(detail));
  }

  private refuseTooLarge(cfg: RouterConfig): void {
    this.refuse(cfg, ClientError.RequestTooLarge, cfg.maxBodyBytes.toString());
  }

  // ---- the response --------------------------------------------------------------------------

  // Starts watching the forwarded request's response, for the live statistics of its model and the
  // metrics.
  private watchResponse(root: RootContext, cfg: RouterConfig, decision: Decision, modelIndex: i32, probe: bool, nowMs: f64): void {
    const live = root.live;
    const liveOn = live !== null && live.catalog(cfg.catalog.id) !== null;
    if (!liveOn && root.metrics === null) return;
    const features = root.scratch.features;
    const o = this.observation;
    o.begin(cfg.catalog.id, modelIndex, features.stream, decision.expectedOutputTokens(features, cfg), nowMs);
    o.requestStartMs = this.heldAtMs;
    o.probe = probe;
  }

  // The opt-in decision header, from the response-headers callback (the Higress build only).
  onResponseHeaders(): void {
    const cfg = this.config;
    if (cfg !== null) this.report.writeDecisionHeader(cfg);
  }

  onResponseBody(size: usize, endOfStream: bool): void {
    const o = this.observation;
    if (o.active) observeBody(o, size, endOfStream);
  }

  // The stream is over (on_log; on_delete for a host that never logs), aborted or not: the
  // request's counts, and what its response says about its model.
  onLog(): void {
    const root = this.root;
    if (root === null) return;
    const o = this.observation;
    const nowMs = o.active ? observeEnd(o) : 0;
    // Counted and measured as the model of the last attempt when Envoy moved the request.
    if (o.active && this.attempts.count > 0) {
      const served = o.takeLastAttempt(this.attempts, this.chosenModel);
      if (this.report.model >= 0) this.report.model = served;
    }
    const metrics = root.metrics, cfg = this.config;
    if (metrics !== null && cfg !== null) this.report.count(metrics, cfg, o);
    if (!o.active) return;
    const live = root.live;
    if (live !== null) {
      if (this.attempts.count > 0) commitFailedAttempts(live, o.catalogId, this.attempts, nowMs);
      commitEnd(live, o, nowMs);
    }
    o.clear();
  }
}
