// Reading the plugin's metrics the way an operator does: Envoy's /stats/prometheus with the
// stats_tags `llm-router envoy` generates, rendered by the emulated process (test/host/stats.ts).
import { PLUGIN_STATS_TAGS } from "../../cli/lib/envoy.mjs";
import { EnvoyProcess, type ProxyWasmHost } from "../host/index.ts";
import { ENVOY_WASM, type Json } from "./helpers.ts";

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of a /stats/prometheus text. */
export function parsePrometheus(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export const TRAFFIC = "route_upstream_model_consumer_metric_";

/** Sum of the samples of `name` whose labels include `match`. */
export function total(series: Series[], name: string, match: Record<string, string> = {}): number {
  return series
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

export interface Gateway {
  proc: EnvoyProcess;
  workers: ProxyWasmHost[];
  /** Lets the tick push the counters (1 s) and Envoy flush histograms (5 s), then reads /stats/prometheus. */
  scrape(): Series[];
}

function upstreamsOf(cfg: Json): string[] {
  return [...new Set<string>((cfg.models ?? []).map((m: Json) => m.upstream))];
}

/** An emulated `envoy --concurrency N` with the generated stats_tags. */
export async function metricsGateway(cfg: Json, workers = 1, logLevel?: number): Promise<Gateway> {
  const proc = new EnvoyProcess({ statsTags: PLUGIN_STATS_TAGS });
  const ws = await proc.start({ wasm: ENVOY_WASM, workers, vmId: "router", configuration: JSON.stringify(cfg), clusters: upstreamsOf(cfg), logLevel });
  return {
    proc,
    workers: ws,
    scrape() {
      proc.advance(5000);
      return parsePrometheus(proc.prometheus());
    },
  };
}

/** A chat body whose messages decode to exactly `bytes` UTF-8 bytes of text. */
export function sized(model: string, bytes: number, extra: Json = {}): string {
  return JSON.stringify({ model, messages: [{ role: "user", content: "x".repeat(bytes) }], ...extra });
}
