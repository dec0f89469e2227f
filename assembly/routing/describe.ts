// Each decision in words. Two forms, both read off the decision itself:
// - a short line of `key=value` fields (logfmt) for Envoy's filter state (the access log prints it)
//   and the opt-in response header: outcome, route, the route that ranked when another one did it
//   (`via`), model, strategy, detected task and tier, estimated cost. Written into one reused byte
//   buffer: a request allocates nothing for it.
// - at debug level, one log line with every candidate's score or the reason it was dropped.
import { DIGIT_0 } from "../bytes";
import { ModelSpec, RouteSpec, RouterConfig } from "../config/types";
import { STRATEGY_NAMES } from "../config/strategies";
import { TASK_NAMES, TIER_NAMES } from "../config/tasks";
import { CandidateTable, Drop } from "./candidates";
import { Decision } from "./decide";
import { describeDrop } from "./explain";
import { ModelSignals } from "./signals";
import { LOG_PREFIX } from "../names";

// What the filter state and the response header say about one request; kept in the stream's state
// (so the response-headers callback can write the header) and reused for the next request.
export class DecisionSummary {
  outcome: string = "";                 // the outcome label of llm_router_requests
  cfg: RouterConfig | null = null;
  requested: RouteSpec | null = null;   // the alias the client sent
  route: RouteSpec | null = null;       // the route that ranked (differs after byTask / byComplexity)
  model: ModelSpec | null = null;       // null unless the request was forwarded to a catalog model
  detected: bool = false;
  task: i32 = 0;
  tier: i32 = 0;
  costUsd: f64 = 0;                     // the estimate for `model`, before the request

  clear(): void {
    this.outcome = "";
    this.cfg = null;
    this.requested = null;
    this.route = null;
    this.model = null;
    this.detected = false;
    this.costUsd = 0;
  }

  // A request the plugin forwarded to a catalog model: the response header is for these.
  get forwarded(): bool { return this.model !== null; }

  fromDecision(outcome: string, cfg: RouterConfig, d: Decision, costUsd: f64): void {
    this.outcome = outcome;
    this.cfg = cfg;
    this.requested = d.requested >= 0 ? unchecked(cfg.routes[d.requested]) : null;
    this.route = d.route;
    this.model = d.model;
    this.detected = d.detected;
    this.task = d.task;
    this.tier = d.tier;
    this.costUsd = costUsd;
  }
}

// ---- the text, into a reused buffer --------------------------------------------------------------

let text: usize = heap.alloc(256);
let capacity: usize = 256;
export let textLength: usize = 0;
export function textPtr(): usize { return text; }

function reserve(n: usize): void {
  if (textLength + n <= capacity) return;
  while (capacity < textLength + n) capacity <<= 1;
  text = heap.realloc(text, capacity);
}

// ASCII only: the keys and fixed values written here (read as UTF-16 units, no bounds checks).
function put(s: string): void {
  const n = <usize>s.length;
  reserve(n);
  const from = changetype<usize>(s), to = text + textLength;
  for (let i: usize = 0; i < n; i++) store<u8>(to + i, <u8>load<u16>(from + (i << 1)));
  textLength += n;
}

// Bytes prepared at configure time (a name's logName).
function putBytes(b: ArrayBuffer): void {
  const n = <usize>b.byteLength;
  reserve(n);
  memory.copy(text + textLength, changetype<usize>(b), n);
  textLength += n;
}

function putDigits(x: u64, width: i32): void {
  let digits = 1;
  for (let y = x; y >= 10; y /= 10) digits++;
  const n = max(digits, width);
  reserve(<usize>n);
  for (let i = n - 1; i >= 0; i--) {
    store<u8>(text + textLength + <usize>i, <u8>(DIGIT_0 + <u32>(x % 10)));
    x /= 10;
  }
  textLength += <usize>n;
}

// USD to the nano-dollar, without trailing zeros: 0.00015, 2.5, 0.
function putUsd(usd: f64): void {
  if (!(usd >= 0) || !isFinite(usd)) { put("0"); return; }
  const nano = <u64>Math.round(usd * 1e9);
  putDigits(nano / 1_000_000_000, 1);
  let fraction = nano % 1_000_000_000;
  if (fraction == 0) return;
  let width = 9;
  while (fraction % 10 == 0) { fraction /= 10; width--; }
  put(".");
  putDigits(fraction, width);
}

// Writes `s` as one logfmt line; returns its length (the bytes are at textPtr()).
export function writeDecisionText(s: DecisionSummary): usize {
  textLength = 0;
  put("outcome=");
  put(s.outcome);
  const requested = s.requested, route = s.route;
  if (requested !== null) {
    put(" route=");
    putBytes(requested.logName);
    if (route !== null && route.nameBytes != requested.nameBytes) {
      put(" via=");
      putBytes(route.logName);
    }
  }
  const model = s.model;
  if (model !== null) {
    put(" model=");
    putBytes(model.logName);
  }
  if (route !== null) {
    put(" strategy=");
    put(unchecked(STRATEGY_NAMES[<i32>route.strategy]));
  }
  if (s.detected) {
    put(" task=");
    put(unchecked(TASK_NAMES[s.task]));
    put(" tier=");
    put(unchecked(TIER_NAMES[s.tier]));
  }
  if (model !== null) {
    put(" cost_usd=");
    putUsd(s.costUsd);
  }
  return textLength;
}

// ---- the debug line --------------------------------------------------------------------------------

// Four significant digits, without a trailing ".0".
function short(x: f64): string {
  if (x == 0 || !isFinite(x)) return x == 0 ? "0" : x.toString();
  // (no Math.pow / log10: they would add kilobytes to the module for a debug line)
  let scale: f64 = 1, a = Math.abs(x);
  while (a >= 10000) { a /= 10; scale /= 10; }
  while (a < 1000) { a *= 10; scale *= 10; }
  const r = Math.round(x * scale) / scale;
  return r == Math.floor(r) && Math.abs(r) < 1e15 ? (<i64>r).toString() : r.toString();
}

function candidateText(cfg: RouterConfig, route: RouteSpec, d: Decision, signals: ModelSignals, slot: i32, nowMs: f64): string {
  const t: CandidateTable = d.candidates;
  const m = unchecked(cfg.models[unchecked(route.candidates[slot])]);
  let line = m.name + ": ";
  if (unchecked(t.drop[slot]) != <u8>Drop.None) return line + "dropped, " + describeDrop(cfg, route, t, slot, d.estimate, signals, nowMs);
  line += "score " + short(unchecked(t.score[slot]));
  line += ", cost $" + usd(unchecked(t.cost[slot]));
  line += ", latency " + short(unchecked(t.latency[slot])) + " ms";
  line += ", " + short(unchecked(t.throughput[slot])) + " tok/s";
  return line + ", quality " + short(unchecked(t.quality[slot]));
}

// USD to the nano-dollar, as putUsd writes it.
function usd(x: f64): string {
  const saved = textLength;
  putUsd(x);
  const out = String.UTF8.decodeUnsafe(text + saved, textLength - saved);
  textLength = saved;
  return out;
}

// "model-router: decision route "auto" (balanced; task coding, tier medium; 120 input + 512 output
// tokens): gpt-4o-mini (routed) | gpt-4o-mini: score 0.61, cost … | llama: dropped, cooling down …"
export function decisionLogLine(cfg: RouterConfig, d: Decision, s: DecisionSummary, signals: ModelSignals, nowMs: f64): string {
  const route = d.route;
  const model = d.model;
  if (route === null) {
    return model !== null ? LOG_PREFIX + "decision: \"" + model.name + "\" requested by name (direct)" : LOG_PREFIX + "decision: not a route or catalog model (passed through)";
  }
  let line = LOG_PREFIX + "decision route \"" + (s.requested !== null ? s.requested!.name : route.name) + "\"";
  if (s.requested !== null && s.requested!.nameBytes != route.nameBytes) line += " via \"" + route.name + "\"";
  line += " (" + unchecked(STRATEGY_NAMES[<i32>route.strategy]);
  if (d.detected) line += "; task " + unchecked(TASK_NAMES[d.task]) + ", tier " + unchecked(TIER_NAMES[d.tier]);
  line += "; " + short(d.estimate.inputTokens) + " input + " + short(d.estimate.outputTokens) + " output tokens): ";
  line += model !== null ? model.name + " (" + s.outcome + ")" : "no model (" + s.outcome + ")";
  const t = d.candidates;
  for (let slot = 0; slot < t.count; slot++) line += " | " + candidateText(cfg, route, d, signals, slot, nowMs);
  return line;
}
