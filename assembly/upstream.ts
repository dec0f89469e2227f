// The same module as Envoy's upstream HTTP filter (root id UPSTREAM_ROOT_ID, in the router's
// upstream_http_filters): one AttemptContext per attempt. The router filter decided once and handed
// over a plan (filter state); Envoy moves the attempts along the plan's fallback cluster, one
// provider per attempt. Each attempt here learns which provider Envoy picked (endpoint metadata), and
// makes the request that provider's: the model id in the body (attempt 1 already carries the first
// model's: nothing to do then), the path (its API's, api/), the Host, the key and the provider's
// static headers. Attempts share one header map, so every attempt overwrites what a provider sets
// and removes what another provider set before.
//
// Keys come from the VM's environment (vm_config.environment_variables.host_env_keys), read once at
// configuration: never from the configuration or endpoint metadata, which /config_dump shows.
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  currentTimeNanos, freeHostBlock, hostData, hostSize, log, readBuffer, readEnvironment, readProperty, readPropertyInt64,
  releaseHostData, removeRequestHeader, replaceRequestHeader, replaceRequestHeaderBytes, writeProperty,
} from "./abi/host";
import { EQUALS } from "./bytes";
import { PluginConfig } from "./config/rules";
import { Auth, ModelSpec, ProviderSpec, RouterConfig } from "./config/types";
import { Context, ContextKind } from "./contexts";
import { countFallback } from "./metrics/fallbacks";
import { CONFIG_ERROR_PREFIX, LOG_PREFIX, METADATA_NAMESPACE, PROVIDER_METADATA_KEY, SERVED_FILTER_STATE } from "./names";
import { ClientError } from "./request/client_error";
import { CONTENT_LENGTH } from "./request/headers";
import { providerPath } from "./request/provider_path";
import { spliceModel } from "./request/rewrite";
import { AttemptLog } from "./response/attempts";
import { Cause, isViaUpstream } from "./response/classify";
import { CODE_DETAILS } from "./response/observe";
import { NO_ROUTE, PlanMessage, vmNonce } from "./routing/plan_message";
import { RequestScratch } from "./scratch";

const SERVED_PROPERTY = String.UTF8.encode(SERVED_FILTER_STATE);
// A namespace without dots reads as one path segment (a dotted one needs NUL-separated segments).
const PROVIDER_METADATA = String.UTF8.encode("xds\0upstream_host_metadata\0filter_metadata\0" + METADATA_NAMESPACE + "\0" + PROVIDER_METADATA_KEY);
const ATTEMPT_COUNT = String.UTF8.encode("upstream\0request_attempt_count");
const PATH = String.UTF8.encode(":path");
const AUTHORITY = String.UTF8.encode(":authority");

let warned = false;

function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  log(LogLevel.Warn, LOG_PREFIX + "upstream filter: " + text);
}

// ---- the root context: configuration ------------------------------------------------------------

function valueOf(environment: string[], name: string): string | null {
  for (let i = 0; i < environment.length; i++) {
    const entry = environment[i];
    if (entry.length > name.length && entry.charCodeAt(name.length) == EQUALS && entry.startsWith(name)) return entry.substring(name.length + 1);
  }
  return null;
}

function credentialValue(p: ProviderSpec, key: string): ArrayBuffer {
  return String.UTF8.encode(p.auth == Auth.Bearer ? "Bearer " + key : key);
}

// The upstream roots last configured in this VM, newest last. While Envoy switches the two filters
// to a new configuration (a live reload: each is its own file-watched resource), a request the router
// decided with the previous one can reach an attempt of the new upstream filter: its plan names the
// configuration it was made with (by fingerprint), and the attempt follows that one, with its keys.
const RECENT_ROOTS = 4;
const recentRoots = new Array<UpstreamRootContext>();

export class UpstreamRootContext extends Context {
  // Set by onConfigure: the compiled configuration (shared with the router filter when both are
  // given the same text) and, per catalog and provider, the credential header value.
  plugin: PluginConfig | null = null;
  credentials: Array<Array<ArrayBuffer | null>> = [];

  constructor(readonly scratch: RequestScratch) { super(ContextKind.UpstreamRoot); }

  // The router's configuration, plus every provider key from the environment. A key variable Envoy
  // did not pass is an error (the provider would get a request without its key).
  onConfigure(plugin: PluginConfig): bool {
    const environment = readEnvironment();
    const credentials = new Array<Array<ArrayBuffer | null>>();
    for (let c = 0; c < plugin.catalogs.length; c++) {
      const providers = plugin.catalogs[c].providers;
      const keys = new Array<ArrayBuffer | null>(providers.length);
      for (let i = 0; i < providers.length; i++) {
        const p = providers[i];
        keys[i] = null;
        if (p.auth == Auth.None) continue;
        const key = valueOf(environment, p.apiKeyEnv);
        if (key === null || key.length == 0) {
          log(LogLevel.Error, CONFIG_ERROR_PREFIX + "providers." + p.name + ".apiKeyEnv: " + p.apiKeyEnv +
            " is not in the environment Envoy gives the upstream filter's VM (add it to vm_config.environment_variables.host_env_keys and set it)");
          return false;
        }
        keys[i] = credentialValue(p, key);
      }
      credentials.push(keys);
    }
    this.credentials = credentials;
    this.plugin = plugin;
    const known = recentRoots.indexOf(this);
    if (known >= 0) recentRoots.splice(known, 1);
    recentRoots.push(this);
    if (recentRoots.length > RECENT_ROOTS) recentRoots.shift();
    return true;
  }

  // The root configured with the configuration of this fingerprint: this one, or one of the last
  // configured in this VM (a reload in progress); null when none is.
  rootFor(fingerprint: u32): UpstreamRootContext | null {
    const plugin = this.plugin;
    if (plugin !== null && plugin.fingerprint == fingerprint) return this;
    for (let i = recentRoots.length - 1; i >= 0; i--) {
      const recent = unchecked(recentRoots[i]);
      const p = recent.plugin;
      if (p !== null && p.fingerprint == fingerprint) return recent;
    }
    return null;
  }

  // Reads and checks the request's plan (into the scratch's plan message, kept until released);
  // the request's configuration, or null when there is none to follow.
  // The configuration may be a recent one's (rootFor).
  readPlan(): RouterConfig | null {
    const message = this.scratch.planMessage;
    if (!message.read()) return null; // Envoy sent a request the router made no plan for
    const id = message.configId;
    const planRoot = this.rootFor(message.fingerprint);
    const plugin = planRoot !== null ? planRoot.plugin : null;
    const cfg = plugin !== null && id >= 0 && id < plugin.configs.length ? unchecked(plugin.configs[id]) : null;
    if (cfg === null) {
      message.release();
      warnOnce("the plan was made with another configuration: give the router and the upstream filter the same configuration");
      return null;
    }
    for (let i = 0; i < message.length; i++) {
      const m = unchecked(message.models[i]);
      if (m >= cfg.models.length || unchecked(cfg.models[m]).providerIndex < 0) { message.release(); return null; }
    }
    return cfg;
  }
}

// ---- one attempt -----------------------------------------------------------------------------------

// Which position of the chain this attempt is: by the provider Envoy picked (endpoint metadata
// written by the generated bootstrap), else by the attempt number.
function chainPosition(cfg: RouterConfig, message: PlanMessage): i32 {
  if (readProperty(PROVIDER_METADATA)) {
    let found = -1;
    for (let i = 0; i < message.length && found < 0; i++) {
      const name = unchecked(cfg.models[unchecked(message.models[i])]).upstreamBytes;
      if (<usize>name.byteLength == hostSize && memory.compare(changetype<usize>(name), hostData, hostSize) == 0) found = i;
    }
    releaseHostData();
    return found;
  }
  const attempt = <i32>readPropertyInt64(ATTEMPT_COUNT, 1);
  return attempt >= 1 && attempt <= message.length ? attempt - 1 : -1;
}

@inline function sameBytes(a: ArrayBuffer, b: ArrayBuffer): bool {
  return a.byteLength == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), a.byteLength) == 0;
}

function setsHeader(p: ProviderSpec, name: ArrayBuffer): bool {
  if (p.credentialHeader.byteLength > 0 && sameBytes(p.credentialHeader, name)) return true;
  for (let i = 0; i < p.headerNameBytes.length; i++) if (sameBytes(unchecked(p.headerNameBytes[i]), name)) return true;
  return false;
}

// Every header a provider sets, for this attempt's provider: the others' are removed when an
// earlier attempt may have left them.
function writeProviderHeaders(root: UpstreamRootContext, cfg: RouterConfig, p: ProviderSpec, m: ModelSpec, cleanUp: bool): void {
  const message = root.scratch.planMessage;
  const path = providerPath(p, m, message.path, message.pathSize);
  replaceRequestHeaderBytes(PATH, path.ptr, path.size);
  replaceRequestHeader(AUTHORITY, p.authority);
  if (cleanUp) {
    const names = cfg.catalog.providerHeaderNames;
    for (let i = 0; i < names.length; i++) {
      const name = unchecked(names[i]);
      if (!setsHeader(p, name)) removeRequestHeader(name);
    }
  }
  const key = unchecked(unchecked(root.credentials[cfg.catalog.id])[p.index]);
  if (key !== null) replaceRequestHeader(p.credentialHeader, key);
  for (let i = 0; i < p.headerNameBytes.length; i++) replaceRequestHeader(unchecked(p.headerNameBytes[i]), unchecked(p.headerValueBytes[i]));
}

function labelOf(cfg: RouterConfig, message: PlanMessage): string {
  return message.requestedRoute != NO_ROUTE && message.requestedRoute < cfg.routes.length
    ? cfg.routes[message.requestedRoute].name
    : cfg.models[unchecked(message.models[0])].name;
}

export class AttemptContext extends Context {
  constructor() { super(ContextKind.Attempt); }
  root: UpstreamRootContext | null = null;
  model: ModelSpec | null = null;      // the model this attempt's provider gets (null: not a plan's attempt)
  rewrite: bool = false;               // the body still names the plan's first model
  firstLiteral: ArrayBuffer | null = null;
  modelStart: u32 = 0;
  modelEnd: u32 = 0;
  maxBodyBytes: usize = 0;
  log: AttemptLog | null = null;       // the request's attempt log (same VM only)
  logGeneration: u32 = 0;
  slot: i32 = -1;
  delivered: bool = false;             // its response is passing to the client

  // A new attempt under `root` (null: its root was refused or is not configured; it passes through).
  reset(root: UpstreamRootContext | null): void {
    this.root = root;
    this.model = null;
    this.rewrite = false;
    this.firstLiteral = null;
    this.log = null;
    this.slot = -1;
    this.delivered = false;
  }

  // `findLog`: the attempt log of the request a plan names (its router stream, in this VM).
  onRequestHeaders(findLog: (contextId: u32) => AttemptLog | null): HeadersAction {
    const root = this.root;
    if (root === null || root.plugin === null) return HeadersAction.Continue;
    const cfg = root.readPlan();
    if (cfg === null) return HeadersAction.Continue;
    const message = root.scratch.planMessage;
    // The keys of the configuration the plan was made with (readPlan found its root).
    const planRoot = root.rootFor(message.fingerprint)!;
    const position = chainPosition(cfg, message);
    if (position < 0) {
      message.release();
      warnOnce("an attempt went to a provider outside its plan: route each fallback cluster on the plugin's chain header");
      return HeadersAction.Continue;
    }
    const m = unchecked(cfg.models[unchecked(message.models[position])]);
    const p = unchecked(cfg.catalog.providers[m.providerIndex]);
    const log = message.vmNonce == vmNonce ? findLog(message.contextId) : null;
    // Not the request's first attempt: what a previous one set goes, and the response will not be
    // the first model's (the route's served-model header prefers this over the router's choice).
    const moved = position > 0 || (log !== null && log.count > 0);
    writeProviderHeaders(planRoot, cfg, p, m, moved);
    if (moved) writeProperty(SERVED_PROPERTY, m.nameBytes);
    this.model = m;
    if (position > 0) {
      this.rewrite = true;
      this.firstLiteral = unchecked(cfg.models[unchecked(message.models[0])]).upstreamModelLiteral;
      this.modelStart = message.modelStart;
      this.modelEnd = message.modelEnd;
      this.maxBodyBytes = cfg.maxBodyBytes;
      // The body changes length (the router forwarded it without one already; another filter may not).
      removeRequestHeader(CONTENT_LENGTH);
    }
    this.noteAttempt(cfg, message, position, m, log);
    message.release();
    return HeadersAction.Continue;
  }

  // Notes the attempt in the request's log (same VM), and counts the move from the previous model.
  private noteAttempt(cfg: RouterConfig, message: PlanMessage, position: i32, m: ModelSpec, log: AttemptLog | null): void {
    let previous = position > 0 ? unchecked(message.models[position - 1]) : -1;
    if (log !== null) {
      if (log.count > 0) previous = log.model(log.count - 1);
      this.log = log;
      this.logGeneration = log.generation;
      // The first attempt starts as the router forwards the request: the decision's time stands for
      // its start (no clock read); a later one is timed from its own start.
      const first = position == 0 && log.count == 0;
      this.slot = log.begin(m.index, first ? NaN : <f64>(currentTimeNanos() / 1000) / 1000);
    }
    if (previous >= 0 && previous != m.index) countFallback(labelOf(cfg, message), cfg.models[previous].name, m.name);
  }

  // The body of an attempt on another model: once whole, its first model's id becomes this one's.
  onRequestBody(size: usize, endOfStream: bool): BodyAction {
    if (!this.rewrite) return BodyAction.Continue;
    if (!endOfStream) return BodyAction.StopIterationAndBuffer;
    this.rewriteBody(size);
    return BodyAction.Continue;
  }

  // A request that ends with trailers: the buffered body is whole when they come.
  onRequestTrailers(): void {
    if (this.rewrite) this.rewriteBody(this.maxBodyBytes + 1);
  }

  private rewriteBody(size: usize): void {
    this.rewrite = false;
    if (!readBuffer(BufferType.RequestBody, size)) return;
    const body = hostData, bodySize = hostSize;
    let start = <usize>this.modelStart, end = <usize>this.modelEnd;
    const expected = this.firstLiteral!;
    if (!(end <= bodySize && end - start == <usize>expected.byteLength && memory.compare(body + start, changetype<usize>(expected), end - start) == 0)) {
      // Another filter changed the body since the plan was made: find `model` again.
      const scratch = this.root!.scratch, features = scratch.features;
      scratch.scanner.scan(body, bodySize, features, false);
      if (features.error != ClientError.None) { freeHostBlock(body); return; }
      start = features.modelStart;
      end = features.modelEnd;
    }
    if (!spliceModel(body, bodySize, start, end, this.model!.upstreamModelLiteral)) log(LogLevel.Error, LOG_PREFIX + "the host refused the attempt's request body");
    freeHostBlock(body);
  }

  // The attempt's response is passing on (a retried attempt's body never reaches the filter).
  onResponseBody(): void {
    this.delivered = true;
  }

  // The attempt is over (an upstream filter gets no on_log: proxy_on_delete). One that passed
  // nothing on was retried (or the client left): how it failed goes into the request's log, if that
  // request is still the one the log belongs to.
  onDelete(): void {
    const log = this.log;
    if (log === null || this.slot < 0 || this.delivered || log.generation != this.logGeneration) return;
    let cause = Cause.NoResponse;
    if (readProperty(CODE_DETAILS)) {
      // The request's details turn via_upstream once an attempt has response headers: this one got
      // an HTTP error Envoy retried (or an earlier one did, and this one is taken for the same).
      if (isViaUpstream(hostData, hostSize)) cause = Cause.Status;
      releaseHostData();
    }
    unchecked(log.causes[this.slot] = <u8>cause);
  }
}
