// The router filter's root context: one per plugin (root id other than UPSTREAM_ROOT_ID) and VM.
// It owns the compiled configuration and, per model catalog, the signals routing reads
// (configured values until the live layer measures better ones), the live layer and the metrics;
// its tick refreshes the live snapshot, sets the live gauges and pushes the counters.
import { LogLevel } from "./abi/constants";
import { currentTimeNanos, hostLogLevel, setTickPeriod } from "./abi/host";
import { PluginConfig } from "./config/rules";
import { Context, ContextKind } from "./contexts";
import { LiveRoot, createLiveRoot, refreshLive } from "./live/live";
import { MetricsRoot, createMetrics } from "./metrics/registry";
import { wallClockMs } from "./response/observe";
import { seedRandom } from "./routing/random";
import { ModelSignals } from "./routing/signals";
import { RequestScratch } from "./scratch";

// Counters reach Envoy at least this often (Prometheus scrapes every 15 s or so).
const METRICS_FLUSH_MS: u32 = 1000;

// Debug decision lines are built only while Envoy's wasm logger is at debug: its level is read when
// a configuration loads and at every tick (an admin /logging change shows within a second), never
// per request. One flag for the VM: every root's tick refreshes it.
export let debugLogging = false;

export class RootContext extends Context {
  // Set by onConfigure; null before, or when the configuration was refused (its streams pass
  // every request through).
  plugin: PluginConfig | null = null;
  signals: ModelSignals[] = [];         // by catalog id
  live: LiveRoot | null = null;         // null when every configuration says "live": false
  metrics: MetricsRoot | null = null;   // null with "metrics": false
  lastRefreshMs: f64 = -Infinity;       // the live snapshot's last refresh (ticks may come more often)
  tickMs: u32 = 0;

  constructor(readonly scratch: RequestScratch) { super(ContextKind.Root); }

  // proxy_on_configure with a compiled configuration. cpp-host keeps one root context per root id
  // and configuration text, and runs proxy_on_context_create again before configuring it again, so
  // a context is configured once; a second call (a host that skips the create) would compile the
  // same text into the same indices.
  onConfigure(plugin: PluginConfig): void {
    this.signals = plugin.catalogs.map<ModelSignals>((c) => new ModelSignals(c.models));
    this.live = createLiveRoot(plugin, this.signals);
    this.metrics = createMetrics(plugin);
    this.plugin = plugin;
    seedRandom(currentTimeNanos()); // host calls are not allowed at start-up, so seed here
    this.start(plugin);
  }

  // The live gauges, the first snapshot, and the tick that keeps both fresh and pushes the counters.
  private start(plugin: PluginConfig): void {
    debugLogging = hostLogLevel() <= LogLevel.Debug;
    const live = this.live, metrics = this.metrics;
    if (metrics !== null) {
      const catalogs = plugin.catalogs;
      for (let i = 0; i < catalogs.length; i++) if (catalogs[i].live !== null) metrics.defineGauges(catalogs[i]);
    }
    let period: u32 = metrics !== null ? METRICS_FLUSH_MS : 0;
    if (live !== null) {
      refreshLive(live, wallClockMs());
      period = period > 0 ? min(period, live.refreshMs) : live.refreshMs;
    }
    this.lastRefreshMs = wallClockMs();
    this.tickMs = period;
    if (period > 0) setTickPeriod(period);
    this.onTick();
  }

  // The live snapshot is due every refreshMs; ticks come every second when that is sooner. A clock
  // stepped back refreshes at once.
  private refreshDue(live: LiveRoot, nowMs: f64): bool {
    return nowMs < this.lastRefreshMs || nowMs - this.lastRefreshMs >= <f64>live.refreshMs - <f64>this.tickMs / 2;
  }

  onTick(): void {
    const plugin = this.plugin;
    if (plugin === null) return;
    const nowMs = wallClockMs();
    const live = this.live;
    if (live !== null && this.refreshDue(live, nowMs)) {
      refreshLive(live, nowMs);
      this.lastRefreshMs = nowMs;
    }
    debugLogging = hostLogLevel() <= LogLevel.Debug;
    const metrics = this.metrics;
    if (metrics === null) return;
    metrics.flushCounters();
    if (live === null) return;
    const catalogs = plugin.catalogs;
    for (let i = 0; i < catalogs.length; i++) {
      const c = catalogs[i];
      if (c.live !== null) metrics.setGauges(c, unchecked(this.signals[c.id]), nowMs);
    }
  }

  // The VM or the plugin is going away (proxy_on_delete: no proxy_on_done is exported): what the
  // counters still hold goes to Envoy.
  onDelete(): void {
    const metrics = this.metrics;
    if (metrics !== null) metrics.flushCounters();
  }
}
