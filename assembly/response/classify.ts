// What a response says about the model's health. A provider's own answer (response code details
// `via_upstream`) counts by its status: 5xx and 429 are failures, anything else a success (other
// 4xx are the client's doing). Envoy's own replies for this upstream (connect failure, reset,
// timeouts, no healthy host, no such cluster) are failures with their cause. Replies made by other
// filters (rate limits, auth, overload) or a client that went away say nothing about the model.
import { COLON, COMMA, DIGIT_0, DOT, SPACE, TAB } from "../bytes";

export const enum Health { Unknown, Success, Failure, Neutral }

export const enum Cause { None, Status, ConnectFailure, Reset, Timeout, NoHealthyUpstream, ClusterNotFound, NoResponse }

// Statuses whose details must be read to know who answered.
@inline export function needsDetails(status: i32): bool {
  return status >= 500 || status == 429 || status == 408;
}

@inline export function isFailureStatus(status: i32): bool {
  return status >= 500 || status == 429;
}

function startsWith(p: usize, n: usize, prefix: string): bool {
  const k = <usize>prefix.length;
  if (n < k) return false;
  for (let i: usize = 0; i < k; i++) if (<i32>load<u8>(p + i) != prefix.charCodeAt(<i32>i)) return false;
  return true;
}

function contains(p: usize, n: usize, word: string): bool {
  const k = <usize>word.length;
  for (let i: usize = 0; i + k <= n; i++) if (startsWith(p + i, n - i, word)) return true;
  return false;
}

// The cause of an Envoy reply from its response code details [p, p + n), or Cause.None when the
// reply is not about the upstream (another filter's, or the client's doing).
export function causeOfDetails(p: usize, n: usize): Cause {
  if (startsWith(p, n, "upstream_reset_before_response_started")) {
    return contains(p, n, "connection_failure") || contains(p, n, "connect_error") ? Cause.ConnectFailure : Cause.Reset;
  }
  if (startsWith(p, n, "upstream_reset_after_response_started")) return Cause.Reset;
  if (startsWith(p, n, "response_timeout") || startsWith(p, n, "upstream_response_timeout") ||
    startsWith(p, n, "upstream_per_try_timeout") || startsWith(p, n, "upstream_per_try_idle_timeout") ||
    startsWith(p, n, "upstream_max_stream_duration_reached") || startsWith(p, n, "stream_idle_timeout")) {
    return Cause.Timeout;
  }
  if (startsWith(p, n, "no_healthy_upstream") || startsWith(p, n, "maintenance_mode")) return Cause.NoHealthyUpstream;
  if (startsWith(p, n, "cluster_not_found")) return Cause.ClusterNotFound;
  return Cause.None;
}

export function isViaUpstream(p: usize, n: usize): bool {
  return n == 12 && startsWith(p, n, "via_upstream");
}

export function describeCause(cause: Cause, status: i32): string {
  switch (cause) {
    // A failover attempt's status is not seen (the response headers get no callback): 5xx or 429.
    case Cause.Status: return status > 0 ? "HTTP " + status.toString() : "HTTP 5xx or 429";
    case Cause.ConnectFailure: return "connect failure";
    case Cause.Reset: return "connection reset";
    case Cause.Timeout: return "timeout";
    case Cause.NoHealthyUpstream: return "no healthy upstream host";
    case Cause.ClusterNotFound: return "upstream cluster not found";
    case Cause.NoResponse: return "connect failure or reset";
    default: return "failure";
  }
}

// ---- Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date ------------------------------

@inline function digitAt(p: usize, i: usize): i32 {
  const d = <i32>load<u8>(p + i) - <i32>DIGIT_0;
  return d >= 0 && d < 10 ? d : -1;
}

function twoDigits(p: usize, i: usize): i32 {
  const a = digitAt(p, i), b = digitAt(p, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";

function monthIndex(p: usize): i32 {
  for (let m = 0; m < 12; m++) {
    if (<i32>load<u8>(p) == MONTHS.charCodeAt(3 * m) && <i32>load<u8>(p + 1) == MONTHS.charCodeAt(3 * m + 1) &&
      <i32>load<u8>(p + 2) == MONTHS.charCodeAt(3 * m + 2)) return m;
  }
  return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
function daysFromCivil(year: i32, month: i32, day: i32): i64 {
  const y = <i64>(month <= 2 ? year - 1 : year);
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const mp = <i64>((month + 9) % 12);
  const doy = (153 * mp + 2) / 5 + <i64>day - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (the form servers must send) as epoch ms, or -1.
function imfFixdateMs(p: usize, n: usize): f64 {
  if (n != 29 || load<u8>(p + 3) != COMMA || load<u8>(p + 4) != SPACE || load<u8>(p + 7) != SPACE ||
    load<u8>(p + 11) != SPACE || load<u8>(p + 16) != SPACE || load<u8>(p + 19) != COLON ||
    load<u8>(p + 22) != COLON || load<u8>(p + 25) != SPACE || !startsWith(p + 26, 3, "GMT")) return -1;
  const day = twoDigits(p, 5), month = monthIndex(p + 8);
  const century = twoDigits(p, 12), yy = twoDigits(p, 14);
  const hour = twoDigits(p, 17), minute = twoDigits(p, 20), second = twoDigits(p, 23);
  if (day < 1 || day > 31 || month < 0 || century < 0 || yy < 0 || hour < 0 || hour > 23 || minute < 0 ||
    minute > 59 || second < 0 || second > 60) return -1;
  const days = daysFromCivil(century * 100 + yy, month + 1, day);
  return (<f64>days * 86400 + <f64>(hour * 3600 + minute * 60 + second)) * 1000;
}

// How long a Retry-After value [p, p + n) asks to wait, in ms from `nowMs`; 0 when it cannot be
// read (then only the normal backoff applies). Seconds may carry a fraction (some servers send it).
export function retryAfterMs(p: usize, n: usize, nowMs: f64): f64 {
  while (n > 0 && (load<u8>(p) == SPACE || load<u8>(p) == TAB)) { p++; n--; }
  while (n > 0 && (load<u8>(p + n - 1) == SPACE || load<u8>(p + n - 1) == TAB)) n--;
  if (n == 0) return 0;
  if (digitAt(p, 0) >= 0) {
    let seconds: f64 = 0, scale: f64 = 0;
    for (let i: usize = 0; i < n; i++) {
      const c = <u32>load<u8>(p + i);
      if (c == DOT && scale == 0) { scale = 1; continue; }
      const d = digitAt(p, i);
      if (d < 0) return 0;
      if (scale == 0) seconds = seconds * 10 + <f64>d;
      else { scale /= 10; seconds += <f64>d * scale; }
    }
    return seconds * 1000;
  }
  const at = imfFixdateMs(p, n);
  return at > nowMs ? at - nowMs : 0;
}
