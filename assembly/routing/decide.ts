// From the body's `model` to a concrete model: an alias runs its route (filter, then rank); a
// catalog name is taken as is; anything else is not ours and passes through.
import { decodeString } from "../json/lexer";
import { hashBytes } from "../config/name_index";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { RequestFeatures } from "../request/features";
import { CandidateTable, fillCandidates, soonestCoolingSlot } from "./candidates";
import { RequestEstimate, fillEstimate } from "./estimate";
import { noCandidateMessage } from "./explain";
import { rankCandidates } from "./rank";
import { ModelSignals } from "./signals";

export const enum Outcome { PassThrough, Routed, NoCandidate }

export class Decision {
  outcome: Outcome = Outcome.PassThrough;
  model: ModelSpec | null = null;
  route: RouteSpec | null = null;
  slot: i32 = -1;                          // the chosen candidate's slot in the route, -1 otherwise
  readonly estimate: RequestEstimate = new RequestEstimate();
  readonly candidates: CandidateTable = new CandidateTable();
}

let nameScratch: usize = 0;
let nameScratchSize: usize = 0;
let modelNameLength: usize = 0;

// Where the requested model name's bytes are (length in modelNameLength): the raw string in the
// body, or its decoded value when it contains escapes.
function modelNameBytes(body: usize, f: RequestFeatures): usize {
  const p = body + f.modelStart + 1;
  const n = f.modelEnd - f.modelStart - 2;
  modelNameLength = n;
  if (!f.modelHasEscape) return p;
  if (n > nameScratchSize) { // decoding never lengthens a string
    if (nameScratch != 0) heap.free(nameScratch);
    nameScratchSize = n;
    nameScratch = heap.alloc(n);
  }
  modelNameLength = decodeString(p, p + n, nameScratch);
  return nameScratch;
}

export function decide(cfg: RouterConfig, body: usize, f: RequestFeatures, signals: ModelSignals, nowMs: f64, out: Decision): void {
  out.outcome = Outcome.PassThrough;
  out.model = null;
  out.route = null;
  out.slot = -1;
  const p = modelNameBytes(body, f);
  const n = modelNameLength;
  const hash = hashBytes(p, n);
  const routeAt = cfg.routeIndex.find(p, n, hash);
  if (routeAt >= 0) {
    routeAlias(cfg, unchecked(cfg.routes[routeAt]), f, signals, nowMs, out);
    return;
  }
  const modelAt = cfg.modelIndex.find(p, n, hash);
  if (modelAt >= 0) {
    out.outcome = Outcome.Routed;
    out.model = cfg.models[modelAt];
  }
}

function routeAlias(cfg: RouterConfig, route: RouteSpec, f: RequestFeatures, signals: ModelSignals, nowMs: f64, out: Decision): void {
  out.route = route;
  fillEstimate(out.estimate, f, cfg);
  out.candidates.reserve(route.candidates.length);
  fillCandidates(route, route.candidateQuality, out.estimate, signals, nowMs, out.candidates);
  const slot = rankCandidates(cfg, route, out.candidates);
  out.slot = slot;
  if (slot >= 0) {
    out.outcome = Outcome.Routed;
    out.model = cfg.models[route.candidates[slot]];
  } else if (route.onNoCandidate >= 0) {
    out.outcome = Outcome.Routed;
    out.model = cfg.models[route.onNoCandidate];
  } else {
    takeSoonestCooling(cfg, route, signals, nowMs, out);
  }
}

// A route whose every candidate is cooling down is not rejected: the model whose cooldown ends
// first gets the request (live signals only; without them nothing ever cools down).
function takeSoonestCooling(cfg: RouterConfig, route: RouteSpec, signals: ModelSignals, nowMs: f64, out: Decision): void {
  const slot = soonestCoolingSlot(route, signals, nowMs, out.candidates);
  out.slot = slot;
  if (slot < 0) {
    out.outcome = Outcome.NoCandidate;
    return;
  }
  out.outcome = Outcome.Routed;
  out.model = cfg.models[route.candidates[slot]];
}

// The client's error message for Outcome.NoCandidate.
export function explainNoCandidate(cfg: RouterConfig, d: Decision, signals: ModelSignals, nowMs: f64): string {
  return noCandidateMessage(cfg, d.route!, d.candidates, d.estimate, signals, nowMs);
}
