// ProxyWasmHost: one proxy-wasm VM (one Envoy thread's copy) inside an emulated Envoy process.
// It loads a module like proxy-wasm-cpp-host, starts one root context per plugin in Envoy's order,
// answers the host calls, and drives requests through the downstream filter chain
// `[wasm filter] → [router]`: the request path (decode.ts), then, when the test says what the
// upstream answers, the router's attempts with an optional upstream Wasm filter per attempt,
// retries, failover and the response path back through the filter (exchange.ts). The VM lives
// across requests; nothing is re-instantiated.
import { readFileSync, statSync } from "node:fs";
import { type Abi, BufferType, MapType, Status } from "./abi.ts";
import { runDecodePath } from "./decode.ts";
import { Exchange, type ExchangeRecord, type RouteSpec, type UpstreamTopology } from "./exchange.ts";
import { CONNECT_FAILURE as CONNECT_REFUSED, GrpcStatus, grpcServiceCluster, NO_CLUSTER_MESSAGE, TIMEOUT_MESSAGE, type GrpcAnswer } from "./grpc.ts";
import { HeaderMap } from "./headers.ts";
import { describeHostCall, type HostCall, keyOf, recordImports, writtenValue } from "./host-calls.ts";
import { type BufferRef, buildImports, type VmCore } from "./imports.ts";
import { checkImports, compile, detectAbi, type HostMode, linkImports, WasmLoadError } from "./loader.ts";
import { GuestMemory } from "./memory.ts";
import type { HeaderPairs } from "./pairs.ts";
import { EnvoyProcess } from "./process.ts";
import { streamProperty } from "./stream-properties.ts";
import type { AttemptAnswer, Bytes, ClientResponse, HeaderInit } from "./response.ts";
import { Router } from "./router.ts";
import { VmMetrics } from "./stats.ts";
import {
  BodyBuffer,
  type CallbackReturn,
  type LocalReply,
  type RootContext,
  StreamInfo,
  StreamState,
} from "./stream.ts";
import type { ImportEntry, ExportEntry } from "./wasm-binary.ts";

export { WasmLoadError, type HostMode, type Bytes, type HeaderInit, type HostCall };

/** One plugin (a Wasm filter's PluginConfig) sharing the VM: its root_id and configuration. */
export interface PluginSpec {
  rootId: string;
  configuration?: Bytes;
  /** PluginConfig.name (property plugin_name). */
  name?: string;
  /** allow_on_headers_stop_iteration (default: the host mode's setting). */
  allowOnHeadersStopIteration?: boolean;
  /** Upstream filter only: root ids of the downstream plugins whose router has it (default all). */
  downstream?: string[];
}

export interface LoadOptions {
  /** Path to a .wasm file, or its bytes. */
  wasm: string | Uint8Array;
  /** envoy-default: Envoy without allow_on_headers_stop_iteration; envoy-allow-stop-iteration: with it
   *  (Envoy ≥ 1.35); higress: Higress's cpp-host fork (accepts 0_2_100 and its extra imports). */
  mode?: HostMode;
  /** Plugin configuration (buffer type 7) of the main plugin. */
  configuration?: Bytes;
  /** VM configuration (buffer type 6). */
  vmConfiguration?: Bytes;
  /** Clusters the simulated router knows. */
  clusters?: string[];
  /** Route cluster_header (default x-llm-upstream); several: a route per header, the first present one routes. */
  clusterHeader?: string | string[];
  /** Extra properties; keys are paths with segments joined by "." or NUL ("xds.route_name"). */
  properties?: Record<string, Bytes>;
  routeName?: string;
  clusterName?: string;
  pluginName?: string;
  rootId?: string;
  vmId?: string;
  /** More downstream plugins in the same VM (other listeners/filters with the same vm_config). */
  plugins?: PluginSpec[];
  /** A plugin in the same VM running as the router's upstream HTTP filter (once per attempt). */
  upstreamFilter?: PluginSpec;
  /** Hosts (and aggregate clusters) behind the clusters; clusters without an entry get one host. */
  upstream?: UpstreamTopology;
  /** Route timeout and retry policy (Envoy defaults: 15 s timeout, no retries). */
  route?: RouteSpec;
  /** Request buffer limit in bytes (default 1 MiB in Envoy modes, 32 KiB in Higress mode). */
  bufferLimit?: number;
  /** Emulate an Envoy older than 1.33: foreign function clear_route_cache answers NOT_FOUND. */
  envoyBefore133?: boolean;
  /** Emulate an older host whose set_buffer_bytes replaces only the whole buffer (see imports.ts). */
  wholeBufferReplaceOnly?: boolean;
  /** Envoy's log level for the wasm component; lower-level lines are dropped (default 2 = info). */
  logLevel?: number;
  /** Keep at most this many log entries in host.logs (oldest dropped; default 100000). */
  maxLogs?: number;
  /** Overrides the time proxy_get_current_time_nanoseconds / clock_time_get answer (ns since
   *  epoch). Without it the VM reads its process's emulated wall clock. */
  now?: () => bigint;
  /** Seed of the host's deterministic random_get. */
  seed?: number;
  /** The VM's environment (vm_config.environment_variables: host_env_keys / key_values), what WASI
   *  environ_get answers; Envoy passes nothing by default. */
  environment?: Record<string, string>;
  /** Add the headers the HCM adds before filters run (x-request-id, x-forwarded-proto). Default true. */
  envoyHeaders?: boolean;
  /** The emulated Envoy process this VM belongs to (default: a process of its own). */
  process?: EnvoyProcess;
  /** Label of the thread this VM runs on (logs, assertions). */
  thread?: string;
  /** Internal (EnvoyProcess.start): load and initialise only; plugins are started one by one. */
  deferPlugins?: boolean;
  /** Record every host call the module makes (host.hostCallLog, RequestResult.hostCalls). */
  recordHostCalls?: boolean;
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
  /** Filter state other filters set before this one (proxy_set_property keys, taken verbatim). */
  filterState?: Record<string, Bytes>;
  routeName?: string;
  clusterName?: string;
  /** Root id of the downstream plugin that handles the request (default: the main plugin). */
  plugin?: string;
  /** What the upstream answers: one answer, one per attempt (the last one repeats), or a function
   *  of the attempt (number, cluster, host). Without it the request ends once it went upstream (no
   *  response path), as before. */
  response?: AttemptAnswer | AttemptAnswer[] | ((attempt: { attempt: number; cluster: string; host: string }) => AttemptAnswer);
  /** The client goes away this many ms after the request started (emulated clock). */
  clientAbortAt?: number;
  /** Route override for this request. */
  route?: RouteSpec;
  /** The client sent `connection: close` (the HCM strips it from the request, and answers with it). */
  connectionClose?: boolean;
}

/** no-cluster: the route's cluster does not exist (Envoy 1.40 answers 503 cluster_not_found, response
 *  flag NC). envoy-reply: the router answered itself at once (no healthy upstream). */
export type Outcome = "upstream" | "local" | "stalled" | "no-cluster" | "envoy-reply" | "too-large" | "vm-failed" | "reset";

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
  /** "plugin" for send_local_response, "envoy" for replies Envoy itself makes (413, 503 …). */
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
  /** The request as the router sent it upstream (first attempt). */
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
  /** The host calls made while this request ran, in order (only with LoadOptions.recordHostCalls). */
  hostCalls?: HostCall[];
  /** Attempts the router made, what the client received, and the stream's final properties
   *  (present when the request had a response path: `response` given, or a local reply). */
  exchange?: ExchangeRecord;
  /** Shortcut for exchange.client. */
  response?: ClientResponse;
}

const dec = new TextDecoder("utf-8");
const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

const toBytes = (b: Bytes): Uint8Array => (typeof b === "string" ? enc.encode(b) : b);
const propKey = (k: string): string => (k.includes("\0") ? k : k.split(".").join("\0"));

export class VmFailure extends Error {}

export function lookup(pairs: HeaderPairs, name: string): string | undefined {
  const k = name.toLowerCase();
  for (const [hk, hv] of pairs) if (hk === k) return hv;
  return undefined;
}

/** Envoy's encodeLocalReply headers: :status, the caller's headers, content-length and (only for a
 *  non-empty body without one) content-type text/plain. */
export function localReplyHeaders(r: LocalReply): HeaderPairs {
  const headers: HeaderPairs = [[":status", String(r.status)], ...r.headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string])];
  if (r.body.length > 0) {
    headers.push(["content-length", String(r.body.length)]);
    if (lookup(headers, "content-type") === undefined) headers.push(["content-type", "text/plain"]);
  }
  return headers;
}

export function makeLocal(r: LocalReply, source: "plugin" | "envoy"): LocalResponse {
  const headers = localReplyHeaders(r);
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

/** The guest's exported callbacks, resolved once. */
export interface GuestFns {
  create?: Function;
  requestHeaders?: Function;
  requestBody?: Function;
  requestTrailers?: Function;
  responseHeaders?: Function;
  responseBody?: Function;
  responseTrailers?: Function;
  log?: Function;
  done?: Function;
  delete?: Function;
  tick?: Function;
  queueReady?: Function;
  grpcReceive?: Function;
  grpcClose?: Function;
}

export class ProxyWasmHost implements VmCore {
  // ---- VmCore state read by the host functions ----
  mem!: GuestMemory;
  starting = false;
  logLevel: number;
  wholeBufferReplaceOnly: boolean;
  bufferWrites: Array<{ type: number; start: number; length: number; size: number; status: number }> = [];
  stream: StreamState | null = null;
  environment?: Array<[string, string]>;

  // ---- public state ----
  readonly mode: HostMode;
  readonly process: EnvoyProcess;
  thread: string;
  readonly vmId: string;
  abi!: Abi;
  imports!: ImportEntry[];
  exports!: ExportEntry[];
  /** proxy_on_configure of the main plugin returned true. */
  configured = false;
  vmStarted = false;
  /** Set once a trap (or proc_exit) killed the VM; every later request fails, as in Envoy. */
  vmFailed = false;
  /** The VM was torn down (a configuration canary after its check). */
  killed = false;
  /** This VM is a configuration canary (started, configured, then killed). */
  canary = false;
  failure?: string;
  logs: LogEntry[] = [];
  readonly router: Router;
  routeCacheClearsTotal = 0;
  /** Root contexts in start order (id 1, 2, …). */
  readonly roots: RootContext[] = [];
  readonly metrics: VmMetrics;
  readonly topology: UpstreamTopology;
  readonly route: RouteSpec;

  private exportsObj!: Record<string, Function>;
  private mallocFn!: Function;
  /** @internal */ fns: GuestFns = {};
  /** Every host call since load (LoadOptions.recordHostCalls; clear it at will). */
  hostCallLog: HostCall[] = [];
  private readonly recording: boolean;
  private fnNames = new Map<Function, string>();
  private currentCallback = "";
  private nextContextId = 1;
  // Logs during _initialize are attributed to the first root context, as before.
  private currentContextId = 1;
  private currentRoot: RootContext | null = null;
  private requestLogs: LogEntry[] | null = null;
  /** Configuration handed to proxy_validate_configuration while it runs. */
  private pluginConfigOverride: Uint8Array | null = null;
  /** Set while a root context runs on_configure (Envoy's temp_plugin_). */
  private configuringRoot: RootContext | null = null;
  private readonly vmConfig: Uint8Array;
  /** @internal */ readonly props = new Map<string, Uint8Array>();
  private readonly streams = new Map<number, StreamState>();
  private readonly rootState = new Map<string, Uint8Array>();
  private readonly defaultBufferLimit: number;
  private readonly maxLogs: number;
  private readonly clockOverride: (() => bigint) | undefined;
  private rng: number;
  /** @internal */ readonly passStopIteration: boolean;

  private constructor(readonly options: LoadOptions) {
    this.mode = options.mode ?? "envoy-allow-stop-iteration";
    this.process = options.process ?? new EnvoyProcess();
    this.process.register(this);
    this.thread = options.thread ?? "worker_0";
    this.vmId = options.vmId ?? "";
    this.metrics = new VmMetrics(this.process.stats);
    this.logLevel = options.logLevel ?? 2;
    this.wholeBufferReplaceOnly = options.wholeBufferReplaceOnly ?? false;
    this.maxLogs = options.maxLogs ?? 100_000;
    this.vmConfig = toBytes(options.vmConfiguration ?? "");
    this.environment = Object.entries(options.environment ?? {});
    this.topology = options.upstream ?? {};
    this.router = new Router(options.clusterHeader ?? "x-llm-upstream", [...(options.clusters ?? []), ...Object.keys(this.topology.clusters ?? {})]);
    this.route = options.route ?? {};
    this.defaultBufferLimit = options.bufferLimit ?? (this.mode === "higress" ? 32 * 1024 : 1024 * 1024);
    this.rng = (options.seed ?? 0x9e3779b9) >>> 0 || 1;
    this.clockOverride = options.now;
    this.passStopIteration = false; // finalised once the ABI is known
    this.recording = options.recordHostCalls ?? false;
    this.props.set("plugin_vm_id", toBytes(this.vmId));
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

  /** The plugins of a load in Envoy's start order: the main one, the other downstream ones, the upstream filter. */
  static pluginsOf(o: LoadOptions): Array<PluginSpec & { upstream: boolean }> {
    const main: PluginSpec = { rootId: o.rootId ?? "", configuration: o.configuration, name: o.pluginName ?? "model-router" };
    return [
      { ...main, upstream: false },
      ...(o.plugins ?? []).map((p) => ({ ...p, upstream: false })),
      ...(o.upstreamFilter ? [{ ...o.upstreamFilter, upstream: true }] : []),
    ];
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
    const imports = buildImports(host);
    if (host.recording) {
      imports.env = recordImports(imports.env as Record<string, WebAssembly.ImportValue>,
        (name, args) => host.noteHostCall(name, args), (call, name, args) => host.noteHostCallResult(call, name, args));
    }
    const instance = await WebAssembly.instantiate(compiled.module, linkImports(compiled.info, imports));
    host.bind(instance);
    host.initialize();
    if (!options.deferPlugins) {
      for (const p of ProxyWasmHost.pluginsOf(options)) host.startPlugin(p);
      host.process.drain();
    }
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
    const fn = (name: string): Function | undefined => (typeof ex[name] === "function" ? ex[name] : undefined);
    this.fns = {
      create: fn("proxy_on_context_create"),
      requestHeaders: fn("proxy_on_request_headers"),
      requestBody: fn("proxy_on_request_body"),
      requestTrailers: fn("proxy_on_request_trailers"),
      responseHeaders: fn("proxy_on_response_headers"),
      responseBody: fn("proxy_on_response_body"),
      responseTrailers: fn("proxy_on_response_trailers"),
      log: fn("proxy_on_log"),
      done: fn("proxy_on_done"),
      delete: fn("proxy_on_delete"),
      tick: fn("proxy_on_tick"),
      queueReady: fn("proxy_on_queue_ready"),
      grpcReceive: fn("proxy_on_grpc_receive"),
      grpcClose: fn("proxy_on_grpc_close"),
    };
    for (const [name, f] of Object.entries(this.fns)) if (f) this.fnNames.set(f, name);
    for (const name of ["proxy_on_vm_start", "proxy_on_configure", "proxy_validate_configuration"]) {
      const f = fn(name);
      if (f) this.fnNames.set(f, name.replace(/^proxy_(on_)?/, ""));
    }
  }

  /** @internal LoadOptions.recordHostCalls: one host call, attributed to the running callback. */
  noteHostCall(name: string, args: number[]): HostCall {
    const filter = this.stream === null ? "root" : this.stream.downstream !== null ? "upstream" : "router";
    const call: HostCall = { filter, callback: this.currentCallback, name, detail: describeHostCall(name, args, this.mem), args: args.map((a) => (typeof a === "bigint" ? Number(a) : a >>> 0)) };
    const key = keyOf(name, args, this.mem);
    if (key) call.key = key;
    const value = writtenValue(name, args, this.mem);
    if (value) call.value = value;
    this.hostCallLog.push(call);
    return call;
  }

  /** @internal The out-parameter a caller of proxy_define_metric reads (the metric's id). */
  noteHostCallResult(call: HostCall, name: string, args: number[]): void {
    if (name !== "proxy_define_metric") return;
    const id = this.mem.view(args[3] >>> 0, 4);
    if (id) call.result = new DataView(id.buffer, id.byteOffset, 4).getUint32(0, true);
  }

  /** _initialize / _start (cpp-host startVm), under the start-up allow-list. */
  private initialize(): void {
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
  }

  /**
   * WasmBase::start + configure for one plugin: a new root context gets on_context_create(id, 0),
   * on_vm_start and on_configure (every plugin's root runs on_vm_start, not just the first).
   */
  startPlugin(p: PluginSpec & { upstream?: boolean }): RootContext {
    const root: RootContext = {
      id: this.nextContextId++,
      rootId: p.rootId,
      name: p.name ?? "model-router",
      configuration: toBytes(p.configuration ?? ""),
      upstream: p.upstream ?? false,
      passStopIteration: p.allowOnHeadersStopIteration ?? this.passStopIteration,
      tickPeriodMs: 0,
      tickTimer: null,
      forDownstream: p.downstream ?? null,
    };
    this.roots.push(root);
    const isMain = this.roots.length === 1;
    if (!this.fns.create) {
      if (isMain) this.configured = this.vmStarted = true;
      return root;
    }
    try {
      this.callRoot(root, this.fns.create, root.id, 0);
      const vmStart = this.exportsObj.proxy_on_vm_start;
      const started = typeof vmStart === "function" ? this.callRoot(root, vmStart, root.id, this.vmConfig.length) !== 0 : true;
      if (isMain) this.vmStarted = started;
      if (!started) throw new WasmLoadError("Failed to start base Wasm: proxy_on_vm_start returned false");
      const configure = this.exportsObj.proxy_on_configure;
      this.configuringRoot = root;
      let ok = true;
      try {
        ok = typeof configure === "function" ? this.callRoot(root, configure, root.id, root.configuration.length) !== 0 : true;
      } finally {
        this.configuringRoot = null;
      }
      if (isMain) this.configured = ok;
    } catch (e) {
      if (e instanceof WasmLoadError) throw e;
      if (isMain) this.configured = false; // the VM trapped; vmFailed/failure say why
    }
    return root;
  }

  /** Tears the VM down (its timers stop); a canary after its configuration check. */
  kill(): void {
    this.killed = true;
    for (const r of this.roots) {
      r.tickTimer?.cancel();
      r.tickTimer = null;
    }
  }

  /** proxy_validate_configuration, as Envoy's config validation would call it. */
  validateConfiguration(configuration: Bytes): boolean {
    const fn = this.exportsObj.proxy_validate_configuration;
    const root = this.roots[0];
    if (typeof fn !== "function" || this.vmFailed || !root) return false;
    this.pluginConfigOverride = toBytes(configuration);
    try {
      return this.callRoot(root, fn, root.id, this.pluginConfigOverride.length) !== 0;
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

  private callRoot(root: RootContext, fn: Function, ...args: number[]): number {
    const prev = [this.stream, this.currentContextId, this.currentRoot, this.currentCallback] as const;
    if (this.recording) this.currentCallback = this.fnNames.get(fn) ?? "?";
    this.stream = null;
    this.currentContextId = root.id;
    this.currentRoot = root;
    try {
      return fn(...args) >>> 0;
    } catch (e) {
      this.fail(e);
    } finally {
      [this.stream, this.currentContextId, this.currentRoot, this.currentCallback] = prev;
    }
  }

  /** @internal Calls a stream callback with `s` as the current context. */
  callStream(s: StreamState, fn: Function, a: number, b: number, c?: number): number {
    if (this.recording) this.currentCallback = this.fnNames.get(fn) ?? "?";
    this.stream = s;
    this.currentContextId = s.id;
    this.currentRoot = s.root;
    try {
      return (c === undefined ? fn(a, b) : fn(a, b, c)) >>> 0;
    } catch (e) {
      this.fail(e);
    } finally {
      this.stream = null;
      this.currentContextId = 0;
      this.currentRoot = null;
    }
  }

  /** @internal A new stream context under `root` (on_context_create(id, root)). */
  createStream(root: RootContext, headers: HeaderMap, props: Map<string, Uint8Array> | null): StreamState {
    const s = new StreamState(this.nextContextId++, headers, props, this.defaultBufferLimit);
    s.root = root;
    this.streams.set(s.id, s);
    return s;
  }

  /** @internal Context teardown: proxy_on_log (downstream only), proxy_on_done, proxy_on_delete. */
  finishStream(s: StreamState, withLog: boolean): void {
    if (s.done) return;
    s.done = true;
    try {
      if (!this.vmFailed) {
        if (withLog && this.fns.log) this.callStream(s, this.fns.log, s.id, 0);
        if (this.fns.done) this.callStream(s, this.fns.done, s.id, 0);
        if (this.fns.delete) this.callStream(s, this.fns.delete, s.id, 0);
      }
    } finally {
      this.streams.delete(s.id);
    }
  }

  /** @internal */
  rootById(rootId: string | undefined, upstream: boolean): RootContext | undefined {
    // A configuration Envoy delivered later (ECDS, a live reload) serves what starts from then on.
    if (upstream) return this.roots.findLast((r) => r.upstream);
    if (rootId === undefined) return this.roots.find((r) => !r.upstream);
    return this.roots.findLast((r) => !r.upstream && r.rootId === rootId);
  }

  // ------------------------------------------------------------------ VmCore services

  log(level: number, message: string): void {
    if (level < this.logLevel) return;
    const entry = { level, message, contextId: this.currentContextId };
    if (this.logs.length >= this.maxLogs) this.logs.splice(0, Math.max(1, this.maxLogs >> 4));
    this.logs.push(entry);
    this.requestLogs?.push(entry);
    this.process.log({ thread: this.thread, canary: this.canary, ...entry });
  }

  now(): bigint {
    return this.clockOverride ? this.clockOverride() : this.process.clock.now();
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
      case BufferType.HttpResponseBody: {
        const s = this.stream;
        if (!s || !s.inResponse) return null;
        // Outside a body callback Envoy's response_body_buffer_ is gone: an empty buffer.
        const b = s.respBody ?? new BodyBuffer();
        return { bytes: () => b.bytes(), mutable: b };
      }
      case BufferType.GrpcReceiveBuffer: {
        const m = this.grpcMessage;
        return m ? { bytes: () => m, mutable: null } : null;
      }
      case BufferType.VmConfiguration: {
        const v = this.vmConfig;
        return { bytes: () => v, mutable: null };
      }
      case BufferType.PluginConfiguration: {
        const v = this.pluginConfigOverride ?? this.configuringRoot?.configuration;
        // Envoy answers the plugin configuration only while on_configure/validate runs.
        return v ? { bytes: () => v, mutable: null } : null;
      }
      default:
        return null;
    }
  }

  getMap(type: number, forWrite: boolean): HeaderMap | null {
    const s = this.stream;
    if (!s) return null;
    const log = s.accessLog;
    switch (type) {
      case MapType.RequestHeaders:
        if (log && !forWrite) return log.request;
        return s.headersHeld ? s.headers : null;
      case MapType.RequestTrailers:
        return log ? null : s.trailers;
      case MapType.ResponseHeaders:
        if (log && !forWrite) return log.response;
        return s.respHeadersHeld ? s.respHeaders : null;
      case MapType.ResponseTrailers:
        if (log && !forWrite) return log.trailers;
        return s.respTrailers;
      default:
        return null;
    }
  }

  onRequestHeadersModified(): void {
    const s = this.stream;
    if (!s || s.downstream) return;
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
    const root = this.currentRoot ?? this.roots[0];
    if (path === "plugin_root_id") return root ? toBytes(root.rootId) : undefined;
    if (path === "plugin_name") return root ? toBytes(root.name) : undefined;
    if (s) {
      const v = streamProperty(this, s, path);
      if (v !== undefined) return v ?? undefined;
      const p = s.properties?.get(path);
      if (p !== undefined) return p;
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
    // Filter state belongs to the downstream stream; an upstream filter writes the same object.
    (s.downstream ?? s).filterState.set(path, value);
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
    const root = this.roots.find((r) => r.id === id);
    if (root) {
      this.stream = null;
      this.currentRoot = root;
    } else {
      const s = this.streams.get(id);
      if (!s) return Status.BAD_ARGUMENT;
      this.stream = s;
      this.currentRoot = s.root;
    }
    this.currentContextId = id;
    return Status.OK;
  }

  sendLocalResponse(status: number, details: string, body: Uint8Array, headers: HeaderPairs, grpc: number): number {
    const s = this.stream;
    if (!s) return Status.BAD_ARGUMENT;
    if (s.downstream) throw new Error("send_local_response from an upstream filter is not emulated");
    if (s.inResponse) throw new Error("send_local_response during the response path is not emulated");
    s.localReplyCount++;
    // Envoy defers the reply until the VM call returns (addAfterVmCallAction); only the first counts.
    // Details: StringUtil::replaceAllEmptySpace turns every blank into '_'.
    if (!s.localReply) s.localReply = { status, details: details.replace(/\s/g, "_"), body, headers, grpcStatus: grpc | 0 };
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

  // ---- ticks (Wasm::setTimerPeriod / tickHandler): one timer per root context, re-armed after
  //      each proxy_on_tick at now + period; period 0 stops it.

  setTickPeriod(ms: number): number {
    const root = this.stream?.root ?? this.currentRoot;
    if (!root) return Status.OK;
    root.tickTimer?.cancel();
    root.tickTimer = null;
    root.tickPeriodMs = ms;
    if (ms > 0 && !this.killed) this.armTick(root);
    return Status.OK;
  }

  private armTick(root: RootContext): void {
    root.tickTimer = this.process.clock.schedule(root.tickPeriodMs, () => {
      root.tickTimer = null;
      if (this.killed || this.vmFailed || !this.fns.tick) return;
      try {
        this.callRoot(root, this.fns.tick, root.id);
      } catch (e) {
        if (!(e instanceof VmFailure)) throw e;
      }
      if (root.tickPeriodMs > 0 && root.tickTimer === null && !this.killed) this.armTick(root);
    });
  }

  // ---- unary gRPC calls (grpc.ts): owned by the calling context's root, answered on the clock

  private nextGrpcToken = 1;
  private readonly grpcCalls = new Map<number, { cancel(): void }>();
  private grpcMessage: Uint8Array | null = null;
  private lastGrpcStatus = { code: 0, message: "" };

  grpcStatus(): { code: number; message: string } {
    return this.lastGrpcStatus;
  }

  grpcCall(upstream: Uint8Array, service: string, method: string, message: Uint8Array, timeoutMs: number): { status: number; token?: number } {
    const root = this.stream?.root ?? this.currentRoot;
    if (!root) return { status: Status.BAD_ARGUMENT };
    let cluster = grpcServiceCluster(upstream);
    const services = this.process.grpcServices;
    if (cluster === null) {
      cluster = new TextDecoder().decode(upstream);
      if (!services.has(cluster) && !this.router.clusters.has(cluster)) return { status: Status.PARSE_FAILURE };
    }
    const token = (this.nextGrpcToken += 4);
    if (!services.has(cluster) && !this.router.clusters.has(cluster)) {
      // Envoy's async client fails the call inline: the close comes before the token is returned.
      this.deliverGrpcClose(root, token, GrpcStatus.Unavailable, NO_CLUSTER_MESSAGE);
      return { status: Status.INTERNAL_FAILURE };
    }
    const handler = services.get(cluster);
    const answer: GrpcAnswer = handler ? handler({ cluster, service, method, message, timeoutMs, thread: this.thread }) : CONNECT_REFUSED;
    const timeout = timeoutMs > 0 ? timeoutMs : Infinity;
    const afterMs = "hang" in answer ? Infinity : answer.afterMs ?? 1;
    const timer = this.process.clock.schedule(afterMs < timeout ? afterMs : timeout, () => {
      this.grpcCalls.delete(token);
      if (this.killed || this.vmFailed) return;
      if (afterMs >= timeout) this.deliverGrpcClose(root, token, GrpcStatus.Unavailable, TIMEOUT_MESSAGE);
      else if ("message" in answer) this.deliverGrpcReceive(root, token, answer.message);
      else if ("status" in answer) this.deliverGrpcClose(root, token, answer.status, answer.statusMessage ?? "");
      this.process.drain();
    });
    this.grpcCalls.set(token, timer);
    return { status: Status.OK, token };
  }

  grpcCancel(token: number): number {
    const call = this.grpcCalls.get(token);
    if (!call) return Status.NOT_FOUND;
    call.cancel();
    this.grpcCalls.delete(token);
    return Status.OK;
  }

  /** Calls in flight (made, not answered, not cancelled). */
  get grpcCallsInFlight(): number {
    return this.grpcCalls.size;
  }

  private deliverGrpcReceive(root: RootContext, token: number, message: Uint8Array): void {
    if (!this.fns.grpcReceive) return;
    this.grpcMessage = message;
    try {
      this.callRoot(root, this.fns.grpcReceive, root.id, token, message.length);
    } catch (e) {
      if (!(e instanceof VmFailure)) throw e;
    } finally {
      this.grpcMessage = null;
    }
  }

  private deliverGrpcClose(root: RootContext, token: number, status: number, message: string): void {
    if (!this.fns.grpcClose) return;
    const prev = this.lastGrpcStatus;
    this.lastGrpcStatus = { code: status, message };
    try {
      this.callRoot(root, this.fns.grpcClose, root.id, token, status);
    } catch (e) {
      if (!(e instanceof VmFailure)) throw e;
    } finally {
      this.lastGrpcStatus = prev;
    }
  }

  /** Calls a module export as its first root context would (test entries' own functions). */
  callExport(name: string, ...args: Array<number | bigint>): any {
    const fn = this.exportsObj[name];
    const root = this.roots[0];
    if (typeof fn !== "function" || !root) throw new Error(`no export ${name} (or no root context)`);
    const prev = [this.stream, this.currentContextId, this.currentRoot] as const;
    this.stream = null;
    this.currentContextId = root.id;
    this.currentRoot = root;
    try {
      return (fn as (...a: Array<number | bigint>) => any)(...args);
    } catch (e) {
      this.fail(e);
    } finally {
      [this.stream, this.currentContextId, this.currentRoot] = prev;
      this.process.drain();
    }
  }

  /** The module's linear memory (tests write inputs for callExport there). */
  memoryBytes(): Uint8Array {
    this.mem.refresh();
    return this.mem.u8;
  }

  // ---- shared data and queues: process-wide, keyed by this VM's vm_id

  getSharedData(key: string) {
    return this.process.shared.get(this.vmId, key);
  }

  setSharedData(key: string, value: Uint8Array, cas: number): number {
    return this.process.shared.set(this.vmId, key, value, cas);
  }

  registerSharedQueue(name: string): number {
    // onQueueReady goes to the root context (a stream context registers for its root).
    const root = this.stream?.root ?? this.currentRoot ?? this.roots[0];
    return this.process.queues.register(this.vmId, name, root?.id ?? 0, {
      notify: (rootContextId, token) =>
        this.process.post(() => {
          const r = this.roots.find((x) => x.id === rootContextId);
          if (!r || this.killed || this.vmFailed || !this.fns.queueReady) return;
          try {
            this.callRoot(r, this.fns.queueReady, r.id, token);
          } catch (e) {
            if (!(e instanceof VmFailure)) throw e;
          }
        }),
    });
  }

  resolveSharedQueue(vmId: string, name: string): number {
    return this.process.queues.resolve(vmId === "" ? this.vmId : vmId, name);
  }

  enqueueSharedQueue(token: number, value: Uint8Array): number {
    return this.process.queues.enqueue(token, value);
  }

  dequeueSharedQueue(token: number): Uint8Array | number {
    return this.process.queues.dequeue(token);
  }

  // ---- metrics: process-wide stats, per-VM ids

  defineMetric(type: number, name: string) {
    return this.metrics.define(type, name);
  }
  incrementMetric(id: number, delta: bigint): number {
    return this.metrics.increment(id, delta);
  }
  recordMetric(id: number, value: bigint): number {
    return this.metrics.record(id, value);
  }
  getMetric(id: number) {
    return this.metrics.get(id);
  }

  // ------------------------------------------------------------------ the request path

  /** Runs one request through the filter chain; synchronous, as every guest call is. */
  request(req: RequestOptions): RequestResult {
    const logs: LogEntry[] = [];
    const res: RequestResult = {
      outcome: "stalled",
      contextId: 0,
      finalHeaders: new HeaderMap(),
      finalBody: EMPTY,
      routeCacheClears: 0,
      returns: [],
      contentLengthMismatch: false,
      rejectedHeaderMutations: 0,
      bodyCallbacks: 0,
      setProperties: {},
      bufferLimit: this.defaultBufferLimit,
      localReplyCount: 0,
      logs,
    };
    const root = this.rootById(req.plugin, false);
    if (this.vmFailed || this.killed || !this.configured || !root || !this.fns.requestHeaders) {
      res.outcome = "vm-failed";
      res.error = this.vmFailed
        ? this.failure
        : !root
          ? `no downstream plugin with root id ${JSON.stringify(req.plugin)}`
          : "plugin configuration was rejected (proxy_on_configure returned false)";
      return res;
    }
    const headers = this.buildHeaders(req);
    let props: Map<string, Uint8Array> | null = null;
    if (req.properties || req.routeName !== undefined || req.clusterName !== undefined) {
      props = new Map();
      for (const [k, v] of Object.entries(req.properties ?? {})) props.set(propKey(k), toBytes(v));
      this.applyRouteProps(props, req.routeName, req.clusterName);
    }
    const s = this.createStream(root, headers, props);
    const firstCall = this.hostCallLog.length;
    for (const [k, v] of Object.entries(req.filterState ?? {})) s.filterState.set(k, toBytes(v));
    s.info = new StreamInfo(this.process.clock.now(), this.process.clock.monotonic());
    res.contextId = s.id;
    res.finalHeaders = headers;
    res.returns = s.returns;
    res.bufferLimit = s.bufferLimit;
    this.requestLogs = logs;
    const ex = new Exchange(this, s, req, res);
    let created = false;
    try {
      this.callStream(s, this.fns.create ?? (() => 0), s.id, root.id);
      created = true;
      runDecodePath(this, s, req, res, ex);
      // Work posted to this thread during the request path (queue notifications) runs next.
      this.process.drain();
      ex.afterRequestPath();
    } catch (e) {
      if (!(e instanceof VmFailure)) throw e;
      res.outcome = "vm-failed";
      res.error = e.message;
    }
    try {
      ex.teardown(created);
    } catch (e) {
      if (!(e instanceof VmFailure)) throw e;
      if (res.outcome === "upstream" || res.outcome === "local") res.error = e.message;
    }
    this.streams.delete(s.id);
    this.requestLogs = null;
    res.routeCacheClears = s.routeCacheClears;
    res.rejectedHeaderMutations = s.rejectedHeaderMutations;
    res.bufferLimit = s.bufferLimit;
    res.localReplyCount = s.localReplyCount;
    for (const [k, v] of s.filterState) res.setProperties[k] = dec.decode(v);
    this.process.drain();
    if (this.recording) res.hostCalls = this.hostCallLog.slice(firstCall);
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
}
