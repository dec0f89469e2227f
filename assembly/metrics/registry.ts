// The plugin's metrics as Envoy stats. The request and response paths only add to accumulators in
// Wasm memory: traffic counters by (route, model, consumer) row, found once per request, with the
// row kept in the stream's state so the response adds without a lookup. Each tick (every second,
// or every live refreshMs when shorter) pushes what changed to Envoy: one proxy_increment_metric per
// changed series, whatever the number of requests, and costs keep their fractions of a micro-USD
// for the next flush, so the counter is exact. Histograms are recorded as the responses end (one
// host call per value); gauges are set at the tick when their value changed.
//
// Stats are defined where their labels are known: the live gauges of every catalog model at
// configure time, a traffic series the first time it counts, a model's histograms at its first
// response (so /stats/prometheus lists what happened, not every route × model × consumer × outcome).
// Envoy keeps one stat per name for the whole process, so every worker VM (and the configuration
// canary) defining the same name adds to the same number.
import { MetricType } from "../abi/constants";
import { defineMetric, incrementMetric, recordMetric } from "../abi/host";
import { PluginConfig } from "../config/rules";
import { Catalog, MetricsSettings, RouterConfig } from "../config/types";
import { ModelSignals } from "../routing/signals";
import { Consumers } from "./consumers";
import { G, MODEL_GAUGES, MODEL_HISTOGRAMS, ROW_WIDTH, TRAFFIC, TrafficMetric } from "./table";

const NONE = "none";
// A stat the host refused to define is not asked for again.
const REFUSED: u32 = 0xffffffff;
// Keys pack (route, model, consumer, row model) into 64 bits.
const ROUTE_BITS: u64 = 16;
const MODEL_BITS: u64 = 16;
const CONSUMER_BITS: u64 = 12;
export const MAX_IDS: i32 = 65535;   // routes, models (plus "none") per plugin
const INITIAL_ROWS: i32 = 64;
const MAX_ADD: f64 = 1e15; // far beyond any request's tokens or micro-USD, far below i64 overflow

// Stat-name pieces of one traffic row, resolved when its first stat is defined.
// A 64-bit finaliser (splitmix64's): the packed keys differ in few, high bits.
@inline function mix(x: u64): u64 {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

function resized<T>(a: StaticArray<T>, length: i32): StaticArray<T> {
  const b = new StaticArray<T>(length);
  memory.copy(changetype<usize>(b), changetype<usize>(a), <usize>a.length * sizeof<T>());
  return b;
}

class RowKey {
  constructor(readonly route: i32, readonly model: i32, readonly consumer: i32, readonly rowModel: i32) {}
}

export class MetricsRoot {
  // Global ids: route 0 and model 0 are "none"; config c's route r is routeBase[c] + r + 1, catalog
  // k's model m is modelBase[k] + m + 1.
  routeBase: StaticArray<i32> = new StaticArray<i32>(0);
  modelBase: StaticArray<i32> = new StaticArray<i32>(0);
  readonly routeNames: string[] = [NONE];
  readonly modelNames: string[] = [NONE];
  readonly modelUpstreams: string[] = [NONE];
  readonly consumers: Consumers;
  readonly consumerHeader: ArrayBuffer;

  // Traffic rows, found by key in an open-addressing table (keys + 1, so 0 marks a free slot).
  private slotKeys: StaticArray<u64> = new StaticArray<u64>(INITIAL_ROWS * 2);
  private slotRows: StaticArray<i32> = new StaticArray<i32>(INITIAL_ROWS * 2);
  private readonly rowKeys: RowKey[] = [];
  private values: StaticArray<f64> = new StaticArray<f64>(INITIAL_ROWS * ROW_WIDTH); // accumulated, not yet pushed
  private ids: StaticArray<u32> = new StaticArray<u32>(INITIAL_ROWS * ROW_WIDTH);    // 0: not defined yet
  private dirty: StaticArray<bool> = new StaticArray<bool>(INITIAL_ROWS);
  private readonly dirtyRows: i32[] = [];

  // Per model (global model id × metric): histogram ids (defined at first use), gauge ids and the
  // last value set (a gauge is set again only when it changes).
  private histogramIds: StaticArray<u32> = new StaticArray<u32>(0);
  private gaugeIds: StaticArray<u32> = new StaticArray<u32>(0);
  private gaugeValues: StaticArray<i64> = new StaticArray<i64>(0);

  constructor(plugin: PluginConfig, settings: MetricsSettings) {
    this.consumers = new Consumers(settings.maxConsumers);
    this.consumerHeader = settings.consumerHeader;
    this.routeBase = new StaticArray<i32>(plugin.configs.length);
    for (let c = 0; c < plugin.configs.length; c++) {
      const cfg = plugin.configs[c];
      this.routeBase[c] = this.routeNames.length - 1;
      for (let r = 0; r < cfg.routes.length; r++) this.routeNames.push(cfg.routes[r].name);
    }
    this.modelBase = new StaticArray<i32>(plugin.catalogs.length);
    for (let k = 0; k < plugin.catalogs.length; k++) {
      const models = plugin.catalogs[k].models;
      this.modelBase[k] = this.modelNames.length - 1;
      for (let m = 0; m < models.length; m++) {
        this.modelNames.push(models[m].name);
        this.modelUpstreams.push(models[m].upstream);
      }
    }
    const models = this.modelNames.length;
    this.histogramIds = new StaticArray<u32>(models * MODEL_HISTOGRAMS.length);
    this.gaugeIds = new StaticArray<u32>(models * MODEL_GAUGES.length);
    this.gaugeValues = new StaticArray<i64>(models * MODEL_GAUGES.length);
    for (let i = 0; i < this.gaugeValues.length; i++) this.gaugeValues[i] = -1;
  }

  @inline routeId(cfg: RouterConfig, route: i32): i32 {
    return route < 0 ? 0 : unchecked(this.routeBase[cfg.id]) + route + 1;
  }

  @inline modelId(catalog: Catalog, model: i32): i32 {
    return model < 0 ? 0 : unchecked(this.modelBase[catalog.id]) + model + 1;
  }

  // ---- traffic rows --------------------------------------------------------------------------

  // The row of (route, model, consumer[, rowModel]) by global ids, created on first use.
  row(route: i32, model: i32, consumer: i32, rowModel: i32 = 0): i32 {
    const key = ((<u64>route << (MODEL_BITS + CONSUMER_BITS + MODEL_BITS)) | (<u64>model << (CONSUMER_BITS + MODEL_BITS)) |
      (<u64>consumer << MODEL_BITS) | <u64>rowModel) + 1;
    const mask = this.slotKeys.length - 1;
    let slot = <i32>(mix(key) & <u64>mask);
    while (true) {
      const k = unchecked(this.slotKeys[slot]);
      if (k == key) return unchecked(this.slotRows[slot]);
      if (k == 0) break;
      slot = (slot + 1) & mask;
    }
    const at = this.rowKeys.length;
    this.rowKeys.push(new RowKey(route, model, consumer, rowModel));
    unchecked(this.slotKeys[slot] = key);
    unchecked(this.slotRows[slot] = at);
    if ((at + 1) * ROW_WIDTH > this.values.length) this.grow();
    return at;
  }

  // Doubles the rows' storage and the key table (new series only: a request of a known one never
  // allocates).
  private grow(): void {
    const rows = this.dirty.length * 2;
    this.values = resized<f64>(this.values, rows * ROW_WIDTH);
    this.ids = resized<u32>(this.ids, rows * ROW_WIDTH);
    this.dirty = resized<bool>(this.dirty, rows);
    const keys = this.slotKeys, rowsAt = this.slotRows;
    this.slotKeys = new StaticArray<u64>(rows * 2);
    this.slotRows = new StaticArray<i32>(rows * 2);
    const mask = this.slotKeys.length - 1;
    for (let i = 0; i < keys.length; i++) {
      const key = unchecked(keys[i]);
      if (key == 0) continue;
      let slot = <i32>(mix(key) & <u64>mask);
      while (unchecked(this.slotKeys[slot]) != 0) slot = (slot + 1) & mask;
      unchecked(this.slotKeys[slot] = key);
      unchecked(this.slotRows[slot] = unchecked(rowsAt[i]));
    }
  }

  // Adds `x` to column `column` of `metric` in `row` (x may be fractional: it is pushed in whole units).
  @inline add(row: i32, metric: i32, x: f64, column: i32 = 0): void {
    // An absurd request (max_tokens 1e300) must not poison a counter with infinity or NaN.
    if (!(x < MAX_ADD)) return;
    const at = row * ROW_WIDTH + unchecked(TRAFFIC[metric]).firstColumn + column;
    unchecked(this.values[at] += x);
    if (!unchecked(this.dirty[row])) {
      unchecked(this.dirty[row] = true);
      this.dirtyRows.push(row);
    }
  }

  // Pushes every whole unit accumulated since the last flush to Envoy.
  flushCounters(): void {
    const rows = this.dirtyRows;
    for (let i = 0; i < rows.length; i++) {
      const row = unchecked(rows[i]);
      unchecked(this.dirty[row] = false);
      for (let m = 0; m < TRAFFIC.length; m++) {
        const metric = unchecked(TRAFFIC[m]);
        for (let column = 0; column < metric.columns; column++) this.flushCell(row, metric, column);
      }
    }
    rows.length = 0;
  }

  private flushCell(row: i32, metric: TrafficMetric, column: i32): void {
    const at = row * ROW_WIDTH + metric.firstColumn + column;
    const pending = unchecked(this.values[at]);
    // A hair under a whole unit is float rounding of a sum of fractions (0.1 + 0.2 ...), not less.
    const whole = Math.floor(pending + 1e-9);
    if (!(whole >= 1)) return;
    let id = unchecked(this.ids[at]);
    if (id == 0) {
      id = defineMetric(MetricType.Counter, String.UTF8.encode(this.trafficName(row, metric, column)));
      if (id == 0) id = REFUSED;
      unchecked(this.ids[at] = id);
    }
    unchecked(this.values[at] = pending - whole);
    if (id != REFUSED) incrementMetric(id, <i64>whole);
  }

  trafficName(row: i32, metric: TrafficMetric, column: i32): string {
    const k = unchecked(this.rowKeys[row]);
    let name = "route." + unchecked(this.routeNames[k.route]) + ".upstream." + unchecked(this.modelUpstreams[k.model]) +
      ".model." + unchecked(this.modelNames[k.model]) + ".consumer." + String.UTF8.decode(unchecked(this.consumers.names[k.consumer])) +
      ".metric." + metric.name;
    if (metric.labelKey.length > 0) name += "." + metric.labelKey + "." + metric.labelValues[column];
    if (metric.rowLabel.length > 0) name += "." + metric.rowLabel + "." + unchecked(this.modelNames[k.rowModel]);
    return name;
  }

  // ---- per model -------------------------------------------------------------------------------

  private modelStatName(metric: string, model: i32): ArrayBuffer {
    return String.UTF8.encode(metric + ".upstream." + unchecked(this.modelUpstreams[model]) + ".model." + unchecked(this.modelNames[model]));
  }

  // Records one value of histogram `h` of the model with global id `model`.
  record(h: i32, model: i32, value: f64): void {
    if (!(value >= 0)) return;
    const at = model * MODEL_HISTOGRAMS.length + h;
    let id = unchecked(this.histogramIds[at]);
    if (id == 0) {
      id = defineMetric(MetricType.Histogram, this.modelStatName(unchecked(MODEL_HISTOGRAMS[h]).name, model));
      if (id == 0) id = REFUSED;
      unchecked(this.histogramIds[at] = id);
    }
    if (id != REFUSED) recordMetric(id, <u64>Math.round(value));
  }

  // Defines the live gauges of every model of `catalog` (configure time).
  defineGauges(catalog: Catalog): void {
    for (let m = 0; m < catalog.models.length; m++) {
      const model = this.modelId(catalog, m);
      for (let g = 0; g < MODEL_GAUGES.length; g++) {
        const id = defineMetric(MetricType.Gauge, this.modelStatName(unchecked(MODEL_GAUGES[g]).name, model));
        unchecked(this.gaugeIds[model * MODEL_GAUGES.length + g] = id != 0 ? id : REFUSED);
      }
    }
  }

  @inline private setGauge(model: i32, g: i32, value: i64): void {
    const at = model * MODEL_GAUGES.length + g;
    if (unchecked(this.gaugeValues[at]) == value) return;
    const id = unchecked(this.gaugeIds[at]);
    if (id == 0 || id == REFUSED) return;
    if (recordMetric(id, <u64>value)) unchecked(this.gaugeValues[at] = value);
  }

  // Sets the live gauges of `catalog` from the signals routing reads.
  setGauges(catalog: Catalog, s: ModelSignals, nowMs: f64): void {
    const models = catalog.models;
    for (let m = 0; m < models.length; m++) {
      const model = this.modelId(catalog, m);
      const until = unchecked(s.coolingUntilMs[m]);
      const cooling = until > nowMs;
      this.setGauge(model, G.TtftMs, <i64>Math.round(unchecked(s.ttftMs[m])));
      this.setGauge(model, G.TokensPerSecond, <i64>Math.round(unchecked(s.tokensPerSecond[m])));
      this.setGauge(model, G.FailureRatePpm, <i64>Math.round(unchecked(s.failureRate[m]) * 1e6));
      this.setGauge(model, G.CoolingDown, cooling ? 1 : 0);
      this.setGauge(model, G.CooldownUntilMs, cooling ? <i64>until : 0);
      this.setGauge(model, G.ConsecutiveFailures, <i64>unchecked(s.consecutiveFailures[m]));
    }
  }
}

// Metrics for a plugin root, or null when its configuration turns them off or is too large to
// label (more than 65535 routes or models: never in practice).
export function createMetrics(plugin: PluginConfig): MetricsRoot | null {
  const settings = plugin.metrics;
  if (settings === null) return null;
  let routes = 0, models = 0;
  for (let c = 0; c < plugin.configs.length; c++) routes += plugin.configs[c].routes.length;
  for (let k = 0; k < plugin.catalogs.length; k++) models += plugin.catalogs[k].models.length;
  if (routes >= MAX_IDS || models >= MAX_IDS) return null;
  return new MetricsRoot(plugin, settings);
}
