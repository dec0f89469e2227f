// Plugin configurations for the benchmarks.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./ts.mjs";

export const ROUTER_JSON = JSON.parse(readFileSync(join(ROOT, "config", "router.json"), "utf8"));

/**
 * config/router.json plus one long-context model: a 1 MB chat body is ~262k estimated input tokens,
 * more than any model of router.json accepts, and the benchmark measures *routed* requests.
 */
export function benchConfig() {
  const cfg = structuredClone(ROUTER_JSON);
  cfg.models.push({
    name: "long-context", upstream: "openai", upstreamModel: "gpt-4.1-long",
    price: { input: 2.0, output: 8.0 }, ttftMs: 700, tokensPerSecond: 70, contextWindow: 2097152,
    maxOutputTokens: 32768, capabilities: ["tools", "vision", "json"], quality: 8,
  });
  return cfg;
}

/** N generated models over three upstreams and routes of every strategy over all of them. */
export function configWithModels(n, seed = 1) {
  let x = seed >>> 0 || 1;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296);
  const models = [];
  for (let i = 0; i < n; i++) {
    models.push({
      name: `model-${String(i).padStart(4, "0")}`,
      upstream: ["openai", "deepseek", "groq"][i % 3],
      price: { input: +(0.05 + rnd() * 5).toFixed(3), output: +(0.1 + rnd() * 15).toFixed(3) },
      ttftMs: Math.round(100 + rnd() * 900),
      tokensPerSecond: Math.round(30 + rnd() * 700),
      contextWindow: [32768, 65536, 128000, 200000][i % 4],
      maxOutputTokens: 8192,
      capabilities: rnd() < 0.7 ? ["tools", "json"] : ["tools", "vision", "json"],
      quality: { default: +(4 + rnd() * 5).toFixed(2), coding: +(4 + rnd() * 5).toFixed(2) },
      weight: 1 + Math.floor(rnd() * 3),
    });
  }
  return {
    models,
    routes: {
      auto: { strategy: "balanced" },
      cheap: { strategy: "price", minQuality: 5 },
      fast: { strategy: "latency" },
      best: { strategy: "quality", task: "coding" },
      mix: { strategy: "random" },
    },
    upstreamHeader: "x-llm-upstream",
    modelHeader: "x-llm-model",
  };
}

/**
 * Every feature on: live signals (default), metrics with a consumer label, the decision header,
 * failover (the routes' default of one alternate on another provider, with the upstream filter),
 * and task detection on the requested route (`auto` ranks by the detected task's quality).
 */
export function allOnConfig() {
  const cfg = benchConfig();
  cfg.metrics = { consumerHeader: "x-consumer" };
  cfg.decisionHeader = "x-llm-decision";
  cfg.routes.auto = { ...cfg.routes.auto, task: "auto" };
  return cfg;
}

const withoutFailover = (cfg) => {
  cfg.maxClientFallbacks = 0;
  for (const r of Object.values(cfg.routes)) r.maxFallbacks = 0;
  return cfg;
};
const withoutDetection = (cfg) => {
  delete cfg.routes.auto.task;
  return cfg;
};
const withoutDecisionHeader = (cfg) => {
  delete cfg.decisionHeader;
  return cfg;
};

/** The configuration switches, each applied alone to allOnConfig(), then all together. */
export const FEATURE_SWITCHES = [
  { name: "live: false", apply: (c) => ({ ...c, live: false }) },
  { name: "metrics: false", apply: (c) => ({ ...c, metrics: false }) },
  { name: "no decision header", apply: withoutDecisionHeader },
  { name: "maxFallbacks 0", apply: withoutFailover },
  { name: "no detecting route", apply: withoutDetection },
];

/** All on, each switch off alone, all off: [{name, config}]. */
export function featureVariants() {
  const out = [{ name: "all on", config: allOnConfig() }];
  for (const f of FEATURE_SWITCHES) out.push({ name: f.name, config: f.apply(allOnConfig()) });
  let none = allOnConfig();
  for (const f of FEATURE_SWITCHES) none = f.apply(none);
  out.push({ name: "all off", config: none });
  return out;
}
