// Watching one routed request's response go by: status and who answered, time to headers, first
// body byte (time to first token for a stream), the end, and the output tokens. Every callback
// returns at once (the plugin never buffers or holds a response); the observation lives in the
// stream's state object, which is reused for later requests, so watching allocates nothing.
import {
  currentTimeNanos, freeHostBlock, hostData, hostSize, readProperty, readPropertyInt64, readResponseBody,
  readResponseHeader, releaseHostData, takeHostData,
} from "../abi/host";
import { Cause, Health, causeOfDetails, isFailureStatus, isViaUpstream, needsDetails, retryAfterMs } from "./classify";
import { UsageScanner } from "./usage_scan";

const STATUS = String.UTF8.encode(":status");
const RETRY_AFTER = String.UTF8.encode("retry-after");
const CODE_DETAILS = String.UTF8.encode("response\0code_details");
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
  sawHeaders: bool = false;       // response headers came (the provider's, or Envoy's reply)
  firstByteMs: f64 = -1;
  endMs: f64 = -1;
  status: i32 = 0;
  health: Health = Health.Unknown;
  cause: Cause = Cause.None;
  retryAfterMs: f64 = 0;
  healthCommitted: bool = false;  // the outcome at the headers went to the statistics already
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
    this.sawHeaders = false;
    this.firstByteMs = this.endMs = -1;
    this.status = 0;
    this.health = Health.Unknown;
    this.cause = Cause.None;
    this.retryAfterMs = 0;
    this.healthCommitted = false;
    this.endOfStream = false;
    this.timingsValid = true;
    this.usage.reset();
  }

  clear(): void {
    this.active = false;
    this.probe = false;
  }

  // Time to first token of a stream (first body byte), -1 when there is none.
  ttftMs(): f64 {
    return this.firstByteMs >= 0 ? this.firstByteMs - this.startMs : -1;
  }
}

function readStatus(): i32 {
  if (!readResponseHeader(STATUS)) return 0;
  let status: i32 = 0;
  for (let i: usize = 0; i < hostSize; i++) {
    const d = <i32>load<u8>(hostData + i) - 0x30;
    if (d < 0 || d > 9 || status > 999) { status = 0; break; }
    status = status * 10 + d;
  }
  releaseHostData();
  return status;
}

// Who answered a status that needs it: the provider (via_upstream), Envoy on the provider's behalf
// (a cause), or someone else (Cause.None with `foreign` set).
let detailsForeign = false;
function causeFromDetails(): Cause {
  detailsForeign = false;
  if (!readProperty(CODE_DETAILS)) return Cause.Status; // a host without details: trust the status
  const n = hostSize;
  const block = takeHostData();
  let cause = Cause.Status;
  if (!isViaUpstream(block, n)) {
    cause = causeOfDetails(block, n);
    detailsForeign = cause == Cause.None;
  }
  freeHostBlock(block);
  return cause;
}

function readRetryAfter(nowMs: f64): f64 {
  if (!readResponseHeader(RETRY_AFTER)) return 0;
  const ms = retryAfterMs(hostData, hostSize, nowMs);
  releaseHostData();
  return ms;
}

// on_response_headers: the status decides the model's health (a provider's 5xx or 429, or Envoy's
// reply for a failed upstream, is a failure; anything else from the provider a success). A 200
// costs one header read: no clock, no properties.
export function observeHeaders(o: ResponseObservation): void {
  o.sawHeaders = true;
  const status = readStatus();
  o.status = status;
  if (!needsDetails(status)) {
    o.health = Health.Success;
    return;
  }
  const cause = causeFromDetails();
  if (detailsForeign) { o.health = Health.Neutral; return; }
  if (cause == Cause.Status && !isFailureStatus(status)) { o.health = Health.Success; return; }
  o.health = Health.Failure;
  o.cause = cause;
  if (status == 429 && cause == Cause.Status) o.retryAfterMs = readRetryAfter(wallClockMs());
}

// on_response_body: the first bytes time the first token; every chunk of a 2xx answer is scanned
// for usage (the chunk is read, never held); error bodies are not read at all.
export function observeBody(o: ResponseObservation, size: usize, endOfStream: bool): void {
  if (size > 0) {
    if (o.firstByteMs < 0) o.firstByteMs = wallClockMs();
    if (o.status >= 200 && o.status < 300 && readResponseBody(size)) {
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

// The stream is over (on_log, or on_delete when a host never logs). A stream that did not end
// normally is explained by its details: a reset or timeout after a good start is a failure; a client
// that went away is not the model's doing.
export function observeEnd(o: ResponseObservation): f64 {
  const now = wallClockMs();
  if (o.endMs < 0) o.endMs = now;
  o.usage.finish();
  if (!o.endOfStream && o.sawHeaders && o.health == Health.Success) {
    if (readProperty(CODE_DETAILS)) {
      const cause = causeOfDetails(hostData, hostSize);
      releaseHostData();
      if (cause != Cause.None) {
        o.health = Health.Failure;
        o.cause = cause;
        o.healthCommitted = false;
      }
    }
  }
  // Only answers that give timing samples need the check (two property reads).
  if (o.health == Health.Success || o.health == Health.Unknown) o.timingsValid = clockSteady(now);
  return now;
}

// Envoy's request.time (wall clock at the start) and request.duration (monotonic) agree with the
// wall clock now, unless the clock was stepped during the request.
function clockSteady(nowMs: f64): bool {
  const startNs = readPropertyInt64(REQUEST_TIME, -1);
  const durationNs = readPropertyInt64(REQUEST_DURATION, -1);
  if (startNs < 0 || durationNs < 0) return true; // a host without them: only bounds checks apply
  const wall = nowMs - <f64>(startNs / 1000) / 1000;
  const mono = <f64>(durationNs / 1000) / 1000;
  return Math.abs(wall - mono) <= STEP_TOLERANCE_MS + STEP_TOLERANCE_SHARE * mono;
}
