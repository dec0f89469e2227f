// From the body's `model` to a concrete model: an alias runs its route (filter, then rank); a
// catalog name is taken as is; anything else is not ours and passes through.
import { decodeString } from "../json/lexer";
import { hashBytes } from "../config/name_index";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { RequestFeatures } from "../request/features";
import { Drop, describeDrop, dropReason } from "./candidate_filter";
import { RequestEstimate, fillEstimate } from "./estimate";
import { rankCandidates } from "./rank";

export const enum Outcome { PassThrough, Routed, NoCandidate }

export class Decision {
  outcome: Outcome = Outcome.PassThrough;
  model: ModelSpec | null = null;
  route: RouteSpec | null = null;
}

const estimate = new RequestEstimate();
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

export function decide(cfg: RouterConfig, body: usize, f: RequestFeatures, out: Decision): void {
  out.outcome = Outcome.PassThrough;
  out.model = null;
  out.route = null;
  const p = modelNameBytes(body, f);
  const n = modelNameLength;
  const hash = hashBytes(p, n);
  const routeAt = cfg.routeIndex.find(p, n, hash);
  if (routeAt >= 0) {
    const route = unchecked(cfg.routes[routeAt]);
    out.route = route;
    fillEstimate(estimate, f, cfg);
    const slot = rankCandidates(cfg, route, estimate);
    if (slot >= 0) {
      out.outcome = Outcome.Routed;
      out.model = cfg.models[route.candidates[slot]];
    } else if (route.onNoCandidate >= 0) {
      out.outcome = Outcome.Routed;
      out.model = cfg.models[route.onNoCandidate];
    } else {
      out.outcome = Outcome.NoCandidate;
    }
    return;
  }
  const modelAt = cfg.modelIndex.find(p, n, hash);
  if (modelAt >= 0) {
    out.outcome = Outcome.Routed;
    out.model = cfg.models[modelAt];
  }
}

// "no model can serve this request (route "cheap"): a: why; b: why".
export function noCandidateMessage(cfg: RouterConfig, route: RouteSpec, f: RequestFeatures): string {
  fillEstimate(estimate, f, cfg);
  let text = "no model can serve this request (route \"" + route.name + "\"): ";
  for (let slot = 0; slot < route.candidates.length; slot++) {
    const why = dropReason(cfg, route, slot, estimate);
    if (slot > 0) text += "; ";
    text += cfg.models[route.candidates[slot]].name + ": " + (why == Drop.None ? "available" : describeDrop(cfg, route, slot, estimate, why));
  }
  return text;
}
