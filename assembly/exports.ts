// The proxy-wasm callbacks the host calls, and the per-context bookkeeping behind them. Root
// contexts (parent 0) own a compiled configuration; stream contexts own a StreamState taken from
// a free list, so a request allocates no state object once the VM is warm. A root configured under
// the root id "model-router-upstream" is the upstream filter (upstream.ts): its contexts are
// attempts, with AttemptStates from a free list of their own.
//
// Every exported callback costs each stream a call into the VM (about a microsecond of Envoy's glue
// each, also for the upstream filter's attempts, which share these exports), so only callbacks with
// work to do are exported: no proxy_on_done (cpp-host skips a callback a module does not export and
// goes on to proxy_on_delete; a root's last counters are pushed there), and no
// proxy_on_response_headers in the Envoy build (Envoy's route adds the decision header from filter
// state; the Higress build exports it from higress.ts).
import "./abi/abort"; // the compiler resolves `abort` to abort.ts#onAbort (asconfig.json "use")
import { HeadersAction } from "./abi/constants";
import { allocateForHost, currentTimeNanos, hostData, hostSize, readProperty, releaseHostData } from "./abi/host";
import { loadConfiguration } from "./config/load";
import {
  RootContext, StreamState, onRequestBody, onRequestHeaders, onRequestTrailers, onResponseBody, onResponseHeaders,
  onRootDone, onStreamEnd, onTick, startRoot,
} from "./filter";
import { seedRandom } from "./routing/random";
import { initVmNonce } from "./routing/plan_message";
import { AttemptLog } from "./response/attempts";
import { Context, ContextKind, ContextTable } from "./contexts";
import {
  AttemptState, UPSTREAM_ROOT_ID, UpstreamRoot, configureUpstream, onAttemptBody, onAttemptEnd, onAttemptHeaders,
  onAttemptResponseBody, onAttemptTrailers,
} from "./upstream";

// ---- garbage ---------------------------------------------------------------------------------------
// The module is built with AssemblyScript's minimal runtime (asconfig.json): a mark-and-sweep
// collector that runs only when asked, with no Wasm frame on the stack. The incremental one kept a
// shadow stack of every reference in every function (a third of the module's code, and about a
// quarter of the plugin's own time per request in Envoy). A routed request allocates no managed
// object; configurations, local replies and log lines do. So the garbage is collected where every
// callback's locals are gone: after each configuration, at every tick (a full collection of the
// router.json configuration takes ~10 µs, of 1000 models × 200 routes ~0.3 ms), as soon as the heap
// had to grow, and every COLLECT_EVERY streams (hosts without ticks).
const COLLECT_EVERY: u32 = 4096;
let streamsSinceCollect: u32 = 0;
let pagesAtCollect: i32 = 0;

function collectGarbage(): void {
  __collect();
  streamsSinceCollect = 0;
  pagesAtCollect = memory.size();
}

// Every context by id (contexts.ts): plugin roots, upstream-filter roots, streams, attempts.
const contexts = new ContextTable();
const freeStates = new Array<StreamState>();
const freeAttempts = new Array<AttemptState>();

// A plugin root context: its configuration once configured (null before, or when it was refused).
class PluginRoot extends Context {
  root: RootContext | null = null;
  constructor() { super(ContextKind.Root); }
}

const PLUGIN_ROOT_ID = String.UTF8.encode("plugin_root_id");

function isUpstreamRoot(): bool {
  if (!readProperty(PLUGIN_ROOT_ID)) return false;
  const id = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return id == UPSTREAM_ROOT_ID;
}

@inline function streamOf(c: Context | null): StreamState | null {
  return c !== null && c.kind == ContextKind.Stream ? changetype<StreamState>(c) : null;
}

@inline function attemptOf(c: Context | null): AttemptState | null {
  return c !== null && c.kind == ContextKind.Attempt ? changetype<AttemptState>(c) : null;
}

@inline function pluginRootOf(c: Context | null): RootContext | null {
  return c !== null && c.kind == ContextKind.Root ? changetype<PluginRoot>(c).root : null;
}

// The request an attempt belongs to, for its attempt log (the stream must still be running here).
function attemptLogOf(contextId: u32): AttemptLog | null {
  const state = streamOf(contexts.find(contextId));
  return state !== null ? state.attempts : null;
}

// For the Higress build's proxy_on_response_headers (higress.ts).
export function responseHeaders(contextId: u32): void {
  const state = streamOf(contexts.find(contextId));
  if (state !== null) onResponseHeaders(state);
}

export function malloc(size: usize): usize { return allocateForHost(size); }
export function proxy_on_memory_allocate(size: usize): usize { return allocateForHost(size); }

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    contexts.set(contextId, new PluginRoot());
    return;
  }
  const parent = contexts.find(parentId);
  if (parent !== null && parent.kind == ContextKind.UpstreamRoot) {
    const attempt = freeAttempts.length > 0 ? freeAttempts.pop() : new AttemptState();
    attempt.reset(changetype<UpstreamRoot>(parent));
    contexts.set(contextId, attempt);
    return;
  }
  const state = freeStates.length > 0 ? freeStates.pop() : new StreamState();
  state.reset(pluginRootOf(parent));
  contexts.set(contextId, state);
}

export function proxy_on_vm_start(rootId: u32, size: usize): bool { return true; }

export function proxy_validate_configuration(rootId: u32, size: usize): bool {
  const valid = loadConfiguration(size) !== null;
  collectGarbage();
  return valid;
}

export function proxy_on_configure(rootId: u32, size: usize): bool {
  const configured = configure(rootId, size);
  collectGarbage();
  return configured;
}

function configure(rootId: u32, size: usize): bool {
  const plugin = loadConfiguration(size);
  if (plugin === null) return false;
  initVmNonce(currentTimeNanos());
  if (isUpstreamRoot()) {
    const upstream = configureUpstream(plugin);
    if (upstream === null) return false;
    contexts.set(rootId, upstream);
    return true;
  }
  const root = new RootContext(plugin);
  const entry = contexts.find(rootId);
  if (entry !== null && entry.kind == ContextKind.Root) changetype<PluginRoot>(entry).root = root;
  else {
    const created = new PluginRoot();
    created.root = root;
    contexts.set(rootId, created);
  }
  seedRandom(currentTimeNanos()); // host calls are not allowed at start-up, so seed here
  startRoot(root);
  return true;
}

export function proxy_on_tick(rootId: u32): void {
  const root = pluginRootOf(contexts.find(rootId));
  if (root !== null) onTick(root);
  collectGarbage();
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return HeadersAction.Continue;
  if (c.kind == ContextKind.Stream) return onRequestHeaders(changetype<StreamState>(c), endOfStream != 0);
  if (c.kind == ContextKind.Attempt) return onAttemptHeaders(changetype<AttemptState>(c), attemptLogOf);
  return HeadersAction.Continue;
}

export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) return onRequestBody(changetype<StreamState>(c), size, endOfStream != 0);
  if (c.kind == ContextKind.Attempt) return onAttemptBody(changetype<AttemptState>(c), size, endOfStream != 0);
  return 0;
}

export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) onRequestTrailers(changetype<StreamState>(c));
  else if (c.kind == ContextKind.Attempt) onAttemptTrailers(changetype<AttemptState>(c));
  return 0;
}

// The response is only watched, never held: the body callback continues at once (the status is read
// at the end, in on_log).
export function proxy_on_response_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) onResponseBody(changetype<StreamState>(c), size, endOfStream != 0);
  else if (c.kind == ContextKind.Attempt) onAttemptResponseBody(changetype<AttemptState>(c));
  return 0;
}

export function proxy_on_log(contextId: u32): void {
  const state = streamOf(contexts.find(contextId));
  if (state !== null) onStreamEnd(state);
}

export function proxy_on_delete(contextId: u32): void {
  const c = contexts.remove(contextId);
  if (c === null) return;
  switch (c.kind) {
    case ContextKind.Stream: {
      const state = changetype<StreamState>(c);
      onStreamEnd(state); // a host that never called on_log
      state.reset(null);
      freeStates.push(state);
      if (++streamsSinceCollect >= COLLECT_EVERY || memory.size() != pagesAtCollect) collectGarbage();
      break;
    }
    case ContextKind.Attempt: {
      const attempt = changetype<AttemptState>(c);
      onAttemptEnd(attempt); // an upstream filter gets no on_log: its end is here
      attempt.reset(null);
      freeAttempts.push(attempt);
      break;
    }
    case ContextKind.Root: {
      const root = changetype<PluginRoot>(c).root;
      if (root !== null) onRootDone(root); // the VM or the plugin is going away
      break;
    }
  }
}
