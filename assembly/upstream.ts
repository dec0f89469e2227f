// The same module as Envoy's upstream HTTP filter (root id "model-router-upstream", in the router's
// upstream_http_filters): one context per attempt. The router filter decided once and handed over a
// plan (filter state); Envoy moves the attempts along the plan's fallback cluster, one provider per
// attempt. Each attempt here learns which provider Envoy picked (endpoint metadata), and makes the
// request that provider's: the model id in the body (attempt 1 already carries the first model's:
// nothing to do then), the path (Azure: deployment and api-version), the Host, the key and the
// provider's static headers. Attempts share one header map, so every attempt overwrites what a
// provider sets and removes what another provider set before.
//
// Keys come from the VM's environment (vm_config.environment_variables.host_env_keys), read once at
// configuration: never from the configuration or endpoint metadata, which /config_dump shows.
import { BodyAction, BufferType, HeadersAction, LogLevel } from "./abi/constants";
import {
  currentTimeNanos, freeHostBlock, hostData, hostSize, log, readBuffer, readEnvironment, readProperty,
  readPropertyInt64, releaseHostData, removeRequestHeader, replaceRequestHeader, replaceRequestHeaderBytes, takeHostData,
  writeProperty,
} from "./abi/host";
import { PluginConfig } from "./config/rules";
import { Context, ContextKind } from "./contexts";
import { Auth, ModelSpec, ProviderSpec, RouterConfig } from "./config/types";
import { scanBody } from "./request/body_scan";
import { BodyError, RequestFeatures } from "./request/features";
import { CONTENT_LENGTH } from "./request/headers";
import { providerPath, providerPathSize } from "./request/provider_path";
import { spliceModel } from "./request/rewrite";
import { NO_ROUTE, PLAN_PROPERTY, PlanMessage, vmNonce } from "./routing/plan_message";
import { AttemptLog } from "./response/attempts";
import { Cause, isViaUpstream } from "./response/classify";
import { CODE_DETAILS } from "./response/observe";
import { countFallback } from "./metrics/fallbacks";

export const UPSTREAM_ROOT_ID = "model-router-upstream";

const SERVED_PROPERTY = String.UTF8.encode("llm_router.served");
// A namespace without dots reads as one path segment (a dotted one needs NUL-separated segments).
const PROVIDER_METADATA = String.UTF8.encode("xds\0upstream_host_metadata\0filter_metadata\0llm_router\0provider");
const ATTEMPT_COUNT = String.UTF8.encode("upstream\0request_attempt_count");
const PATH = String.UTF8.encode(":path");
const AUTHORITY = String.UTF8.encode(":authority");

// What the upstream root context owns: the compiled configuration (shared with the router filter
// when both are given the same text) and, per catalog and provider, the credential header value.
export class UpstreamRoot extends Context {
  constructor(readonly plugin: PluginConfig, readonly credentials: Array<Array<ArrayBuffer | null>>) {
    super(ContextKind.UpstreamRoot);
  }
}

// One attempt.
export class AttemptState extends Context {
  constructor() { super(ContextKind.Attempt); }
  root: UpstreamRoot | null = null;
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

  reset(root: UpstreamRoot | null): void {
    this.root = root;
    this.model = null;
    this.rewrite = false;
    this.firstLiteral = null;
    this.log = null;
    this.slot = -1;
    this.delivered = false;
  }
}

// ---- configuration -------------------------------------------------------------------------------

function valueOf(environment: string[], name: string): string | null {
  for (let i = 0; i < environment.length; i++) {
    const entry = environment[i];
    if (entry.length > name.length && entry.charCodeAt(name.length) == 0x3d && entry.startsWith(name)) return entry.substring(name.length + 1);
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
const recentRoots = new Array<UpstreamRoot>();

function rootOf(root: UpstreamRoot, fingerprint: u32): UpstreamRoot | null {
  if (root.plugin.fingerprint == fingerprint) return root;
  for (let i = recentRoots.length - 1; i >= 0; i--) {
    const recent = unchecked(recentRoots[i]);
    if (recent.plugin.fingerprint == fingerprint) return recent;
  }
  return null;
}

// The upstream filter's configuration: the router's, plus every provider key from the environment.
// A key variable Envoy did not pass is an error (the provider would get a request without its key).
export function configureUpstream(plugin: PluginConfig): UpstreamRoot | null {
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
        log(LogLevel.Error, "model-router: invalid configuration: providers." + p.name + ".apiKeyEnv: " + p.apiKeyEnv +
          " is not in the environment Envoy gives the upstream filter's VM (add it to vm_config.environment_variables.host_env_keys and set it)");
        return null;
      }
      keys[i] = credentialValue(p, key);
    }
    credentials.push(keys);
  }
  const root = new UpstreamRoot(plugin, credentials);
  recentRoots.push(root);
  if (recentRoots.length > RECENT_ROOTS) recentRoots.shift();
  return root;
}

// ---- one attempt -----------------------------------------------------------------------------------

const message = new PlanMessage();
const features = new RequestFeatures();
let warned = false;

function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  log(LogLevel.Warn, "model-router: upstream filter: " + text);
}

function configOf(plugin: PluginConfig, id: i32): RouterConfig | null {
  return id >= 0 && id < plugin.configs.length ? unchecked(plugin.configs[id]) : null;
}

// Which position of the chain this attempt is: by the provider Envoy picked (endpoint metadata
// written by the generated bootstrap), else by the attempt number.
function chainPosition(cfg: RouterConfig): i32 {
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

// The plan as read from filter state; message.path points into it until it is freed.
let planBlock: usize = 0;

function releasePlan(): void {
  freeHostBlock(planBlock);
  planBlock = 0;
}

// Reads and checks the plan; the request's configuration, or null when there is none to follow. The
// attempt's root becomes the one configured with the plan's configuration (see recentRoots).
function readPlan(state: AttemptState, root: UpstreamRoot): RouterConfig | null {
  if (!readProperty(PLAN_PROPERTY)) return null; // Envoy sent a request the router made no plan for
  const size = hostSize;
  planBlock = takeHostData();
  if (!message.decode(planBlock, size)) { releasePlan(); return null; }
  const planRoot = rootOf(root, message.fingerprint);
  const cfg = planRoot !== null ? configOf(planRoot.plugin, message.configId) : null;
  if (planRoot === null || cfg === null) {
    releasePlan();
    warnOnce("the plan was made with another configuration: give the router and the upstream filter the same configuration");
    return null;
  }
  for (let i = 0; i < message.length; i++) {
    const m = unchecked(message.models[i]);
    if (m >= cfg.models.length || unchecked(cfg.models[m]).providerIndex < 0) { releasePlan(); return null; }
  }
  state.root = planRoot;
  return cfg;
}

// Every header a provider sets, for this attempt's provider: the others' are removed when an
// earlier attempt may have left them.
function writeProviderHeaders(root: UpstreamRoot, cfg: RouterConfig, p: ProviderSpec, m: ModelSpec, cleanUp: bool): void {
  replaceRequestHeaderBytes(PATH, providerPath(p, m, message.path, message.pathSize), providerPathSize);
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

@inline function sameBytes(a: ArrayBuffer, b: ArrayBuffer): bool {
  return a.byteLength == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), a.byteLength) == 0;
}

function setsHeader(p: ProviderSpec, name: ArrayBuffer): bool {
  if (p.credentialHeader.byteLength > 0 && sameBytes(p.credentialHeader, name)) return true;
  for (let i = 0; i < p.headerNameBytes.length; i++) if (sameBytes(unchecked(p.headerNameBytes[i]), name)) return true;
  return false;
}

function labelOf(cfg: RouterConfig): string {
  return message.requestedRoute != NO_ROUTE && message.requestedRoute < cfg.routes.length
    ? cfg.routes[message.requestedRoute].name
    : cfg.models[unchecked(message.models[0])].name;
}

// Notes the attempt in the request's log (same VM), and counts the move from the previous model.
function noteAttempt(state: AttemptState, cfg: RouterConfig, position: i32, m: ModelSpec, log: AttemptLog | null): void {
  let previous = position > 0 ? unchecked(message.models[position - 1]) : -1;
  if (log !== null) {
    if (log.count > 0) previous = log.model(log.count - 1);
    state.log = log;
    state.logGeneration = log.generation;
    // The first attempt starts as the router forwards the request: the decision's time stands for
    // its start (no clock read); a later one is timed from its own start.
    const first = position == 0 && log.count == 0;
    state.slot = log.begin(m.index, first ? NaN : <f64>(currentTimeNanos() / 1000) / 1000);
  }
  if (previous >= 0 && previous != m.index) countFallback(labelOf(cfg), cfg.models[previous].name, m.name);
}

export function onAttemptHeaders(state: AttemptState, findLog: (contextId: u32) => AttemptLog | null): HeadersAction {
  const configured = state.root;
  if (configured === null) return HeadersAction.Continue;
  const cfg = readPlan(state, configured);
  const root = state.root;
  if (cfg === null || root === null) return HeadersAction.Continue;
  const position = chainPosition(cfg);
  if (position < 0) {
    releasePlan();
    warnOnce("an attempt went to a provider outside its plan: route each fallback cluster on the plugin's chain header");
    return HeadersAction.Continue;
  }
  const m = unchecked(cfg.models[unchecked(message.models[position])]);
  const p = unchecked(cfg.catalog.providers[m.providerIndex]);
  const log = message.vmNonce == vmNonce ? findLog(message.contextId) : null;
  // Not the request's first attempt: what a previous one set goes, and the response will not be
  // the first model's (the route's served-model header prefers this over the router's choice).
  const moved = position > 0 || (log !== null && log.count > 0);
  writeProviderHeaders(root, cfg, p, m, moved);
  releasePlan();
  if (moved) writeProperty(SERVED_PROPERTY, m.nameBytes);
  state.model = m;
  if (position > 0) {
    state.rewrite = true;
    state.firstLiteral = unchecked(cfg.models[unchecked(message.models[0])]).upstreamModelLiteral;
    state.modelStart = message.modelStart;
    state.modelEnd = message.modelEnd;
    state.maxBodyBytes = cfg.maxBodyBytes;
    // The body changes length (the router forwarded it without one already; another filter may not).
    removeRequestHeader(CONTENT_LENGTH);
  }
  noteAttempt(state, cfg, position, m, log);
  return HeadersAction.Continue;
}

// The body of an attempt on another model: once whole, its first model's id becomes this one's.
export function onAttemptBody(state: AttemptState, size: usize, endOfStream: bool): BodyAction {
  if (!state.rewrite) return BodyAction.Continue;
  if (!endOfStream) return BodyAction.StopIterationAndBuffer;
  rewriteAttemptBody(state, size);
  return BodyAction.Continue;
}

// A request that ends with trailers: the buffered body is whole when they come.
export function onAttemptTrailers(state: AttemptState): void {
  if (state.rewrite) rewriteAttemptBody(state, state.maxBodyBytes + 1);
}

function rewriteAttemptBody(state: AttemptState, size: usize): void {
  state.rewrite = false;
  if (!readBuffer(BufferType.RequestBody, size)) return;
  const body = hostData, bodySize = hostSize;
  let start = <usize>state.modelStart, end = <usize>state.modelEnd;
  const expected = state.firstLiteral!;
  if (!(end <= bodySize && end - start == <usize>expected.byteLength && memory.compare(body + start, changetype<usize>(expected), end - start) == 0)) {
    // Another filter changed the body since the plan was made: find `model` again.
    scanBody(body, bodySize, features, false);
    if (features.error != BodyError.None) { freeHostBlock(body); return; }
    start = features.modelStart;
    end = features.modelEnd;
  }
  if (!spliceModel(body, bodySize, start, end, state.model!.upstreamModelLiteral)) log(LogLevel.Error, "model-router: the host refused the attempt's request body");
  freeHostBlock(body);
}

// The attempt's response is passing on (a retried attempt's body never reaches the filter).
export function onAttemptResponseBody(state: AttemptState): void {
  state.delivered = true;
}

// The attempt is over. One that passed nothing on was retried (or the client left): how it failed
// goes into the request's log, if that request is still the one the log belongs to.
export function onAttemptEnd(state: AttemptState): void {
  const log = state.log;
  if (log === null || state.slot < 0 || state.delivered || log.generation != state.logGeneration) return;
  let cause = Cause.NoResponse;
  if (readProperty(CODE_DETAILS)) {
    // The request's details turn via_upstream once an attempt has response headers: this one got
    // an HTTP error Envoy retried (or an earlier one did, and this one is taken for the same).
    if (isViaUpstream(hostData, hostSize)) cause = Cause.Status;
    releaseHostData();
  }
  unchecked(log.causes[state.slot] = <u8>cause);
}
