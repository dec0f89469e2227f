// From the body's `model` to a concrete model: an alias runs its route (filter, then rank); a
// catalog name is taken as is; anything else is not ours and passes through.
import { ByteBuffer } from "../abi/byte_buffer";
import { decodeString } from "../json/lexer";
import { hashBytes } from "../config/name_index";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { RequestFeatures } from "../request/features";
import { DetectedTask, detectTask } from "../request/task_detect";
import { CandidateTable, fillCandidates, soonestCoolingSlot } from "./candidates";
import { RequestEstimate, estimateOutputTokens, fillEstimate } from "./estimate";
import { noCandidateMessage } from "./explain";
import { rankCandidates } from "./rank";
import { ModelSignals } from "./signals";

export const enum Outcome { PassThrough, Routed, NoCandidate }

export class Decision {
  outcome: Outcome = Outcome.PassThrough;
  model: ModelSpec | null = null;
  route: RouteSpec | null = null;
  requested: i32 = -1;                     // index in cfg.routes of the alias the client sent, -1 otherwise
  slot: i32 = -1;                          // the chosen candidate's slot in the route, -1 otherwise
  detected: bool = false;                  // task and tier below were detected for this request
  task: i32 = 0;
  tier: i32 = 0;
  readonly estimate: RequestEstimate = new RequestEstimate();
  readonly candidates: CandidateTable = new CandidateTable();

  // The output tokens the routed request is expected to produce: the ranking's estimate for an
  // alias, else the request's own (max_tokens or the default).
  expectedOutputTokens(f: RequestFeatures, cfg: RouterConfig): f64 {
    return this.route !== null ? this.estimate.outputTokens : estimateOutputTokens(f, cfg.defaultOutputTokens);
  }
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

const nameScratch = new ByteBuffer();
let modelNameLength: usize = 0;

// Where the requested model name's bytes are (length in modelNameLength): the raw string in the
// body, or its decoded value when it contains escapes.
function modelNameBytes(body: usize, f: RequestFeatures): usize {
  const p = body + f.modelStart + 1;
  const n = f.modelEnd - f.modelStart - 2;
  modelNameLength = n;
  if (!f.modelHasEscape) return p;
  const out = nameScratch.reserve(n); // decoding never lengthens a string
  modelNameLength = decodeString(p, p + n, out);
  return out;
}

export function decide(cfg: RouterConfig, body: usize, f: RequestFeatures, signals: ModelSignals, nowMs: f64, out: Decision): void {
  out.outcome = Outcome.PassThrough;
  out.model = null;
  out.route = null;
  out.requested = -1;
  out.slot = -1;
  out.detected = false;
  const p = modelNameBytes(body, f);
  const n = modelNameLength;
  const hash = hashBytes(p, n);
  const routeAt = cfg.routeIndex.find(p, n, hash);
  if (routeAt >= 0) {
    const requested = unchecked(cfg.routes[routeAt]);
    out.requested = routeAt;
    detectIfNeeded(cfg, body, f, requested, out);
    routeAlias(cfg, effectiveRoute(cfg, requested, out), f, signals, nowMs, out);
    return;
  }
  const modelAt = cfg.modelIndex.find(p, n, hash);
  if (modelAt >= 0) {
    detectIfNeeded(cfg, body, f, null, out);
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
