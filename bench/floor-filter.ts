// The floor filter (bench only): a proxy-wasm module, built from the plugin's own ABI layer
// (assembly/abi), that makes exactly the host calls the plugin makes for one kind of request and
// does nothing else: no parsing, no routing, no statistics. Through Envoy, plugin minus floor is
// what the plugin's own logic costs; floor minus the no-op filter is what the host calls and the
// callbacks cost, which no implementation of the same features can avoid.
//
// The calls come from its configuration (bench/lib/floor.mjs writes it from the plugin's host calls
// for the same configuration and requests, recorded by the test host), per body size (the decision,
// and so the calls, may differ with the size: a plan or not, the chosen model's names), filter and
// callback:
//   {"variants": [{"minBytes": 0, "model": [hex, hex],
//                  "router": {"requestHeaders": [op…], "requestBody": [op…], "log": [op…]},
//                  "upstream": {"requestHeaders": [op…]}}, …],
//    "observeResponse": true, "bodyWrite": "auto"}
// An op is ["name", hex args…] (see OpKind): every argument is given as its bytes in hex (property
// paths hold NULs, the plan is binary). A request runs the variant with the largest minBytes its
// body reaches; its request headers (the same for every variant) run variant 0's, and an upstream
// attempt runs the variant of the request whose body went last (exact at concurrency 1).
// The response body is observed as the plugin observes it (clock at the first byte, each chunk
// read, clock at the end), whatever the chunking. The body is rewritten by the plugin's own splice
// (assembly/request/rewrite.ts): the first `model[0]` among the body's first 64 bytes becomes
// `model[1]`, found without parsing; `bodyWrite` forces the prefix or the whole-body write (to
// measure both) or keeps the plugin's size threshold ("auto").
//
// It exports exactly the callbacks the plugin's Envoy build exports (test/unit/floor.test.ts checks
// both the exports and the calls).
import { BodyAction, BufferType, HeadersAction, MetricType } from "../assembly/abi/constants";
import {
  allocateForHost, callForeignFunction, currentTimeNanos, defineMetric, freeHostBlock, hostData, hostSize, readBuffer,
  readProperty, readRequestHeader, readRequestHeaderPairs, readResponseBody, readSharedData, recordMetric, releaseHostData,
  removeRequestHeader, replaceRequestHeader, sharedCas, writePropertyBytes, writeSharedData,
} from "../assembly/abi/host";
import { JsonKind, JsonValue, parseJsonTree } from "../assembly/json/tree";
import { setPrefixReplaceMinBytes, spliceModel } from "../assembly/request/rewrite";

const enum OpKind {
  Pairs, Stop, Remove, Replace, GetHeader, ReadBody, WriteBody, Clock, SharedGet, SharedSet,
  SetProperty, GetProperty, Record, Foreign,
}
const OP_NAMES = [
  "pairs", "stop", "remove", "replace", "getHeader", "readBody", "writeBody", "clock", "sharedGet", "sharedSet",
  "setProperty", "getProperty", "record", "foreign",
];

class Op {
  kind: OpKind = OpKind.Clock;
  a: ArrayBuffer = new ArrayBuffer(0);
  b: ArrayBuffer = new ArrayBuffer(0);
  metric: u32 = 0;
}

class Plan {
  requestHeaders: Op[] = [];
  requestBody: Op[] = [];
  log: Op[] = [];
  stop: bool = false; // hold the request headers (the body is read)
}

class Variant {
  minBytes: usize = 0;
  modelIn: ArrayBuffer = new ArrayBuffer(0);
  modelOut: ArrayBuffer = new ArrayBuffer(0);
  router: Plan = new Plan();
  upstream: Plan = new Plan();
}

let variants: Variant[] = [new Variant()];
let lastVariant: i32 = 0; // the variant of the request whose body went last (its attempts follow)
let observeResponse = false;

// Per stream: its kind, whether its response's first byte went by, and (upper bits) its variant.
const enum Kind { Router = 1, Upstream = 2, FirstByteSeen = 4, VariantShift = 8 }
const rootKinds = new Map<u32, u8>();
const streams = new Map<u32, u32>();
let upstreamRootId: u32 = 0;

@inline function hexDigit(c: i32): i32 { return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57; }

function bytesOf(v: JsonValue): ArrayBuffer {
  if (v.kind != JsonKind.String) return new ArrayBuffer(0);
  const hex = v.str;
  const out = new ArrayBuffer(hex.length >> 1);
  for (let i = 0; i < out.byteLength; i++) {
    store<u8>(changetype<usize>(out) + <usize>i, <u8>(hexDigit(hex.charCodeAt(2 * i)) * 16 + hexDigit(hex.charCodeAt(2 * i + 1))));
  }
  return out;
}

function compileOps(list: JsonValue | null, plan: Plan): Op[] {
  const out: Op[] = [];
  if (list === null) return out;
  const items = list.items;
  for (let i = 0; i < items.length; i++) {
    const args = items[i].items;
    if (args.length == 0) continue;
    const kind = OP_NAMES.indexOf(args[0].str);
    if (kind < 0) continue;
    if (kind == OpKind.Stop) { plan.stop = true; continue; }
    const op = new Op();
    op.kind = <OpKind>kind;
    if (args.length > 1) op.a = bytesOf(args[1]);
    if (args.length > 2) op.b = bytesOf(args[2]);
    if (op.kind == OpKind.Record) {
      op.metric = defineMetric(args.length > 2 ? <MetricType><i32>args[2].num : MetricType.Histogram, op.a);
    }
    out.push(op);
  }
  return out;
}

function compilePlan(v: JsonValue | null): Plan {
  const plan = new Plan();
  if (v === null) return plan;
  plan.requestHeaders = compileOps(v.get("requestHeaders"), plan);
  plan.requestBody = compileOps(v.get("requestBody"), plan);
  plan.log = compileOps(v.get("log"), plan);
  return plan;
}

function configure(size: usize): bool {
  if (!readBuffer(BufferType.PluginConfiguration, size)) return false;
  const tree = parseJsonTree(hostData, hostSize);
  if (tree === null) { releaseHostData(); return false; }
  const list = tree.get("variants");
  if (list === null || list.items.length == 0) { releaseHostData(); return false; }
  variants = [];
  for (let i = 0; i < list.items.length; i++) {
    const v = new Variant();
    const item = list.items[i];
    const minBytes = item.get("minBytes");
    v.minBytes = minBytes !== null ? <usize>minBytes.num : 0;
    const model = item.get("model");
    if (model !== null && model.items.length == 2) {
      v.modelIn = bytesOf(model.items[0]);
      v.modelOut = bytesOf(model.items[1]);
    }
    v.router = compilePlan(item.get("router"));
    v.upstream = compilePlan(item.get("upstream"));
    variants.push(v);
  }
  const observe = tree.get("observeResponse");
  observeResponse = observe !== null && observe.bool;
  const write = tree.get("bodyWrite");
  const mode = write !== null && write.kind == JsonKind.String ? write.str : "auto";
  if (mode == "prefix") setPrefixReplaceMinBytes(0);
  else if (mode == "whole") setPrefixReplaceMinBytes(usize.MAX_VALUE);
  releaseHostData();
  return true;
}

// ---- the ops ---------------------------------------------------------------------------------------

let body: usize = 0;
let bodySize: usize = 0;

// The plugin's splice of the model's literal: the first `modelIn` among the body's first bytes (the
// benchmark's bodies start with it), found without parsing.
function writeBody(v: Variant): void {
  const modelIn = v.modelIn;
  const n = <usize>modelIn.byteLength;
  if (body == 0 || n == 0) return;
  const limit = min(bodySize, <usize>64);
  for (let at: usize = 0; at + n <= limit; at++) {
    if (memory.compare(body + at, changetype<usize>(modelIn), n) == 0) {
      spliceModel(body, bodySize, at, at + n, v.modelOut);
      return;
    }
  }
}

function run(v: Variant, ops: Op[], size: usize): void {
  for (let i = 0; i < ops.length; i++) {
    const op = unchecked(ops[i]);
    switch (op.kind) {
      case OpKind.Pairs: if (readRequestHeaderPairs()) releaseHostData(); break;
      case OpKind.Remove: removeRequestHeader(op.a); break;
      case OpKind.Replace: replaceRequestHeader(op.a, op.b); break;
      case OpKind.GetHeader: if (readRequestHeader(op.a)) releaseHostData(); break;
      case OpKind.ReadBody:
        if (readBuffer(BufferType.RequestBody, size)) { body = hostData; bodySize = hostSize; hostData = 0; hostSize = 0; }
        break;
      case OpKind.WriteBody: writeBody(v); break;
      case OpKind.Clock: currentTimeNanos(); break;
      case OpKind.SharedGet: readSharedData(op.a); releaseHostData(); break;
      case OpKind.SharedSet: writeSharedData(op.a, changetype<usize>(op.b), op.b.byteLength, sharedCas); break;
      case OpKind.SetProperty: writePropertyBytes(op.a, changetype<usize>(op.b), op.b.byteLength); break;
      case OpKind.GetProperty: if (readProperty(op.a)) releaseHostData(); break;
      case OpKind.Record: recordMetric(op.metric, 1000); break;
      case OpKind.Foreign: callForeignFunction(op.a); break;
    }
  }
  if (body != 0) { freeHostBlock(body); body = 0; bodySize = 0; }
}

// ---- the callbacks ----------------------------------------------------------------------------------

const PLUGIN_ROOT_ID = String.UTF8.encode("plugin_root_id");

export function malloc(size: usize): usize { return allocateForHost(size); }
export function proxy_on_memory_allocate(size: usize): usize { return allocateForHost(size); }

// As the plugin does (assembly/exports.ts): a root's kind comes from its root id when it is created.
export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    rootKinds.set(contextId, 0);
    if (readProperty(PLUGIN_ROOT_ID)) {
      if (String.UTF8.decodeUnsafe(hostData, hostSize).endsWith("-upstream")) upstreamRootId = contextId;
      releaseHostData();
    }
    return;
  }
  streams.set(contextId, parentId == upstreamRootId ? <u32>Kind.Upstream : <u32>Kind.Router);
}

export function proxy_on_vm_start(rootId: u32, size: usize): bool { return true; }
export function proxy_validate_configuration(rootId: u32, size: usize): bool { return true; }

export function proxy_on_configure(rootId: u32, size: usize): bool {
  return configure(size);
}

export function proxy_on_tick(rootId: u32): void {}

@inline function variantOf(state: u32): Variant { return unchecked(variants[<i32>(state >> <u32>Kind.VariantShift)]); }
@inline function planOf(state: u32): Plan {
  const v = variantOf(state);
  return (state & <u32>Kind.Upstream) != 0 ? v.upstream : v.router;
}

function variantFor(size: usize): i32 {
  let chosen = 0;
  for (let i = 1; i < variants.length; i++) if (size >= unchecked(variants[i]).minBytes) chosen = i;
  return chosen;
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: u32): u32 {
  if (!streams.has(contextId)) return HeadersAction.Continue;
  let state = streams.get(contextId);
  if ((state & <u32>Kind.Upstream) != 0) {
    state |= <u32>lastVariant << <u32>Kind.VariantShift;
    streams.set(contextId, state);
  }
  const plan = planOf(state);
  run(variantOf(state), plan.requestHeaders, 0);
  return plan.stop ? HeadersAction.StopIteration : HeadersAction.Continue;
}

export function proxy_on_request_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  if (!streams.has(contextId)) return BodyAction.Continue;
  let state = streams.get(contextId);
  if (!planOf(state).stop) return BodyAction.Continue;
  if (endOfStream == 0) return BodyAction.StopIterationAndBuffer;
  const variant = variantFor(size);
  lastVariant = variant;
  state = (state & ((1 << <u32>Kind.VariantShift) - 1)) | (<u32>variant << <u32>Kind.VariantShift);
  streams.set(contextId, state);
  run(variantOf(state), planOf(state).requestBody, size);
  return BodyAction.Continue;
}

export function proxy_on_request_trailers(contextId: u32, trailers: u32): u32 { return 0; }

export function proxy_on_response_body(contextId: u32, size: usize, endOfStream: u32): u32 {
  if (!observeResponse || !streams.has(contextId)) return 0;
  const state = streams.get(contextId);
  if ((state & <u32>Kind.Router) == 0) return 0;
  if (size > 0) {
    if ((state & <u32>Kind.FirstByteSeen) == 0) {
      currentTimeNanos();
      streams.set(contextId, state | <u32>Kind.FirstByteSeen);
    }
    if (readResponseBody(size)) releaseHostData();
  }
  if (endOfStream != 0) currentTimeNanos();
  return 0;
}

export function proxy_on_log(contextId: u32): void {
  if (!streams.has(contextId)) return;
  const state = streams.get(contextId);
  run(variantOf(state), planOf(state).log, 0);
}

export function proxy_on_delete(contextId: u32): void {
  streams.delete(contextId);
  rootKinds.delete(contextId);
}

export function proxy_abi_version_0_2_1(): void {}
