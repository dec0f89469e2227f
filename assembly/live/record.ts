// One model's statistics as every worker of the Envoy process shares them: three time-decayed
// means (time to first token, tokens per second, failure rate), the consecutive failures and the
// cooldown state with its backoff and probe lease. Stored in Envoy's shared data as a fixed
// 144-byte little-endian record (see serialize) and changed only by compare-and-swap (store.ts).
// All times are wall-clock ms (the only clock proxy-wasm offers), so every reader guards against
// steps: a timestamp in the future is treated as now, and deadlines a backward step stretched are
// cut back to their own length (clampAfterStep).
import { Cause } from "../response/classify";
import { LiveSettings } from "../config/types";

export const RECORD_SIZE: i32 = 144;
const MAGIC: u32 = 0x3176_6c6d;      // "mlv1": model-router live statistics, layout version 1
const MAX_LEVEL: f64 = 30;           // backoff doublings; maxCooldownMs caps the length long before
const MAX_CAUSE: i32 = <i32>Cause.NoResponse;

// Weight of a sample `ageMs` old: it halves every half-life. Negative ages (a clock that stepped
// back since) count as no age at all.
@inline export function decay(ageMs: f64, halfLifeMs: f64): f64 {
  return ageMs > 0 ? Math.exp(-ageMs / halfLifeMs * Math.LN2) : 1;
}

// A mean of samples weighted by their age: adding x at time t first ages the existing weight,
// then adds x with weight 1. The estimate blends it with a prior worth `priorWeight` samples, so
// with no fresh samples it drifts back to the prior.
export class DecayedMean {
  weight: f64 = 0;
  mean: f64 = 0;
  at: f64 = 0;

  reset(): void { this.weight = 0; this.mean = 0; this.at = 0; }

  add(x: f64, nowMs: f64, halfLifeMs: f64): void {
    const at = this.at > nowMs ? nowMs : this.at;
    const w = (this.weight > 0 ? this.weight * decay(nowMs - at, halfLifeMs) : 0) + 1;
    this.mean += (x - this.mean) / w;
    this.weight = w;
    this.at = nowMs;
  }

  weightAt(nowMs: f64, halfLifeMs: f64): f64 {
    return this.weight * decay(nowMs - this.at, halfLifeMs);
  }

  blend(prior: f64, priorWeight: f64, nowMs: f64, halfLifeMs: f64): f64 {
    const w = this.weightAt(nowMs, halfLifeMs);
    return (priorWeight * prior + w * this.mean) / (priorWeight + w);
  }
}

export const enum Transition { None, Opened, Reopened, Closed }

export class LiveRecord {
  // TTFT in log(1 + ms), throughput in log(tokens/s): latencies are skewed, and one sample ten
  // times slower should move an estimate by a factor, not by ten times its size.
  readonly ttft: DecayedMean = new DecayedMean();
  readonly tps: DecayedMean = new DecayedMean();
  readonly failure: DecayedMean = new DecayedMean();  // 1 per failure, 0 per success
  consecutive: f64 = 0;
  open: bool = false;          // cooling down, or waiting for a probe to succeed
  cooldownUntil: f64 = 0;
  cooldownMs: f64 = 0;         // the length of the current cooldown
  level: f64 = 0;              // backoff doublings so far
  leaseUntil: f64 = 0;         // a probe holds the model until then
  retryAfterUntil: f64 = 0;    // the provider asked (429 Retry-After) not to come back before
  lastSampleAt: f64 = -1;      // the last timing sample; -1: never
  openedAt: f64 = 0;
  cause: Cause = Cause.None;   // of the last failure
  status: i32 = 0;

  reset(): void {
    this.ttft.reset();
    this.tps.reset();
    this.failure.reset();
    this.consecutive = 0;
    this.open = false;
    this.cooldownUntil = this.cooldownMs = this.level = this.leaseUntil = this.retryAfterUntil = 0;
    this.lastSampleAt = -1;
    this.openedAt = 0;
    this.cause = Cause.None;
    this.status = 0;
  }

  // ---- the wire format ---------------------------------------------------------------------

  serialize(p: usize): void {
    store<u32>(p, MAGIC);
    store<u8>(p, this.open ? 1 : 0, 4);
    store<u8>(p, <u8>this.cause, 5);
    store<u16>(p, <u16>this.status, 6);
    storeMean(p + 8, this.ttft);
    storeMean(p + 32, this.tps);
    storeMean(p + 56, this.failure);
    store<f64>(p, this.consecutive, 80);
    store<f64>(p, this.cooldownUntil, 88);
    store<f64>(p, this.cooldownMs, 96);
    store<f64>(p, this.level, 104);
    store<f64>(p, this.leaseUntil, 112);
    store<f64>(p, this.retryAfterUntil, 120);
    store<f64>(p, this.lastSampleAt, 128);
    store<f64>(p, this.openedAt, 136);
  }

  // Reads a record written by serialize; false (and the record untouched) for anything else: another
  // layout version, a truncated value, values no writer produces.
  parse(p: usize, size: usize): bool {
    if (size != <usize>RECORD_SIZE || load<u32>(p) != MAGIC) return false;
    const open = load<u8>(p, 4), cause = <i32>load<u8>(p, 5);
    if (open > 1 || cause > MAX_CAUSE) return false;
    for (let offset: usize = 8; offset < <usize>RECORD_SIZE; offset += 8) {
      if (!isFinite(load<f64>(p + offset))) return false;
    }
    if (!validMean(p + 8) || !validMean(p + 32) || !validMean(p + 56)) return false;
    const failureMean = load<f64>(p, 64), consecutive = load<f64>(p, 80), level = load<f64>(p, 104);
    if (failureMean < 0 || failureMean > 1 || consecutive < 0 || level < 0 || level > MAX_LEVEL) return false;
    if (load<f64>(p, 96) < 0) return false;
    this.open = open == 1;
    this.cause = <Cause>cause;
    this.status = <i32>load<u16>(p, 6);
    loadMean(p + 8, this.ttft);
    loadMean(p + 32, this.tps);
    loadMean(p + 56, this.failure);
    this.consecutive = consecutive;
    this.cooldownUntil = load<f64>(p, 88);
    this.cooldownMs = load<f64>(p, 96);
    this.level = level;
    this.leaseUntil = load<f64>(p, 112);
    this.retryAfterUntil = load<f64>(p, 120);
    this.lastSampleAt = load<f64>(p, 128);
    this.openedAt = load<f64>(p, 136);
    return true;
  }

  // ---- samples -----------------------------------------------------------------------------

  addTtft(ms: f64, nowMs: f64, s: LiveSettings): void {
    this.ttft.add(Math.log(1 + ms), nowMs, s.halfLifeMs);
    this.lastSampleAt = nowMs;
  }

  addTokensPerSecond(tps: f64, nowMs: f64, s: LiveSettings): void {
    this.tps.add(Math.log(tps), nowMs, s.halfLifeMs);
    this.lastSampleAt = nowMs;
  }

  // ---- health ------------------------------------------------------------------------------

  recordFailure(nowMs: f64, cause: Cause, status: i32, retryAfterMs: f64, s: LiveSettings): Transition {
    this.failure.add(1, nowMs, s.halfLifeMs);
    this.consecutive += 1;
    this.cause = cause;
    this.status = status;
    if (retryAfterMs > 0) this.retryAfterUntil = max(this.retryAfterUntil, nowMs + min(retryAfterMs, s.maxCooldownMs));
    if (this.open) {
      if (nowMs < this.cooldownUntil) {
        // Still cooling (a request went anyway): a longer Retry-After still counts.
        if (this.retryAfterUntil > this.cooldownUntil) this.startCooldown(nowMs, s);
        return Transition.None;
      }
      // The probe (or a request that went anyway after the cooldown) failed: back off further.
      this.level = min(this.level + 1, MAX_LEVEL);
      this.startCooldown(nowMs, s);
      return Transition.Reopened;
    }
    if (this.consecutive < <f64>s.failureThreshold) return Transition.None;
    this.open = true;
    this.level = 0;
    this.openedAt = nowMs;
    this.startCooldown(nowMs, s);
    return Transition.Opened;
  }

  recordSuccess(nowMs: f64, s: LiveSettings): Transition {
    this.failure.add(0, nowMs, s.halfLifeMs);
    this.consecutive = 0;
    if (!this.open) return Transition.None;
    this.open = false;
    this.level = 0;
    this.cooldownUntil = this.cooldownMs = this.leaseUntil = this.retryAfterUntil = 0;
    return Transition.Closed;
  }

  private startCooldown(nowMs: f64, s: LiveSettings): void {
    // level <= MAX_LEVEL (30): an exact power of two
    let until = nowMs + min(s.cooldownMs * <f64>(1 << <i32>this.level), s.maxCooldownMs);
    if (this.retryAfterUntil > until) until = min(this.retryAfterUntil, nowMs + s.maxCooldownMs);
    this.cooldownUntil = until;
    this.cooldownMs = until - nowMs;
    this.leaseUntil = 0;
  }

  // Cooldown over, no probe out: the next request that picks this model may become its probe.
  awaitingProbe(nowMs: f64): bool {
    return this.open && nowMs >= this.cooldownUntil && this.leaseUntil <= nowMs;
  }

  // Until when the model is out of ranking: its cooldown, else a probe's lease (0: it is not).
  coolingUntil(nowMs: f64): f64 {
    if (!this.open) return 0;
    if (nowMs < this.cooldownUntil) return this.cooldownUntil;
    return this.leaseUntil > nowMs ? this.leaseUntil : 0;
  }

  claimProbe(nowMs: f64, s: LiveSettings): bool {
    if (!this.awaitingProbe(nowMs)) return false;
    this.leaseUntil = nowMs + s.probeTimeoutMs;
    return true;
  }

  // The probe ended without telling anything (its client went away): let the next request probe.
  releaseProbe(nowMs: f64): bool {
    if (!this.open || this.leaseUntil <= nowMs) return false;
    this.leaseUntil = 0;
    return true;
  }

  // A wall clock stepped back leaves deadlines further away than they were ever set: cut them back
  // to their own length from now. Returns true when something changed.
  clampAfterStep(nowMs: f64, s: LiveSettings): bool {
    let changed = false;
    if (this.open && this.cooldownUntil - nowMs > this.cooldownMs) {
      this.cooldownUntil = nowMs + this.cooldownMs;
      changed = true;
    }
    if (this.leaseUntil - nowMs > s.probeTimeoutMs) {
      this.leaseUntil = nowMs + s.probeTimeoutMs;
      changed = true;
    }
    if (this.retryAfterUntil - nowMs > s.maxCooldownMs) {
      this.retryAfterUntil = nowMs + s.maxCooldownMs;
      changed = true;
    }
    return changed;
  }
}

function storeMean(p: usize, m: DecayedMean): void {
  store<f64>(p, m.weight);
  store<f64>(p, m.mean, 8);
  store<f64>(p, m.at, 16);
}

function loadMean(p: usize, m: DecayedMean): void {
  m.weight = load<f64>(p);
  m.mean = load<f64>(p, 8);
  m.at = load<f64>(p, 16);
}

function validMean(p: usize): bool {
  return load<f64>(p) >= 0;
}
