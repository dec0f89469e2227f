// The failover plan of a routed request: the chosen model, then up to N models on OTHER providers
// that Envoy tries in order when an attempt fails before the response starts. Where they come from:
// - an alias: the route's alternates, each the best surviving candidate of its provider in the
//   same candidate table and score order that chose the first model (no second ranking);
// - a catalog model: its own `fallbacks`;
// - a client's `models` list (OpenRouter) replaces either, up to `maxClientFallbacks`.
// Fallbacks that cannot serve this request (endpoint, context, output, capabilities, cooling down
// or awaiting a probe) are skipped; each provider appears once. One module-level plan is reused.
import { ByteBuffer } from "../abi/byte_buffer";
import { decodeString } from "../json/lexer";
import { hashBytes } from "../config/name_index";
import { MAX_CHAIN_LENGTH } from "../config/failover";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { MAX_CLIENT_MODELS, RequestFeatures } from "../request/features";
import { CandidateTable, Drop } from "./candidates";
import { Decision, Outcome } from "./decide";
import { fillEstimate, RequestEstimate } from "./estimate";
import { ModelSignals } from "./signals";

export class FailoverPlan {
  length: i32 = 0;               // models in the chain; 0 or 1: no failover
  readonly models: StaticArray<i32> = new StaticArray<i32>(MAX_CHAIN_LENGTH);
  requestedRoute: i32 = -1;      // the alias the client asked for (-1: a catalog model)

  clear(): void {
    this.length = 0;
    this.requestedRoute = -1;
  }

  @inline model(i: i32): i32 { return unchecked(this.models[i]); }
}

// Set when planFailover refuses the request's `models` list: the client's error message.
export let clientListError = "";

// ---- the client's `models` list --------------------------------------------------------------

const clientModels = new StaticArray<i32>(MAX_CLIENT_MODELS);
let clientModelCount = 0;
const nameScratch = new ByteBuffer();

// The catalog model (or alias: ~route) an item of the list names; i32.MIN_VALUE when neither.
function lookupItem(cfg: RouterConfig, body: usize, f: RequestFeatures, i: i32): i32 {
  let p = body + unchecked(f.modelsItems[i << 1]) + 1;
  let n = <usize>(unchecked(f.modelsItems[(i << 1) + 1]) - unchecked(f.modelsItems[i << 1]) - 2);
  if ((f.modelsItemEscapes >> i) & 1) {
    const out = nameScratch.reserve(n); // decoding never lengthens a string
    n = decodeString(p, p + n, out);
    p = out;
  }
  const hash = hashBytes(p, n);
  const model = cfg.modelIndex.find(p, n, hash);
  if (model >= 0) return model;
  const route = cfg.routeIndex.find(p, n, hash);
  return route >= 0 ? ~route : i32.MIN_VALUE;
}

function itemText(body: usize, f: RequestFeatures, i: i32): string {
  const start = unchecked(f.modelsItems[i << 1]);
  return String.UTF8.decodeUnsafe(body + start, <usize>(unchecked(f.modelsItems[(i << 1) + 1]) - start));
}

// Resolves the list's fallback items (all but the first when it stands in for `model`). False,
// with clientListError set, when one names no catalog model.
function readClientList(cfg: RouterConfig, body: usize, f: RequestFeatures): bool {
  clientModelCount = 0;
  for (let i = f.modelFromList ? 1 : 0; i < f.modelsItemCount; i++) {
    const found = lookupItem(cfg, body, f, i);
    if (found < 0) {
      const what = found == i32.MIN_VALUE ? " is not a model of this gateway (GET /v1/models lists them)" : " is an alias; a fallback names a catalog model";
      clientListError = "models[" + i.toString() + "]: " + itemText(body, f, i) + what;
      return false;
    }
    unchecked(clientModels[clientModelCount++] = found);
  }
  return true;
}

// ---- building the chain --------------------------------------------------------------------------

@inline function hasProvider(cfg: RouterConfig, plan: FailoverPlan, providerIndex: i32): bool {
  for (let i = 0; i < plan.length; i++) {
    if (unchecked(cfg.models[plan.model(i)]).providerIndex == providerIndex) return true;
  }
  return false;
}

// The drop rules of the candidate table for a model outside any route (a fallback or a client's).
function canServe(m: ModelSpec, e: RequestEstimate, signals: ModelSignals, nowMs: f64): bool {
  if ((m.endpoints & e.endpoint) == 0) return false;
  if (e.inputTokens + e.outputTokens > m.contextWindow || e.outputTokens > m.maxOutputTokens) return false;
  if ((e.needs & ~m.capabilities) != 0) return false;
  return !(unchecked(signals.coolingUntilMs[m.index]) > nowMs) && !unchecked(signals.needsProbe[m.index]);
}

function appendIfUseful(cfg: RouterConfig, plan: FailoverPlan, index: i32, e: RequestEstimate, signals: ModelSignals, nowMs: f64): bool {
  const m = unchecked(cfg.models[index]);
  if (hasProvider(cfg, plan, m.providerIndex) || !canServe(m, e, signals, nowMs)) return false;
  unchecked(plan.models[plan.length++] = index);
  return true;
}

function appendList(cfg: RouterConfig, plan: FailoverPlan, list: StaticArray<i32>, count: i32, most: i32,
  e: RequestEstimate, signals: ModelSignals, nowMs: f64): void {
  let added = 0;
  for (let i = 0; i < count && added < most && plan.length < cfg.maxChainLength; i++) {
    if (appendIfUseful(cfg, plan, unchecked(list[i]), e, signals, nowMs)) added++;
  }
}

// Per provider, its best surviving candidate (highest score, earlier slot on ties).
let bestSlot = new StaticArray<i32>(0);

function appendAlternates(cfg: RouterConfig, route: RouteSpec, t: CandidateTable, signals: ModelSignals, plan: FailoverPlan, most: i32): void {
  const providers = cfg.catalog.providers.length;
  if (bestSlot.length < providers) bestSlot = new StaticArray<i32>(providers);
  for (let p = 0; p < providers; p++) unchecked(bestSlot[p] = -1);
  const chosenProvider = unchecked(cfg.models[plan.model(0)]).providerIndex;
  for (let slot = 0; slot < t.count; slot++) {
    if (unchecked(t.drop[slot]) != <u8>Drop.None) continue;
    const index = unchecked(route.candidates[slot]);
    const m = unchecked(cfg.models[index]);
    // A model that failed and has not recovered goes only as the claimed probe, never as a fallback.
    if (m.providerIndex == chosenProvider || m.providerIndex < 0 || unchecked(signals.needsProbe[index])) continue;
    const best = unchecked(bestSlot[m.providerIndex]);
    if (best < 0 || unchecked(t.score[slot]) > unchecked(t.score[best])) unchecked(bestSlot[m.providerIndex] = slot);
  }
  for (let added = 0; added < most && plan.length < cfg.maxChainLength; added++) {
    let pick = -1;
    for (let p = 0; p < providers; p++) {
      const slot = unchecked(bestSlot[p]);
      if (slot < 0) continue;
      if (pick < 0 || unchecked(t.score[slot]) > unchecked(t.score[pick]) || (unchecked(t.score[slot]) == unchecked(t.score[pick]) && slot < pick)) pick = slot;
    }
    if (pick < 0) return;
    unchecked(bestSlot[unchecked(cfg.models[unchecked(route.candidates[pick])]).providerIndex] = -1);
    unchecked(plan.models[plan.length++] = unchecked(route.candidates[pick]));
  }
}

// Fills `plan` for a routed decision. False (clientListError says why) when the client's `models`
// list names something that is not a catalog model; the request is then refused.
export function planFailover(cfg: RouterConfig, d: Decision, f: RequestFeatures, body: usize, signals: ModelSignals,
  nowMs: f64, plan: FailoverPlan): bool {
  plan.clear();
  plan.requestedRoute = d.requested;
  const clientList = f.modelsCount > 0 && cfg.maxClientFallbacks > 0;
  if (clientList && !readClientList(cfg, body, f)) return false;
  if (d.outcome != Outcome.Routed || cfg.maxChainLength < 2) return true;
  const chosen = d.model!;
  if (chosen.providerIndex < 0) return true;
  unchecked(plan.models[0] = chosen.index);
  plan.length = 1;
  const route = d.route;
  // Routes fill the estimate while filtering; a catalog model request has not needed one yet.
  if (route === null) fillEstimate(d.estimate, f, cfg);
  if (clientList) {
    appendList(cfg, plan, clientModels, clientModelCount, cfg.maxClientFallbacks, d.estimate, signals, nowMs);
  } else if (route !== null) {
    if (route.maxFallbacks > 0 && d.slot >= 0) appendAlternates(cfg, route, d.candidates, signals, plan, route.maxFallbacks);
  } else {
    const fallbacks = chosen.fallbacks;
    for (let i = 0; i < fallbacks.length && plan.length < cfg.maxChainLength; i++) {
      appendIfUseful(cfg, plan, unchecked(fallbacks[i]), d.estimate, signals, nowMs);
    }
  }
  return true;
}
