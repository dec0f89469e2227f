// The fallbacks counter (FALLBACKS in table.ts): how often a request moved from one model to another
// because an attempt failed before the response started, by the name the client asked for (an
// alias, or the catalog model itself), the model that failed and the model tried next. One
// proxy-wasm counter per (route, from, to), defined the first time that move happens (moves are
// rare: no name is built on the request path of a request that does not fail).
//
// Stat name: llm_router_fallbacks.route.<route>.from.<from>.to.<to>. The generated bootstrap's
// stats_tags turn it into the Prometheus series
//   llm_router_fallbacks{ai_route="auto",from_model="gpt-4o-mini",to_model="deepseek-chat"}
// (each tag regex cuts its ".<name>.<value>" out of the name; see cli/lib/envoy.mjs).
import { defineMetric, incrementMetric } from "../abi/host";
import { FALLBACKS } from "./table";

const ids = new Map<string, u32>();

export function fallbackMetricName(route: string, from: string, to: string): string {
  return FALLBACKS.name + ".route." + route + ".from." + from + ".to." + to;
}

export function countFallback(route: string, from: string, to: string): void {
  const name = fallbackMetricName(route, from, to);
  let id: u32;
  if (ids.has(name)) id = ids.get(name);
  else {
    id = defineMetric(FALLBACKS.type, String.UTF8.encode(name));
    if (id == 0) return; // the host refused: nothing to count into
    ids.set(name, id);
  }
  incrementMetric(id, 1);
}
