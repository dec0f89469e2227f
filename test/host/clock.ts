// The emulated process's clock. Envoy hands a Wasm filter two notions of time: the WALL clock
// (proxy_get_current_time_nanoseconds → TimeSource::systemTime()) and, through its dispatcher
// timers (ticks), the MONOTONIC clock. Tests move both with advance(); step() moves only the wall
// clock, as an NTP step or a manual date change would, so ticks keep their rhythm while the time a
// plugin reads jumps. Nothing here reads the real time: the clock is a value the host owns.

export interface TimerHandle {
  cancel(): void;
  readonly dueMs: number;
}

interface Timer {
  dueNs: bigint;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const NS_PER_MS = 1_000_000n;
const toNs = (ms: number): bigint => BigInt(Math.round(ms * 1_000_000));

/** 2026-01-01T00:00:00Z, a fixed default so traces are reproducible. */
export const DEFAULT_EPOCH_NS = 1_767_225_600_000_000_000n;

export class EmulatedClock {
  private wallNs: bigint;
  private monoNs = 0n;
  private timers: Timer[] = [];
  private seq = 0;
  private firing = false;

  constructor(startWallNs: bigint = DEFAULT_EPOCH_NS) {
    this.wallNs = startWallNs;
  }

  /** Wall clock, ns since the Unix epoch (what proxy_get_current_time_nanoseconds returns). */
  now(): bigint {
    return this.wallNs;
  }

  /** Monotonic time since the process started, ns (what dispatcher timers run on). */
  monotonic(): bigint {
    return this.monoNs;
  }

  /** Monotonic time since the process started, ms. */
  elapsedMs(): number {
    return Number(this.monoNs) / 1e6;
  }

  /**
   * Moves both clocks forward by `ms`, firing every timer that falls due on the way, in due order
   * (each one sees the clock at its own due time, as a dispatcher would run it).
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward; use step() for wall-clock steps`);
    this.advanceToMono(this.monoNs + toNs(ms));
  }

  /** Advances to an absolute monotonic time (ms since start); no-op when already past it. */
  advanceTo(monoMs: number): void {
    const target = toNs(monoMs);
    if (target > this.monoNs) this.advanceToMono(target);
  }

  private advanceToMono(target: bigint): void {
    if (this.firing) throw new Error("advance() called from inside a timer callback");
    this.firing = true;
    try {
      for (;;) {
        const next = this.nextDue();
        if (next === null || next.dueNs > target) break;
        this.timers.splice(this.timers.indexOf(next), 1);
        this.move(next.dueNs);
        next.fn();
      }
      this.move(target);
    } finally {
      this.firing = false;
    }
  }

  private move(mono: bigint): void {
    if (mono <= this.monoNs) return;
    this.wallNs += mono - this.monoNs;
    this.monoNs = mono;
  }

  private nextDue(): Timer | null {
    let best: Timer | null = null;
    for (const t of this.timers) {
      if (t.cancelled) continue;
      if (best === null || t.dueNs < best.dueNs || (t.dueNs === best.dueNs && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /** Steps ONLY the wall clock by `ms` (negative = backwards); timers are not affected. */
  step(ms: number): void {
    this.wallNs += toNs(ms);
  }

  /** Sets the wall clock to an absolute value (ns since the epoch). */
  setWall(ns: bigint): void {
    this.wallNs = ns;
  }

  /** A one-shot timer `delayMs` from now on the monotonic clock. */
  schedule(delayMs: number, fn: () => void): TimerHandle {
    const t: Timer = { dueNs: this.monoNs + toNs(Math.max(0, delayMs)), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    const timers = this.timers;
    return {
      cancel() {
        t.cancelled = true;
        const i = timers.indexOf(t);
        if (i >= 0) timers.splice(i, 1);
      },
      get dueMs() {
        return Number(t.dueNs) / 1e6;
      },
    };
  }

  /** Timers still pending (for assertions). */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

export { NS_PER_MS };
