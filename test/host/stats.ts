// Proxy-wasm metrics as Envoy 1.40 keeps them (source/extensions/common/wasm/context.cc
// defineMetric / incrementMetric / recordMetric / getMetric) and the /stats/prometheus text it
// renders for them (source/server/admin/prometheus_stats.cc).
//
// - Every defined name becomes the process-wide stat "wasmcustom.<name>": all VMs (main thread,
//   every worker, the configuration canary) that define the same name share one counter / gauge /
//   histogram. Each VM hands out its OWN ids: counters 4, 8, 12 …, gauges 5, 9 …, histograms 6,
//   10 … (cpp-host: next id += 4, the low two bits are the type); defining a name again returns a
//   new id for the same stat.
// - Histogram values become visible (admin output) only after a stats flush, every
//   stats_flush_interval (5 s by default); the emulated process flushes on its own clock.
import { Status } from "./abi.ts";

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export const CUSTOM_STAT_NAMESPACE = "wasmcustom";

/** Envoy's default histogram buckets (Stats::HistogramSettingsImpl::defaultBuckets). */
export const DEFAULT_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

interface Stat {
  name: string;
  type: number;
  value: bigint; // counters and gauges (uint64)
  used: boolean;
  /** Histograms: values recorded since the last flush, and everything flushed so far. */
  pending: number[];
  flushed: number[];
}

export interface MetricSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  /** Every value recorded (flushed or not), in order. */
  histograms: Record<string, number[]>;
}

export interface StatsTag {
  tag_name: string;
  regex: string;
}

const U64 = (v: bigint) => BigInt.asUintN(64, v);

/** The process-wide store (one per emulated Envoy). */
export class StatsStore {
  private readonly stats = new Map<string, Stat>();

  stat(name: string, type: number): Stat {
    const full = `${CUSTOM_STAT_NAMESPACE}.${name}`;
    let s = this.stats.get(full);
    if (!s) {
      s = { name: full, type, value: 0n, used: false, pending: [], flushed: [] };
      this.stats.set(full, s);
    }
    return s;
  }

  /** Merges histogram values recorded since the last flush (Envoy's periodic stats flush). */
  flush(): void {
    for (const s of this.stats.values()) {
      if (s.pending.length) {
        s.flushed.push(...s.pending);
        s.pending = [];
      }
    }
  }

  snapshot(): MetricSnapshot {
    const out: MetricSnapshot = { counters: {}, gauges: {}, histograms: {} };
    for (const s of this.stats.values()) {
      const short = s.name.slice(CUSTOM_STAT_NAMESPACE.length + 1);
      if (s.type === MetricType.Counter) out.counters[short] = Number(s.value);
      else if (s.type === MetricType.Gauge) out.gauges[short] = Number(s.value);
      else out.histograms[short] = [...s.flushed, ...s.pending];
    }
    return out;
  }

  /** /stats/prometheus (wasm stats only, i.e. Envoy's output with ?filter=wasmcustom). */
  prometheus(tags: StatsTag[] = [], opts: { usedOnly?: boolean } = {}): string {
    return renderPrometheus([...this.stats.values()], tags, opts.usedOnly ?? false);
  }
}

/** The ids one VM handed out (Envoy's Wasm::counters_/gauges_/histograms_). */
export class VmMetrics {
  private nextId = [0, 1, 2];
  private readonly byId = new Map<number, Stat>();
  constructor(private readonly store: StatsStore) {}

  define(type: number, name: string): { status: number; id?: number } {
    if (type >>> 0 > MetricType.Histogram) return { status: Status.BAD_ARGUMENT };
    const id = (this.nextId[type] += 4);
    this.byId.set(id, this.store.stat(name, type));
    return { status: Status.OK, id };
  }

  increment(id: number, delta: bigint): number {
    const type = id & 3;
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return Status.BAD_ARGUMENT;
    const s = this.byId.get(id >>> 0);
    if (!s) return Status.NOT_FOUND;
    if (type === MetricType.Counter) {
      // Counters only go up: a zero or negative delta is refused.
      if (delta <= 0n) return Status.BAD_ARGUMENT;
      s.value = U64(s.value + delta);
    } else {
      s.value = U64(s.value + delta);
    }
    s.used = true;
    return Status.OK;
  }

  record(id: number, value: bigint): number {
    const s = this.byId.get(id >>> 0);
    if (!s) return Status.NOT_FOUND;
    const v = U64(value);
    if (s.type === MetricType.Counter) s.value = U64(s.value + v);
    else if (s.type === MetricType.Gauge) s.value = v;
    else s.pending.push(Number(v));
    s.used = true;
    return Status.OK;
  }

  get(id: number): { status: number; value?: bigint } {
    const type = id & 3;
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return { status: Status.BAD_ARGUMENT };
    const s = this.byId.get(id >>> 0);
    if (!s) return { status: Status.NOT_FOUND };
    return { status: Status.OK, value: s.value };
  }
}

// ------------------------------------------------------------------------------------------------
// Prometheus rendering

/**
 * TagProducerImpl::produceTags: every extractor's regex runs on the ORIGINAL full name (not on what
 * earlier extractors left of it); its first capture group is marked for removal and the second (or
 * the first when there is only one) is the tag value; the name Prometheus shows is the full name
 * with every marked range removed. Envoy's default extractors for `_rq_<code>` / `_rq_<class>`
 * suffixes apply to every stat, custom ones too, after the configured stats_tags.
 */
const DEFAULT_TAGS: StatsTag[] = [
  { tag_name: "envoy.response_code", regex: "_rq(_(\\d{3}))$" },
  { tag_name: "envoy.response_code_class", regex: "_rq(_(\\dxx))$" },
];

function extractTags(full: string, tags: StatsTag[]): { name: string; labels: Array<[string, string]> } {
  const labels: Array<[string, string]> = [];
  const removed = new Array<boolean>(full.length).fill(false);
  for (const t of [...tags, ...DEFAULT_TAGS]) {
    const m = new RegExp(t.regex, "d").exec(full);
    if (!m || m[1] === undefined || !m.indices?.[1]) continue;
    const [start, end] = m.indices[1];
    for (let i = start; i < end; i++) removed[i] = true;
    labels.push([t.tag_name, m[2] ?? m[1]]);
  }
  let name = "";
  for (let i = 0; i < full.length; i++) if (!removed[i]) name += full[i];
  return { name, labels };
}

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, "_");
const escapeValue = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function metricName(extracted: string): string {
  // Stats in a custom namespace lose it and get no envoy_ prefix.
  const prefix = `${CUSTOM_STAT_NAMESPACE}.`;
  return extracted.startsWith(prefix) ? sanitize(extracted.slice(prefix.length)) : `envoy_${sanitize(extracted)}`;
}

function labelText(labels: Array<[string, string]>, extra?: string): string {
  const parts = labels.map(([k, v]) => `${sanitize(k)}="${escapeValue(v)}"`);
  if (extra) parts.push(extra);
  return `{${parts.join(",")}}`;
}

/**
 * circllhist keeps two significant digits: a value lands in [m·10^e, (m+1)·10^e). Counts below a
 * bucket bound take whole bins whose upper edge is at or below it; _sum uses bin midpoints (Envoy's
 * own _sum is just as approximate).
 */
function bin(v: number): { lo: number; hi: number } {
  if (v <= 0) return { lo: 0, hi: 0 };
  const e = Math.floor(Math.log10(v)) - 1;
  const w = Math.pow(10, e);
  const lo = Math.floor(v / w) * w;
  return { lo, hi: lo + w };
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(n);
}

function renderPrometheus(stats: Stat[], tags: StatsTag[], usedOnly: boolean): string {
  const groups: Array<Map<string, Array<{ labels: Array<[string, string]>; stat: Stat }>>> = [new Map(), new Map(), new Map()];
  for (const s of [...stats].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (usedOnly && !s.used) continue;
    const { name, labels } = extractTags(s.name, tags);
    const g = groups[s.type];
    const key = metricName(name);
    if (!g.has(key)) g.set(key, []);
    g.get(key)!.push({ labels, stat: s });
  }
  let out = "";
  const types = ["counter", "gauge", "histogram"];
  for (let t = 0; t < 3; t++) {
    for (const key of [...groups[t].keys()].sort()) {
      out += `# TYPE ${key} ${types[t]}\n`;
      for (const { labels, stat } of groups[t].get(key)!) {
        if (t < 2) {
          out += `${key}${labelText(labels)} ${stat.value}\n`;
          continue;
        }
        const values = stat.flushed;
        for (const b of DEFAULT_BUCKETS) {
          const n = values.filter((v) => bin(v).hi <= b).length;
          out += `${key}_bucket${labelText(labels, `le="${formatNumber(b)}"`)} ${n}\n`;
        }
        out += `${key}_bucket${labelText(labels, 'le="+Inf"')} ${values.length}\n`;
        const sum = values.reduce((acc, v) => {
          const { lo, hi } = bin(v);
          return acc + (lo + hi) / 2;
        }, 0);
        out += `${key}_sum${labelText(labels)} ${formatNumber(sum)}\n`;
        out += `${key}_count${labelText(labels)} ${values.length}\n`;
      }
    }
  }
  return out;
}
