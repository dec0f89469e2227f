// Token estimates from the body features: what this request will ask of a model, before the
// candidate table turns it into each model's cost and latency.
import { RequestFeatures } from "../request/features";
import { RouterConfig, CAP_TOOLS, CAP_VISION, CAP_JSON } from "../config/types";

export class RequestEstimate {
  inputTokens: f64 = 0;
  outputTokens: f64 = 0;
  stream: bool = false;
  needs: u32 = 0;        // capability bits the request needs
  endpoint: u32 = 0;     // the bit of the request's path in a model's `endpoints`
}

export function estimateInputTokens(textBytes: usize, bytesPerToken: f64): f64 {
  return Math.ceil(<f64>textBytes / bytesPerToken);
}

export function estimateOutputTokens(f: RequestFeatures, defaultOutputTokens: f64): f64 {
  const requested = f.requestedOutputTokens();
  return requested >= 0 ? requested : defaultOutputTokens;
}

export function fillEstimate(out: RequestEstimate, f: RequestFeatures, cfg: RouterConfig): void {
  out.endpoint = (<u32>1) << f.pathIndex;
  out.inputTokens = estimateInputTokens(f.textBytes, cfg.bytesPerToken);
  // An embedding has no output tokens; counting defaultOutputTokens would drop models whose
  // context window the input alone fits.
  out.outputTokens = cfg.noOutputPaths & out.endpoint ? 0 : estimateOutputTokens(f, cfg.defaultOutputTokens);
  out.stream = f.stream;
  out.needs = (f.hasImages ? CAP_VISION : 0) | (f.hasTools ? CAP_TOOLS : 0) | (f.wantsJson ? CAP_JSON : 0);
}
