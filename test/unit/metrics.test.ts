// Metrics (README "Observability", assembly/metrics/): what /stats/prometheus shows after known
// traffic through the emulated Envoy, with the labels the generated stats_tags give: request
// outcomes, tokens and cost from usage (JSON, the last SSE event, Responses and Anthropic shapes,
// cached tokens, none), response results, time to first token, duration and speed histograms, live
// gauges, the consumer label and its process-wide cap, several workers, and when counters reach
// Envoy (at the tick, exact to the micro-USD).
import { describe, expect, it } from "vitest";
import { type Json, model } from "./helpers.ts";
import { chat, failure, jsonAnswer, streamAnswer, wallMs } from "./live-helpers.ts";
import { TRAFFIC, metricsGateway, parsePrometheus, sized, total } from "./metrics-helpers.ts";

const REQUESTS = `${TRAFFIC}llm_router_requests`;
const RESPONSES = `${TRAFFIC}llm_router_responses`;

const post = (body: string, headers: Record<string, string> = {}, extra: Json = {}) => ({
  method: "POST",
  path: "/v1/chat/completions",
  headers: { "content-type": "application/json", ...headers },
  body,
  ...extra,
});

/** A JSON chat answer with exactly this usage object. */
function usageAnswer(usage: Json, status = 200): Json {
  return {
    status,
    headers: { "content-type": "application/json" },
    headersAt: 50,
    body: [{ at: 50, data: JSON.stringify({ id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "hi" } }], usage }) }],
  };
}

describe("requests by route, model, upstream and outcome", () => {
  const cfg = {
    models: [model("A", { price: { input: 1, output: 2 } }), model("B", { price: { input: 3, output: 4 } })],
    routes: {
      auto: { strategy: "price" },
      strict: { strategy: "price", maxCostUsd: 0 },
      safe: { strategy: "price", maxCostUsd: 0, onNoCandidate: "B" },
    },
    maxBodyBytes: 1000,
    live: false,
  };

  it("every outcome is one labelled series; requests the plugin does not handle are not counted", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    const sent: Array<[Json, string, Json]> = [
      [post(sized("auto", 10)), "routed", { ai_route: "auto", ai_model: "A", ai_cluster: "up-A" }],
      [post(sized("B", 10)), "direct", { ai_route: "none", ai_model: "B", ai_cluster: "up-B" }],
      [post(sized("safe", 10)), "fallback", { ai_route: "safe", ai_model: "B" }],
      [post(sized("strict", 10)), "no_candidate", { ai_route: "strict", ai_model: "none", ai_cluster: "none" }],
      [post(sized("gpt-9", 10)), "passed_through", { ai_route: "none", ai_model: "none" }],
      [post("{not json"), "invalid_json", { ai_route: "none" }],
      [post('{"messages":[]}'), "missing_model", {}],
      [post('{"model":7}'), "invalid_model", {}],
      [post('{"model":"A","model":"B"}'), "duplicate_model", {}],
      [post('{"model":"A","max_tokens":-1}'), "invalid_max_tokens", {}],
      [post("model=A", { "content-type": "application/x-www-form-urlencoded" }), "unsupported_media_type", {}],
      [post(sized("A", 10), { "content-encoding": "gzip" }), "unsupported_content_encoding", {}],
      [post(sized("A", 2000), { "content-length": "2050" }), "request_too_large", {}],
      [{ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" } }, "missing_body", {}],
    ];
    for (const [req] of sent) w.request(req as any);
    w.request({ method: "GET", path: "/v1/models" });
    w.request({ method: "GET", path: "/v1/files" });
    w.request({ method: "POST", path: "/v1/files", headers: { "content-type": "application/json" }, body: "{}" });
    const s = g.scrape();
    for (const [, outcome, labels] of sent) {
      expect(total(s, REQUESTS, { outcome, ai_consumer: "none", ...labels }), outcome).toBe(1);
    }
    expect(total(s, REQUESTS)).toBe(sent.length);
  });

  it("a refused `models` list counts as invalid_models, its code (not invalid_json, not uncounted)", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    const malformed = w.request(post('{"model":"A","models":"B"}') as any);
    const unknown = w.request(post(JSON.stringify({ model: "auto", models: ["A", "gpt-9"], messages: [{ role: "user", content: "hi" }] })) as any);
    for (const r of [malformed, unknown]) expect(JSON.parse(r.localResponse!.text).error.code).toBe("invalid_models");
    expect(unknown.setProperties["model_router.decision"]).toBe("outcome=invalid_models route=auto strategy=price");
    const s = g.scrape();
    expect(total(s, REQUESTS, { outcome: "invalid_models", ai_route: "none" })).toBe(1);
    expect(total(s, REQUESTS, { outcome: "invalid_models", ai_route: "auto", ai_model: "none" })).toBe(1);
    expect(total(s, REQUESTS, { outcome: "invalid_json" })).toBe(0);
  });

  it("a route passing over a cooling model counts the skip; every candidate cooling goes to the first to recover", async () => {
    const live = { ...cfg, models: [model("A", { price: { input: 1, output: 1 } }), model("B", { price: { input: 5, output: 5 } })], routes: { auto: { strategy: "price" } }, live: {} };
    const g = await metricsGateway(live);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    chat(w, "auto", jsonAnswer(100, 5));
    for (let i = 0; i < 3; i++) chat(w, "B", failure(503));
    chat(w, "auto", jsonAnswer(100, 5));
    const s = g.scrape();
    // A cooling: auto went to B instead; then both cooling: it went to A (the first to recover), passing over B
    expect(total(s, `${TRAFFIC}llm_router_cooldown_skips`, { ai_route: "auto", skipped_model: "A", ai_model: "B", ai_cluster: "up-B" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_router_cooldown_skips`, { ai_route: "auto", skipped_model: "B", ai_model: "A" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_router_cooldown_skips`)).toBe(2);
    expect(total(s, REQUESTS, { ai_route: "auto", ai_model: "B", outcome: "routed" })).toBe(1);
    expect(total(s, REQUESTS, { ai_route: "auto", ai_model: "A", outcome: "all_cooling" })).toBe(1);
  });
});

describe("tokens and cost from the response's usage", () => {
  const priced = model("A", { price: { input: 2, output: 8, cachedInput: 0.5 } });
  const cfg = { models: [priced], routes: { auto: { strategy: "price" } }, live: false };

  it("JSON usage with cached prompt tokens: tokens, total, cost at the cached price, and the router's estimates", async () => {
    const g = await metricsGateway(cfg);
    const r = g.workers[0].request({
      ...post(sized("auto", 400, { max_tokens: 100 })),
      response: usageAnswer({ prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } }),
    } as any);
    expect(r.response!.status).toBe(200);
    const s = g.scrape();
    const row = { ai_route: "auto", ai_cluster: "up-A", ai_model: "A", ai_consumer: "none" };
    expect(total(s, `${TRAFFIC}input_token`, row)).toBe(120);
    expect(total(s, `${TRAFFIC}cached_input_token`, row)).toBe(100);
    expect(total(s, `${TRAFFIC}output_token`, row)).toBe(30);
    expect(total(s, `${TRAFFIC}total_token`, row)).toBe(150);
    // 20 uncached × 2 + 100 cached × 0.5 + 30 × 8 = 330 micro-USD
    expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`, row)).toBe(330);
    // the router's guess: 404 bytes of text ("user" and the content) / 4 = 101 input tokens, and
    // max_tokens 100 output: 101 × 2 + 100 × 8
    expect(total(s, `${TRAFFIC}llm_router_estimated_input_token`, row)).toBe(101);
    expect(total(s, `${TRAFFIC}llm_router_estimated_cost_micro_usd`, row)).toBe(1002);
    expect(total(s, `${TRAFFIC}llm_router_usage_missing`)).toBe(0);
  });

  it("usage in the last SSE event of a stream", async () => {
    const g = await metricsGateway(cfg);
    chat(g.workers[0], "auto", streamAnswer({ ttftMs: 80, tokens: 12, spanMs: 300 }), { stream: true });
    const s = g.scrape();
    expect(total(s, `${TRAFFIC}input_token`)).toBe(3);
    expect(total(s, `${TRAFFIC}output_token`)).toBe(12);
    expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(3 * 2 + 12 * 8);
  });

  it("the Responses API, Anthropic Messages (cache reads and writes on top of input_tokens) and DeepSeek's cache hits", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    w.request({ ...post(sized("A", 10)), response: usageAnswer({ input_tokens: 50, input_tokens_details: { cached_tokens: 40 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 55 }) } as any);
    w.request({ ...post(sized("A", 10)), response: usageAnswer({ input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 7 }) } as any);
    w.request({ ...post(sized("A", 10)), response: usageAnswer({ prompt_tokens: 64, completion_tokens: 1, prompt_cache_hit_tokens: 60, prompt_cache_miss_tokens: 4 }) } as any);
    const s = g.scrape();
    expect(total(s, `${TRAFFIC}input_token`)).toBe(50 + 60 + 64);
    expect(total(s, `${TRAFFIC}cached_input_token`)).toBe(40 + 30 + 60);
    expect(total(s, `${TRAFFIC}output_token`)).toBe(5 + 7 + 1);
    const cost = (10 * 2 + 40 * 0.5 + 5 * 8) + (30 * 2 + 30 * 0.5 + 7 * 8) + (4 * 2 + 60 * 0.5 + 1 * 8);
    expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(cost);
  });

  it("no usage: no tokens or cost, and a successful answer without usage is counted as such", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    chat(w, "auto", jsonAnswer(100, null));
    chat(w, "auto", streamAnswer({ ttftMs: 50, tokens: 4, spanMs: 100, usage: false }), { stream: true });
    chat(w, "auto", failure(503));
    const s = g.scrape();
    expect(s.filter((x) => x.name === `${TRAFFIC}input_token` || x.name === `${TRAFFIC}llm_router_cost_micro_usd`)).toEqual([]);
    expect(total(s, `${TRAFFIC}llm_router_usage_missing`, { ai_route: "auto", ai_model: "A" })).toBe(2);
    expect(total(s, REQUESTS, { outcome: "routed" })).toBe(3);
  });

  it("costs below a micro-USD add up exactly: the counter carries the fractions", async () => {
    const cheap = { models: [model("A", { price: { input: 0.15, output: 0 } })], live: false };
    const g = await metricsGateway(cheap);
    const w = g.workers[0];
    const one = () => w.request({ ...post(sized("A", 4)), response: usageAnswer({ prompt_tokens: 1, completion_tokens: 0 }) } as any);
    for (let i = 0; i < 7; i++) one();
    expect(total(g.scrape(), `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(1); // 1.05
    for (let i = 0; i < 13; i++) one();
    expect(total(g.scrape(), `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(3); // 3.00, not 2.99…
  });

  it("an absurd max_tokens does not poison the estimate counter", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    w.request({ ...post('{"model":"A","max_tokens":99999999999999999999,"messages":[]}'), response: usageAnswer({ prompt_tokens: 1, completion_tokens: 1 }) } as any);
    w.request({ ...post('{"model":"A","max_tokens":2,"messages":[]}'), response: usageAnswer({ prompt_tokens: 1, completion_tokens: 1 }) } as any);
    const s = g.scrape();
    expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(2 * (2 + 8));
    expect(total(s, `${TRAFFIC}llm_router_estimated_cost_micro_usd`)).toBe(2 * 8); // the second request's alone
  });

  it("price.cachedInput defaults to the input price", async () => {
    const g = await metricsGateway({ models: [model("A", { price: { input: 2, output: 0 } })], live: false });
    g.workers[0].request({ ...post(sized("A", 4)), response: usageAnswer({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 10 } }) } as any);
    expect(total(g.scrape(), `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(20);
  });
});

describe("responses: results, times and speed", () => {
  const cfg = { models: [model("A"), model("B")], routes: { auto: { strategy: "price", models: ["A"] } }, live: false };

  it("a stream: result, the Higress duration sums, and one value in each histogram", async () => {
    const g = await metricsGateway(cfg);
    chat(g.workers[0], "auto", streamAnswer({ ttftMs: 120, tokens: 50, spanMs: 1000 }), { stream: true });
    const s = g.scrape();
    const row = { ai_route: "auto", ai_model: "A" };
    expect(total(s, RESPONSES, { ...row, result: "success" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_first_token_duration`, row)).toBe(120);
    expect(total(s, `${TRAFFIC}llm_stream_duration_count`, row)).toBe(1);
    expect(total(s, `${TRAFFIC}llm_service_duration`, row)).toBe(1120);
    expect(total(s, `${TRAFFIC}llm_duration_count`, row)).toBe(1);
    const values = g.proc.metrics().histograms;
    expect(values["gen_ai_server_time_to_first_token_ms.upstream.up-A.model.A"]).toEqual([120]);
    expect(values["gen_ai_server_request_duration_ms.upstream.up-A.model.A"]).toEqual([1120]);
    expect(values["llm_router_output_tokens_per_second.upstream.up-A.model.A"]).toEqual([50]); // 50 tokens in 1 s
    expect(total(s, "gen_ai_server_time_to_first_token_ms_count", { ai_model: "A", ai_cluster: "up-A" })).toBe(1);
    expect(total(s, "gen_ai_server_time_to_first_token_ms_bucket", { ai_model: "A", le: "250" })).toBe(1);
    expect(total(s, "gen_ai_server_time_to_first_token_ms_bucket", { ai_model: "A", le: "100" })).toBe(0);
  });

  it("a whole JSON answer has a duration but no first token; histograms exist only for models that answered", async () => {
    const g = await metricsGateway(cfg);
    chat(g.workers[0], "auto", jsonAnswer(300, 5));
    g.scrape();
    const h = g.proc.metrics().histograms;
    expect(h["gen_ai_server_request_duration_ms.upstream.up-A.model.A"]).toEqual([300]);
    expect(Object.keys(h).filter((k) => k.includes("time_to_first_token") || k.includes("per_second"))).toEqual([]);
    expect(Object.keys(h).filter((k) => k.endsWith("model.B"))).toEqual([]);
  });

  it("failures, Envoy's own replies and clients that left before any answer", async () => {
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    chat(w, "auto", failure(503));
    chat(w, "auto", failure(429, { "retry-after": "1" }));
    chat(w, "auto", { envoy: "connect-failure", at: 10 });
    chat(w, "auto", failure(400));
    chat(w, "auto", streamAnswer({ headersAt: 500, ttftMs: 500, tokens: 3, spanMs: 10 }), { stream: true, clientAbortAt: 100 });
    const s = g.scrape();
    expect(total(s, RESPONSES, { result: "failure" })).toBe(3);
    // a 400 is the client's fault, not the model's: counted apart, and no failure for live signals
    expect(total(s, RESPONSES, { result: "client_error" })).toBe(1);
    expect(total(s, RESPONSES, { result: "success" })).toBe(0);
    expect(total(s, RESPONSES, { result: "client_cancelled" })).toBe(1);
    expect(total(s, `${TRAFFIC}llm_router_usage_missing`)).toBe(0);
  });
});

describe("a provider's 4xx", () => {
  it("is the client's error: counted as client_error, never as a success or a failure; live signals keep the model healthy", async () => {
    const cfg = { models: [model("A"), model("B")], routes: { auto: { strategy: "price", models: ["A", "B"] } }, live: { explore: 0 } };
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    for (const status of [400, 401, 404, 404, 413]) chat(w, "auto", failure(status));
    g.proc.advance(1000);
    const s = parsePrometheus(g.proc.prometheus());
    expect(total(s, RESPONSES, { ai_route: "auto", ai_model: "A", result: "client_error" })).toBe(5);
    expect(total(s, RESPONSES, { result: "success" })).toBe(0);
    expect(total(s, RESPONSES, { result: "failure" })).toBe(0);
    // five in a row, past the failure threshold: still no cooldown, every request stayed on A
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "A" })).toBe(0);
    expect(total(s, "llm_router_model_consecutive_failures", { ai_model: "A" })).toBe(0);
    expect(total(s, REQUESTS, { ai_route: "auto", ai_model: "A", outcome: "routed" })).toBe(5);
  });
});

describe("live gauges", () => {
  it("estimates and cooldown state per model, set at the tick", async () => {
    const cfg = { models: [model("A", { ttftMs: 100, tokensPerSecond: 50 }), model("B")], routes: { fast: { strategy: "latency" } }, live: { explore: 0, spread: 0 } };
    const g = await metricsGateway(cfg);
    const w = g.workers[0];
    let s = g.scrape();
    expect(total(s, "llm_router_model_ttft_ms", { ai_model: "A", ai_cluster: "up-A" })).toBe(100);
    expect(total(s, "llm_router_model_tokens_per_second", { ai_model: "A" })).toBe(50);
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "A" })).toBe(0);
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    const failedAt = wallMs(g);
    g.proc.advance(1000);
    s = parsePrometheus(g.proc.prometheus());
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "A" })).toBe(1);
    expect(total(s, "llm_router_model_consecutive_failures", { ai_model: "A" })).toBe(3);
    expect(total(s, "llm_router_model_cooldown_until_ms", { ai_model: "A" })).toBe(failedAt + 5000);
    expect(total(s, "llm_router_model_failure_rate_ppm", { ai_model: "A" })).toBeGreaterThan(300_000); // 3 failures against a prior of 5
    g.proc.advance(5000);
    s = parsePrometheus(g.proc.prometheus());
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "A" })).toBe(0);
    expect(total(s, "llm_router_model_cooldown_until_ms", { ai_model: "A" })).toBe(0);
    expect(total(s, "llm_router_model_cooling_down", { ai_model: "B" })).toBe(0);
  });

  it("no gauges without live signals", async () => {
    const g = await metricsGateway({ models: [model("A")], live: false });
    expect(g.scrape().filter((x) => x.name.startsWith("llm_router_model_"))).toEqual([]);
  });
});

describe("the consumer label", () => {
  const cfg = (metrics: Json) => ({ models: [model("A")], live: false, metrics });

  it("comes from the configured header, made safe for a stat name; absent is \"none\"", async () => {
    const g = await metricsGateway(cfg({ consumerHeader: "x-mse-consumer" }));
    const w = g.workers[0];
    w.request(post(sized("A", 8), { "x-mse-consumer": "team-a" }) as any);
    w.request(post(sized("A", 8), { "x-mse-consumer": " alice@example.com " }) as any);
    w.request(post(sized("A", 8)) as any);
    w.request(post(sized("A", 8), { "x-mse-consumer": "x".repeat(100) }) as any);
    const consumers = new Set(g.scrape().filter((x) => x.name === REQUESTS).map((x) => x.labels.ai_consumer));
    expect(consumers).toEqual(new Set(["team-a", "alice@example_com", "none", "x".repeat(64)]));
  });

  it("is capped for the whole process: later consumers count as \"other\", on every worker", async () => {
    const g = await metricsGateway(cfg({ consumerHeader: "x-consumer", maxConsumers: 2 }), 2);
    const [w1, w2] = g.workers;
    w1.request(post(sized("A", 8), { "x-consumer": "a" }) as any);
    w2.request(post(sized("A", 8), { "x-consumer": "b" }) as any);
    w1.request(post(sized("A", 8), { "x-consumer": "c" }) as any);
    w2.request(post(sized("A", 8), { "x-consumer": "d" }) as any);
    w1.request(post(sized("A", 8), { "x-consumer": "b" }) as any); // w1 learns b from the shared list
    const s = g.scrape();
    expect(total(s, REQUESTS, { ai_consumer: "a" })).toBe(1);
    expect(total(s, REQUESTS, { ai_consumer: "b" })).toBe(2);
    expect(total(s, REQUESTS, { ai_consumer: "other" })).toBe(2);
    expect(new Set(s.filter((x) => x.name === REQUESTS).map((x) => x.labels.ai_consumer))).toEqual(new Set(["a", "b", "other"]));
  });
});

describe("many series", () => {
  it("hundreds of rows: each series keeps its own count as the tables grow", async () => {
    const g = await metricsGateway({ models: [model("A"), model("B")], routes: { auto: { strategy: "price" } }, live: false, metrics: { consumerHeader: "x-consumer", maxConsumers: 400 } });
    const w = g.workers[0];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) w.request(post(sized(i % 2 ? "A" : "B", 8), { "x-consumer": `c${i}` }) as any);
      if (round === 0) g.proc.advance(1000); // a push between the rounds
    }
    const s = g.scrape();
    const series = s.filter((x) => x.name === REQUESTS);
    expect(series).toHaveLength(300);
    for (const x of series) expect(x.value, x.labels.ai_consumer).toBe(2);
    expect(series.find((x) => x.labels.ai_consumer === "c7")!.labels.ai_model).toBe("A");
  });
});

describe("several workers, one process", () => {
  it("counters, costs and histograms add up across workers; each worker defines the same stats", async () => {
    const cfg = { models: [model("A", { price: { input: 1, output: 1 } })], routes: { auto: { strategy: "price" } }, live: false };
    const g = await metricsGateway(cfg, 3);
    g.workers.forEach((w, i) => {
      for (let k = 0; k <= i; k++) chat(w, "auto", streamAnswer({ ttftMs: 100 + 10 * i, tokens: 4, spanMs: 100 }), { stream: true });
    });
    const s = g.scrape();
    expect(total(s, REQUESTS, { ai_route: "auto", ai_model: "A", outcome: "routed" })).toBe(6);
    expect(total(s, `${TRAFFIC}output_token`)).toBe(24);
    expect(total(s, `${TRAFFIC}llm_router_cost_micro_usd`)).toBe(6 * (3 + 4));
    expect(g.proc.metrics().histograms["gen_ai_server_time_to_first_token_ms.upstream.up-A.model.A"].sort()).toEqual([100, 110, 110, 120, 120, 120]);
    expect(total(s, "gen_ai_server_time_to_first_token_ms_count")).toBe(6);
  });
});

describe("when the numbers reach Envoy", () => {
  it("counters at the next tick (every second), histograms at Envoy's stats flush", async () => {
    const g = await metricsGateway({ models: [model("A")], live: false });
    chat(g.workers[0], "A", streamAnswer({ ttftMs: 100, tokens: 3, spanMs: 30 }), { stream: true });
    expect(g.proc.metrics().counters).toEqual({});
    g.proc.advance(1000);
    expect(g.proc.metrics().counters).toMatchObject({
      "route.none.upstream.up-A.model.A.consumer.none.metric.llm_router_requests.outcome.direct": 1,
      "route.none.upstream.up-A.model.A.consumer.none.metric.output_token": 3,
    });
    expect(total(parsePrometheus(g.proc.prometheus()), "gen_ai_server_time_to_first_token_ms_count")).toBe(0);
    g.proc.advance(5000);
    expect(total(parsePrometheus(g.proc.prometheus()), "gen_ai_server_time_to_first_token_ms_count")).toBe(1);
  });

  it("\"metrics\": false defines nothing and arms no tick", async () => {
    const g = await metricsGateway({ models: [model("A")], live: false, metrics: false });
    chat(g.workers[0], "A", jsonAnswer(100, 5));
    expect(g.proc.clock.pendingTimers()).toBe(1); // only Envoy's stats flush
    g.proc.advance(6000);
    expect(g.proc.metrics()).toEqual({ counters: {}, gauges: {}, histograms: {} });
  });
});
