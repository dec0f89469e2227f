// Benchmark entry (not part of the plugin): the metrics' own work per request as plain exports, so
// bench/metrics.mjs can time it without a host (host calls are stubs; their cost in Envoy is
// measured apart by bench/host-calls.ts).
import { parseJsonTree } from "../assembly/json/tree";
import { resetConfigError } from "../assembly/config/errors";
import { PluginConfig, compilePluginConfig } from "../assembly/config/rules";
import { ResponseObservation } from "../assembly/response/observe";
import { Health } from "../assembly/response/classify";
import { countRequest, countResponse } from "../assembly/metrics/count";
import { MetricsRoot, createMetrics } from "../assembly/metrics/registry";
import { RequestOutcome } from "../assembly/metrics/table";

let plugin: PluginConfig | null = null;
let metrics: MetricsRoot | null = null;
const o = new ResponseObservation();

export function alloc(size: usize): usize { return heap.alloc(size); }
export function free(p: usize): void { heap.free(p); }

export function configure(p: usize, n: usize): bool {
  resetConfigError();
  const tree = parseJsonTree(p, n);
  plugin = tree === null ? null : compilePluginConfig(tree);
  metrics = plugin === null ? null : createMetrics(plugin!);
  return metrics !== null;
}

// `times` requests to route 0 → model `model` that got a 200 with usage (a stream when `stream`):
// what the plugin adds for each at the end of its stream.
export function run(times: i32, model: i32, stream: bool): void {
  const mr = metrics!, cfg = plugin!.global!;
  const m = unchecked(cfg.models[model]);
  for (let i = 0; i < times; i++) {
    o.begin(cfg.catalog.id, model, stream, 512, 1000);
    o.firstByteMs = 1300; o.endMs = 2300; o.status = 200; o.sawHeaders = true; o.health = Health.Success; o.endOfStream = true;
    o.usage.reset();
    o.usage.inputTokens = 120; o.usage.cachedTokens = 100; o.usage.outputTokens = 30; o.usage.events = 30;
    const row = countRequest(mr, cfg, 0, model, 0, RequestOutcome.Routed);
    countResponse(mr, row, cfg.catalog, m, o, 101, 1002);
  }
}

export function flush(): void { metrics!.flushCounters(); }
