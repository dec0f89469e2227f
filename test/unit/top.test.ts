// `llm-router top` without Envoy: reading /stats?format=json (the shape Envoy 1.40 prints; the
// real-Envoy run is in test/e2e/observability.test.ts), the rates between two reads, the screen.
import { describe, expect, it } from "vitest";
import { adminUrl, parseStats, render, summarize } from "../../cli/lib/top.mjs";

const traffic = (route: string, upstream: string, model: string, consumer: string, metric: string, value: number) => ({
  name: `wasmcustom.route.${route}.upstream.${upstream}.model.${model}.consumer.${consumer}.metric.${metric}`,
  value,
});
const gauge = (name: string, upstream: string, model: string, value: number) => ({ name: `wasmcustom.${name}.upstream.${upstream}.model.${model}`, value });
const QUANTILES = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100];
const ttft = (upstream: string, model: string, interval: number[] | null, cumulative: number[]) => ({
  name: `wasmcustom.gen_ai_server_time_to_first_token_ms.upstream.${upstream}.model.${model}`,
  values: QUANTILES.map((_, i) => ({ interval: interval ? interval[i] : null, cumulative: cumulative[i] })),
});

function statsJson(scale: number, cooling = false) {
  return {
    stats: [
      traffic("auto", "openai", "gpt-4o-mini", "none", "llm_router_requests.outcome.routed", 10 * scale),
      traffic("auto", "openai", "gpt-4o-mini", "team-a", "llm_router_requests.outcome.routed", 5 * scale),
      traffic("fast", "groq", "llama-3.1-8b", "none", "llm_router_requests.outcome.routed", 4 * scale),
      traffic("none", "groq", "llama-3.1-8b", "none", "llm_router_requests.outcome.direct", 2 * scale),
      traffic("strict", "none", "none", "none", "llm_router_requests.outcome.no_candidate", 3),
      traffic("none", "none", "none", "none", "llm_router_requests.outcome.passed_through", 1),
      traffic("auto", "openai", "gpt-4o-mini", "none", "llm_router_responses.result.success", 9 * scale),
      traffic("auto", "openai", "gpt-4o-mini", "none", "llm_router_responses.result.failure", 1 * scale),
      traffic("none", "qwen", "qwen-plus", "none", "llm_router_requests.outcome.direct", 4 * scale),
      traffic("none", "qwen", "qwen-plus", "none", "llm_router_responses.result.success", 3 * scale),
      traffic("none", "qwen", "qwen-plus", "none", "llm_router_responses.result.client_error", 1 * scale),
      traffic("auto", "openai", "gpt-4o-mini", "none", "output_token", 200 * scale),
      traffic("auto", "openai", "gpt-4o-mini", "none", "llm_router_cost_micro_usd", 600_000 * scale),
      traffic("fast", "groq", "llama-3.1-8b", "none", "llm_router_cost_micro_usd", 1_000 * scale),
      gauge("llm_router_model_cooling_down", "groq", "llama-3.1-8b", cooling ? 1 : 0),
      gauge("llm_router_model_cooldown_until_ms", "groq", "llama-3.1-8b", cooling ? 1_700_000_012_500 : 0),
      gauge("llm_router_model_consecutive_failures", "groq", "llama-3.1-8b", cooling ? 3 : 0),
      gauge("llm_router_model_ttft_ms", "openai", "gpt-4o-mini", 412),
      { histograms: { supported_quantiles: QUANTILES, computed_quantiles: [ttft("openai", "gpt-4o-mini", [0, 100, 150, 200, 250, 310, 400, 400, 400, 400], [0, 90, 140, 190, 240, 290, 390, 390, 390, 390]), ttft("groq", "llama-3.1-8b", null, [0, 50, 60, 70, 80, 95, 99, 99, 99, 99])] } },
    ],
  };
}

describe("llm-router top", () => {
  const t0 = 1_700_000_000_000;
  const before = parseStats(statsJson(1), t0);
  const after = parseStats(statsJson(3, true), t0 + 2000);
  const s = summarize(before, after, t0 + 2000);
  const row = (model: string) => s.models.find((m: any) => m.model === model)!;

  it("per model: totals, rates over the interval, error rate, cooldown, TTFT from the last flush or since start", () => {
    expect(row("gpt-4o-mini")).toMatchObject({
      upstream: "openai", requests: 45, rps: 15, errorRate: 0.1, tokensPerSecond: 200, costPerMinuteUsd: 36, costUsd: 1.8,
      ttftP50: 150, ttftP95: 310, ttftRecent: true, ttftEstimate: 412, coolingDown: false,
    });
    expect(row("llama-3.1-8b")).toMatchObject({ requests: 18, rps: 6, errorRate: null, coolingDown: true, cooldownLeftMs: 10_500, failuresInRow: 3, ttftP50: 60, ttftRecent: false });
  });

  it("per route: which models served it; refusals and pass-through apart", () => {
    expect(s.routes).toEqual([
      { route: "auto", model: "gpt-4o-mini", requests: 45, rps: 15, costUsd: 1.8 },
      { route: "fast", model: "llama-3.1-8b", requests: 12, rps: 4, costUsd: 0.003 },
    ]);
    expect(s.outcomes).toEqual({ no_candidate: 3, passed_through: 1 });
  });

  it("a provider's 4xx is the client's error: its own column, not the model's error rate", () => {
    expect(row("gpt-4o-mini")).toMatchObject({ errorRate: 0.1, clientErrorRate: 0 });
    expect(row("qwen-plus")).toMatchObject({ upstream: "qwen", errorRate: 0, clientErrorRate: 0.25 });
  });

  it("the screen", () => {
    const screen = render(s, { admin: "http://127.0.0.1:9901", atMs: t0 + 2000 });
    const lines = screen.split("\n");
    expect(lines[0]).toBe("llm-router top — http://127.0.0.1:9901 — 2023-11-14T22:13:22.000Z — rates over the last 2.0 s");
    expect(lines.find((l) => l.startsWith("gpt-4o-mini"))!.split(/\s{2,}/)).toEqual(["gpt-4o-mini", "openai", "15.00", "45", "10.0", "0.0", "ok", "150", "310", "412", "200.0", "36.00", "1.80"]);
    expect(lines.find((l) => l.startsWith("llama-3.1-8b"))!.split(/\s{2,}/)).toEqual(["llama-3.1-8b", "groq", "6.00", "18", "-", "-", "11s left", "60*", "95*", "-", "0.0", "0.06", "0.003"]);
    expect(lines.find((l) => l.startsWith("qwen-plus"))!.split(/\s{2,}/).slice(4, 6)).toEqual(["0.0", "25.0"]);
    expect(screen).toContain("not forwarded (since start): no_candidate 3, passed_through 1");
  });

  it("a model whose every request failed over to another model shows 100 % errors, not -", () => {
    const moved = (route: string, from: string, to: string, value: number) => ({ name: `wasmcustom.llm_router_fallbacks.route.${route}.from.${from}.to.${to}`, value });
    const json = (n: number) => ({
      stats: [
        traffic("auto", "openai", "gpt-4o-mini", "none", "llm_router_requests.outcome.routed", 4 * n),
        traffic("auto", "deepseek", "deepseek-chat", "none", "llm_router_responses.result.success", 4 * n),
        moved("auto", "gpt-4o-mini", "deepseek-chat", 4 * n),
      ],
    });
    const t = summarize(parseStats(json(1), t0), parseStats(json(2), t0 + 1000), t0 + 1000);
    expect(t.models.find((m: any) => m.model === "gpt-4o-mini")).toMatchObject({ requests: 8, errorRate: 1 });
    expect(t.models.find((m: any) => m.model === "deepseek-chat")).toMatchObject({ errorRate: 0 });
    const line = render(t, { atMs: t0 }).split("\n").find((l) => l.startsWith("gpt-4o-mini"))!;
    expect(line.split(/\s{2,}/)[4]).toBe("100.0");
  });

  it("one read gives totals without rates", () => {
    const once = summarize(null, after);
    expect(once.models.find((m: any) => m.model === "gpt-4o-mini")).toMatchObject({ requests: 45, rps: null, errorRate: null, costUsd: 1.8 });
    expect(render(once, { atMs: t0 })).toContain("totals only (one read)");
  });

  it("--admin takes HOST:PORT or a URL", () => {
    expect(adminUrl("127.0.0.1:9901")).toBe("http://127.0.0.1:9901");
    expect(adminUrl("http://gw.internal:15000/")).toBe("http://gw.internal:15000");
  });
});
