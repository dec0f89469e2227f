// What a request is worked on in, reused by every request of the VM. A request's headers are read,
// and its body scanned, decided, planned and rewritten, each within one callback, and a VM runs one
// callback at a time: so one set serves every stream and every attempt, allocated once (no
// allocation per request, no copy per stream). What must outlive a callback lives on the stream's
// context instead (filter.ts, upstream.ts).
import { BodyScanner } from "./request/body_scan";
import { RequestFeatures } from "./request/features";
import { RequestHeaders } from "./request/headers";
import { Decision } from "./routing/decide";
import { FailoverPlan } from "./routing/plan";
import { PlanMessage } from "./routing/plan_message";

export class RequestScratch {
  readonly headers: RequestHeaders = new RequestHeaders();
  readonly scanner: BodyScanner = new BodyScanner();
  readonly features: RequestFeatures = new RequestFeatures();
  readonly decision: Decision = new Decision();
  readonly plan: FailoverPlan = new FailoverPlan();
  // An attempt's copy of the plan, read back from filter state (upstream filter).
  readonly planMessage: PlanMessage = new PlanMessage();
}
