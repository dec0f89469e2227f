// Where a handled request's outcome is told: its decision in words (filter state, which the access
// log prints, and the opt-in decision header), and its counts in the metrics. The request path only
// fills a stream's RequestReport; the counts, the request's and its response's, are made when the
// stream ends (on_log), under the consumer the request headers name by then (an authentication
// filter after this one may set it).
import { LogLevel } from "./abi/constants";
import { log, replaceResponseHeader, writePropertyBytes } from "./abi/host";
import { ModelSpec, RouterConfig } from "./config/types";
import { decisionHeaderInFilterState } from "./host_kind";
import { consumerOf, countCooldownSkips, countRequest, countResponse, noteCooldownSkips } from "./metrics/count";
import { MetricsRoot } from "./metrics/registry";
import { OUTCOME_NAMES, RequestOutcome } from "./metrics/table";
import { DECISION_FILTER_STATE } from "./names";
import { RequestFeatures } from "./request/features";
import { ResponseObservation } from "./response/observe";
import { Drop } from "./routing/candidates";
import { Decision } from "./routing/decide";
import { DecisionSummary, decisionLogLine, textPtr, writeDecisionText } from "./routing/describe";
import { fillEstimate } from "./routing/estimate";
import { ModelSignals } from "./routing/signals";
import { debugLogging } from "./root";

// Filter state `wasm.model_router.decision`: the access log prints it with
// %FILTER_STATE(wasm.model_router.decision:PLAIN)%.
const DECISION_PROPERTY = String.UTF8.encode(DECISION_FILTER_STATE);

function routedOutcome(d: Decision): RequestOutcome {
  if (d.route === null) return RequestOutcome.Direct;
  if (d.slot < 0) return RequestOutcome.Fallback;
  return unchecked(d.candidates.drop[d.slot]) == <u8>Drop.CoolingDown ? RequestOutcome.AllCooling : RequestOutcome.Routed;
}

// One request's report, kept on its stream's context (reused with it for later requests).
export class RequestReport {
  // The request in words: what the filter state and the decision header say.
  readonly summary: DecisionSummary = new DecisionSummary();
  outcome: RequestOutcome = RequestOutcome.None; // None: nothing (more) to count
  route: i32 = -1;                      // the alias (index in config.routes), -1: none
  model: i32 = -1;                      // the catalog model it went to, -1: none
  readonly skipped: i32[] = [];         // catalog models its route passed over while they cooled down
  estimatedInputTokens: f64 = 0;        // the router's estimates for the chosen model
  estimatedCostMicroUsd: f64 = 0;

  clear(): void {
    this.summary.clear();
    this.outcome = RequestOutcome.None;
    this.skipped.length = 0;
  }

  // A handled request that goes to no model: refused, or passed through. `route`: the alias, if known.
  refused(cfg: RouterConfig, outcome: RequestOutcome, d: Decision, route: i32 = -1): void {
    const s = this.summary;
    s.clear();
    s.outcome = unchecked(OUTCOME_NAMES[<i32>outcome]);
    s.cfg = cfg;
    s.requested = route >= 0 ? unchecked(cfg.routes[route]) : null;
    s.route = route >= 0 ? d.route : null;
    s.detected = route >= 0 && d.detected;
    s.task = d.task;
    s.tier = d.tier;
    this.publish(cfg, outcome, route, -1);
  }

  // The request goes to `model`: the router's estimates for it, its summary, its counts.
  routed(cfg: RouterConfig, model: ModelSpec, d: Decision, f: RequestFeatures, countsSkips: bool): void {
    const outcome = routedOutcome(d);
    // A catalog model named directly was not estimated for ranking; the numbers are cheap to get.
    if (d.route === null) fillEstimate(d.estimate, f, cfg);
    const e = d.estimate;
    // Prices are USD per million tokens: tokens × price is micro-USD.
    const costMicroUsd = e.inputTokens * model.inputPrice + e.outputTokens * model.outputPrice;
    this.estimatedInputTokens = e.inputTokens;
    this.estimatedCostMicroUsd = costMicroUsd;
    this.summary.fromDecision(unchecked(OUTCOME_NAMES[<i32>outcome]), cfg, d, costMicroUsd * 1e-6);
    this.publish(cfg, outcome, d.requested, model.index);
    if (countsSkips) this.noteSkips(d);
  }

  // At debug level, the decision in one log line with every candidate's score or drop reason.
  logDecision(cfg: RouterConfig, d: Decision, signals: ModelSignals, nowMs: f64): void {
    if (debugLogging) log(LogLevel.Debug, decisionLogLine(cfg, d, this.summary, signals, nowMs));
  }

  // The cooling candidates the decision's route passed over (counted at the end).
  noteSkips(d: Decision): void {
    noteCooldownSkips(d, this.skipped);
  }

  // The summary in filter state (and, for a forwarded request, for the decision header Envoy's route
  // adds); what the metrics will count when the stream ends.
  private publish(cfg: RouterConfig, outcome: RequestOutcome, route: i32, model: i32): void {
    const length = writeDecisionText(this.summary);
    writePropertyBytes(DECISION_PROPERTY, textPtr(), length);
    const headerState = cfg.decisionHeaderState;
    if (headerState !== null && decisionHeaderInFilterState && model >= 0) writePropertyBytes(headerState, textPtr(), length);
    this.outcome = outcome;
    this.route = route;
    this.model = model;
  }

  // The stream is over (on_log, or on_delete for a host that never logs): the request's counts,
  // once, and those of its response when it was watched (`o` active).
  count(metrics: MetricsRoot, cfg: RouterConfig, o: ResponseObservation): void {
    if (this.outcome == RequestOutcome.None) return;
    const consumer = consumerOf(metrics);
    const row = countRequest(metrics, cfg, this.route, this.model, consumer, this.outcome);
    if (this.skipped.length > 0) countCooldownSkips(metrics, cfg, this.route, this.model, consumer, this.skipped);
    this.outcome = RequestOutcome.None;
    if (o.active) {
      countResponse(metrics, row, cfg.catalog, unchecked(cfg.models[o.modelIndex]), o, this.estimatedInputTokens, this.estimatedCostMicroUsd);
    }
  }

  // The opt-in response header, written by the plugin itself where the route cannot add it from
  // filter state (Higress): the summary of a request the plugin forwarded.
  writeDecisionHeader(cfg: RouterConfig): void {
    if (!this.summary.forwarded) return;
    const name = cfg.decisionHeader;
    if (name === null) return;
    const length = writeDecisionText(this.summary);
    replaceResponseHeader(name, textPtr(), length);
  }
}
