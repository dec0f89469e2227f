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

// For the Higress build's proxy_on_response_headers (higress.ts).
export function responseHeaders(contextId: u32): void {
  if (streams.has(contextId)) onResponseHeaders(streams.get(contextId));
}
import { seedRandom } from "./routing/random";
import { initVmNonce } from "./routing/plan_message";
import { AttemptLog } from "./response/attempts";
import {
  AttemptState, UPSTREAM_ROOT_ID, UpstreamRoot, configureUpstream, onAttemptBody, onAttemptEnd, onAttemptHeaders,
  onAttemptResponseBody, onAttemptTrailers,
} from "./upstream";

const roots = new Map<u32, RootContext | null>();
const streams = new Map<u32, StreamState>();
const freeStates = new Array<StreamState>();
const upstreamRoots = new Map<u32, UpstreamRoot>();
const attempts = new Map<u32, AttemptState>();
const freeAttempts = new Array<AttemptState>();

const PLUGIN_ROOT_ID = String.UTF8.encode("plugin_root_id");

function isUpstreamRoot(): bool {
  if (!readProperty(PLUGIN_ROOT_ID)) return false;
  const id = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return id == UPSTREAM_ROOT_ID;
}

// The request an attempt belongs to, for its attempt log (the stream must still be running here).
function attemptLogOf(contextId: u32): AttemptLog | null {
  return streams.has(contextId) ? streams.get(contextId).attempts : null;
}

export function malloc(size: usize): usize { return allocateForHost(size); }
export function proxy_on_memory_allocate(size: usize): usize { return allocateForHost(size); }

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(contextId, null);
    return;
  }
  if (upstreamRoots.has(parentId)) {
    const attempt = freeAttempts.length > 0 ? freeAttempts.pop() : new AttemptState();
    attempt.reset(upstreamRoots.get(parentId));
    attempts.set(contextId, attempt);
    return;
  }
  const state = freeStates.length > 0 ? freeStates.pop() : new StreamState();
  state.reset(roots.has(parentId) ? roots.get(parentId) : null);
  state.contextId = contextId;
  streams.set(contextId, state);
}

export function proxy_on_vm_start(rootId: u32, size: usize): bool { return true; }

export function proxy_validate_configuration(rootId: u32, size: usize): bool {
  return loadConfiguration(size) !== null;
}

export function proxy_on_configure(rootId: u32, size: usize): bool {
  const plugin = loadConfiguration(size);
  if (plugin === null) return false;
  initVmNonce(currentTimeNanos());
  if (isUpstreamRoot()) {
    const upstream = configureUpstream(plugin);
    if (upstream === null) return false;
    upstreamRoots.set(rootId, upstream);
    roots.delete(rootId);
    return true;
  }
  const root = new RootContext(plugin);
  roots.set(rootId, root);
  seedRandom(currentTimeNanos()); // host calls are not allowed at start-up, so seed here
  startRoot(root);
  return true;
}

export function proxy_on_tick(rootId: u32): void {
  if (!roots.has(rootId)) return;
  const root = roots.get(rootId);
  if (root !== null) onTick(root);
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 {
  if (streams.has(contextId)) return onRequestHeaders(streams.get(contextId), endOfStream != 0);
  if (attempts.has(contextId)) return onAttemptHeaders(attempts.get(contextId), attemptLogOf);
  return HeadersAction.Continue;
}

export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  if (streams.has(contextId)) return onRequestBody(streams.get(contextId), size, endOfStream != 0);
  if (attempts.has(contextId)) return onAttemptBody(attempts.get(contextId), size, endOfStream != 0);
  return 0;
}

export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 {
  if (streams.has(contextId)) onRequestTrailers(streams.get(contextId));
  else if (attempts.has(contextId)) onAttemptTrailers(attempts.get(contextId));
  return 0;
}

// The response is only watched, never held: the body callback continues at once (the status is read
// at the end, in on_log).
export function proxy_on_response_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  if (streams.has(contextId)) onResponseBody(streams.get(contextId), size, endOfStream != 0);
  else if (attempts.has(contextId)) onAttemptResponseBody(attempts.get(contextId));
  return 0;
}

export function proxy_on_log(contextId: u32): void {
  if (streams.has(contextId)) onStreamEnd(streams.get(contextId));
}

export function proxy_on_delete(contextId: u32): void {
  if (streams.has(contextId)) {
    const state = streams.get(contextId);
    onStreamEnd(state); // a host that never called on_log
    state.reset(null);
    freeStates.push(state);
    streams.delete(contextId);
    return;
  }
  if (attempts.has(contextId)) {
    const attempt = attempts.get(contextId);
    onAttemptEnd(attempt); // an upstream filter gets no on_log: its end is here
    attempt.reset(null);
    freeAttempts.push(attempt);
    attempts.delete(contextId);
    return;
  }
  if (roots.has(contextId)) {
    const root = roots.get(contextId);
    if (root !== null) onRootDone(root); // the VM or the plugin is going away
    roots.delete(contextId);
  }
  upstreamRoots.delete(contextId);
}
