// Each decision explained (README "Observability"): the summary in Envoy's filter state on every
// handled request (the access log prints it), the opt-in response header on forwarded requests,
// the debug line with every candidate's score or drop reason (only while Envoy's wasm logger is at
// debug, read at configure time and at each tick), and the configuration of all of it.
import { describe, expect, it } from "vitest";
import { EnvoyProcess } from "../host/index.ts";
import { buildBootstrap, PLUGIN_STATS_TAGS } from "../../cli/lib/envoy.mjs";
import { errorLines, HIGRESS_WASM, type Json, model, router, send, user, rejected } from "./helpers.ts";
import { chat, failure, jsonAnswer, streamAnswer } from "./live-helpers.ts";
import { metricsGateway } from "./metrics-helpers.ts";

const DECISION = "model_router.decision";

const models = [
  model("cheap-a", { price: { input: 0.1, output: 0.2 }, quality: { default: 5, coding: 9 } }),
  model("smart b", { price: { input: 5, output: 15 }, quality: 9, upstream: "up-b" }),
];
const routes = {
  auto: { strategy: "price" },
  best: { strategy: "quality", task: "auto" },
  code: { strategy: "quality", task: "coding" },
  pick: { byTask: { coding: "code", default: "auto" } },
  strict: { strategy: "price", maxCostUsd: 0 },
};
const ok = (data = '{"id":"x","choices":[]}') => ({ status: 200, headers: { "content-type": "application/json", "x-llm-decision": "from the provider" }, body: [{ at: 5, data }] });

describe("the decision summary in filter state", () => {
  it("a routed request: outcome, route, model, strategy, estimated cost", async () => {
    const h = await router({ models, routes });
    const r = send(h, { model: "auto", ...user("x".repeat(396)), max_tokens: 100 });
    // 400 bytes of text ("user" too) = 100 input tokens: 100 × 0.1 + 100 × 0.2 micro-USD
    expect(r.setProperties[DECISION]).toBe("outcome=routed route=auto model=cheap-a strategy=price cost_usd=0.00003");
  });

  it("delegation and detection: the alias, the route that ranked (via), task and tier", async () => {
    const h = await router({ models, routes });
    const r = send(h, { model: "pick", ...user("Write a Python function that reverses a linked list. ```def f(x): pass```") });
    expect(r.setProperties[DECISION]).toMatch(/^outcome=routed route=pick via=code model=cheap-a strategy=quality task=coding tier=\w+ cost_usd=[0-9.]+$/);
    const auto = send(h, { model: "best", ...user("hello there") });
    expect(auto.setProperties[DECISION]).toMatch(/^outcome=routed route=best model=smart%20b strategy=quality task=default tier=simple cost_usd=/);
  });

  it("requests that go to no model say why; a catalog model named directly says so", async () => {
    const h = await router({ models, routes });
    expect(send(h, { model: "strict", ...user("x") }).setProperties[DECISION]).toBe("outcome=no_candidate route=strict strategy=price");
    expect(send(h, { model: "gpt-9", ...user("x") }).setProperties[DECISION]).toBe("outcome=passed_through");
    expect(send(h, "{oops").setProperties[DECISION]).toBe("outcome=invalid_json");
    expect(send(h, { model: "smart b", ...user("x") }).setProperties[DECISION]).toBe("outcome=direct model=smart%20b cost_usd=0.00769");
    expect(h.request({ method: "GET", path: "/v1/models" }).setProperties[DECISION]).toBeUndefined();
  });
});

// The Envoy build has no response-headers callback: it writes the text into filter state for each
// request it forwards, and the routes of the bootstrap `llm-router envoy` generates add the header
// from it (the test host's router adds a route's response_headers_to_add as Envoy's does).
function decisionRoute(cfg: Json) {
  // The bootstrap has a route per provider: give the test's upstreams one each.
  const providers = Object.fromEntries(["up-cheap-a", "up-b"].map((p) => [p, { baseUrl: `http://${p}.test/v1`, auth: "none" }]));
  const json = { ...cfg, providers };
  const bootstrap = buildBootstrap({ json, text: JSON.stringify(json) });
  const routes = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
  const provider = routes.find((r: any) => String(r.name).startsWith("provider."));
  const headers = (provider.response_headers_to_add ?? []).map((h: any) => ({ key: h.header.key, value: h.header.value }));
  return { responseHeadersToAdd: headers.filter((h: { value: string }) => h.value.includes("FILTER_STATE(wasm.model_router.decision.")) };
}

describe("the opt-in decision header", () => {
  it("off by default", async () => {
    const cfg = { models, routes };
    expect(decisionRoute(cfg).responseHeadersToAdd).toEqual([]);
    const h = await router(cfg);
    const r = send(h, { model: "auto", ...user("x") }, { response: ok() } as any);
    expect(r.response!.header("x-llm-decision")).toBe("from the provider");
    expect(Object.keys(r.setProperties).filter((k) => k.startsWith(`${DECISION}.`))).toEqual([]);
  });

  it("on forwarded requests only, replacing a provider's header of that name", async () => {
    const cfg = { models, routes, decisionHeader: "x-llm-decision" };
    const h = await router(cfg, { route: decisionRoute(cfg) });
    const r = send(h, { model: "auto", ...user("x".repeat(396)), max_tokens: 100 }, { response: ok() } as any);
    expect(r.response!.headers.filter(([k]) => k === "x-llm-decision")).toEqual([
      ["x-llm-decision", "outcome=routed route=auto model=cheap-a strategy=price cost_usd=0.00003"],
    ]);
    const direct = send(h, { model: "cheap-a", ...user("x") }, { response: ok() } as any);
    expect(direct.response!.header("x-llm-decision")).toMatch(/^outcome=direct model=cheap-a cost_usd=/);
    const refused = send(h, { model: "strict", ...user("x") });
    expect(refused.localResponse!.status).toBe(400);
    expect(refused.response!.header("x-llm-decision")).toBeUndefined();
    const passed = send(h, { model: "gpt-9", ...user("x") }, { clusters: ["up-cheap-a"], headers: { "x-llm-upstream": "up-cheap-a" } } as any);
    expect(passed.response?.header("x-llm-decision") ?? "not forwarded by the plugin").not.toMatch(/^outcome=/);
    expect(passed.setProperties[`${DECISION}.x-llm-decision`]).toBeUndefined();
  });

  it("each rule may name its own header or none", async () => {
    const cfg = { models, routes, decisionHeader: "x-d", _rules_: [{ _match_domain_: ["quiet.com"], decisionHeader: "x-quiet" }] };
    expect(decisionRoute(cfg).responseHeadersToAdd.map((h: { key: string }) => h.key)).toEqual(["x-d", "x-quiet"]);
    const h = await router(cfg, { route: decisionRoute(cfg) });
    expect(send(h, { model: "auto", ...user("x") }, { response: ok() } as any).response!.header("x-d")).toMatch(/^outcome=routed/);
    const quiet = send(h, { model: "auto", ...user("x") }, { authority: "quiet.com", response: ok() } as any);
    expect(quiet.response!.header("x-d")).toBeUndefined();
    expect(quiet.response!.header("x-quiet")).toMatch(/^outcome=routed/);
  });

  it("costs a response nothing: the Envoy build exports no response-headers callback", async () => {
    const h = await router({ models, routes, decisionHeader: "x-llm-decision" }, { recordHostCalls: true });
    const r = send(h, { model: "auto", ...user("x") }, { response: ok() } as any);
    expect(h.exports.map((e) => e.name)).not.toContain("proxy_on_response_headers");
    expect(r.hostCalls!.filter((c) => c.callback === "responseHeaders")).toEqual([]);
    // One filter-state write for the access log, one for the header.
    expect(r.hostCalls!.filter((c) => c.name === "proxy_set_property").map((c) => c.detail)).toEqual([
      `${DECISION} (${r.setProperties[DECISION].length} bytes)`, `${DECISION}.x-llm-decision (${r.setProperties[DECISION].length} bytes)`,
    ]);
  });
});

describe("the Higress build", () => {
  it("each Higress rule may name its own header or none: the plugin writes it from the response-headers callback", async () => {
    const cfg = { models, routes, decisionHeader: "x-d", live: false, _rules_: [{ _match_domain_: ["quiet.com"], decisionHeader: "x-quiet" }] };
    const proc = new EnvoyProcess();
    const [h] = await proc.start({ wasm: HIGRESS_WASM, mode: "higress", vmId: "router", configuration: JSON.stringify(cfg), clusters: ["up-cheap-a", "up-b"] });
    const req = { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "auto", ...user("x") }), response: ok() };
    const r = h.request(req);
    expect(r.response!.header("x-d")).toMatch(/^outcome=routed/);
    expect(Object.keys(r.setProperties).filter((k) => k.startsWith(`${DECISION}.`))).toEqual([]);
    const quiet = h.request({ ...req, authority: "quiet.com" });
    expect(quiet.response!.header("x-d")).toBeUndefined();
    expect(quiet.response!.header("x-quiet")).toMatch(/^outcome=routed/);
  });

  it("writes the header and counts the same, Higress's consumer header as the label", async () => {
    const cfg = { models, routes, decisionHeader: "x-llm-decision", metrics: { consumerHeader: "x-mse-consumer" }, live: false };
    const proc = new EnvoyProcess({ statsTags: PLUGIN_STATS_TAGS });
    const [w] = await proc.start({ wasm: HIGRESS_WASM, mode: "higress", vmId: "router", configuration: JSON.stringify(cfg), clusters: ["up-cheap-a", "up-b"] });
    const r = w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-mse-consumer": "consumer1" }, body: JSON.stringify({ model: "auto", ...user("hi") }), response: ok() });
    expect(r.response!.header("x-llm-decision")).toMatch(/^outcome=routed route=auto model=cheap-a strategy=price cost_usd=/);
    proc.advance(1000);
    expect(proc.prometheus()).toContain('route_upstream_model_consumer_metric_llm_router_requests{ai_route="auto",ai_cluster="up-cheap-a",ai_model="cheap-a",ai_consumer="consumer1",outcome="routed"} 1\n');
  });
});

describe("the debug line", () => {
  const cfg = { models, routes, live: { explore: 0 } };

  it("one line per decision with every candidate's score or drop reason, only at debug level", async () => {
    const g = await metricsGateway({ ...cfg, routes: { ...routes, auto: { strategy: "price", maxTtftMs: 1000 } } }, 1, 1);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "cheap-a", failure(503));
    chat(w, "auto", jsonAnswer(100, 3), { maxTokens: 10 });
    const lines = g.proc.logs.filter((l) => l.level === 1 && l.message.includes("decision")).map((l) => l.message);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('model-router: decision: "cheap-a" requested by name (direct)');
    expect(lines[3]).toMatch(
      // "hello" and "user": 9 bytes, 3 tokens; a price route scores -cost
      /^model-router: decision route "auto" \(price; 3 input \+ 10 output tokens\): smart b \(routed\) \| cheap-a: dropped, cooling down for 5 s after 3 failures \| smart b: score -0\.000165, cost \$0\.000165, latency 200 ms, 100 tok\/s, quality 9$/,
    );
  });

  it("no line at info level; an admin /logging change shows from the next tick", async () => {
    const g = await metricsGateway(cfg, 1, 2);
    const w = g.workers[0];
    const debugLines = () => g.proc.logs.filter((l) => l.level === 1 && l.message.startsWith("model-router: decision")).length;
    chat(w, "auto", streamAnswer({ ttftMs: 10, tokens: 2, spanMs: 10 }), { stream: true });
    expect(debugLines()).toBe(0);
    w.logLevel = 1;
    chat(w, "auto", streamAnswer({ ttftMs: 10, tokens: 2, spanMs: 10 }), { stream: true });
    expect(debugLines()).toBe(0); // read per tick, not per request
    g.proc.advance(1000);
    chat(w, "auto", streamAnswer({ ttftMs: 10, tokens: 2, spanMs: 10 }), { stream: true });
    expect(debugLines()).toBe(1);
  });
});

describe("configuration", () => {
  const base = { models: [model("A")] };

  it("each bad value names its field", async () => {
    const cases: Array<[Json, string]> = [
      [{ metrics: "yes" }, "metrics: expected true, false or an object of metrics settings, got a string"],
      [{ metrics: { enabeld: true } }, 'metrics.enabeld: unknown field (did you mean "enabled"?)'],
      [{ metrics: { enabled: 1 } }, "metrics.enabled: expected true or false"],
      [{ metrics: { maxConsumers: 0 } }, "metrics.maxConsumers: expected a positive number"],
      [{ metrics: { maxConsumers: 2.5 } }, "metrics.maxConsumers: expected a whole number"],
      [{ metrics: { maxConsumers: 5000 } }, "metrics.maxConsumers: expected at most 1000"],
      [{ metrics: { consumerHeader: "Authorization" } }, 'metrics.consumerHeader: expected a lower-case header name ("authorization")'],
      [{ metrics: { consumerHeader: "authorization" } }, 'metrics.consumerHeader: "authorization" carries credentials; expected a header of your own, such as x-llm-upstream'],
      [{ metrics: { consumerHeader: "x-llm-model" } }, 'metrics.consumerHeader: "x-llm-model" is a header this plugin sets; name the header your authentication sets (e.g. x-mse-consumer)'],
      [{ decisionHeader: "" }, 'decisionHeader: expected a header name such as "x-llm-decision"'],
      [{ decisionHeader: "content-type" }, 'decisionHeader: "content-type" belongs to HTTP framing; expected a header of your own, such as x-llm-upstream'],
      [{ decisonHeader: "x-d" }, 'decisonHeader: unknown field (did you mean "decisionHeader"?)'],
      [{ models: [model("A", { price: { input: 1, output: 1, cachedInput: -1 } })] }, "models[0].price.cachedInput: expected a non-negative number"],
      [{ models: [model("A", { price: { input: 1, output: 1, cacheInput: 1 } })] }, 'models[0].price.cacheInput: unknown field (did you mean "cachedInput"?)'],
      [{ _rules_: [{ _match_domain_: ["a.com"], metrics: false }] }, "_rules_[0].metrics: metrics settings apply to the whole plugin: set them in the global configuration only"],
    ];
    for (const [over, message] of cases) expect(await rejected({ ...base, ...over }), JSON.stringify(over)).toBe(message);
  });

  it("the forms a console produces are accepted", async () => {
    for (const metrics of [true, false, {}, { enabled: false }, { enabled: true, consumerHeader: "x-mse-consumer", maxConsumers: 1000 }]) {
      const h = await router({ ...base, metrics, decisionHeader: "x-llm-decision" });
      expect(h.configured, JSON.stringify(metrics)).toBe(true);
    }
  });
});
