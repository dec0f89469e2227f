// The proxy-wasm callbacks the host calls. Each finds its context and calls the context's method:
// - a root context (parent 0) is created as the kind its root id names, when the host creates it:
//   UPSTREAM_ROOT_ID makes an UpstreamRootContext (upstream.ts, the upstream filter), any other id a
//   RootContext (root.ts, the router filter). Envoy answers plugin_root_id there (checked against
//   Envoy 1.40 by test/e2e/host-fidelity.test.ts); a host that does not gets the router filter;
// - a stream of a RootContext is an HttpContext (filter.ts), an attempt of an UpstreamRootContext an
//   AttemptContext (upstream.ts), each taken from a free list, so a request allocates no context once
//   the VM is warm. Both work in the VM's one RequestScratch (scratch.ts).
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
import { Context, ContextKind, ContextTable } from "./contexts";
import { HttpContext } from "./filter";
import { UPSTREAM_ROOT_ID } from "./names";
import { AttemptLog } from "./response/attempts";
import { RootContext } from "./root";
import { initVmNonce } from "./routing/plan_message";
import { RequestScratch } from "./scratch";
import { AttemptContext, UpstreamRootContext } from "./upstream";

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

const scratch = new RequestScratch();
// Every context by id (contexts.ts): roots of both kinds, streams, attempts.
const contexts = new ContextTable();
const freeStreams = new Array<HttpContext>();
const freeAttempts = new Array<AttemptContext>();

const PLUGIN_ROOT_ID = String.UTF8.encode("plugin_root_id");

// A new root context, of the kind the root being created names.
function createRoot(): Context {
  let upstream = false;
  if (readProperty(PLUGIN_ROOT_ID)) {
    upstream = String.UTF8.decodeUnsafe(hostData, hostSize) == UPSTREAM_ROOT_ID;
    releaseHostData();
  }
  return upstream ? new UpstreamRootContext(scratch) : new RootContext(scratch);
}

@inline function streamOf(c: Context | null): HttpContext | null {
  return c !== null && c.kind == ContextKind.Stream ? changetype<HttpContext>(c) : null;
}

// The router root a stream belongs to: configured, or none (its streams pass through).
@inline function configuredRootOf(c: Context | null): RootContext | null {
  if (c === null || c.kind != ContextKind.Root) return null;
  const root = changetype<RootContext>(c);
  return root.plugin !== null ? root : null;
}

// The request an attempt belongs to, for its attempt log (the stream must still be running here).
function attemptLogOf(contextId: u32): AttemptLog | null {
  const stream = streamOf(contexts.find(contextId));
  return stream !== null ? stream.attempts : null;
}

// For the Higress build's proxy_on_response_headers (higress.ts).
export function responseHeaders(contextId: u32): void {
  const stream = streamOf(contexts.find(contextId));
  if (stream !== null) stream.onResponseHeaders();
}

export function malloc(size: usize): usize { return allocateForHost(size); }
export function proxy_on_memory_allocate(size: usize): usize { return allocateForHost(size); }

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    contexts.set(contextId, createRoot());
    return;
  }
  const parent = contexts.find(parentId);
  if (parent !== null && parent.kind == ContextKind.UpstreamRoot) {
    const attempt = freeAttempts.length > 0 ? freeAttempts.pop() : new AttemptContext();
    attempt.reset(changetype<UpstreamRootContext>(parent));
    contexts.set(contextId, attempt);
    return;
  }
  const stream = freeStreams.length > 0 ? freeStreams.pop() : new HttpContext();
  stream.reset(configuredRootOf(parent));
  contexts.set(contextId, stream);
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
  let root = contexts.find(rootId);
  if (root === null) {
    // A host that configures a root it never created (cpp-host always creates it first).
    root = createRoot();
    contexts.set(rootId, root);
  }
  if (root.kind == ContextKind.UpstreamRoot) return changetype<UpstreamRootContext>(root).onConfigure(plugin);
  if (root.kind != ContextKind.Root) return false;
  changetype<RootContext>(root).onConfigure(plugin);
  return true;
}

export function proxy_on_tick(rootId: u32): void {
  const root = contexts.find(rootId);
  if (root !== null && root.kind == ContextKind.Root) changetype<RootContext>(root).onTick();
  collectGarbage();
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return HeadersAction.Continue;
  if (c.kind == ContextKind.Stream) return changetype<HttpContext>(c).onRequestHeaders(endOfStream != 0);
  if (c.kind == ContextKind.Attempt) return changetype<AttemptContext>(c).onRequestHeaders(attemptLogOf);
  return HeadersAction.Continue;
}

export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) return changetype<HttpContext>(c).onRequestBody(size, endOfStream != 0);
  if (c.kind == ContextKind.Attempt) return changetype<AttemptContext>(c).onRequestBody(size, endOfStream != 0);
  return 0;
}

export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) changetype<HttpContext>(c).onRequestTrailers();
  else if (c.kind == ContextKind.Attempt) changetype<AttemptContext>(c).onRequestTrailers();
  return 0;
}

// The response is only watched, never held: the body callback continues at once (the status is read
// at the end, in on_log).
export function proxy_on_response_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  const c = contexts.find(contextId);
  if (c === null) return 0;
  if (c.kind == ContextKind.Stream) changetype<HttpContext>(c).onResponseBody(size, endOfStream != 0);
  else if (c.kind == ContextKind.Attempt) changetype<AttemptContext>(c).onResponseBody();
  return 0;
}

export function proxy_on_log(contextId: u32): void {
  const stream = streamOf(contexts.find(contextId));
  if (stream !== null) stream.onLog();
}

export function proxy_on_delete(contextId: u32): void {
  const c = contexts.remove(contextId);
  if (c === null) return;
  switch (c.kind) {
    case ContextKind.Stream: {
      const stream = changetype<HttpContext>(c);
      stream.onLog(); // a host that never called on_log
      stream.reset(null);
      freeStreams.push(stream);
      if (++streamsSinceCollect >= COLLECT_EVERY || memory.size() != pagesAtCollect) collectGarbage();
      break;
    }
    case ContextKind.Attempt: {
      const attempt = changetype<AttemptContext>(c);
      attempt.onDelete();
      attempt.reset(null);
      freeAttempts.push(attempt);
      break;
    }
    case ContextKind.Root: {
      changetype<RootContext>(c).onDelete(); // the VM or the plugin is going away
      break;
    }
  }
}
