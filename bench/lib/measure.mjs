// Small timing helpers: adaptive batches, median of batch means (robust against GC pauses).

// Nanoseconds of CPU this process has run (user + system): unlike the wall clock, it does not count
// the time other processes of a shared machine hold the core.
const cpuNow = () => { const u = process.cpuUsage(); return BigInt(u.user + u.system) * 1000n; };

/**
 * Runs fn repeatedly; returns {median, min, max} nanoseconds per call over `batches` batches.
 * `cpu`: time batches by the process's CPU time instead of the wall clock.
 */
export function timePerOp(fn, { batchMs = 120, batches = 7, warmup = 200, cpu = false } = {}) {
  const now = cpu ? cpuNow : () => process.hrtime.bigint();
  for (let i = 0; i < warmup; i++) fn();
  // calibrate: how many calls fill one batch
  let n = 1;
  for (;;) {
    const t = now();
    for (let i = 0; i < n; i++) fn();
    const ms = Number(now() - t) / 1e6;
    if (ms >= batchMs / 4 || n >= 1 << 24) {
      n = Math.max(1, Math.round((n * batchMs) / Math.max(ms, 0.001)));
      break;
    }
    n *= 4;
  }
  const per = [];
  for (let b = 0; b < batches; b++) {
    const t = now();
    for (let i = 0; i < n; i++) fn();
    per.push(Number(now() - t) / n);
  }
  per.sort((a, b) => a - b);
  return { median: per[per.length >> 1], min: per[0], max: per[per.length - 1], iterations: n * batches };
}

/** The q-quantile of xs (0..1), interpolated between neighbours (q = 0.5: the usual median). */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * q, lo = Math.floor(at), hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}
export const median = (xs) => quantile(xs, 0.5);
/** Median and interquartile range. */
export const summary = (xs) => ({ median: median(xs), p25: quantile(xs, 0.25), p75: quantile(xs, 0.75), n: xs.length });
/** The middle value, the upper one of an even count (no interpolation: a value that was measured). */
export const upperMedian = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const us = (ns) => ns / 1000;
export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
