// What happens after the downstream Wasm filter let a request go: Envoy's router picks a host,
// runs the optional upstream Wasm filter once per attempt, retries per the route's retry policy
// (across an aggregate cluster with previous_priorities), and the response travels back through
// the upstream filter, the router and the downstream filter to the client. Also the replies Envoy
// makes itself (connect failure, reset, timeout, no healthy upstream, cluster not found) and the
// filter's own local reply, which Envoy sends through the same response path.
//
// Timing: the request path takes no time; every upstream event happens at `at` ms after its
// attempt started, on the process clock, so ticks of every VM fire in between as they would.
import { HeadersStatus, DataStatus, TrailersStatus } from "./abi.ts";
import { HeaderMap } from "./headers.ts";
import type { ProxyWasmHost, RequestOptions, RequestResult, UpstreamRequest } from "./host.ts";
import { localReplyHeaders, lookup, makeLocal } from "./host.ts";
import type { HeaderPairs } from "./pairs.ts";
import { type FilterMetadata, ResponseFlag, type UpstreamHostInfo } from "./properties.ts";
import {
  type AttemptAnswer,
  type ClientResponse,
  type EnvoyReplyKind,
  isEnvoyReply,
  ROUTER_REPLIES,
  type TimedChunk,
  type UpstreamAnswer,
} from "./response.ts";
import { BodyBuffer, convertData, convertHeaders, convertTrailers, type LocalReply, StreamInfo, type StreamState } from "./stream.ts";

export interface HostSpec {
  /** "IP:port" (upstream.address). */
  address: string;
  /** Endpoint metadata (xds.upstream_host_metadata.filter_metadata). */
  metadata?: FilterMetadata;
}

export interface ClusterSpec {
  /** Endpoints; an empty list answers no_healthy_upstream. */
  hosts?: HostSpec[];
  /** envoy.clusters.aggregate: child clusters in priority order. */
  aggregate?: string[];
}

export interface UpstreamTopology {
  clusters?: Record<string, ClusterSpec>;
}

export interface RetryPolicy {
  /** retry_on, e.g. "5xx,reset,connect-failure,retriable-status-codes". */
  retryOn: string;
  /** num_retries (Envoy's default: 1). */
  numRetries?: number;
  retriableStatusCodes?: number[];
  /** retry_priority envoy.retry_priorities.previous_priorities (update_frequency 1). */
  previousPriorities?: boolean;
  /** Delay before each retry, ms (Envoy: jittered from base_interval 25 ms; fixed here). */
  backOffMs?: number;
}

export interface RouteSpec {
  /** Route timeout in ms from the end of the request (Envoy default 15000; 0 disables it). */
  timeoutMs?: number;
  retryPolicy?: RetryPolicy;
  /**
   * The route's response_headers_to_add, all with append_action OVERWRITE_IF_EXISTS_OR_ADD, added by
   * the router to an upstream's response (RouteEntry::finalizeResponseHeaders, before the filters
   * see it; not to local replies). A value is literal text and `%FILTER_STATE(<key>:PLAIN)%`
   * commands (`wasm.<k>` for what a Wasm filter set as `<k>`); an empty result adds nothing and
   * keeps the upstream's header. Other commands throw.
   */
  responseHeadersToAdd?: Array<{ key: string; value: string }>;
}

export type AttemptResult =
  | "pending"
  | "response"
  | "retried"
  | "connect-failure"
  | "reset-before-response"
  | "response-timeout"
  | "reset-after-response"
  | "client-abort";

export interface AttemptRecord {
  attempt: number;
  /** The cluster the host belongs to (a child of an aggregate). */
  cluster: string;
  host: string;
  /** ms since the request started. */
  startedAtMs: number;
  /** What the upstream received (after the upstream filter), once the headers left. */
  request: UpstreamRequest | null;
  contentLengthMismatch: boolean;
  /** No content-length: the body goes out chunked. */
  chunked: boolean;
  result: AttemptResult;
  status?: number;
}

export interface ExchangeRecord {
  attempts: AttemptRecord[];
  client: ClientResponse | null;
  responseCode?: number;
  details?: string;
  flags: bigint;
  /** request.duration in ms once the stream ended. */
  durationMs?: number;
  /** Nothing ever answered and no route timeout was set: the request hung. */
  hung?: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
const toBytes = (b: string | Uint8Array): Uint8Array => (typeof b === "string" ? enc.encode(b) : b);

// `text` is decoded when a test reads it: decoding every forwarded body would charge the host's
// own work (a megabyte body takes longer to decode than the plugin takes to route it) to benchmarks.
function upstreamRequest(cluster: string, headers: HeaderPairs, body: Uint8Array): UpstreamRequest {
  let text: string | undefined;
  return {
    cluster,
    headers,
    body,
    get text() { return (text ??= dec.decode(body)); },
    header: (n) => lookup(headers, n),
    headerAll: (n) => headers.filter(([k]) => k === n.toLowerCase()).map(([, v]) => v),
  };
}

/** HTTP date of the wall clock (the HCM adds `date` when the response has none). */
function httpDate(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toUTCString();
}

class Attempt {
  ctx: StreamState | null = null;
  released = false;
  stalled = false;
  sentHeaders: HeaderMap | null = null;
  readonly sentBody = new BodyBuffer();
  buffered = new BodyBuffer();
  buffering = false;
  finished = false;
  constructor(
    readonly record: AttemptRecord,
    readonly startMs: number,
  ) {}
}

export class Exchange {
  private readonly info: StreamInfo;
  private readonly route: Required<Pick<RouteSpec, "timeoutMs">> & RouteSpec;
  private initialCluster: string | null = null;
  private cluster: string | null = null;
  private noHealthy = false;
  private requestComplete = false;
  private readonly routerBody = new BodyBuffer();
  private bodySeen = false;
  private current: Attempt | null = null;
  private readonly attempts: Attempt[] = [];
  private readonly tried = new Set<number>();
  private sawUpstreamHeaders = false;
  private client: ClientResponse | null = null;
  /** The response header map the HCM sent (what on_log reads). */
  private responseMap: HeaderMap | null = null;
  private responded = false;
  private readonly record: ExchangeRecord = { attempts: [], client: null, flags: 0n };

  constructor(
    private readonly host: ProxyWasmHost,
    private readonly s: StreamState,
    private readonly req: RequestOptions,
    private readonly res: RequestResult,
  ) {
    this.info = s.info!;
    this.route = { timeoutMs: 15_000, ...host.route, ...req.route };
  }

  private get clock() {
    return this.host.process.clock;
  }
  private startMs(): number {
    return Number(this.info.startMono) / 1e6;
  }
  private nowMs(): number {
    return this.clock.elapsedMs();
  }

  // ---------------------------------------------------------------- routing

  /** The HCM picks the route before the filter chain runs (cluster_header resolved here). */
  selectRoute(): void {
    this.initialCluster = this.host.router.resolve(this.s.headers);
    // xds.cluster_name comes from the route's cluster, known before any filter runs.
    if (this.initialCluster !== null) this.info.cluster = this.initialCluster;
  }

  /**
   * The router's decodeHeaders. "cluster-not-found": the route's cluster does not exist;
   * "no-healthy-upstream": no host to send to. Either way the router replies at once, so the
   * filter sees no request body.
   */
  onRequestHeaders(endStream: boolean): "ok" | "cluster-not-found" | "no-healthy-upstream" {
    const s = this.s;
    this.cluster = s.routeCacheDirty ? this.host.router.resolve(s.headers) : this.initialCluster;
    if (this.cluster === null) {
      this.info.cluster = undefined;
      return "cluster-not-found";
    }
    this.info.cluster = this.cluster;
    if (endStream) this.requestComplete = true;
    if (this.childClusters().every((c) => this.hostsOf(c).length === 0)) {
      this.noHealthy = true;
      this.info.attempts = 1;
      // The expected-timeout header is set before the host lookup fails.
      if (this.route.timeoutMs > 0) s.headers.setInPlace("x-envoy-expected-rq-timeout-ms", String(this.route.timeoutMs));
      return "no-healthy-upstream";
    }
    this.beginAttempt(1);
    return "ok";
  }

  onRequestData(data: Uint8Array, endStream: boolean): void {
    this.bodySeen = true;
    this.routerBody.append(data);
    if (endStream) this.requestComplete = true;
    const a = this.current;
    if (a && a.record.attempt === 1 && !a.finished) this.attemptData(a, data, endStream);
  }

  onRequestTrailers(): void {
    this.requestComplete = true;
  }

  private childClusters(): string[] {
    const spec = this.host.topology.clusters?.[this.cluster!];
    return spec?.aggregate ?? [this.cluster!];
  }

  private hostsOf(cluster: string): HostSpec[] {
    const spec = this.host.topology.clusters?.[cluster];
    if (spec?.hosts) return spec.hosts;
    if (spec?.aggregate) return [];
    // A cluster the test named without endpoints gets one loopback endpoint of its own.
    const known = this.host.router.clusters.has(cluster) || spec !== undefined;
    if (!known) return [];
    const i = [...this.host.router.clusters].indexOf(cluster);
    return [{ address: `127.0.0.1:${10000 + Math.max(0, i)}` }];
  }

  /**
   * Host selection per attempt. Aggregate + previous_priorities: each retry moves to the next
   * child (priority) not tried yet, wrapping around once all were tried; without it every attempt
   * stays on the first child. Inside a cluster: round robin, avoiding hosts already tried.
   */
  private pickHost(n: number): { cluster: string; host: HostSpec } {
    const children = this.childClusters();
    const usable = children.map((c, i) => ({ c, i })).filter(({ c }) => this.hostsOf(c).length > 0);
    let choice = usable[0];
    if (this.route.retryPolicy?.previousPriorities && n > 1) {
      let next = usable.find(({ i }) => !this.tried.has(i));
      if (!next) {
        this.tried.clear();
        next = usable[0];
      }
      choice = next;
    }
    this.tried.add(choice.i);
    const hosts = this.hostsOf(choice.c);
    const used = new Set(this.attempts.map((a) => a.record.host));
    const fresh = hosts.filter((h) => !used.has(h.address));
    const pool = fresh.length ? fresh : hosts;
    return { cluster: choice.c, host: pool[(n - 1) % pool.length] };
  }

  // ---------------------------------------------------------------- attempts (request side)

  private beginAttempt(n: number): Attempt {
    const { cluster, host } = this.pickHost(n);
    const hostInfo: UpstreamHostInfo = { address: host.address, metadata: host.metadata };
    this.info.attempts = n;
    this.info.host = hostInfo;
    const record: AttemptRecord = {
      attempt: n,
      cluster,
      host: host.address,
      startedAtMs: this.nowMs() - this.startMs(),
      request: null,
      contentLengthMismatch: false,
      chunked: false,
      result: "pending",
    };
    const a = new Attempt(record, this.nowMs());
    this.attempts.push(a);
    this.record.attempts.push(record);
    this.current = a;
    const headers = this.s.headers;
    // Router::Filter adds the expected timeout (the time left of the route timeout) per attempt.
    if (this.route.timeoutMs > 0) {
      const left = Math.max(0, Math.floor(this.route.timeoutMs - (this.nowMs() - this.startMs())));
      headers.setInPlace("x-envoy-expected-rq-timeout-ms", String(left));
    }
    let up = this.host.rootById(undefined, true);
    if (up?.forDownstream && !up.forDownstream.includes(this.s.root!.rootId)) up = undefined;
    const headersEnd = this.requestComplete && !this.bodySeen;
    if (up && !this.host.vmFailed) {
      const ctx = this.host.createStream(up, headers, this.s.properties);
      ctx.downstream = this.s;
      ctx.attempt = n;
      ctx.info = new StreamInfo(this.info.startWall, this.info.startMono);
      ctx.info.attempts = n;
      ctx.info.host = hostInfo;
      ctx.info.cluster = this.cluster!;
      if (this.sawUpstreamHeaders) ctx.info.details = "via_upstream";
      a.ctx = ctx;
      this.host.callStream(ctx, this.host.fns.create ?? (() => 0), ctx.id, up.id);
      ctx.headersHeld = true;
      if (this.host.fns.requestHeaders) {
        const raw = this.host.callStream(ctx, this.host.fns.requestHeaders, ctx.id, headers.size, headersEnd ? 1 : 0);
        const conv = convertHeaders(raw, up.passStopIteration, ctx.stopNextIteration);
        ctx.stopNextIteration = false;
        if (conv === HeadersStatus.Continue || conv === HeadersStatus.ContinueAndEndStream) this.releaseAttempt(a);
        else if (conv !== HeadersStatus.StopIteration) a.stalled = true; // StopAll: waits forever
      } else this.releaseAttempt(a);
    } else this.releaseAttempt(a);
    // A retry gets the router's copy of the original request body, in one piece.
    if (n > 1 && this.bodySeen) this.attemptData(a, this.routerBody.bytes().slice(), this.requestComplete);
    return a;
  }

  private releaseAttempt(a: Attempt): void {
    if (a.released) return;
    a.released = true;
    a.sentHeaders = this.s.headers.clone();
    if (a.ctx) a.ctx.headersHeld = false;
    this.updateRecord(a);
  }

  private attemptData(a: Attempt, data: Uint8Array, endStream: boolean): void {
    const ctx = a.ctx;
    if (!ctx || !this.host.fns.requestBody) {
      a.sentBody.append(data);
      this.updateRecord(a);
      return;
    }
    if (a.stalled) return;
    let visible: BodyBuffer;
    if (a.buffering) {
      a.buffered.append(data);
      visible = a.buffered;
    } else {
      visible = new BodyBuffer(data.length);
      visible.append(data);
    }
    ctx.body = visible;
    let raw: number;
    try {
      raw = this.host.callStream(ctx, this.host.fns.requestBody, ctx.id, visible.length, endStream ? 1 : 0);
    } finally {
      ctx.body = null;
    }
    const conv = convertData(raw, ctx.stopNextIteration);
    ctx.stopNextIteration = false;
    if (conv === DataStatus.Continue) {
      this.releaseAttempt(a);
      a.sentBody.append(visible.bytes());
      a.buffered = new BodyBuffer();
      a.buffering = false;
    } else if (conv === DataStatus.StopIterationAndBuffer || conv === DataStatus.StopIterationAndWatermark) {
      if (visible !== a.buffered) {
        a.buffered = new BodyBuffer();
        a.buffered.append(visible.bytes());
      }
      a.buffering = true;
    } else {
      a.buffered = new BodyBuffer();
      a.buffering = false;
    }
    this.updateRecord(a);
  }

  private updateRecord(a: Attempt): void {
    if (!a.sentHeaders) return;
    const body = a.sentBody.bytes().slice();
    const cl = a.sentHeaders.first("content-length");
    a.record.request = upstreamRequest(a.record.cluster, a.sentHeaders.entries, body);
    a.record.contentLengthMismatch = cl !== undefined && cl !== String(body.length);
    a.record.chunked = cl === undefined;
  }

  private finishAttempt(a: Attempt): void {
    if (a.finished) return;
    a.finished = true;
    // Upstream filter contexts get on_done and on_delete, never on_log.
    if (a.ctx) this.host.finishStream(a.ctx, false);
  }

  // ---------------------------------------------------------------- after the request path

  afterRequestPath(): void {
    const res = this.res;
    if (res.outcome === "local") {
      const r = this.s.localReply!;
      this.info.details = r.details;
      this.respondLocal(r, 0n);
    } else if (res.outcome === "no-cluster") {
      this.routerReply("cluster-not-found");
    } else if (res.outcome === "envoy-reply") {
      this.responded = true;
      this.routerReply("no-healthy-upstream");
    } else if (res.outcome === "upstream") {
      const first = this.attempts[0];
      if (first?.record.request) {
        res.upstream = upstreamRequest(this.cluster!, first.record.request.headers, first.record.request.body);
        res.contentLengthMismatch = first.record.contentLengthMismatch;
      } else {
        const cl = this.s.headers.first("content-length");
        res.upstream = upstreamRequest(this.cluster!, this.s.headers.clone().entries, res.finalBody);
        res.contentLengthMismatch = cl !== undefined && cl !== String(res.finalBody.length);
      }
      if (this.req.response !== undefined) this.runAttempts();
    }
  }

  /** Stream end: the current attempt's filter, then the downstream filter's log, done, delete. */
  teardown(created: boolean): void {
    // A client that went away tears the downstream stream down first; the router's upstream
    // request (and its filter) goes after it. Otherwise the upstream side has already ended.
    const clientLeft = this.client?.reset === "client";
    if (!clientLeft) for (const a of this.attempts) if (!a.finished) this.finishAttempt(a);
    if (this.info.endMono === undefined) this.info.endMono = this.clock.monotonic();
    this.record.responseCode = this.info.responseCode;
    this.record.details = this.info.details;
    this.record.flags = this.info.flags;
    this.record.durationMs = Number(this.info.endMono - this.info.startMono) / 1e6;
    this.record.client = this.client;
    if (this.responded) {
      this.res.exchange = this.record;
      this.res.response = this.client ?? undefined;
    }
    if (!created || this.host.vmFailed) {
      if (clientLeft) for (const a of this.attempts) a.finished = true;
      return;
    }
    this.s.accessLog = {
      request: this.s.headers,
      response: this.responseMap,
      trailers: this.client?.trailers ? new HeaderMap(this.client.trailers) : null,
    };
    try {
      this.host.finishStream(this.s, true);
    } finally {
      if (clientLeft) for (const a of this.attempts) if (!a.finished) this.finishAttempt(a);
    }
  }

  // ---------------------------------------------------------------- attempts (response side)

  private answerFor(n: number): AttemptAnswer {
    const r = this.req.response;
    if (typeof r === "function") {
      const rec = this.attempts[n - 1].record;
      return r({ attempt: n, cluster: rec.cluster, host: rec.host });
    }
    const list = r === undefined ? [{ status: 200 }] : Array.isArray(r) ? r : [r];
    return list[Math.min(n, list.length) - 1];
  }

  private retriesLeft(n: number): boolean {
    const p = this.route.retryPolicy;
    return p !== undefined && n - 1 < (p.numRetries ?? 1);
  }

  private retryOn(): Set<string> {
    return new Set((this.route.retryPolicy?.retryOn ?? "").split(",").map((x) => x.trim()).filter(Boolean));
  }

  private retriableReset(kind: EnvoyReplyKind): boolean {
    const on = this.retryOn();
    if (kind === "connect-failure") return on.has("connect-failure") || on.has("5xx") || on.has("gateway-error");
    if (kind === "reset-before-response") return on.has("reset") || on.has("5xx") || on.has("gateway-error");
    return false;
  }

  private retriableStatus(status: number): boolean {
    const on = this.retryOn();
    if (on.has("5xx") && status >= 500) return true;
    if (on.has("gateway-error") && (status === 502 || status === 503 || status === 504)) return true;
    if (on.has("retriable-status-codes") && (this.route.retryPolicy?.retriableStatusCodes ?? []).includes(status)) return true;
    return false;
  }

  /** Advances the process clock to `atMs` (ms since process start); false if the client left first. */
  private waitUntil(atMs: number): boolean {
    if (!Number.isFinite(atMs)) throw new Error("the emulated clock cannot wait forever");
    const abort = this.req.clientAbortAt;
    if (abort !== undefined && this.startMs() + abort <= atMs) {
      this.clock.advanceTo(this.startMs() + abort);
      this.clientAbort();
      return false;
    }
    this.clock.advanceTo(atMs);
    this.host.process.drain();
    return true;
  }

  private clientAbort(): void {
    this.info.details = "downstream_remote_disconnect";
    this.info.flags |= ResponseFlag.DownstreamConnectionTermination;
    const c = this.ensureClient();
    c.reset = "client";
    for (const a of this.attempts) if (a.record.result === "pending") a.record.result = "client-abort";
  }

  private runAttempts(): void {
    this.responded = true;
    const timeoutAt = this.route.timeoutMs > 0 ? this.startMs() + this.route.timeoutMs : Infinity;
    let n = 1;
    for (;;) {
      const a = this.current!;
      const ans = this.answerFor(n);
      const timeout = (): void => {
        if (timeoutAt === Infinity) {
          // No route timeout: the request just hangs until the client gives up (if it does).
          this.record.hung = true;
          const abort = this.req.clientAbortAt;
          if (abort !== undefined) this.waitUntil(this.startMs() + abort);
          return;
        }
        if (!this.waitUntil(timeoutAt)) return;
        a.record.result = "response-timeout";
        this.finishAttempt(a);
        this.routerReply("response-timeout");
      };
      if (isEnvoyReply(ans)) {
        if (ans.envoy === "cluster-not-found" || ans.envoy === "no-healthy-upstream") {
          this.finishAttempt(a);
          this.routerReply(ans.envoy);
          return;
        }
        const at = ans.envoy === "response-timeout" ? timeoutAt : a.startMs + (ans.at ?? 0);
        if (ans.envoy === "response-timeout" || at >= timeoutAt || a.stalled || !a.released) return timeout();
        if (!this.waitUntil(at)) return;
        a.record.result = ans.envoy;
        this.finishAttempt(a);
        const retriable = this.retriableReset(ans.envoy);
        if (retriable && this.retriesLeft(n)) {
          n = this.retry(n);
          if (n === 0) return;
          continue;
        }
        if (retriable && this.route.retryPolicy) this.info.flags |= ResponseFlag.UpstreamRetryLimitExceeded;
        this.routerReply(ans.envoy);
        return;
      }
      const headersAt = a.startMs + (ans.headersAt ?? 0);
      if (headersAt >= timeoutAt || a.stalled || !a.released) return timeout();
      if (!this.waitUntil(headersAt)) return;
      const status = ans.status ?? 200;
      const map = HeaderMap.from(ans.headers);
      map.add(":status", String(status));
      // Envoy's router notes who answered in the request's stream info as soon as an attempt has
      // response headers, retried or not: an upstream filter (which reads the request's details and
      // code) sees via_upstream from then on, and a client leaving later overwrites it.
      this.info.details = "via_upstream";
      const upReleased = a.ctx ? this.encodeHeaders(a.ctx, map, this.endsOnHeaders(ans)) : true;
      this.sawUpstreamHeaders = true;
      const retriable = this.retriableStatus(status);
      if (retriable && this.retriesLeft(n)) {
        // An upstream filter holding the headers keeps them from the router: the answer's body goes
        // through the filter until it lets them go, and only then does the router see the status
        // and retry (F: upstream-holds-retried-error).
        if (!upReleased && !this.bodyUntilReleased(a, ans)) return;
        a.record.result = "retried";
        a.record.status = status;
        this.finishAttempt(a);
        n = this.retry(n);
        if (n === 0) return;
        continue;
      }
      if (retriable && this.route.retryPolicy) this.info.flags |= ResponseFlag.UpstreamRetryLimitExceeded;
      a.record.result = "response";
      a.record.status = status;
      this.deliver(a, ans, map, upReleased, timeoutAt);
      return;
    }
  }

  /**
   * The body of an answer whose headers the attempt's upstream filter holds, through that filter
   * chunk by chunk (then the codec's empty end-of-stream call) until it releases the headers. False
   * when the client left first.
   */
  private bodyUntilReleased(a: Attempt, ans: UpstreamAnswer): boolean {
    for (const c of this.chunksOf(ans)) {
      if (!this.waitUntil(a.startMs + c.at)) return false;
      if (this.encodeData(a.ctx!, toBytes(c.data), false).releasedHeaders) return true;
    }
    this.encodeData(a.ctx!, EMPTY, true);
    return true;
  }

  /** Backs off, then starts the next attempt; returns its number, or 0 when the client left. */
  private retry(n: number): number {
    if (!this.waitUntil(this.nowMs() + (this.route.retryPolicy?.backOffMs ?? 25))) return 0;
    this.beginAttempt(n + 1);
    return n + 1;
  }

  private endsOnHeaders(ans: UpstreamAnswer): boolean {
    const map = HeaderMap.from(ans.headers);
    return map.first("content-length") === "0" && !ans.trailers;
  }

  private chunksOf(ans: UpstreamAnswer): TimedChunk[] {
    const at0 = ans.headersAt ?? 0;
    if (ans.body === undefined) return [];
    if (typeof ans.body === "string" || ans.body instanceof Uint8Array) return [{ at: at0, data: ans.body }];
    return ans.body.map((c) => (typeof c === "string" || c instanceof Uint8Array ? { at: at0, data: c } : c));
  }

  /** A response_headers_to_add value: literal text with %FILTER_STATE(key:PLAIN)% commands. */
  private formatHeaderValue(format: string): string {
    return format.replace(/%([A-Z_]+)\(([^)]*)\)%/g, (_all, command: string, arg: string) => {
      const m = /^wasm\.(.+):PLAIN$/.exec(arg);
      if (command !== "FILTER_STATE" || !m) throw new Error(`test host: header value command %${command}(${arg})% is not emulated`);
      const v = this.s.filterState.get(m[1]);
      return v === undefined ? "" : new TextDecoder().decode(v);
    });
  }

  /** The upstream response reaches the client: router, downstream filter, chunk by chunk. */
  private deliver(a: Attempt, ans: UpstreamAnswer, map: HeaderMap, upReleased: boolean, timeoutAt: number): void {
    const up = a.ctx;
    this.info.responseCode = Number(map.first(":status"));
    this.info.details = "via_upstream";
    this.responded = true;
    // The router sees the headers once the upstream filter lets them go (F: upstream-translates-whole):
    // it drops the upstream's keep-alive header and adds the time the upstream took.
    const routerEdits = (): void => {
      map.remove("keep-alive");
      map.add("x-envoy-upstream-service-time", String(Math.round(this.nowMs() - a.startMs)));
      for (const h of this.route.responseHeadersToAdd ?? []) {
        const value = this.formatHeaderValue(h.value);
        if (value === "") continue;
        map.remove(h.key);
        map.add(h.key, value);
      }
    };
    const chunks = this.chunksOf(ans);
    const trailers = ans.trailers !== undefined ? HeaderMap.from(ans.trailers) : null;
    const headersEnd = this.endsOnHeaders(ans);
    if (upReleased) routerEdits();
    let downReleased = upReleased ? this.encodeDownHeaders(map, headersEnd) : false;
    if (headersEnd) {
      this.finishAttempt(a);
      this.completeClient();
      return;
    }
    const pass = (data: Uint8Array, eos: boolean): void => {
      let out: Uint8Array | null = data;
      if (up) {
        const r = this.encodeData(up, data, eos);
        out = r.out;
        if (r.releasedHeaders && !upReleased) {
          upReleased = true;
          routerEdits();
          downReleased = this.encodeDownHeaders(map, false);
        }
      }
      if (eos) this.finishAttempt(a);
      if (out === null || !upReleased) return;
      const r = this.encodeData(this.s, out, eos);
      if (r.releasedHeaders && !downReleased) {
        downReleased = true;
        this.sendClientHeaders(map);
      }
      if (r.out && downReleased) this.sendClientData(r.out);
    };
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      const at = a.startMs + c.at;
      if (at >= timeoutAt) {
        // The route timeout also bounds the body: the stream is reset once it passes.
        if (!this.waitUntil(timeoutAt)) return;
        this.info.details = "response_timeout";
        this.info.flags |= ResponseFlag.UpstreamRequestTimeout;
        a.record.result = "response-timeout";
        this.finishAttempt(a);
        this.ensureClient().reset = "upstream";
        return;
      }
      if (!this.waitUntil(at)) return;
      pass(toBytes(c.data), false);
      if (ans.resetAfterChunks !== undefined && i + 1 >= ans.resetAfterChunks) {
        // HTTP/1.1 upstream closing mid-body: Envoy's codec reports a protocol error (the
        // attempt's filter is done before the router notes it in the request's details).
        a.record.result = "reset-after-response";
        this.finishAttempt(a);
        this.info.details = "upstream_reset_after_response_started{protocol_error}";
        this.info.flags |= ResponseFlag.UpstreamProtocolError;
        this.ensureClient().reset = "upstream";
        return;
      }
    }
    if (trailers) {
      if (up) this.encodeTrailers(up, trailers);
      this.finishAttempt(a);
      const flushed = this.encodeTrailers(this.s, trailers);
      if (flushed && flushed.length) this.sendClientData(flushed);
      this.ensureClient().trailers = trailers.entries;
      this.completeClient();
      return;
    }
    // Envoy's HTTP/1 codec ends every body with an empty end-of-stream frame (content-length or not).
    pass(EMPTY, true);
    this.completeClient();
  }

  // ---------------------------------------------------------------- local replies

  /** A reply Envoy's router makes itself, sent through the downstream filter's response path. */
  private routerReply(kind: EnvoyReplyKind): void {
    const r = ROUTER_REPLIES[kind];
    // After retries the reset text names the latest reason only.
    const body = this.attempts.length > 1 ? r.body.replace(" reset reason: ", " retried and the latest reset reason: ") : r.body;
    this.info.details = r.details;
    this.info.flags |= r.flags;
    const reply: LocalReply = { status: r.status, details: r.details, body: enc.encode(body), headers: [], grpcStatus: -1 };
    if (this.res.outcome === "no-cluster" || kind === "cluster-not-found") this.res.localResponse = makeLocal(reply, "envoy");
    this.respondLocal(reply, 0n);
  }

  /** sendLocalReply: headers (eos when there is no body), then the body in one data frame. */
  private respondLocal(r: LocalReply, flags: bigint): void {
    this.info.flags |= flags;
    this.info.responseCode = r.status;
    this.responded = true;
    const map = new HeaderMap(localReplyHeaders(r));
    const eos = r.body.length === 0;
    this.encodeDownHeaders(map, eos);
    if (!eos) {
      const out = this.encodeData(this.s, r.body.slice(), true);
      if (out.releasedHeaders) this.sendClientHeaders(map);
      if (out.out) this.sendClientData(out.out);
    }
    this.completeClient();
  }

  // ---------------------------------------------------------------- encode path of one filter

  private encodeDownHeaders(map: HeaderMap, eos: boolean): boolean {
    const released = this.encodeHeaders(this.s, map, eos);
    if (released) this.sendClientHeaders(map);
    return released;
  }

  /** encodeHeaders of one Wasm filter; true when the headers went on. */
  private encodeHeaders(ctx: StreamState, map: HeaderMap, eos: boolean): boolean {
    ctx.inResponse = true;
    ctx.respHeaders = map;
    ctx.respHeadersHeld = true;
    const fn = this.host.fns.responseHeaders;
    if (!fn || this.host.vmFailed) {
      ctx.respHeadersHeld = false;
      ctx.respHeadersSent = true;
      return true;
    }
    const raw = this.host.callStream(ctx, fn, ctx.id, map.size, eos ? 1 : 0);
    const conv = convertHeaders(raw, ctx.root!.passStopIteration, ctx.stopNextIteration);
    ctx.stopNextIteration = false;
    if (ctx === this.s) this.s.returns.push({ callback: "on_response_headers", raw, converted: conv, localReply: false });
    if (conv === HeadersStatus.Continue || conv === HeadersStatus.ContinueAndEndStream) {
      ctx.respHeadersHeld = false;
      ctx.respHeadersSent = true;
      return true;
    }
    return false;
  }

  /** encodeData of one Wasm filter: what it passes on (null: held or dropped). */
  private encodeData(ctx: StreamState, data: Uint8Array, eos: boolean): { out: Uint8Array | null; releasedHeaders: boolean } {
    const fn = this.host.fns.responseBody;
    if (!fn || this.host.vmFailed) return { out: data, releasedHeaders: false };
    let visible: BodyBuffer;
    if (ctx.respBuffering) {
      ctx.respBuffered.append(data);
      visible = ctx.respBuffered;
    } else {
      visible = new BodyBuffer(data.length);
      visible.append(data);
    }
    ctx.respBody = visible;
    let raw: number;
    try {
      raw = this.host.callStream(ctx, fn, ctx.id, visible.length, eos ? 1 : 0);
    } finally {
      ctx.respBody = null;
    }
    const conv = convertData(raw, ctx.stopNextIteration);
    ctx.stopNextIteration = false;
    if (ctx === this.s) this.s.returns.push({ callback: "on_response_body", raw, converted: conv, localReply: false });
    if (conv === DataStatus.Continue) {
      const out = visible.bytes().slice();
      ctx.respBuffered = new BodyBuffer();
      ctx.respBuffering = false;
      // Headers a StopIteration held go on now. Envoy keeps response_headers_ set, though: the
      // filter can still edit the map afterwards (it no longer reaches the client).
      const releasedHeaders = ctx.respHeadersHeld && !ctx.respHeadersSent;
      ctx.respHeadersSent = true;
      return { out, releasedHeaders };
    }
    if (conv === DataStatus.StopIterationAndBuffer || conv === DataStatus.StopIterationAndWatermark) {
      if (visible !== ctx.respBuffered) {
        ctx.respBuffered = new BodyBuffer();
        ctx.respBuffered.append(visible.bytes());
      }
      ctx.respBuffering = true;
      return { out: null, releasedHeaders: false };
    }
    ctx.respBuffered = new BodyBuffer();
    ctx.respBuffering = false;
    return { out: null, releasedHeaders: false };
  }

  /** encodeTrailers of one Wasm filter; returns body data it still held (flushed before trailers). */
  private encodeTrailers(ctx: StreamState, trailers: HeaderMap): Uint8Array | null {
    ctx.respTrailers = trailers;
    const fn = this.host.fns.responseTrailers;
    let held: Uint8Array | null = ctx.respBuffering ? ctx.respBuffered.bytes().slice() : null;
    if (fn && !this.host.vmFailed) {
      if (ctx.respBuffering) ctx.respBody = ctx.respBuffered;
      let raw: number;
      try {
        raw = this.host.callStream(ctx, fn, ctx.id, trailers.size);
      } finally {
        ctx.respBody = null;
      }
      const conv = convertTrailers(raw, ctx.stopNextIteration);
      ctx.stopNextIteration = false;
      if (ctx === this.s) this.s.returns.push({ callback: "on_response_trailers", raw, converted: conv, localReply: false });
      if (conv !== TrailersStatus.Continue) held = null;
      else if (ctx.respBuffering) held = ctx.respBuffered.bytes().slice();
    }
    ctx.respBuffering = false;
    ctx.respBuffered = new BodyBuffer();
    return held;
  }

  // ---------------------------------------------------------------- the client

  private ensureClient(): ClientResponse {
    if (this.client) return this.client;
    const headers: HeaderPairs = [];
    const c: ClientResponse = {
      status: 0,
      headers,
      chunks: [],
      body: EMPTY,
      text: "",
      trailers: null,
      complete: false,
      reset: null,
      headersAtMs: -1,
      header: (n) => lookup(c.headers, n),
      json: () => JSON.parse(c.text),
    };
    this.client = c;
    return c;
  }

  /**
   * The HCM finishes the headers after the filters, in the same map: hop-by-hop headers go, date
   * and server come. The access log (on_log) later reads this map, edits made after it was sent
   * included.
   */
  private sendClientHeaders(map: HeaderMap): void {
    const c = this.ensureClient();
    for (const h of ["connection", "transfer-encoding", "keep-alive"]) map.remove(h);
    if (!map.has("date")) map.add("date", httpDate(this.clock.now()));
    map.replace("server", "envoy");
    if (this.req.connectionClose) map.add("connection", "close");
    this.responseMap = map;
    c.headers = map.clone().entries;
    c.status = Number(map.first(":status"));
    c.headersAtMs = this.nowMs() - this.startMs();
  }

  private sendClientData(data: Uint8Array): void {
    if (data.length === 0) return;
    const c = this.ensureClient();
    c.chunks.push({ atMs: this.nowMs() - this.startMs(), data, text: dec.decode(data) });
    const all = new Uint8Array(c.body.length + data.length);
    all.set(c.body);
    all.set(data, c.body.length);
    c.body = all;
    c.text = dec.decode(all);
    this.info.bytesSent += data.length;
  }

  private completeClient(): void {
    const c = this.ensureClient();
    if (c.reset === null) c.complete = true;
  }
}
