// The live layer: per plugin root, the shared statistics of every catalog model and the snapshot
// routing reads. Workers refresh their snapshot from shared data on a tick and fold their own
// observations in at once. The request path reads one small shared key (the health generation, so a
// cooldown reaches every worker at its next request) and, only after a cooldown, makes the one
// compare-and-swap that claims the probe.
import { LogLevel } from "../abi/constants";
import { log } from "../abi/host";
import { PluginConfig } from "../config/rules";
import { Catalog, LiveSettings, ModelSpec, RouterConfig } from "../config/types";
import { LOG_PREFIX } from "../names";
import { RequestFeatures } from "../request/features";
import { AttemptLog } from "../response/attempts";
import { Cause, Health, describeCause } from "../response/classify";
import { ResponseObservation } from "../response/observe";
import { Decision, Outcome, decide } from "../routing/decide";
import { ModelSignals } from "../routing/signals";
import { publish } from "./publish";
import { LiveRecord, Transition } from "./record";
import {
  Read, Write, bumpGeneration, changedKeyLength, changedKeyPtr, generation, readGeneration, readRecord, statisticsKey,
  writeRecord,
} from "./store";

// Conflicting writers retry this often; beyond it an update is dropped (the next one will do).
const MAX_CAS_ATTEMPTS = 8;
// A timing longer than this is not a measurement (a wall-clock step the other checks missed).
const MAX_SAMPLE_MS: f64 = 3600000;

// One catalog's statistics as this worker knows them: the last record read or written per model,
// and the ModelSignals routing reads, recomputed from them.
class LiveCatalog {
  readonly keys: ArrayBuffer[];
  readonly records: LiveRecord[];
  // The host refused shared data: this worker learns from its own traffic alone from then on.
  localOnly: bool = false;
  constructor(readonly catalog: Catalog, readonly settings: LiveSettings, readonly signals: ModelSignals) {
    const n = catalog.models.length;
    this.keys = new Array<ArrayBuffer>(n);
    this.records = new Array<LiveRecord>(n);
    for (let i = 0; i < n; i++) {
      this.keys[i] = statisticsKey(catalog.models[i]);
      this.records[i] = new LiveRecord();
    }
  }
}

export class LiveRoot {
  // By catalog id; null for a catalog whose configuration has `"live": false`.
  readonly catalogs: Array<LiveCatalog | null> = [];
  // What the update being committed does, and what it did (reused: an update allocates nothing).
  readonly update: Update = new Update();
  refreshMs: u32 = 0;
  // The health generation the snapshot reflects (-1: none was ever written).
  generation: i64 = -1;

  // The catalog's live state, or null when it routes on the table alone.
  catalog(id: i32): LiveCatalog | null {
    return id < this.catalogs.length ? unchecked(this.catalogs[id]) : null;
  }
}

// Live state for every catalog with live settings; null when the whole plugin is table-only.
export function createLiveRoot(plugin: PluginConfig, signals: ModelSignals[]): LiveRoot | null {
  const root = new LiveRoot();
  let any = false;
  for (let i = 0; i < plugin.catalogs.length; i++) {
    const catalog = plugin.catalogs[i];
    const s = catalog.live;
    if (s === null) { root.catalogs.push(null); continue; }
    root.catalogs.push(new LiveCatalog(catalog, s, signals[catalog.id]));
    root.refreshMs = any ? min(root.refreshMs, s.refreshMs) : s.refreshMs;
    any = true;
  }
  return any ? root : null;
}

// ---- refresh: shared data → this worker's snapshot --------------------------------------------

export function refreshLive(root: LiveRoot, nowMs: f64): void {
  // Read first: a change made while refreshing is picked up by the next request.
  if (readGeneration()) root.generation = generation;
  for (let c = 0; c < root.catalogs.length; c++) {
    const lc = unchecked(root.catalogs[c]);
    if (lc !== null) refreshCatalog(lc, nowMs);
  }
}

// The request path's one shared-data read: has any model's cooldown state changed since this
// worker's snapshot? Then re-read that model (or everything, after several changes).
export function syncHealth(root: LiveRoot, nowMs: f64): void {
  if (!readGeneration() || generation == root.generation) return;
  if (root.generation >= 0 && generation == ((root.generation + 1) & 0xffffffff)) {
    root.generation = generation;
    refreshChanged(root, changedKeyPtr(), changedKeyLength(), nowMs);
    return;
  }
  refreshLive(root, nowMs);
}

// Re-reads every catalog model whose statistics live under the key [p, p + n).
function refreshChanged(root: LiveRoot, p: usize, n: usize, nowMs: f64): void {
  for (let c = 0; c < root.catalogs.length; c++) {
    const lc = unchecked(root.catalogs[c]);
    if (lc === null || lc.localOnly) continue;
    for (let i = 0; i < lc.keys.length; i++) {
      const key = unchecked(lc.keys[i]);
      if (<usize>key.byteLength != n || memory.compare(changetype<usize>(key), p, n) != 0) continue;
      const r = unchecked(lc.records[i]);
      const read = readRecord(key, r);
      if (read == Read.Missing || read == Read.Garbage) r.reset();
      publish(r, unchecked(lc.catalog.models[i]), lc.settings, nowMs, lc.signals);
    }
  }
}

function refreshCatalog(lc: LiveCatalog, nowMs: f64): void {
  const models = lc.catalog.models, s = lc.settings;
  for (let i = 0; i < models.length; i++) {
    const r = unchecked(lc.records[i]);
    if (lc.localOnly) {
      publish(r, unchecked(models[i]), s, nowMs, lc.signals);
      continue;
    }
    const read = readRecord(unchecked(lc.keys[i]), r);
    if (read == Read.Unavailable) goLocal(lc);
    // Nothing stored, or something no writer of this layout wrote: the table, until a good write.
    if (read == Read.Missing || read == Read.Garbage) r.reset();
    else if (read == Read.Found && r.clampAfterStep(nowMs, s) && writeRecord(unchecked(lc.keys[i]), r) == Write.Done) {
      bumpGeneration(unchecked(lc.keys[i]));
    }
    publish(r, unchecked(models[i]), s, nowMs, lc.signals);
  }
}

// ---- updates: one observation (or a probe claim) → the shared record ---------------------------

// What one update does to a record, and, once applied, what it did. One per LiveRoot, reused.
class Update {
  health: Health = Health.Unknown;   // Success or Failure to record; anything else: none
  cause: Cause = Cause.None;
  status: i32 = 0;
  retryAfterMs: f64 = 0;
  ttftMs: f64 = NaN;                 // samples, NaN when absent
  tokensPerSecond: f64 = NaN;
  claimProbe: bool = false;
  releaseProbe: bool = false;
  // Set by applyUpdate: the record's cooldown transition, and whether the probe was claimed or
  // released (what the log line says and whether the other workers are told).
  transition: Transition = Transition.None;
  probeClaimed: bool = false;
  probeReleased: bool = false;

  clear(): void {
    this.health = Health.Unknown;
    this.cause = Cause.None;
    this.status = 0;
    this.retryAfterMs = 0;
    this.ttftMs = NaN;
    this.tokensPerSecond = NaN;
    this.claimProbe = false;
    this.releaseProbe = false;
  }

  isEmpty(): bool {
    return this.health != Health.Success && this.health != Health.Failure && isNaN(this.ttftMs) &&
      isNaN(this.tokensPerSecond) && !this.claimProbe && !this.releaseProbe;
  }

  // The change of state it made to `r`.
  @inline changed(): bool { return this.transition != Transition.None || this.probeClaimed || this.probeReleased; }
}

function applyUpdate(u: Update, r: LiveRecord, s: LiveSettings, nowMs: f64): void {
  u.transition = Transition.None;
  u.probeClaimed = false;
  u.probeReleased = false;
  if (u.claimProbe) {
    u.probeClaimed = r.claimProbe(nowMs, s);
    return;
  }
  if (u.releaseProbe) u.probeReleased = r.releaseProbe(nowMs);
  if (!isNaN(u.ttftMs)) r.addTtft(u.ttftMs, nowMs, s);
  if (!isNaN(u.tokensPerSecond)) r.addTokensPerSecond(u.tokensPerSecond, nowMs, s);
  if (u.health == Health.Failure) u.transition = r.recordFailure(nowMs, u.cause, u.status, u.retryAfterMs, s);
  else if (u.health == Health.Success) u.transition = r.recordSuccess(nowMs, s);
}

// Applies `u` to model `index`'s shared record (get → modify → compare-and-swap, retried on
// conflict). True when the change took effect: written, or kept locally because the host offers no
// shared data. Either way this worker's snapshot of the model is refreshed.
function commit(u: Update, lc: LiveCatalog, index: i32, nowMs: f64): bool {
  const key = unchecked(lc.keys[index]), r = unchecked(lc.records[index]);
  const s = lc.settings;
  let done = false;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS && !done; attempt++) {
    const read = lc.localOnly ? Read.Unavailable : readRecord(key, r);
    if (read == Read.Missing || read == Read.Garbage) r.reset();
    applyUpdate(u, r, s, nowMs);
    if (read == Read.Unavailable) { goLocal(lc); done = true; break; }
    if (u.claimProbe && !u.probeClaimed) break; // nothing to write: someone else probes
    const written = writeRecord(key, r);
    if (written == Write.Unavailable) goLocal(lc);
    done = written != Write.Conflict;
  }
  const m = unchecked(lc.catalog.models[index]);
  publish(r, m, s, nowMs, lc.signals);
  if (done) {
    logTransition(u, m, r, nowMs);
    // Routing elsewhere changes: tell the other workers now (their next request reads it).
    if (!lc.localOnly && u.changed()) bumpGeneration(key);
  }
  return done;
}

function goLocal(lc: LiveCatalog): void {
  if (lc.localOnly) return;
  lc.localOnly = true;
  log(LogLevel.Warn, LOG_PREFIX + "the host refused shared data: live statistics are kept per worker from now on");
}

// ---- the log: one line per cooldown start and end, written by the worker whose write made it ---

// "5", "2.5": seconds to a tenth, without a trailing ".0".
function seconds(ms: f64): string {
  const tenths = <i64>Math.round(ms / 100);
  const whole = (tenths / 10).toString();
  return tenths % 10 == 0 ? whole : whole + "." + (tenths % 10).toString();
}

function logTransition(u: Update, m: ModelSpec, r: LiveRecord, nowMs: f64): void {
  const cause = describeCause(r.cause, r.status);
  switch (u.transition) {
    case Transition.Opened:
      log(LogLevel.Warn, LOG_PREFIX + "model \"" + m.name + "\" cooling down for " + seconds(r.cooldownMs) + " s after " +
        (<i64>r.consecutive).toString() + " consecutive failures (last: " + cause + ")");
      break;
    case Transition.Reopened:
      log(LogLevel.Warn, LOG_PREFIX + "model \"" + m.name + "\" still failing (" + cause + "): cooling down for " +
        seconds(r.cooldownMs) + " s after " + (<i64>r.consecutive).toString() + " consecutive failures");
      break;
    case Transition.Closed:
      log(LogLevel.Info, LOG_PREFIX + "model \"" + m.name + "\" healthy again after " + seconds(nowMs - r.openedAt) +
        " s (cooled down for " + cause + ")");
      break;
    default:
      if (u.probeClaimed) log(LogLevel.Info, LOG_PREFIX + "model \"" + m.name + "\" cooldown over: one probe request goes to it");
  }
}

// ---- the request path: claiming the probe ------------------------------------------------------

// The decision picked model `index`, which failed and has not recovered. True when this request
// may go there: it claimed the single probe process-wide. Otherwise the snapshot now shows the
// model cooling until the other probe's lease ends, and the caller decides again.
function claimProbe(root: LiveRoot, catalogId: i32, index: i32, nowMs: f64): bool {
  const lc = root.catalog(catalogId);
  if (lc === null) return true;
  const u = root.update;
  u.clear();
  u.claimProbe = true;
  const ok = commit(u, lc, index, nowMs) && u.probeClaimed;
  // A claim that failed on a model still failing (a conflict storm, or a lease the record does not
  // show yet): keep it out of this worker's ranking for one lease, not just this request.
  if (!ok && unchecked(lc.records[index]).open && unchecked(lc.signals.coolingUntilMs[index]) <= nowMs) {
    unchecked(lc.signals.coolingUntilMs[index] = nowMs + lc.settings.probeTimeoutMs);
  }
  return ok;
}

// Enough for every model of a big catalog to come back from a cooldown at the same moment.
const MAX_PROBE_CLAIMS = 8;

// Decides into `d`; when the pick is a model whose cooldown is over but which has not succeeded
// since, this request must claim its one probe (process-wide) or be decided again without it.
// Returns whether this request is that probe.
export function decideClaimingProbe(root: LiveRoot | null, cfg: RouterConfig, body: usize, f: RequestFeatures,
  signals: ModelSignals, nowMs: f64, d: Decision): bool {
  if (root !== null) syncHealth(root, nowMs);
  decide(cfg, body, f, signals, nowMs, d);
  if (root === null) return false;
  for (let attempt = 0; attempt < MAX_PROBE_CLAIMS; attempt++) {
    if (d.outcome != Outcome.Routed || d.route === null) return false;
    const index = d.model!.index;
    // Still cooling: every candidate is, and this one ends first; it goes without a probe.
    if (!unchecked(signals.needsProbe[index]) || unchecked(signals.coolingUntilMs[index]) > nowMs) return false;
    if (claimProbe(root, cfg.catalog.id, index, nowMs)) return true;
    decide(cfg, body, f, signals, nowMs, d);
  }
  return false;
}

// ---- observations → updates --------------------------------------------------------------------

// The end of a routed request's stream: its health outcome (shared at once: the other workers'
// next requests read it) and its timing samples, in one update.
export function commitEnd(root: LiveRoot, o: ResponseObservation, nowMs: f64): void {
  const lc = root.catalog(o.catalogId);
  if (lc === null) return;
  const u = root.update;
  u.clear();
  u.health = o.health;
  u.cause = o.cause;
  u.status = o.status;
  u.retryAfterMs = o.retryAfterMs;
  if (o.timingsValid) setTimings(u, lc, o);
  if (o.probe && o.health != Health.Success && o.health != Health.Failure) u.releaseProbe = true;
  if (u.isEmpty()) return;
  commit(u, lc, o.modelIndex, nowMs);
}

// An attempt Envoy retried on another model (failover): a failure of the model it went to. Its
// status was not seen (Cause.Status without a status), or it got no response (Cause.NoResponse).
function commitAttemptFailure(root: LiveRoot, catalogId: i32, modelIndex: i32, cause: Cause, nowMs: f64): void {
  const lc = root.catalog(catalogId);
  if (lc === null || modelIndex < 0 || modelIndex >= lc.keys.length) return;
  const u = root.update;
  u.clear();
  u.health = Health.Failure;
  u.cause = cause == Cause.None ? Cause.NoResponse : cause;
  commit(u, lc, modelIndex, nowMs);
}

// Envoy moved the request between models (failover): each attempt it retried failed, and is charged
// to its own model (the last one is the response's, committed by commitEnd).
export function commitFailedAttempts(root: LiveRoot, catalogId: i32, attempts: AttemptLog, nowMs: f64): void {
  for (let i = 0; i < attempts.count - 1; i++) {
    commitAttemptFailure(root, catalogId, attempts.model(i), <Cause>unchecked(attempts.causes[i]), nowMs);
  }
}

@inline function plausible(ms: f64): bool { return ms >= 0 && ms <= MAX_SAMPLE_MS; }

function setTimings(u: Update, lc: LiveCatalog, o: ResponseObservation): void {
  const i = o.modelIndex;
  const ttftEstimate = unchecked(lc.signals.ttftMs[i]), tpsEstimate = unchecked(lc.signals.tokensPerSecond[i]);
  if (o.health == Health.Success && o.status >= 200 && o.status < 300) {
    if (o.stream) {
      // Time to first token = first body byte; speed = tokens over the time after it.
      const ttft = o.ttftMs();
      if (o.firstByteMs >= 0 && plausible(ttft)) u.ttftMs = ttft;
      const tokens = o.usage.outputTokens >= 0 ? o.usage.outputTokens : <i64>o.usage.events;
      const generating = o.endMs - o.firstByteMs;
      if (o.firstByteMs >= 0 && tokens >= 2 && generating >= 1 && plausible(generating)) {
        u.tokensPerSecond = <f64>tokens * 1000 / generating;
      }
      return;
    }
    // A whole answer at once: its duration splits between first token and generation in the
    // proportion the current estimates predict (the one split that reproduces this duration).
    const tokens = o.usage.outputTokens;
    if (tokens >= 1) splitDuration(u, o.endMs - o.startMs, <f64>tokens, ttftEstimate, tpsEstimate);
    return;
  }
  if (o.health == Health.Unknown && !o.sawHeaders) {
    // The client gave up before any answer came: the model takes at least that long. Counted
    // only when it is longer than expected, so a hanging provider cannot keep a good estimate.
    const waited = o.endMs - o.startMs;
    if (o.stream) {
      if (waited > ttftEstimate && plausible(waited)) u.ttftMs = waited;
    } else if (o.expectedOutputTokens > 0 && waited > ttftEstimate + o.expectedOutputTokens * 1000 / tpsEstimate) {
      splitDuration(u, waited, o.expectedOutputTokens, ttftEstimate, tpsEstimate);
    }
  }
}

function splitDuration(u: Update, durationMs: f64, tokens: f64, ttftEstimate: f64, tpsEstimate: f64): void {
  if (!plausible(durationMs) || durationMs < 1) return;
  const predicted = ttftEstimate + tokens * 1000 / tpsEstimate;
  if (!(predicted > 0)) return;
  const k = durationMs / predicted;
  u.ttftMs = ttftEstimate * k;
  u.tokensPerSecond = tpsEstimate / k;
}
