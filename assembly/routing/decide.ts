// From the body's `model` to a concrete model: an alias runs its route (filter, then rank); a
// catalog name is taken as is; anything else is not ours and passes through.
import { decodeString } from "../json/lexer";
import { hashBytes } from "../config/name_index";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { RequestFeatures } from "../request/features";
import { DetectedTask, detectTask } from "../request/task_detect";
import { Drop, describeDrop, dropReason } from "./candidate_filter";
import { RequestEstimate, fillEstimate } from "./estimate";
import { rankCandidates } from "./rank";

export const enum Outcome { PassThrough, Routed, NoCandidate }

export class Decision {
  outcome: Outcome = Outcome.PassThrough;
  model: ModelSpec | null = null;
  route: RouteSpec | null = null;
  detected: bool = false;       // task and tier below were detected for this request
  task: i32 = 0;
  tier: i32 = 0;
}

const detectedTask = new DetectedTask();

// Detection runs only when the requested route (or `detection.always`) needs it.
function detectIfNeeded(cfg: RouterConfig, body: usize, f: RequestFeatures, route: RouteSpec | null, out: Decision): void {
  const d = cfg.detection;
  if (d === null || !(d.always || (route !== null && route.needsDetection()))) return;
  detectTask(body, f, d, detectedTask);
  out.detected = true;
  out.task = detectedTask.task;
  out.tier = detectedTask.tier;
}

// The route that ranks this request: byTask, then byComplexity, then the route itself; a
// "task": "auto" route ranks with the variant for the detected task.
function effectiveRoute(cfg: RouterConfig, route: RouteSpec, out: Decision): RouteSpec {
  if (!out.detected) return route;
  let target = -1;
  const byTask = route.byTask;
  if (byTask !== null) target = unchecked(byTask[out.task]);
  const byTier = route.byComplexity;
  if (target < 0 && byTier !== null) target = unchecked(byTier[out.tier]);
  const chosen = target >= 0 ? unchecked(cfg.routes[target]) : route;
  return chosen.taskAuto ? unchecked(chosen.taskVariants[out.task]) : chosen;
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
  out.detected = false;
  const p = modelNameBytes(body, f);
  const n = modelNameLength;
  const hash = hashBytes(p, n);
  const routeAt = cfg.routeIndex.find(p, n, hash);
  if (routeAt >= 0) {
    detectIfNeeded(cfg, body, f, unchecked(cfg.routes[routeAt]), out);
    const route = effectiveRoute(cfg, unchecked(cfg.routes[routeAt]), out);
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
    detectIfNeeded(cfg, body, f, null, out);
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
