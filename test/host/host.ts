// ProxyWasmHost: one proxy-wasm VM inside an emulated Envoy (or Higress) HTTP filter chain
// `[wasm filter] → [router with cluster_header]`. It loads a module like proxy-wasm-cpp-host,
// creates contexts in Envoy's order and drives each request through decodeHeaders / decodeData /
// decodeTrailers with Envoy's status conversions, buffering, limits, local replies and routing.
// The VM lives across requests (as in Envoy); nothing is re-instantiated per request.
import { readFileSync, statSync } from "node:fs";
import { type Abi, BufferType, DataStatus, HeadersStatus, MapType, Status, TrailersStatus } from "./abi.ts";
import { HeaderMap } from "./headers.ts";
import { type BufferRef, buildImports, type VmCore } from "./imports.ts";
import { checkImports, compile, detectAbi, type HostMode, linkImports, WasmLoadError } from "./loader.ts";
import { GuestMemory } from "./memory.ts";
import type { HeaderPairs } from "./pairs.ts";
import { Router } from "./router.ts";
import {
  BodyBuffer,
  type CallbackReturn,
  convertData,
  convertHeaders,
  convertTrailers,
  type LocalReply,
  StreamState,
} from "./stream.ts";
import type { ImportEntry, ExportEntry } from "./wasm-binary.ts";

export { WasmLoadError, type HostMode };

export type Bytes = string | Uint8Array;
export type HeaderInit = Record<string, string | string[]> | HeaderPairs;

export interface LoadOptions {
  /** Path to a .wasm file, or its bytes. */
  wasm: string | Uint8Array;
  /** envoy-default: Envoy without allow_on_headers_stop_iteration; envoy-allow-stop-iteration: with it
   *  (Envoy ≥ 1.35); higress: Higress's cpp-host fork (accepts 0_2_100 and its extra imports). */
  mode?: HostMode;
  /** Plugin configuration (buffer type 7). */
  configuration?: Bytes;
  /** VM configuration (buffer type 6). */
  vmConfiguration?: Bytes;
  /** Clusters the simulated router knows. */
  clusters?: string[];
  /** Route's cluster_header (default x-llm-upstream). */
  clusterHeader?: string;
  /** Extra properties; keys are paths with segments joined by "." or NUL ("xds.route_name"). */
  properties?: Record<string, Bytes>;
  routeName?: string;
  clusterName?: string;
  pluginName?: string;
  rootId?: string;
  vmId?: string;
  /** Request buffer limit in bytes (default 1 MiB in Envoy modes, 32 KiB in Higress mode). */
  bufferLimit?: number;
  /** Emulate an Envoy older than 1.33: foreign function clear_route_cache answers NOT_FOUND. */
  envoyBefore133?: boolean;
  /** Envoy's log level for the wasm component; lower-level lines are dropped (default 2 = info). */
  logLevel?: number;
  /** Keep at most this many log entries in host.logs (oldest dropped; default 100000). */
  maxLogs?: number;
  /** Clock for proxy_get_current_time_nanoseconds / clock_time_get (ns since epoch). */
  now?: () => bigint;
  /** Seed of the host's deterministic random_get. */
  seed?: number;
  /** Add the headers the HCM adds before filters run (x-request-id, x-forwarded-proto). Default true. */
  envoyHeaders?: boolean;
}

export interface RequestOptions {
  method?: string;
  path?: string;
  authority?: string;
  scheme?: string;
  headers?: HeaderInit;
  /** Absent: the headers frame ends the stream. Present (even ""): sent as data frames. */
  body?: Bytes;
  /** Split body into chunks of this many bytes (one decodeData per chunk). */
  chunkSize?: number;
  /** Explicit chunks (overrides body/chunkSize). */
  chunks?: Bytes[];
  trailers?: HeaderInit;
  /** Add content-length for the body as a client would (default true). */
  contentLength?: boolean;
  /** Per-request properties (override host-level ones). */
  properties?: Record<string, Bytes>;
  routeName?: string;
  clusterName?: string;
}

export type Outcome = "upstream" | "local" | "stalled" | "router-404" | "too-large" | "vm-failed" | "reset";

export interface LogEntry {
  level: number;
  message: string;
  contextId: number;
}

export interface LocalResponse {
  status: number;
  headers: HeaderPairs;
  body: Uint8Array;
  text: string;
  details: string;
  grpcStatus: number;
  /** "plugin" for send_local_response, "envoy" for replies Envoy itself makes (404, 413). */
  source: "plugin" | "envoy";
  header(name: string): string | undefined;
  json(): any;
}

export interface UpstreamRequest {
  cluster: string;
  headers: HeaderPairs;
  body: Uint8Array;
  text: string;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

export interface RequestResult {
  outcome: Outcome;
  contextId: number;
  localResponse?: LocalResponse;
  upstream?: UpstreamRequest;
  /** Request headers as the filter left them (the live map, also when no upstream request was made). */
  finalHeaders: HeaderMap;
  /** Body as the filter chain passed it on (or as buffered when the request did not go upstream). */
  finalBody: Uint8Array;
  routeCacheClears: number;
  returns: CallbackReturn[];
  /** The forwarded request carried a content-length that is not the forwarded body's length. */
  contentLengthMismatch: boolean;
  /** Request-header mutations rejected with BAD_ARGUMENT because the headers were already released. */
  rejectedHeaderMutations: number;
  bodyCallbacks: number;
  /** proxy_set_property values of this request. */
  setProperties: Record<string, string>;
  bufferLimit: number;
  localReplyCount: number;
  logs: LogEntry[];
  error?: string;
}

const dec = new TextDecoder("utf-8");
const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

const toBytes = (b: Bytes): Uint8Array => (typeof b === "string" ? enc.encode(b) : b);
const propKey = (k: string): string => (k.includes("\0") ? k : k.split(".").join("\0"));

class VmFailure extends Error {}

function lookup(pairs: HeaderPairs, name: string): string | undefined {
  const k = name.toLowerCase();
  for (const [hk, hv] of pairs) if (hk === k) return hv;
  return undefined;
}

function makeLocal(r: LocalReply, source: "plugin" | "envoy"): LocalResponse {
  // Envoy's encodeLocalReply: :status, then the filter's extra headers, then content-length and
  // (only when the body is non-empty and no content-type was given) content-type text/plain.
  const headers: HeaderPairs = [[":status", String(r.status)], ...r.headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string])];
  if (r.body.length > 0) {
    headers.push(["content-length", String(r.body.length)]);
    if (lookup(headers, "content-type") === undefined) headers.push(["content-type", "text/plain"]);
  }
  const text = dec.decode(r.body);
  return {
    status: r.status,
    headers,
    body: r.body,
    text,
    details: r.details,
    grpcStatus: r.grpcStatus,
    source,
    header: (n) => lookup(headers, n),
    json: () => JSON.parse(text),
  };
}

let requestIdCounter = 0;

export class ProxyWasmHost implements VmCore {
  // ---- VmCore state read by the host functions ----
  mem!: GuestMemory;
  starting = false;
  logLevel: number;
  stream: StreamState | null = null;

  // ---- public state ----
  readonly mode: HostMode;
  abi!: Abi;
  imports!: ImportEntry[];
  exports!: ExportEntry[];
  configured = false;
  vmStarted = false;
  /** Set once a trap (or proc_exit) killed the VM; every later request fails, as in Envoy. */
  vmFailed = false;
  failure?: string;
  logs: LogEntry[] = [];
  readonly router: Router;
  routeCacheClearsTotal = 0;

  private exportsObj!: Record<string, Function>;
  private mallocFn!: Function;
  private fnHeaders?: Function;
  private fnBody?: Function;
  private fnTrailers?: Function;
  private fnCreate!: Function;
  private fnDone?: Function;
  private fnDelete?: Function;
  private fnLog?: Function;
  private readonly rootId = 1;
  private nextContextId = 2;
  private currentContextId = 1;
  private requestLogs: LogEntry[] | null = null;
  private readonly pluginConfig: Uint8Array;
  /** Configuration handed to proxy_validate_configuration while it runs. */
  private pluginConfigOverride: Uint8Array | null = null;
  private readonly vmConfig: Uint8Array;
  private readonly props = new Map<string, Uint8Array>();
  private readonly streams = new Map<number, StreamState>();
  private readonly rootState = new Map<string, Uint8Array>();
  private readonly defaultBufferLimit: number;
  private readonly maxLogs: number;
  private readonly clock: () => bigint;
  private rng: number;
  private readonly passStopIteration: boolean;

  private constructor(readonly options: LoadOptions) {
    this.mode = options.mode ?? "envoy-allow-stop-iteration";
    this.logLevel = options.logLevel ?? 2;
    this.maxLogs = options.maxLogs ?? 100_000;
    this.pluginConfig = toBytes(options.configuration ?? "");
    this.vmConfig = toBytes(options.vmConfiguration ?? "");
    this.router = new Router(options.clusterHeader ?? "x-llm-upstream", options.clusters ?? []);
    this.defaultBufferLimit = options.bufferLimit ?? (this.mode === "higress" ? 32 * 1024 : 1024 * 1024);
    this.rng = (options.seed ?? 0x9e3779b9) >>> 0 || 1;
    const epoch = BigInt(Date.now()) * 1_000_000n;
    const hr0 = process.hrtime.bigint();
    this.clock = options.now ?? (() => epoch + (process.hrtime.bigint() - hr0));
    this.passStopIteration = false; // finalised once the ABI is known
    this.props.set("plugin_name", toBytes(options.pluginName ?? "model-router"));
    this.props.set("plugin_root_id", toBytes(options.rootId ?? ""));
    this.props.set("plugin_vm_id", toBytes(options.vmId ?? ""));
    for (const [k, v] of Object.entries(options.properties ?? {})) this.props.set(propKey(k), toBytes(v));
    this.applyRouteProps(this.props, options.routeName, options.clusterName);
  }

  /** Upstream Envoy ≥ 1.33 answers only xds.*; Higress's matcher reads the bare names too. */
  private applyRouteProps(m: Map<string, Uint8Array>, route?: string, cluster?: string): void {
    if (route !== undefined) {
      m.set("xds\0route_name", toBytes(route));
      if (this.mode === "higress") m.set("route_name", toBytes(route));
    }
    if (cluster !== undefined) {
      m.set("xds\0cluster_name", toBytes(cluster));
      if (this.mode === "higress") m.set("cluster_name", toBytes(cluster));
    }
  }

  static async load(options: LoadOptions): Promise<ProxyWasmHost> {
    const host = new ProxyWasmHost(options);
    let bytes: Uint8Array;
    let key: string | undefined;
    if (typeof options.wasm === "string") {
      const st = statSync(options.wasm);
      key = `${options.wasm}:${st.mtimeMs}:${st.size}`;
      bytes = readFileSync(options.wasm);
    } else bytes = options.wasm;
    const compiled = await compile(bytes, key);
    host.imports = compiled.info.imports;
    host.exports = compiled.info.exports;
    host.abi = detectAbi(compiled.info, host.mode);
    if (host.abi === "0_1_0") throw new WasmLoadError("ABI 0.1.0 is not emulated by this host");
    checkImports(compiled.info, host.abi, host.mode);
    (host as { passStopIteration: boolean }).passStopIteration =
      host.mode === "envoy-allow-stop-iteration" || (host.mode === "higress" && host.abi === "0_2_100");
    const instance = await WebAssembly.instantiate(compiled.module, linkImports(compiled.info, buildImports(host)));
    host.bind(instance);
    host.start();
    return host;
  }

  private bind(instance: WebAssembly.Instance): void {
    const ex = instance.exports as Record<string, any>;
    this.exportsObj = ex;
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new WasmLoadError("Wasm module is missing memory export");
    this.mem = new GuestMemory(ex.memory);
    // cpp-host getFunctions: malloc first, then the spec's proxy_on_memory_allocate.
    this.mallocFn = ex.malloc ?? ex.proxy_on_memory_allocate;
    if (typeof this.mallocFn !== "function") throw new WasmLoadError("Wasm module is missing malloc function.");
    this.fnCreate = ex.proxy_on_context_create;
    this.fnHeaders = ex.proxy_on_request_headers;
    this.fnBody = ex.proxy_on_request_body;
    this.fnTrailers = ex.proxy_on_request_trailers;
    this.fnDone = ex.proxy_on_done;
    this.fnDelete = ex.proxy_on_delete;
    this.fnLog = ex.proxy_on_log;
  }

  private start(): void {
    const ex = this.exportsObj;
    this.starting = true;
    let which = "";
    try {
      if (typeof ex._initialize === "function") {
        which = "_initialize";
        ex._initialize();
        if (typeof ex.main === "function") {
          which = "main";
          ex.main(0, 0);
        } else if (typeof ex.__main_void === "function") {
          which = "__main_void";
          ex.__main_void();
        }
      } else if (typeof ex._start === "function") {
        which = "_start";
        ex._start();
      }
    } catch (e) {
      this.vmFailed = true;
      this.failure = `Function: ${which} failed: ${(e as Error).message}`;
      throw new WasmLoadError(this.failure);
    } finally {
      this.starting = false;
    }
    if (typeof this.fnCreate !== "function") return;
    try {
      this.callRoot(this.fnCreate, this.rootId, 0);
      const vmStart = ex.proxy_on_vm_start;
      this.vmStarted = typeof vmStart === "function" ? this.callRoot(vmStart, this.rootId, this.vmConfig.length) !== 0 : true;
      if (!this.vmStarted) throw new WasmLoadError("Failed to start base Wasm: proxy_on_vm_start returned false");
      const configure = ex.proxy_on_configure;
      this.configured = typeof configure === "function" ? this.callRoot(configure, this.rootId, this.pluginConfig.length) !== 0 : true;
    } catch (e) {
      if (e instanceof WasmLoadError) throw e;
      this.configured = false; // the VM trapped; vmFailed/failure say why
    }
  }

  /** proxy_validate_configuration, as Envoy's config validation would call it. */
  validateConfiguration(configuration: Bytes): boolean {
    const fn = this.exportsObj.proxy_validate_configuration;
    if (typeof fn !== "function" || this.vmFailed) return false;
    this.pluginConfigOverride = toBytes(configuration);
    try {
      return this.callRoot(fn, this.rootId, this.pluginConfigOverride.length) !== 0;
    } catch {
      return false;
    } finally {
      this.pluginConfigOverride = null;
    }
  }

  // ------------------------------------------------------------------ guest calls

  private fail(e: unknown): never {
    this.vmFailed = true;
    this.failure = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    this.log(5, `wasm VM failed: ${this.failure}`);
    throw new VmFailure(this.failure);
  }

  private callRoot(fn: Function, ...args: number[]): number {
    this.stream = null;
    this.currentContextId = this.rootId;
    try {
      return fn(...args) >>> 0;
    } catch (e) {
      this.fail(e);
    }
  }

  private callStream(s: StreamState, fn: Function, a: number, b: number, c?: number): number {
    this.stream = s;
    this.currentContextId = s.id;
    try {
      return (c === undefined ? fn(a, b) : fn(a, b, c)) >>> 0;
    } catch (e) {
      this.fail(e);
    } finally {
      this.stream = null;
      this.currentContextId = this.rootId;
    }
  }

  // ------------------------------------------------------------------ VmCore services

  log(level: number, message: string): void {
    if (level < this.logLevel) return;
    const entry = { level, message, contextId: this.currentContextId };
    if (this.logs.length >= this.maxLogs) this.logs.splice(0, Math.max(1, this.maxLogs >> 4));
    this.logs.push(entry);
    this.requestLogs?.push(entry);
  }

  now(): bigint {
    return this.clock();
  }

  fillRandom(out: Uint8Array): void {
    let x = this.rng;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    this.rng = x >>> 0 || 1;
  }

  alloc(size: number): number {
    let p: number;
    try {
      p = this.mallocFn(size) >>> 0;
    } catch (e) {
      this.fail(e);
    }
    this.mem.refresh();
    return p;
  }

  getBuffer(type: number): BufferRef | null {
    switch (type) {
      case BufferType.HttpRequestBody: {
        const b = this.stream?.body;
        return b ? { bytes: () => b.bytes(), mutable: b } : null;
      }
      case BufferType.VmConfiguration: {
        const v = this.vmConfig;
        return { bytes: () => v, mutable: null };
      }
      case BufferType.PluginConfiguration: {
        const v = this.pluginConfigOverride ?? this.pluginConfig;
        return { bytes: () => v, mutable: null };
      }
      default:
        return null;
    }
  }

  getMap(type: number, _forWrite: boolean): HeaderMap | null {
    const s = this.stream;
    if (!s) return null;
    if (type === MapType.RequestHeaders) return s.headersHeld ? s.headers : null;
    if (type === MapType.RequestTrailers) return s.trailers;
    return null; // no response in this emulation
  }

  onRequestHeadersModified(): void {
    const s = this.stream;
    if (!s) return;
    // Envoy (onHeadersModified): ABI ≤ 0.2.1 clears the route cache on every request-header
    // mutation; Higress re-routes after header edits by default, unless clear_route_cache=off.
    const auto = this.abi === "0_2_1" || this.abi === "0_2_0" || this.mode === "higress";
    if (auto && !(this.mode === "higress" && s.autoClearDisabled)) this.clearRouteCache(s);
  }

  private clearRouteCache(s: StreamState): void {
    s.routeCacheClears++;
    s.routeCacheDirty = true;
    this.routeCacheClearsTotal++;
  }

  getProperty(path: string): Uint8Array | undefined {
    const s = this.stream;
    if (s) {
      const v = s.filterState.get(path) ?? s.properties?.get(path);
      if (v !== undefined) return v;
    } else {
      const v = this.rootState.get(path);
      if (v !== undefined) return v;
    }
    return this.props.get(path);
  }

  setProperty(path: string, value: Uint8Array): number {
    const s = this.stream;
    if (!s) {
      this.rootState.set(path, value);
      return Status.OK;
    }
    s.filterState.set(path, value);
    if (this.mode === "higress") {
      // Higress Envoy patch: property writes doubling as per-request control knobs.
      const text = dec.decode(value);
      if (path === "set_decoder_buffer_limit") {
        if (!/^\d+$/.test(text)) return Status.BAD_ARGUMENT;
        s.bufferLimit = Number(text);
      } else if (path === "clear_route_cache") {
        s.autoClearDisabled = text === "off";
      }
    }
    return Status.OK;
  }

  callForeign(name: string, _args: Uint8Array): number {
    if (name === "clear_route_cache") {
      if (this.options.envoyBefore133) return Status.NOT_FOUND;
      if (this.stream) this.clearRouteCache(this.stream);
      return Status.OK;
    }
    return Status.NOT_FOUND;
  }

  setEffectiveContext(id: number): number {
    if (id === this.rootId) {
      this.stream = null;
    } else {
      const s = this.streams.get(id);
      if (!s) return Status.BAD_ARGUMENT;
      this.stream = s;
    }
    this.currentContextId = id;
    return Status.OK;
  }

  sendLocalResponse(status: number, details: string, body: Uint8Array, headers: HeaderPairs, grpc: number): number {
    const s = this.stream;
    if (!s) return Status.BAD_ARGUMENT;
    s.localReplyCount++;
    // Envoy defers the reply until the VM call returns (addAfterVmCallAction); only the first counts.
    if (!s.localReply) s.localReply = { status, details, body, headers, grpcStatus: grpc | 0 };
    s.stopNextIteration = true;
    return Status.OK;
  }

  continueStream(type: number): number {
    const s = this.stream;
    if (!s) return Status.NOT_FOUND;
    if (type === 0) s.continueRequested = true;
    else if (type !== 1) return Status.BAD_ARGUMENT;
    return Status.OK;
  }

  closeStream(type: number): number {
    const s = this.stream;
    if (!s) return Status.NOT_FOUND;
    if (type > 1) return Status.BAD_ARGUMENT;
    s.closeRequested = true;
    return Status.OK;
  }

  procExit(code: number): never {
    throw new Error(`wasi_unstable proc_exit(${code})`);
  }

  // ------------------------------------------------------------------ the request path

  /** Runs one request through the filter chain; synchronous, as every guest call is. */
  request(req: RequestOptions): RequestResult {
    const id = this.nextContextId++;
    const logs: LogEntry[] = [];
    const headers = this.buildHeaders(req);
    let props: Map<string, Uint8Array> | null = null;
    if (req.properties || req.routeName !== undefined || req.clusterName !== undefined) {
      props = new Map();
      for (const [k, v] of Object.entries(req.properties ?? {})) props.set(propKey(k), toBytes(v));
      this.applyRouteProps(props, req.routeName, req.clusterName);
    }
    const s = new StreamState(id, headers, props, this.defaultBufferLimit);
    const res: RequestResult = {
      outcome: "stalled",
      contextId: id,
      finalHeaders: headers,
      finalBody: EMPTY,
      routeCacheClears: 0,
      returns: s.returns,
      contentLengthMismatch: false,
      rejectedHeaderMutations: 0,
      bodyCallbacks: 0,
      setProperties: {},
      bufferLimit: s.bufferLimit,
      localReplyCount: 0,
      logs,
    };
    if (this.vmFailed || !this.configured || typeof this.fnHeaders !== "function") {
      res.outcome = "vm-failed";
      res.error = this.vmFailed ? this.failure : "plugin configuration was rejected (proxy_on_configure returned false)";
      return res;
    }
    this.requestLogs = logs;
    this.streams.set(id, s);
    let created = false;
    try {
      this.callStream(s, this.fnCreate, id, this.rootId);
      created = true;
      this.runFilterChain(s, req, res);
    } catch (e) {
      if (!(e instanceof VmFailure)) throw e;
      res.outcome = "vm-failed";
      res.error = e.message;
    }
    // Stream teardown: Context::onDestroy → proxy_on_done, then proxy_on_delete (on_log first).
    if (created && !this.vmFailed) {
      try {
        if (this.fnLog) this.callStream(s, this.fnLog, id, 0);
        if (this.fnDone) this.callStream(s, this.fnDone, id, 0);
        if (this.fnDelete) this.callStream(s, this.fnDelete, id, 0);
      } catch (e) {
        if (!(e instanceof VmFailure)) throw e;
        if (res.outcome === "upstream" || res.outcome === "local") res.error = e.message;
      }
    }
    this.streams.delete(id);
    this.requestLogs = null;
    res.routeCacheClears = s.routeCacheClears;
    res.rejectedHeaderMutations = s.rejectedHeaderMutations;
    res.bufferLimit = s.bufferLimit;
    res.localReplyCount = s.localReplyCount;
    for (const [k, v] of s.filterState) res.setProperties[k] = dec.decode(v);
    return res;
  }

  private buildHeaders(req: RequestOptions): HeaderMap {
    const h = new HeaderMap();
    h.entries.push([":authority", req.authority ?? "gateway.local"]);
    h.entries.push([":path", req.path ?? "/v1/chat/completions"]);
    h.entries.push([":method", req.method ?? "POST"]);
    h.entries.push([":scheme", req.scheme ?? "http"]);
    if (req.headers) {
      if (Array.isArray(req.headers)) for (const [k, v] of req.headers) h.add(k, v);
      else
        for (const k of Object.keys(req.headers)) {
          const v = req.headers[k];
          if (Array.isArray(v)) for (const x of v) h.add(k, x);
          else h.add(k, v);
        }
    }
    const bodyLen = req.chunks ? req.chunks.reduce((n, c) => n + (typeof c === "string" ? Buffer.byteLength(c) : c.length), 0) : req.body !== undefined ? (typeof req.body === "string" ? Buffer.byteLength(req.body) : req.body.length) : -1;
    if (bodyLen >= 0 && req.contentLength !== false && !h.has("content-length")) h.add("content-length", String(bodyLen));
    if (this.options.envoyHeaders !== false) {
      if (!h.has("x-forwarded-proto")) h.add("x-forwarded-proto", req.scheme ?? "http");
      if (!h.has("x-request-id")) h.add("x-request-id", `00000000-0000-4000-8000-${(++requestIdCounter).toString(16).padStart(12, "0")}`);
    }
    return h;
  }

  private splitBody(req: RequestOptions): Uint8Array[] | null {
    if (req.chunks) return req.chunks.map(toBytes);
    if (req.body === undefined) return null;
    const body = toBytes(req.body);
    const n = req.chunkSize;
    if (!n || n >= body.length) return [body];
    const out: Uint8Array[] = [];
    for (let i = 0; i < body.length; i += n) out.push(body.subarray(i, Math.min(body.length, i + n)));
    return out;
  }

  private runFilterChain(s: StreamState, req: RequestOptions, res: RequestResult): void {
    const chunks = this.splitBody(req);
    const trailers = req.trailers !== undefined ? HeaderMap.from(req.trailers) : null;
    const endOnHeaders = (chunks === null || chunks.length === 0) && trailers === null;
    const id = s.id;
    // The HCM selects the route (and so resolves cluster_header) before the filter chain runs.
    const initialCluster = this.router.resolve(s.headers);
    let released = false;
    let cluster: string | null = null;
    let upstreamHeaders: HeaderMap | null = null;
    const upstreamBody = new BodyBuffer();

    const local = (): void => {
      res.outcome = "local";
      res.localResponse = makeLocal(s.localReply!, "plugin");
      res.finalBody = s.buffered.bytes().slice();
    };
    // Headers leave the filter: the router picks the cached route unless the cache was cleared.
    const release = (): boolean => {
      released = true;
      upstreamHeaders = s.headers.clone();
      cluster = s.routeCacheDirty ? this.router.resolve(s.headers) : initialCluster;
      if (cluster === null) {
        res.outcome = "router-404";
        res.localResponse = makeLocal(
          { status: 404, details: "route_not_found", body: EMPTY, headers: [], grpcStatus: -1 },
          "envoy",
        );
        return false;
      }
      return true;
    };
    const tooLarge = (): void => {
      res.outcome = "too-large";
      res.localResponse = makeLocal(
        { status: 413, details: "request_payload_too_large", body: enc.encode("Payload Too Large"), headers: [], grpcStatus: -1 },
        "envoy",
      );
      res.finalBody = s.buffered.bytes().slice();
    };

    // ---- decodeHeaders
    s.headersHeld = true;
    const rawH = this.callStream(s, this.fnHeaders!, id, s.headers.size, endOnHeaders ? 1 : 0);
    const convH = convertHeaders(rawH, this.passStopIteration, s.stopNextIteration);
    s.returns.push({ callback: "on_request_headers", raw: rawH, converted: convH, localReply: s.localReply !== null });
    s.stopNextIteration = false;
    if (s.localReply) return local();
    if (s.closeRequested) {
      res.outcome = "reset";
      return;
    }
    let dropBody = false;
    if (convH === HeadersStatus.Continue || convH === HeadersStatus.ContinueAndEndStream) {
      // Envoy: `request_headers_ = nullptr` — later mutations get BAD_ARGUMENT.
      s.headersHeld = false;
      if (!release()) return;
      dropBody = convH === HeadersStatus.ContinueAndEndStream;
    } else if (convH !== HeadersStatus.StopIteration) {
      // StopAll: no body callback until proxy_continue_stream, which this plugin cannot call later.
      if (!s.continueRequested) {
        res.outcome = "stalled";
        return;
      }
      s.continueRequested = false;
      if (!release()) return;
    }
    if (endOnHeaders) {
      if (!released) {
        res.outcome = "stalled";
        return;
      }
    }

    // ---- decodeData, once per chunk
    if (chunks && !dropBody) {
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i];
        const eos = i === chunks.length - 1 && trailers === null;
        let visible: BodyBuffer;
        if (s.buffering) {
          // Previous return was StopIterationAndBuffer: addDecodedData, then the filter sees it all.
          s.buffered.append(chunk);
          if (s.buffered.length > s.bufferLimit) return tooLarge();
          visible = s.buffered;
        } else {
          visible = new BodyBuffer(chunk.length);
          visible.append(chunk);
        }
        s.body = visible;
        res.bodyCallbacks++;
        let rawD: number;
        try {
          rawD = this.callStream(s, this.fnBody!, id, visible.length, eos ? 1 : 0);
        } finally {
          s.body = null;
        }
        const convD = convertData(rawD, s.stopNextIteration);
        s.returns.push({ callback: "on_request_body", raw: rawD, converted: convD, localReply: s.localReply !== null });
        s.stopNextIteration = false;
        if (s.localReply) return local();
        if (s.closeRequested) {
          res.outcome = "reset";
          return;
        }
        if (convD === DataStatus.Continue) {
          upstreamBody.append(visible.bytes());
          if (!released && !release()) {
            res.finalBody = upstreamBody.bytes().slice();
            return;
          }
          s.buffered.clear();
          s.buffering = false;
        } else if (convD === DataStatus.StopIterationAndBuffer || convD === DataStatus.StopIterationAndWatermark) {
          if (visible !== s.buffered) {
            s.buffered.clear();
            s.buffered.append(visible.bytes());
          }
          s.buffering = true;
          // Above the buffer limit Envoy answers 413 (watermark mode only applies back-pressure).
          if (convD === DataStatus.StopIterationAndBuffer && s.buffered.length > s.bufferLimit) return tooLarge();
        } else {
          // StopIterationNoBuffer: the filter manager keeps nothing of this chunk.
          s.buffered.clear();
          s.buffering = false;
        }
      }
    }

    // ---- decodeTrailers
    if (trailers) {
      s.trailers = trailers;
      if (s.buffering) s.body = s.buffered;
      let rawT: number;
      try {
        rawT = this.callStream(s, this.fnTrailers ?? (() => 0), id, trailers.size);
      } finally {
        s.body = null;
      }
      const convT = convertTrailers(rawT, s.stopNextIteration);
      s.returns.push({ callback: "on_request_trailers", raw: rawT, converted: convT, localReply: s.localReply !== null });
      s.stopNextIteration = false;
      if (s.localReply) return local();
      if (convT === TrailersStatus.Continue) {
        upstreamBody.append(s.buffered.bytes());
        if (!released && !release()) {
          res.finalBody = upstreamBody.bytes().slice();
          return;
        }
        s.buffered.clear();
        s.buffering = false;
      } else {
        res.outcome = "stalled";
        res.finalBody = s.buffered.bytes().slice();
        return;
      }
    }

    if (!released || s.buffering) {
      // The filter never let the request go (or kept buffering after the last chunk).
      res.outcome = "stalled";
      res.finalBody = s.buffering ? s.buffered.bytes().slice() : upstreamBody.bytes().slice();
      return;
    }
    const body = upstreamBody.bytes().slice();
    const hdrs = upstreamHeaders!.entries;
    const cl = upstreamHeaders!.first("content-length");
    res.contentLengthMismatch = cl !== undefined && cl !== String(body.length);
    res.finalBody = body;
    res.outcome = "upstream";
    res.upstream = {
      cluster: cluster!,
      headers: hdrs,
      body,
      text: dec.decode(body),
      header: (n) => lookup(hdrs, n),
      headerAll: (n) => hdrs.filter(([k]) => k === n.toLowerCase()).map(([, v]) => v),
    };
  }
}
