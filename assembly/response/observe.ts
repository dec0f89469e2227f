// Watching one routed request's response go by: the first body byte (time to first token for a
// stream) and the output tokens while it streams; at the end, the status and who answered. Only
// on_response_body and on_log are exported: the response headers are not waited on at all (Envoy
// skips a callback the module does not export), so the headers reach the client as without the
// plugin and the first token waits only for one small body callback. The observation lives in the
// stream's state object, which is reused for later requests, so watching allocates nothing.
import { DIGIT_0 } from "../bytes";
import {
  currentTimeNanos, freeHostBlock, hostData, hostSize, readProperty, readPropertyInt64, readResponseBody,
  readResponseHeader, releaseHostData, takeHostData,
} from "../abi/host";
import { AttemptLog } from "./attempts";
import { Cause, Health, causeOfDetails, isFailureStatus, isViaUpstream, needsDetails, retryAfterMs } from "./classify";
import { UsageScanner } from "./usage_scan";

const STATUS = String.UTF8.encode(":status");
const RESPONSE_CODE = String.UTF8.encode("response\0code");
const RETRY_AFTER = String.UTF8.encode("retry-after");
export const CODE_DETAILS = String.UTF8.encode("response\0code_details");
const REQUEST_TIME = String.UTF8.encode("request\0time");
const REQUEST_DURATION = String.UTF8.encode("request\0duration");

// Wall-clock reads of one request disagree with Envoy's monotonic duration by more than this: the
// clock was stepped while the request ran, so its timings are not samples.
const STEP_TOLERANCE_MS: f64 = 50;
const STEP_TOLERANCE_SHARE: f64 = 0.01;

export function wallClockMs(): f64 {
  return <f64>(currentTimeNanos() / 1000) / 1000;
}

export class ResponseObservation {
  active: bool = false;
  catalogId: i32 = 0;
  modelIndex: i32 = 0;
  stream: bool = false;           // the client asked for a stream
  probe: bool = false;            // this request holds the model's probe after a cooldown
  expectedOutputTokens: f64 = 0;  // the request's own estimate (max_tokens or the default)
  startMs: f64 = 0;               // when the request was forwarded (wall clock)
  requestStartMs: f64 = NaN;      // when its headers were held (wall clock; NaN: not read)
  sawHeaders: bool = false;       // a response started (the provider's, or Envoy's reply)
  firstByteMs: f64 = -1;
  endMs: f64 = -1;
  status: i32 = 0;
  health: Health = Health.Unknown;
  cause: Cause = Cause.None;
  retryAfterMs: f64 = 0;
  endOfStream: bool = false;      // the body ended normally
  timingsValid: bool = true;      // no wall-clock step was seen during the request
  readonly usage: UsageScanner = new UsageScanner();

  begin(catalogId: i32, modelIndex: i32, stream: bool, expectedOutputTokens: f64, startMs: f64): void {
    this.active = true;
    this.catalogId = catalogId;
    this.modelIndex = modelIndex;
    this.stream = stream;
    this.expectedOutputTokens = expectedOutputTokens;
    this.probe = false;
    this.startMs = startMs;
    this.requestStartMs = NaN;
    this.sawHeaders = false;
    this.firstByteMs = this.endMs = -1;
    this.status = 0;
    this.health = Health.Unknown;
    this.cause = Cause.None;
    this.retryAfterMs = 0;
    this.endOfStream = false;
    this.timingsValid = true;
    this.usage.reset();
  }

  clear(): void {
    this.active = false;
    this.probe = false;
  }

  // Envoy moved the request between models (failover): the response, or the last failure, belongs
  // to the model of the last attempt, timed from that attempt's start. Returns that model.
  takeLastAttempt(attempts: AttemptLog, chosenModel: i32): i32 {
    const last = attempts.count - 1;
    const served = attempts.model(last);
    // The probe was the first model's: settled by its own attempt when another model answered.
    if (served != chosenModel) this.probe = false;
    this.modelIndex = served;
    const startMs = unchecked(attempts.startMs[last]);
    if (!isNaN(startMs)) this.startMs = startMs; // NaN: the first attempt, timed from the decision
    return served;
  }

  // Time to first token of a stream (first body byte), -1 when there is none.
  ttftMs(): f64 {
    return this.firstByteMs >= 0 ? this.firstByteMs - this.startMs : -1;
  }
}

// The status the client got: Envoy's response.code at log time (its own replies included), else
// the response headers' :status; 0 when no response started (the client left first).
function readStatus(): i32 {
  const code = readPropertyInt64(RESPONSE_CODE, -1);
  if (code >= 0) return code <= 999 ? <i32>code : 0;
  if (!readResponseHeader(STATUS)) return 0;
  let status: i32 = 0;
  for (let i: usize = 0; i < hostSize; i++) {
    const d = <i32>load<u8>(hostData + i) - <i32>DIGIT_0;
    if (d < 0 || d > 9 || status > 999) { status = 0; break; }
    status = status * 10 + d;
  }
  releaseHostData();
  return status;
}

// Who answered, from response.code_details: the provider (Cause.Status), Envoy on the provider's
// behalf (a cause), or someone else (Cause.None: another filter's reply, or the client leaving).
// A host without details: trust the status.
function causeFromDetails(): Cause {
  if (!readProperty(CODE_DETAILS)) return Cause.Status;
  const n = hostSize;
  const block = takeHostData();
  const cause = isViaUpstream(block, n) ? Cause.Status : causeOfDetails(block, n);
  freeHostBlock(block);
  return cause;
}

function readRetryAfter(nowMs: f64): f64 {
  if (!readResponseHeader(RETRY_AFTER)) return 0;
  const ms = retryAfterMs(hostData, hostSize, nowMs);
  releaseHostData();
  return ms;
}

// on_response_body: the first bytes time the first token; every chunk is scanned for usage (read,
// never held). Nothing else happens before the end, so the first token waits for one clock read,
// one buffer read and the scan.
export function observeBody(o: ResponseObservation, size: usize, endOfStream: bool): void {
  if (size > 0) {
    if (o.firstByteMs < 0) o.firstByteMs = wallClockMs();
    if (readResponseBody(size)) {
      o.usage.feed(hostData, hostSize);
      releaseHostData();
    }
  }
  if (endOfStream) {
    o.endOfStream = true;
    o.endMs = wallClockMs();
    o.usage.finish();
  }
}

// The stream is over (on_log, or on_delete when a host never logs): what it says about the model.
// A provider's 5xx or 429, or Envoy's reply for a failed upstream, is a failure; a success whose
// body did not end normally is a failure when the upstream cut it (a reset, a timeout); any other
// answer from the provider is a success; other filters' replies and clients that left say nothing.
// Returns the time of the end: when the body ended (read then: on_log comes right after), else now.
export function observeEnd(o: ResponseObservation): f64 {
  if (o.endMs < 0) o.endMs = wallClockMs();
  const now = o.endMs;
  o.usage.finish();
  classify(o, now);
  // Only answers that give timing samples need the check (one or two property reads).
  if (o.health == Health.Success || o.health == Health.Unknown) o.timingsValid = clockSteady(o, now);
  return now;
}

function classify(o: ResponseObservation, nowMs: f64): void {
  const status = readStatus();
  o.status = status;
  o.sawHeaders = status > 0;
  if (status <= 0) { o.health = Health.Unknown; return; }
  if (!needsDetails(status)) {
    o.health = Health.Success;
    if (o.endOfStream) return;
    // The answer started well but did not end: who cut it?
    const cut = causeFromDetails();
    if (cut != Cause.None && cut != Cause.Status) { o.health = Health.Failure; o.cause = cut; }
    return;
  }
  const cause = causeFromDetails();
  if (cause == Cause.None) { o.health = Health.Neutral; return; }
  if (cause == Cause.Status && !isFailureStatus(status)) { o.health = Health.Success; return; }
  o.health = Health.Failure;
  o.cause = cause;
  if (status == 429 && cause == Cause.Status) o.retryAfterMs = readRetryAfter(nowMs);
}

// The wall clock from the request's start to now agrees with Envoy's request.duration (monotonic),
// unless the clock was stepped during the request. The start is the plugin's own reading when it
// held the request headers (microseconds after Envoy's start), else Envoy's request.time.
function clockSteady(o: ResponseObservation, nowMs: f64): bool {
  let startMs = o.requestStartMs;
  if (isNaN(startMs)) {
    const startNs = readPropertyInt64(REQUEST_TIME, -1);
    if (startNs < 0) return true; // a host without it: only bounds checks apply
    startMs = <f64>(startNs / 1000) / 1000;
  }
  const durationNs = readPropertyInt64(REQUEST_DURATION, -1);
  if (durationNs < 0) return true;
  const wall = nowMs - startMs;
  const mono = <f64>(durationNs / 1000) / 1000;
  return Math.abs(wall - mono) <= STEP_TOLERANCE_MS + STEP_TOLERANCE_SHARE * mono;
}
