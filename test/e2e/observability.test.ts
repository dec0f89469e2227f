// Observability through real Envoy 1.40 (README "Observability"): after a known mix of requests,
// /stats/prometheus shows the expected counts with the labels the generated stats_tags give, the
// cost counter equals the cost computed by hand from the usage the mocks returned, the access log
// line names the route and model, the decision header appears only where it is enabled, and
// `llm-router top --once` shows the numbers. Every metric the shipped Grafana dashboard and alert
// rules query is exported. A filter AFTER the plugin sets the consumer header when the client did not
// (as Higress's key-auth, which runs after the router, sets x-mse-consumer): the label follows it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { startMockProvider, type MockProvider } from "../../mock/provider.mjs";
import { parsePrometheus, total, TRAFFIC, type Series } from "../unit/metrics-helpers.ts";
import {
  deriveEnvoyConfig, postJson, printLogOnFailure, readRouterConfig, ROOT, send, spawnEnvoy, sseData, waitForEnvoy,
  type EnvoyProcess, type Reply,
} from "./harness";

const EXPLAIN = "explain.test"; // the one domain whose rule turns the decision header on
const LATE = "gateway-auth"; // the consumer a filter after the plugin names when the client named none
// Streams spaced 2 ms a token (an output speed to measure); the openai mocks report cached tokens.
const MOCKS = [
  { name: "openai-1", cluster: "openai", cachedTokens: 4, tokensPerSecond: 500 },
  { name: "openai-2", cluster: "openai", cachedTokens: 4, tokensPerSecond: 500 },
  { name: "deepseek", cluster: "deepseek", tokensPerSecond: 500 },
  { name: "groq", cluster: "groq", tokensPerSecond: 500 },
];

// The decision header only where a rule turns it on (config/router.json has it on for every request).
const { decisionHeader: _everywhere, ...router } = readRouterConfig();
const PLUGIN_CONFIG = {
  ...router,
  models: router.models.map((m: any) => (m.name === "gpt-4o-mini" ? { ...m, price: { ...m.price, cachedInput: 0.075 } } : m)),
  routes: { ...router.routes, strict: { strategy: "price", maxCostUsd: 0 } },
  live: { explore: 0, spread: 0 },
  metrics: { consumerHeader: "x-consumer" },
  _rules_: [{ _match_domain_: [EXPLAIN], decisionHeader: "x-llm-decision" }],
};
const PRICES = new Map<string, { input: number; output: number; cachedInput: number }>(
  PLUGIN_CONFIG.models.map((m: any) => [m.name, { input: m.price.input, output: m.price.output, cachedInput: m.price.cachedInput ?? m.price.input }]),
);
const UPSTREAM_OF = new Map<string, string>(PLUGIN_CONFIG.models.map((m: any) => [m.name, m.upstream]));

let envoy: EnvoyProcess;
let url = "";
let adminUrl = "";
let adminPort = 0;
const mocks: Record<string, MockProvider> = {};

beforeAll(async () => {
  const endpoints: Record<string, number[]> = {};
  for (const { name, cluster, ...knobs } of MOCKS) {
    mocks[name] = await startMockProvider({ host: "127.0.0.1", port: 0, name, ...knobs });
    (endpoints[cluster] ??= []).push(mocks[name].port);
  }
  const cfg = deriveEnvoyConfig({
    endpoints,
    pluginConfig: PLUGIN_CONFIG,
    mutate: (c) => {
      const filters = c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
      const wasm = filters.findIndex((f: any) => f.name === "model-router");
      filters.splice(wasm + 1, 0, {
        name: "late-consumer",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
          mutations: { request_mutations: [{ append: { header: { key: "x-consumer", value: LATE }, append_action: "ADD_IF_ABSENT" } }] },
        },
      });
    },
  });
  envoy = spawnEnvoy(cfg, ["--base-id", String(40000 + Math.floor(Math.random() * 20000))]);
  const ports = await waitForEnvoy(envoy);
  url = `http://127.0.0.1:${ports.port}`;
  adminPort = ports.adminPort;
  adminUrl = `http://127.0.0.1:${ports.adminPort}`;
});

afterAll(async () => {
  await envoy?.stop();
  await Promise.all(Object.values(mocks).map((m) => m.close()));
});

beforeEach((ctx) => printLogOnFailure(ctx, () => envoy));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chat = (model: string, extra: object = {}) =>
  JSON.stringify({ model, messages: [{ role: "user", content: "Say hello to the metrics." }], ...extra });

async function scrape(): Promise<Series[]> {
  return parsePrometheus((await send(adminUrl, { path: "/stats/prometheus?filter=wasmcustom" })).text);
}

/** Polls /stats/prometheus until `done` holds (counters reach Envoy at the plugin's tick, histograms at Envoy's stats flush). */
async function scrapeUntil(done: (s: Series[]) => boolean, timeoutMs = 20_000): Promise<Series[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape();
    if (done(s) || Date.now() > deadline) return s;
    await sleep(250);
  }
}

interface Usage { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens: number } }

/** The usage object of a whole JSON answer, or of the last SSE event that has one. */
function usageOf(reply: Reply): Usage {
  if (String(reply.headers["content-type"]).includes("event-stream")) {
    const events = sseData(reply.text).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d));
    return events.filter((e) => e.usage).pop().usage;
  }
  return reply.json().usage;
}

// What one series (route, model, consumer) should show, from what the clients got back.
interface Expected { requests: number; input: number; cached: number; output: number; costMicroUsd: number }
const expected = new Map<string, Expected>();
const key = (route: string, model: string, consumer: string) => `${route}|${model}|${consumer}`;
const sentOutcomes: Array<{ route: string; model: string; consumer: string; outcome: string }> = [];

function account(route: string, model: string, consumer: string, outcome: string, reply: Reply): void {
  sentOutcomes.push({ route, model, consumer, outcome });
  const u = usageOf(reply);
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  const p = PRICES.get(model)!;
  const e = expected.get(key(route, model, consumer)) ?? { requests: 0, input: 0, cached: 0, output: 0, costMicroUsd: 0 };
  e.requests++;
  e.input += u.prompt_tokens;
  e.cached += cached;
  e.output += u.completion_tokens ?? 0;
  // prices are USD per million tokens: tokens × price = micro-USD
  e.costMicroUsd += (u.prompt_tokens - cached) * p.input + cached * p.cachedInput + (u.completion_tokens ?? 0) * p.output;
  expected.set(key(route, model, consumer), e);
}

const decisionOf = (reply: Reply): Record<string, string> =>
  Object.fromEntries(String(reply.headers["x-llm-decision"] ?? "").split(" ").filter(Boolean).map((kv) => kv.split("=") as [string, string]));

describe("a known mix of requests", () => {
  let replies: Record<string, Reply[]> = {};

  beforeAll(async () => {
    replies = { auto: [], fast: [], direct: [], embed: [] };
    for (let i = 0; i < 6; i++) {
      const consumer = i < 3 ? "team-a" : LATE;
      const headers: Record<string, string> = { host: EXPLAIN, ...(i < 3 ? { "x-consumer": "team-a" } : {}) };
      const r = await postJson({ url }, "/v1/chat/completions", chat("auto", { max_tokens: 6 }), headers);
      expect(r.status).toBe(200);
      account("auto", decisionOf(r).model, consumer, "routed", r);
      replies.auto.push(r);
    }
    for (let i = 0; i < 4; i++) {
      const r = await postJson({ url }, "/v1/chat/completions", chat("fast", { stream: true, max_tokens: 5 }), { host: EXPLAIN });
      expect(r.status).toBe(200);
      account("fast", decisionOf(r).model, LATE, "routed", r);
      replies.fast.push(r);
    }
    for (let i = 0; i < 2; i++) {
      const r = await postJson({ url }, "/v1/chat/completions", chat("deepseek-chat"));
      expect(r.status).toBe(200);
      account("none", "deepseek-chat", LATE, "direct", r);
      replies.direct.push(r);
    }
    const e = await postJson({ url }, "/v1/embeddings", JSON.stringify({ model: "embed", input: "metrics" }), { host: EXPLAIN });
    expect(e.status).toBe(200);
    account("embed", "text-embedding-3-small", LATE, "routed", e);
    replies.embed.push(e);
    replies.strict = [await postJson({ url }, "/v1/chat/completions", chat("strict"), { host: EXPLAIN })];
    replies.unknown = [await postJson({ url }, "/v1/chat/completions", chat("gpt-9"))];
    replies.broken = [await postJson({ url }, "/v1/chat/completions", "{not json")];
    expect(replies.strict[0].status).toBe(400);
    expect(replies.unknown[0].status).toBe(404);
    expect(replies.broken[0].status).toBe(400);
  });

  it("/stats/prometheus counts every request by route, model, upstream, consumer and outcome", async () => {
    const s = await scrapeUntil((x) => total(x, `${TRAFFIC}llm_router_requests`) >= sentOutcomes.length + 3);
    const requests = `${TRAFFIC}llm_router_requests`;
    for (const o of sentOutcomes) {
      const want = sentOutcomes.filter((x) => x.route === o.route && x.model === o.model && x.consumer === o.consumer && x.outcome === o.outcome).length;
      expect(total(s, requests, { ai_route: o.route, ai_model: o.model, ai_cluster: UPSTREAM_OF.get(o.model)!, ai_consumer: o.consumer, outcome: o.outcome }), JSON.stringify(o)).toBe(want);
    }
    // refused by the plugin: the later filter never ran; passed through: it did
    expect(total(s, requests, { ai_route: "strict", ai_model: "none", ai_consumer: "none", outcome: "no_candidate" })).toBe(1);
    expect(total(s, requests, { ai_route: "none", ai_consumer: LATE, outcome: "passed_through" })).toBe(1);
    expect(total(s, requests, { ai_route: "none", ai_consumer: "none", outcome: "invalid_json" })).toBe(1);
    expect(total(s, requests)).toBe(sentOutcomes.length + 3);
    expect(total(s, `${TRAFFIC}llm_router_responses`, { result: "success" })).toBe(sentOutcomes.length);
    // every plugin series carries its labels: no label value left inside a metric name
    for (const x of s.filter((x) => x.name.startsWith(TRAFFIC))) {
      expect(Object.keys(x.labels).slice(0, 4), x.name).toEqual(["ai_route", "ai_cluster", "ai_model", "ai_consumer"]);
      expect(x.name).toMatch(/^route_upstream_model_consumer_metric_[a-z_]+$/);
    }
  });

  it("tokens and the cost counter equal what the mocks' usage and the prices give", async () => {
    const s = await scrapeUntil((x) => total(x, `${TRAFFIC}llm_router_responses`) >= sentOutcomes.length);
    expect(expected.size).toBeGreaterThanOrEqual(4);
    for (const [k, e] of expected) {
      const [route, model, consumer] = k.split("|");
      const labels = { ai_route: route, ai_model: model, ai_consumer: consumer };
      expect(total(s, `${TRAFFIC}input_token`, labels), k).toBe(e.input);
      expect(total(s, `${TRAFFIC}cached_input_token`, labels), k).toBe(e.cached);
      expect(total(s, `${TRAFFIC}output_token`, labels), k).toBe(e.output);
      expect(total(s, `${TRAFFIC}total_token`, labels), k).toBe(e.input + e.output);
      // the counter holds whole micro-USD; the fraction waits for the next request of the series
      expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`, labels), k).toBe(Math.floor(e.costMicroUsd + 1e-9));
    }
    const cached = [...expected].filter(([k]) => k.includes("|gpt-4o-mini|")).reduce((a, [, e]) => a + e.cached, 0);
    expect(cached).toBeGreaterThan(0); // the openai mocks report cached prompt tokens
  });

  it("histograms by model: one time to first token per stream, one duration per response", async () => {
    const fastModel = decisionOf(replies.fast[0]).model;
    const s = await scrapeUntil((x) => total(x, "gen_ai_server_time_to_first_token_ms_count", { ai_model: fastModel }) >= 4);
    expect(total(s, "gen_ai_server_time_to_first_token_ms_count", { ai_model: fastModel, ai_cluster: UPSTREAM_OF.get(fastModel)! })).toBe(4);
    expect(total(s, "llm_router_output_tokens_per_second_count", { ai_model: fastModel })).toBe(4);
    expect(total(s, "gen_ai_server_request_duration_ms_count")).toBe(sentOutcomes.length);
    // the generated bucket settings: finer than Envoy's defaults
    expect(s.some((x) => x.name === "gen_ai_server_time_to_first_token_ms_bucket" && x.labels.le === "150")).toBe(true);
    expect(total(s, "llm_router_model_cooling_down")).toBe(0);
    expect(s.filter((x) => x.name === "llm_router_model_ttft_ms").map((x) => x.labels.ai_model).sort()).toEqual([...PRICES.keys()].sort());
  });

  it("the access log line names the route, the model and the decision", async () => {
    await sleep(300);
    const lines = envoy.log().split("\n").filter((l) => l.startsWith("[access]"));
    const auto = decisionOf(replies.auto[0]);
    expect(lines.some((l) => l.includes(`model=${auto.model} `) && l.includes(`decision="outcome=routed route=auto model=${auto.model} strategy=balanced cost_usd=`))).toBe(true);
    expect(lines.some((l) => l.includes('decision="outcome=no_candidate route=strict strategy=price"'))).toBe(true);
    expect(lines.some((l) => / 404 .*decision="outcome=passed_through"/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('decision="outcome=direct model=deepseek-chat cost_usd='))).toBe(true);
  });

  it("the decision header appears only where it is enabled, and only on forwarded requests", () => {
    for (const r of [...replies.auto, ...replies.fast, ...replies.embed]) {
      expect(String(r.headers["x-llm-decision"])).toMatch(/^outcome=routed route=(auto|fast|embed) model=\S+ strategy=\w+ cost_usd=[0-9.]+$/);
    }
    for (const r of [...replies.direct, ...replies.unknown, ...replies.broken]) expect(r.headers["x-llm-decision"]).toBeUndefined();
    expect(replies.strict[0].headers["x-llm-decision"]).toBeUndefined(); // explain.test, but refused
  });

  it("each label has one tag extractor: Envoy logs no `Skipping duplicate tag` warning", () => {
    expect(envoy.log()).toContain("[access]");
    expect(envoy.log()).not.toContain("Skipping duplicate tag");
  });

  it("`llm-router top --once` shows the numbers", async () => {
    await scrapeUntil((x) => total(x, `${TRAFFIC}llm_router_responses`) >= sentOutcomes.length);
    const run = spawnSync(process.execPath, [join(ROOT, "cli", "llm-router.mjs"), "top", "--admin", `127.0.0.1:${adminPort}`, "--once", "--interval", "0.3"], { encoding: "utf8", timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split("\n");
    const byModel = new Map<string, number>();
    for (const o of sentOutcomes) byModel.set(o.model, (byModel.get(o.model) ?? 0) + 1);
    for (const [model, n] of byModel) {
      const line = rows.find((l) => l.startsWith(`${model} `));
      expect(line, `${model} in\n${run.stdout}`).toBeDefined();
      const cells = line!.trim().split(/\s+/);
      expect(cells[1]).toBe(UPSTREAM_OF.get(model));
      expect(Number(cells[3]), line).toBe(n); // REQUESTS
      const cost = [...expected].filter(([k]) => k.split("|")[1] === model).reduce((a, [, e]) => a + Math.floor(e.costMicroUsd + 1e-9), 0) / 1e6;
      expect(Number(cells.at(-1)), line).toBeCloseTo(cost, 9); // COST $
    }
    const autoModel = decisionOf(replies.auto[0]).model;
    expect(rows.some((l) => new RegExp(`^auto\\s+${autoModel.replace(/\./g, "\\.")}\\s`).test(l))).toBe(true);
    expect(run.stdout).toContain("not forwarded (since start): invalid_json 1, no_candidate 1, passed_through 1");
  });

  it("every metric the shipped Grafana dashboard and alert rules query is exported", async () => {
    // What the counts above did not need: an answer without usage, a model cooling down and a route
    // passing over it.
    mocks.deepseek.setKnobs({ omitUsage: true });
    expect((await postJson({ url }, "/v1/chat/completions", chat("deepseek-chat"))).status).toBe(200);
    mocks.groq.setKnobs({ failureRate: 1 });
    for (let i = 0; i < 3; i++) expect((await postJson({ url }, "/v1/chat/completions", chat("llama-3.1-8b"))).status).toBe(503);
    expect((await postJson({ url }, "/v1/chat/completions", chat("fast", { stream: true }))).status).toBe(200);
    const s = await scrapeUntil((x) => total(x, `${TRAFFIC}llm_router_cooldown_skips`) > 0 && total(x, `${TRAFFIC}llm_router_usage_missing`) > 0);
    const instead = s.find((x) => x.name === `${TRAFFIC}llm_router_cooldown_skips`)!;
    expect(instead.labels).toMatchObject({ ai_route: "fast", skipped_model: "llama-3.1-8b" });
    expect(instead.labels.ai_model).not.toBe("llama-3.1-8b");
    expect(instead.value).toBe(1);
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "llama-3.1-8b" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_router_usage_missing`, { ai_model: "deepseek-chat" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_router_responses`, { ai_model: "llama-3.1-8b", result: "failure" })).toBe(3);
    const names = new Set(s.map((x) => x.name));
    const dashboard = readFileSync(join(ROOT, "config", "observability", "grafana-dashboard.json"), "utf8");
    const alerts = YAML.parse(readFileSync(join(ROOT, "config", "observability", "prometheus-alerts.yaml"), "utf8"));
    const exprs = [
      ...JSON.parse(dashboard).panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr)),
      ...JSON.parse(dashboard).templating.list.map((v: any) => v.query?.query ?? v.query).filter((q: any) => typeof q === "string"),
      ...alerts.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr)),
    ];
    const queried = new Set(exprs.flatMap((e: string) => [...e.matchAll(/\b(?:route_upstream_model_consumer_metric|gen_ai|llm_router)_[a-z0-9_]+\b/g)].map((m) => m[0])));
    expect(queried.size).toBeGreaterThan(15);
    expect([...queried].filter((n) => !names.has(n))).toEqual([]);
  });

  it("a provider's 4xx (a 404 from deepseek's provider) is counted as the client's error, not a success, and cools nothing", async () => {
    const responses = `${TRAFFIC}llm_router_responses`;
    const before = await scrape();
    const deepseek = Object.values(mocks).filter((m) => m.name.startsWith("deepseek"));
    for (const m of deepseek) m.setKnobs({ failureRate: 1, failureStatus: 404 });
    let r;
    try {
      r = await postJson({ url }, "/v1/chat/completions", chat("deepseek-chat"));
    } finally {
      for (const m of deepseek) m.setKnobs({ failureRate: 0 });
    }
    expect(r.status).toBe(404);
    const s = await scrapeUntil((x) => total(x, responses, { result: "client_error" }) >= 1);
    expect(total(s, responses, { ai_model: "deepseek-chat", result: "client_error" })).toBe(1);
    expect(total(s, responses, { result: "success" })).toBe(total(before, responses, { result: "success" }));
    expect(total(s, responses, { ai_model: "deepseek-chat", result: "failure" })).toBe(0);
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "deepseek-chat" })).toBe(0);
  });
});
