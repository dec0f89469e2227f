// Cross-model failover in the emulated Envoy: the router filter's plan (chain header, filter state,
// the client's `models` list out of the body) and the upstream filter's per-attempt rewrite (model
// id in the body, provider path, Host, key, static headers, headers left by the previous attempt),
// the live statistics per attempt and the fallbacks counter. Real Envoy: test/e2e/failover.test.ts.
import { describe, expect, it } from "vitest";
import { ProxyWasmHost, type AttemptAnswer, type RequestResult, type RetryPolicy } from "../host/index.ts";
import { ENVOY_WASM, HIGRESS_WASM, err, errorLines, model, router, send, user, type Json } from "./helpers.ts";
import { buildBootstrap } from "../../cli/lib/envoy.mjs";
import { chainCount, orderedChains } from "../../cli/lib/failover.mjs";

const PROVIDERS: Json = {
  openai: { baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" },
  deepseek: { baseUrl: "https://api.deepseek.com/v1", apiKeyEnv: "DEEPSEEK_API_KEY" },
  groq: { baseUrl: "https://api.groq.com/openai/v1", apiKeyEnv: "GROQ_API_KEY" },
  azure: { baseUrl: "https://res.openai.azure.com", apiKeyEnv: "AZURE_KEY", auth: "api-key", apiVersion: "2024-10-21" },
  anthropic: { baseUrl: "https://api.anthropic.com:8443/v1", apiKeyEnv: "ANTHROPIC_KEY", auth: "x-api-key", headers: { "anthropic-version": "2023-06-01" } },
  local: { baseUrl: "http://10.1.2.3:8000/v1", auth: "none" },
};
const KEYS: Record<string, string> = {
  OPENAI_API_KEY: "sk-openai", DEEPSEEK_API_KEY: "sk-deepseek", GROQ_API_KEY: "sk-groq", AZURE_KEY: "az-key", ANTHROPIC_KEY: "an-key",
};

// Quality decides `best`: a > b > c > d > e > f, one model per provider.
const MODELS: Json[] = [
  model("a", { upstream: "openai", upstreamModel: "gpt-a", quality: 9 }),
  model("b", { upstream: "deepseek", upstreamModel: "deepseek-b", quality: 8 }),
  model("c", { upstream: "groq", upstreamModel: "llama-c", quality: 7 }),
  model("d", { upstream: "azure", upstreamModel: "my-deployment", quality: 6 }),
  model("e", { upstream: "anthropic", upstreamModel: "claude-e", quality: 5 }),
  model("f", { upstream: "local", upstreamModel: "qwen-f", quality: 4 }),
];
const BASE: Json = { models: MODELS, providers: PROVIDERS, routes: { best: { strategy: "quality" } }, live: false };

const names = Object.keys(PROVIDERS);
// Every ordered list of 2..4 distinct providers: the fallback clusters the bootstrap would have.
function chains(): string[] {
  const out: string[] = [];
  const grow = (prefix: string[]) => {
    if (prefix.length >= 2) out.push(prefix.join("+"));
    if (prefix.length === 4) return;
    for (const n of names) if (!prefix.includes(n)) grow([...prefix, n]);
  };
  grow([]);
  return out;
}
const CHAINS = chains();

const retry = (numRetries: number): RetryPolicy => ({
  retryOn: "5xx,reset,connect-failure,retriable-status-codes",
  retriableStatusCodes: [429],
  numRetries,
  previousPriorities: true,
  backOffMs: 5,
});

interface WorldOptions {
  cfg?: Json;
  environment?: Record<string, string>;
  metadata?: boolean;
  wasm?: string;
  mode?: "envoy-allow-stop-iteration" | "higress";
}

// The router filter plus the upstream filter (root id model-router-upstream) in one VM, every
// provider a cluster with one endpoint whose metadata names it, every chain an aggregate.
async function world(o: WorldOptions = {}): Promise<ProxyWasmHost> {
  const configuration = JSON.stringify(o.cfg ?? BASE);
  const clusters: Record<string, any> = {};
  names.forEach((n, i) => {
    clusters[n] = { hosts: [{ address: `10.0.0.${i + 1}:443`, metadata: o.metadata === false ? undefined : { llm_router: { provider: n } } }] };
  });
  for (const c of CHAINS) clusters[c] = { aggregate: c.split("+") };
  return ProxyWasmHost.load({
    wasm: o.wasm ?? ENVOY_WASM,
    mode: o.mode ?? "envoy-allow-stop-iteration",
    configuration,
    clusterHeader: ["x-llm-chain", "x-llm-upstream"],
    upstreamFilter: { rootId: "model-router-upstream", configuration },
    upstream: { clusters },
    environment: o.environment ?? KEYS,
    route: { timeoutMs: 0, retryPolicy: retry(1) },
  });
}

const json = (r: RequestResult, i: number) => JSON.parse(r.exchange!.attempts[i].request!.text);
const sent = (r: RequestResult, i: number) => r.exchange!.attempts[i].request!;
const ok: AttemptAnswer = { status: 200, headers: { "content-type": "application/json" }, body: '{"choices":[],"usage":{"completion_tokens":3}}' };

describe("the plan", () => {
  it("names the fallback chain: the choice, then the best survivor of the next provider", async () => {
    const h = await world();
    const r = send(h, { model: "best", ...user("hi") });
    expect(r.finalHeaders.first("x-llm-upstream")).toBe("openai");
    expect(r.finalHeaders.first("x-llm-model")).toBe("a");
    expect(r.finalHeaders.first("x-llm-chain")).toBe("openai+deepseek");
    expect(r.setProperties["llm_router.plan"]).toBeDefined();
  });

  it("maxFallbacks 2 gives three providers in score order; 0 turns failover off", async () => {
    const two = await world({ cfg: { ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 2 } } } });
    expect(send(two, { model: "best", ...user("hi") }).finalHeaders.first("x-llm-chain")).toBe("openai+deepseek+groq");
    const off = await world({ cfg: { ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 0 } }, maxClientFallbacks: 0 } });
    const r = send(off, { model: "best", ...user("hi") });
    expect(r.finalHeaders.first("x-llm-chain")).toBeUndefined();
    expect(r.setProperties["llm_router.plan"]).toBeUndefined();
    expect(r.finalHeaders.first("x-llm-upstream")).toBe("openai");
  });

  it("an alternate is the best candidate of ANOTHER provider; dropped candidates are never alternates", async () => {
    const cfg = {
      ...BASE,
      models: [...MODELS, model("a2", { upstream: "openai", upstreamModel: "gpt-a2", quality: 8.5 }), model("c-small", { upstream: "groq", quality: 7.5, contextWindow: 100 })],
    };
    const h = await world({ cfg: { ...cfg, routes: { best: { strategy: "quality", maxFallbacks: 2 } } } });
    // a2 (openai, 8.5) ranks second but shares a's provider; c-small (7.5) cannot fit the request.
    const r = send(h, { model: "best", max_tokens: 200, ...user("hi") });
    expect(r.finalHeaders.first("x-llm-chain")).toBe("openai+deepseek+groq");
  });

  it("a catalog model's own fallbacks, skipping one that cannot serve the request", async () => {
    const models = MODELS.map((m) => (m.name === "c" ? { ...m, fallbacks: ["e", "b"] } : m.name === "b" ? { ...m, capabilities: ["tools"] } : m));
    const h = await world({ cfg: { ...BASE, models } });
    expect(send(h, { model: "c", ...user("hi") }).finalHeaders.first("x-llm-chain")).toBe("groq+anthropic+deepseek");
    // Tools: e has none, so it is skipped (the model asked for by name is never filtered).
    const tools = send(h, { model: "c", tools: [{ type: "function", function: { name: "f" } }], ...user("hi") });
    expect(tools.finalHeaders.first("x-llm-chain")).toBe("groq+deepseek");
  });

  it("the client's models list replaces the alternates and is taken out of the body", async () => {
    const h = await world({ cfg: { ...BASE, maxClientFallbacks: 2 } });
    const body = `{"model":"best","models":["c","e"],"messages":[{"role":"user","content":"hi"}]}`;
    const r = send(h, body);
    expect(r.finalHeaders.first("x-llm-chain")).toBe("openai+groq+anthropic");
    expect(new TextDecoder().decode(r.finalBody)).toBe(`{"model":"gpt-a","messages":[{"role":"user","content":"hi"}]}`);
    // Last member: the comma before it goes with it (up to the closing brace).
    const last = send(h, `{"model":"b", "messages":[], "models" : [ "c" ] }`);
    expect(new TextDecoder().decode(last.finalBody)).toBe(`{"model":"deepseek-b", "messages":[]}`);
    expect(last.finalHeaders.first("x-llm-chain")).toBe("deepseek+groq");
  });

  it("without a model, the list's first entry is the model (OpenRouter)", async () => {
    const h = await world();
    const r = send(h, `{"models":["b","a"],"messages":[{"role":"user","content":"hi"}]}`);
    expect(r.finalHeaders.first("x-llm-model")).toBe("b");
    expect(r.finalHeaders.first("x-llm-chain")).toBe("deepseek+openai");
    expect(JSON.parse(new TextDecoder().decode(r.finalBody))).toEqual({ model: "deepseek-b", messages: [{ role: "user", content: "hi" }] });
    const alone = send(h, `{"messages":[],"models":["be\\u0073t"]}`);
    expect(JSON.parse(new TextDecoder().decode(alone.finalBody))).toEqual({ messages: [], model: "gpt-a" });
  });

  it("maxClientFallbacks limits the list; 0 ignores it (still removed)", async () => {
    const h = await world();
    const r = send(h, { model: "a", models: ["c", "b", "e"], ...user("hi") });
    expect(r.finalHeaders.first("x-llm-chain")).toBe("openai+groq");
    const zero = await world({ cfg: { ...BASE, maxClientFallbacks: 0, routes: { best: { strategy: "quality", maxFallbacks: 0 } } } });
    const z = send(zero, { model: "a", models: ["c"], ...user("hi") });
    expect(z.finalHeaders.first("x-llm-chain")).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(z.finalBody)).models).toBeUndefined();
  });

  it("refuses a models list that is not catalog model names", async () => {
    const h = await world();
    expect(err(send(h, { model: "a", models: "c", ...user("hi") }))).toMatchObject({ status: 400, code: "invalid_models" });
    expect(err(send(h, { model: "a", models: ["c", 3], ...user("hi") }))).toMatchObject({ status: 400, code: "invalid_models" });
    expect(err(send(h, `{"model":"a","models":["c"],"models":["b"]}`))).toMatchObject({ status: 400, code: "invalid_models" });
    const unknown = err(send(h, { model: "a", models: ["gpt-5"], ...user("hi") }));
    expect(unknown).toMatchObject({ status: 400, code: "invalid_models" });
    expect(unknown.message).toContain('models[0]: "gpt-5" is not a model of this gateway');
    expect(err(send(h, { model: "a", models: ["best"], ...user("hi") })).message).toContain('models[0]: "best" is an alias');
    // Not ours (an unknown model): the body passes untouched, list and all.
    const other = send(h, { model: "elsewhere", models: ["x"], ...user("hi") });
    expect(other.outcome).toBe("no-cluster");
    expect(JSON.parse(new TextDecoder().decode(other.finalBody)).models).toEqual(["x"]);
  });

  it("clients cannot send the chain header", async () => {
    const h = await world({ cfg: { ...BASE, maxClientFallbacks: 0, routes: { best: { strategy: "quality", maxFallbacks: 0 } } } });
    const r = send(h, { model: "a", ...user("hi") }, { headers: { "x-llm-chain": "groq+openai" } });
    expect(r.finalHeaders.first("x-llm-chain")).toBeUndefined();
    expect(r.upstream!.cluster).toBe("openai");
  });

  it("the Higress build makes no plans (its Wasm filters run before the router only)", async () => {
    const h = await router({ ...BASE, live: false }, { wasm: HIGRESS_WASM, mode: "higress" });
    const r = send(h, { model: "best", models: ["c"], ...user("hi") });
    expect(r.finalHeaders.first("x-llm-chain")).toBeUndefined();
    expect(r.finalHeaders.first("x-llm-upstream")).toBe("openai");
    expect(JSON.parse(new TextDecoder().decode(r.finalBody)).models).toBeUndefined();
  });
});

describe("the plugin names only chains the generated bootstrap has", () => {
  const variants: Array<[string, Json]> = [
    ["defaults", BASE],
    ["a route with three alternates", { ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 3 } } }],
    ["model fallbacks, no client lists", { ...BASE, maxClientFallbacks: 0, routes: {}, models: MODELS.map((m) => (m.name === "a" ? { ...m, fallbacks: ["b", "c"] } : m)) }],
    ["client lists of three", { ...BASE, maxClientFallbacks: 3, routes: { best: { strategy: "quality", maxFallbacks: 0 } } }],
  ];
  for (const [label, cfg] of variants) {
    it(label, async () => {
      const bootstrap = buildBootstrap({ json: cfg, text: JSON.stringify(cfg) }, { listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 } });
      const clusters = new Set<string>(bootstrap.static_resources.clusters.map((c: any) => c.name));
      const routes = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
      const lengths = new Set<number>(routes.filter((r: any) => r.name.startsWith("fallback.")).map((r: any) => Number(r.name.slice(9))));
      const h = await world({ cfg });
      const names = MODELS.map((m) => m.name);
      const requests: Json[] = [{ model: "best", ...user("hi") }, ...names.map((n) => ({ model: n, ...user("hi") }))];
      for (const a of names) for (const b of names) for (const c of names) requests.push({ model: a, models: [b, c, names[(names.indexOf(c) + 1) % names.length]], ...user("hi") });
      let chains = 0;
      for (const body of requests) {
        const r = send(h, body);
        const chain = r.finalHeaders.first("x-llm-chain");
        if (chain === undefined) continue;
        chains++;
        expect(clusters.has(chain), `${chain} for ${JSON.stringify(body)}`).toBe(true);
        expect(lengths.has(chain.split("+").length), chain).toBe(true);
      }
      expect(chains).toBeGreaterThan(0);
    });
  }
});

describe("the generator's fallback clusters", () => {
  it("orderedChains is iterative: 20 providers, chains of 2 to 4, without a deep stack; chainCount agrees", () => {
    const providers = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const chains = orderedChains(providers, 4);
    expect(chains).toHaveLength(chainCount(20, 4));
    expect(chains).toHaveLength(20 * 19 + 20 * 19 * 18 + 20 * 19 * 18 * 17);
    expect(new Set(chains.map((c: string[]) => c.join("+"))).size).toBe(chains.length);
    expect(chainCount(6, 4)).toBe(CHAINS.length);
  });

  it("buildBootstrap refuses what the plugin refuses, in the same words; what fits grows linearly in routes", () => {
    const providers: Json = {};
    const models: Json[] = [];
    for (let i = 0; i < 10; i++) {
      providers[`p${i}`] = { baseUrl: `https://api${i}.example.com/v1`, apiKeyEnv: `P${i}_KEY` };
      models.push(model(`m${i}`, { upstream: `p${i}` }));
    }
    const build = (json: Json) => buildBootstrap({ json, text: JSON.stringify(json) }, {});
    expect(() => build({ models, providers, routes: { all: { strategy: "price", maxFallbacks: 3 } } })).toThrow(
      "routes.all.maxFallbacks: 3 fallbacks over 10 providers need 5850 fallback clusters (one per ordered chain of 2 to 4 providers); the gateway holds at most 1000: use at most 2 (810 clusters)",
    );
    const aggregates = (json: Json) => build(json).static_resources.clusters.filter((c: any) => c.cluster_type?.name === "envoy.clusters.aggregate").length;
    const routes = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, { strategy: "price", maxFallbacks: 2 }]));
    expect(aggregates({ models, providers, routes: routes(1) })).toBe(810);
    expect(aggregates({ models, providers, routes: routes(50) })).toBe(810);
  });
});

describe("each attempt is made for its provider", () => {
  it("503 on the first: the second provider gets ITS model id, path, Host and key", async () => {
    const h = await world();
    const r = send(h, { model: "best", ...user("hi") }, { path: "/v1/chat/completions?trace=1", response: [{ status: 503 }, ok] });
    expect(r.response!.status).toBe(200);
    const [first, second] = r.exchange!.attempts;
    expect(first.cluster).toBe("openai");
    expect(json(r, 0).model).toBe("gpt-a");
    expect(first.request!.header(":path")).toBe("/v1/chat/completions?trace=1");
    expect(first.request!.header(":authority")).toBe("api.openai.com");
    expect(first.request!.header("authorization")).toBe("Bearer sk-openai");
    expect(second.cluster).toBe("deepseek");
    expect(json(r, 1).model).toBe("deepseek-b");
    expect(json(r, 1).messages).toEqual([{ role: "user", content: "hi" }]);
    expect(second.request!.header(":path")).toBe("/v1/chat/completions?trace=1");
    expect(second.request!.header(":authority")).toBe("api.deepseek.com");
    expect(second.request!.header("authorization")).toBe("Bearer sk-deepseek");
    // The body changed length on the way: it goes chunked, never with a stale content-length.
    for (const a of r.exchange!.attempts) {
      expect(a.request!.header("content-length")).toBeUndefined();
      expect(a.contentLengthMismatch).toBe(false);
    }
    expect(r.setProperties["llm_router.served"]).toBe("b");
  });

  it("base paths, an Azure deployment with api-version, and nothing left from the previous provider", async () => {
    const models = MODELS.map((m) => (m.name === "e" ? { ...m, fallbacks: ["d", "c", "f"] } : m));
    const h = await world({ cfg: { ...BASE, models } });
    const r = send(h, { model: "e", ...user("hi") }, {
      path: "/v1/chat/completions?api-version=old&x=1",
      route: { timeoutMs: 0, retryPolicy: retry(3) },
      response: [{ status: 500 }, { status: 429 }, { envoy: "connect-failure" }, ok],
    });
    expect(r.response!.status).toBe(200);
    const a = r.exchange!.attempts.map((x) => x.request!);
    expect(a.map((x) => x.cluster)).toEqual(["anthropic", "azure", "groq", "local"]);
    // anthropic: x-api-key and its static header; port in the Host.
    expect(a[0].header("x-api-key")).toBe("an-key");
    expect(a[0].header("anthropic-version")).toBe("2023-06-01");
    expect(a[0].header(":authority")).toBe("api.anthropic.com:8443");
    expect(a[0].header(":path")).toBe("/v1/chat/completions?api-version=old&x=1");
    // azure: the deployment in the path, its api-version replacing the client's; api-key only.
    expect(a[1].header(":path")).toBe("/openai/deployments/my-deployment/chat/completions?x=1&api-version=2024-10-21");
    expect(a[1].header("api-key")).toBe("az-key");
    expect(a[1].header("x-api-key")).toBeUndefined();
    expect(a[1].header("anthropic-version")).toBeUndefined();
    expect(JSON.parse(a[1].text).model).toBe("my-deployment");
    // groq: its base path, Bearer; no api-key left from azure.
    expect(a[2].header(":path")).toBe("/openai/v1/chat/completions?api-version=old&x=1");
    expect(a[2].header("authorization")).toBe("Bearer sk-groq");
    expect(a[2].header("api-key")).toBeUndefined();
    // local: auth none, so no credential at all, and plain host:port.
    expect(a[3].header("authorization")).toBeUndefined();
    expect(a[3].header(":authority")).toBe("10.1.2.3:8000");
    expect(JSON.parse(a[3].text).model).toBe("qwen-f");
  });

  it("`api` names the provider's API: \"azure-openai\" and \"openai\" written out go where apiVersion alone (or nothing) did", async () => {
    const providers = { ...PROVIDERS, azure: { ...PROVIDERS.azure, api: "azure-openai" }, groq: { ...PROVIDERS.groq, api: "openai" } };
    const models = MODELS.map((m) => (m.name === "e" ? { ...m, fallbacks: ["d", "c"] } : m));
    const h = await world({ cfg: { ...BASE, providers, models } });
    const r = send(h, { model: "e", ...user("hi") }, {
      path: "/v1/chat/completions?api-version=old&x=1",
      route: { timeoutMs: 0, retryPolicy: retry(2) },
      response: [{ status: 500 }, { status: 500 }, ok],
    });
    expect(r.response!.status).toBe(200);
    const a = r.exchange!.attempts.map((x) => x.request!);
    expect(a.map((x) => x.cluster)).toEqual(["anthropic", "azure", "groq"]);
    expect(a[1].header(":path")).toBe("/openai/deployments/my-deployment/chat/completions?x=1&api-version=2024-10-21");
    expect(a[1].header("api-key")).toBe("az-key");
    expect(a[2].header(":path")).toBe("/openai/v1/chat/completions?api-version=old&x=1");
  });

  it("without endpoint metadata the attempt number says which model", async () => {
    const h = await world({ metadata: false });
    const r = send(h, { model: "best", ...user("hi") }, { response: [{ envoy: "reset-before-response" }, ok] });
    expect(json(r, 1).model).toBe("deepseek-b");
    expect(sent(r, 1).header("authorization")).toBe("Bearer sk-deepseek");
  });

  it("a large body with escapes: only the model changes", async () => {
    const h = await world();
    const text = "line \"quoted\" \\u00e9 ".repeat(2000);
    const body = { model: "best", stream: false, ...user(text), temperature: 0.5 };
    const r = send(h, body, { chunkSize: 4096, response: [{ status: 503 }, ok] });
    expect(json(r, 1)).toEqual({ ...body, model: "deepseek-b" });
    expect(json(r, 0)).toEqual({ ...body, model: "gpt-a" });
  });

  it("a model whose id grows past the body block's slack", async () => {
    const long = "x".repeat(600);
    const models = MODELS.map((m) => (m.name === "b" ? { ...m, upstreamModel: long } : m));
    const h = await world({ cfg: { ...BASE, models } });
    const r = send(h, { model: "best", ...user("hi") }, { response: [{ status: 502 }, ok] });
    expect(json(r, 1).model).toBe(long);
  });

  it("every provider failing: the last error, as many attempts as the chain is long", async () => {
    const h = await world({ cfg: { ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 2 } } } });
    const r = send(h, { model: "best", ...user("hi") }, {
      route: { timeoutMs: 0, retryPolicy: retry(2) },
      response: [{ status: 503 }, { status: 500 }, { status: 429, body: '{"error":{"message":"slow down"}}' }],
    });
    expect(r.exchange!.attempts.map((a) => a.cluster)).toEqual(["openai", "deepseek", "groq"]);
    expect(r.response!.status).toBe(429);
    expect(r.response!.text).toContain("slow down");
  });

  it("a stream: the first provider's 503 before any byte, the second streams", async () => {
    const h = await world();
    const sse = ['data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', 'data: {"usage":{"completion_tokens":2}}\n\n', "data: [DONE]\n\n"];
    const r = send(h, { model: "best", stream: true, ...user("hi") }, {
      response: [{ status: 503 }, { status: 200, headers: { "content-type": "text/event-stream" }, body: sse.map((data, i) => ({ at: 10 * (i + 1), data })) }],
    });
    expect(r.response!.status).toBe(200);
    expect(r.response!.chunks.map((c) => c.text)).toEqual(sse);
    expect(json(r, 1)).toMatchObject({ model: "deepseek-b", stream: true });
  });

  it("an upstream filter without the plan's configuration leaves the request alone", async () => {
    const configuration = JSON.stringify(BASE);
    const h = await ProxyWasmHost.load({
      wasm: ENVOY_WASM, configuration, clusterHeader: ["x-llm-chain", "x-llm-upstream"],
      upstreamFilter: { rootId: "model-router-upstream", configuration: JSON.stringify({ ...BASE, defaultOutputTokens: 100 }) },
      upstream: { clusters: Object.fromEntries([...names.map((n) => [n, {}]), ...CHAINS.map((c) => [c, { aggregate: c.split("+") }])]) },
      environment: KEYS, route: { timeoutMs: 0, retryPolicy: retry(1) },
    });
    const r = send(h, { model: "best", ...user("hi") }, { response: [{ status: 503 }, ok] });
    expect(json(r, 1).model).toBe("gpt-a");
    expect(sent(r, 1).header("authorization")).toBeUndefined();
    expect(h.logs.map((l) => l.message).join("\n")).toContain("the plan was made with another configuration");
  });

  it("after a live reload, an attempt of the new upstream filter follows the configuration its request was decided with", async () => {
    const h = await world();
    // Envoy delivers the new configuration to the upstream filter first (a new root in the same VM):
    // the router still decides with the previous one, whose openai lives elsewhere.
    const moved = { ...BASE, providers: { ...PROVIDERS, openai: { ...PROVIDERS.openai, baseUrl: "https://eu.openai.example/v2" } } };
    h.startPlugin({ rootId: "model-router-upstream", configuration: JSON.stringify(moved), upstream: true });
    const r = send(h, { model: "best", ...user("hi") }, { response: [{ status: 503 }, ok] });
    expect(r.response!.status).toBe(200);
    expect(sent(r, 0).header(":authority")).toBe("api.openai.com");
    expect(sent(r, 0).header(":path")).toBe("/v1/chat/completions");
    expect(sent(r, 0).header("authorization")).toBe("Bearer sk-openai");
    expect(json(r, 1).model).toBe("deepseek-b");
    expect(sent(r, 1).header("authorization")).toBe("Bearer sk-deepseek");
    expect(h.logs.map((l) => l.message).join("\n")).not.toContain("another configuration");
    // A request decided with the new configuration (a new router root) goes where it says.
    h.startPlugin({ rootId: "", configuration: JSON.stringify(moved) });
    const after = send(h, { model: "best", ...user("hi") }, { plugin: "", response: ok });
    expect(sent(after, 0).header(":authority")).toBe("eu.openai.example");
    expect(sent(after, 0).header(":path")).toBe("/v2/chat/completions");
  });
});

describe("the plan as the upstream filter reads it", () => {
  const noPlans = { ...BASE, maxClientFallbacks: 0, routes: { best: { strategy: "quality", maxFallbacks: 0 } } };
  // A request the router made no plan for, with what another filter might have left in filter state.
  const attemptWith = async (plan: string | undefined) => {
    const h = await world({ cfg: noPlans });
    const filterState = plan === undefined ? undefined : { "llm_router.plan": Buffer.from(plan, "latin1") };
    const r = send(h, { model: "a", ...user("hi") }, { filterState, response: ok });
    return { h, r };
  };

  it("no plan: the attempt goes out as the router filter left it", async () => {
    const { r } = await attemptWith(undefined);
    expect(r.response!.status).toBe(200);
    expect(json(r, 0).model).toBe("gpt-a");
    expect(sent(r, 0).header(":path")).toBe("/v1/chat/completions");
    expect(sent(r, 0).header("authorization")).toBeUndefined();
  });

  it("anything that is not a plan is ignored, never trapped on", async () => {
    const magic = "rlp1";
    const header = (length: number, pathSize: number) => {
      const b = Buffer.alloc(32);
      b.write(magic, 0, "latin1");
      b.writeUInt8(length, 28);
      b.writeUInt16LE(pathSize, 30);
      return b;
    };
    const garbage = [
      "", "x", magic, "rlp1".repeat(20),
      header(2, 0).toString("latin1"), // too short for two indices
      Buffer.concat([header(9, 0), Buffer.alloc(18)]).toString("latin1"), // longer than any chain
      Buffer.concat([header(1, 5), Buffer.alloc(2), Buffer.from("/v1/x")]).toString("latin1"), // another configuration
    ];
    for (const plan of garbage) {
      const { h, r } = await attemptWith(plan);
      expect(h.vmFailed, JSON.stringify(plan)).toBe(false);
      expect(r.response!.status).toBe(200);
      expect(json(r, 0).model).toBe("gpt-a");
      expect(sent(r, 0).header("authorization")).toBeUndefined();
      // the last one decodes, but names another configuration
      const warned = h.logs.some((l) => l.message.includes("the plan was made with another configuration"));
      expect(warned, JSON.stringify(plan)).toBe(plan === garbage.at(-1));
    }
  });
});

describe("visible: statistics per attempt and the fallbacks counter", () => {
  it("the failed attempt counts against its model, the answer for the one that served", async () => {
    const cfg = { ...BASE, live: { failureThreshold: 2, explore: 0 } };
    const h = await world({ cfg });
    for (let i = 0; i < 2; i++) {
      const r = send(h, { model: "best", ...user("hi") }, { response: [{ status: 503 }, ok] });
      expect(r.response!.status).toBe(200);
    }
    const lines = h.logs.map((l) => l.message);
    // Two failures of a: its cooldown starts; b succeeded twice and stays healthy.
    expect(lines).toContain('model-router: model "a" cooling down for 5 s after 2 consecutive failures (last: HTTP 5xx or 429)');
    expect(lines.some((l) => l.includes('model "b"'))).toBe(false);
    // a is cooling down: the next request goes to b first, with c behind it.
    const next = send(h, { model: "best", ...user("hi") });
    expect(next.finalHeaders.first("x-llm-chain")).toBe("deepseek+groq");
  });

  it("a connect failure is recorded as one", async () => {
    const h = await world({ cfg: { ...BASE, live: { failureThreshold: 1, explore: 0 } } });
    send(h, { model: "best", ...user("hi") }, { response: [{ envoy: "connect-failure" }, ok] });
    expect(h.logs.map((l) => l.message)).toContain('model-router: model "a" cooling down for 5 s after 1 consecutive failures (last: connect failure or reset)');
  });

  it("counts each move by route, from-model and to-model", async () => {
    const h = await world({ cfg: { ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 2 } } } });
    send(h, { model: "best", ...user("hi") }, { route: { timeoutMs: 0, retryPolicy: retry(2) }, response: [{ status: 503 }, { status: 503 }, ok] });
    send(h, { model: "best", ...user("hi") }, { response: [{ status: 503 }, ok] });
    const models = MODELS.map((m) => (m.name === "c" ? { ...m, fallbacks: ["a"] } : m));
    const c = await world({ cfg: { ...BASE, models } });
    send(c, { model: "c", ...user("hi") }, { response: [{ status: 503 }, ok] });
    expect(h.process.metrics().counters).toMatchObject({
      "llm_router_fallbacks.route.best.from.a.to.b": 2,
      "llm_router_fallbacks.route.best.from.b.to.c": 1,
    });
    expect(c.process.metrics().counters).toMatchObject({ "llm_router_fallbacks.route.c.from.c.to.a": 1 });
    // A request that did not fail counts nothing.
    const quiet = await world();
    send(quiet, { model: "best", ...user("hi") }, { response: ok });
    expect(Object.keys(quiet.process.metrics().counters).filter((k) => k.includes("fallbacks"))).toEqual([]);
  });
});

describe("memory", () => {
  it("a VM failing over again and again stays flat after warm-up", async () => {
    const h = await world({ cfg: { ...BASE, live: true, routes: { best: { strategy: "quality", maxFallbacks: 2 } }, maxClientFallbacks: 2 } });
    const pages = () => h.mem.memory.buffer.byteLength / 65536;
    const bodies = [
      JSON.stringify({ model: "best", ...user("hi") }),
      JSON.stringify({ model: "best", stream: true, ...user("a longer question ".repeat(200)) }),
      JSON.stringify({ model: "c", models: ["d", "a"], ...user("hi") }),
      JSON.stringify({ models: ["e", "b", "c"], messages: [] }),
    ];
    const answers: AttemptAnswer[][] = [
      [{ status: 503 }, ok],
      [{ envoy: "connect-failure" }, { status: 429 }, ok],
      [{ status: 500 }, { envoy: "reset-before-response" }, { status: 502 }],
      [ok],
    ];
    let warm = 0;
    for (let i = 0; i < 6000; i++) {
      const r = send(h, bodies[i % bodies.length], { route: { timeoutMs: 0, retryPolicy: retry(2) }, response: answers[i % answers.length] });
      if (r.outcome === "vm-failed") throw new Error(r.error);
      if (i === 1000) warm = pages();
    }
    expect(h.vmFailed).toBe(false);
    expect(pages()).toBe(warm);
  });
});

describe("configuration", () => {
  const bad = async (cfg: Json, expected: string) => {
    const h = await router(cfg);
    expect(h.configured).toBe(false);
    expect(errorLines(h)).toEqual([`model-router: invalid configuration: ${expected}`]);
  };

  it("refuses wrong fallbacks with the field path", async () => {
    const withFallbacks = (fallbacks: unknown) => ({ ...BASE, models: MODELS.map((m) => (m.name === "a" ? { ...m, fallbacks } : m)) });
    await bad(withFallbacks(["bb"]), 'models[0].fallbacks[0]: unknown model "bb" (did you mean "b"?)');
    await bad(withFallbacks("b"), "models[0].fallbacks: expected an array of model names");
    await bad(withFallbacks([]), "models[0].fallbacks: expected at least one model name");
    await bad(withFallbacks(["b", "c", "d", "e"]), "models[0].fallbacks: expected at most 3 models");
    await bad({ ...BASE, models: [...MODELS, model("a2", { upstream: "openai", fallbacks: ["a"] })] },
      'models[6].fallbacks[0]: "a" is served by openai too: a request moves to another provider, never back to the same one');
    await bad({ ...BASE, models: [...MODELS.map((m) => (m.name === "a" ? { ...m, fallbacks: ["b", "b2"] } : m)), model("b2", { upstream: "deepseek" })] },
      'models[0].fallbacks[1]: "b2" and "b" are both served by deepseek: a request moves to each provider at most once');
    await bad({ models: [model("x", { fallbacks: ["y"] }), model("y")] },
      "models[0].fallbacks: fallbacks need `providers`: an attempt on another model sets that provider's path and key");
  });

  it("refuses wrong counts and headers", async () => {
    await bad({ ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 4 } } }, "routes.best.maxFallbacks: expected at most 3");
    await bad({ ...BASE, routes: { best: { strategy: "quality", maxFallbacks: 1.5 } } }, "routes.best.maxFallbacks: expected a whole number");
    await bad({ ...BASE, routes: { best: { strategy: "quality", maxFalbacks: 1 } } }, 'routes.best.maxFalbacks: unknown field (did you mean "maxFallbacks"?)');
    await bad({ ...BASE, maxClientFallbacks: -1 }, "maxClientFallbacks: expected a non-negative number");
    await bad({ ...BASE, chainHeader: "x-llm-upstream" }, "chainHeader: must differ from upstreamHeader, modelHeader, taskHeader and complexityHeader");
    await bad({ ...BASE, chainHeader: "Authorization" }, 'chainHeader: expected a lower-case header name ("authorization")');
    await bad({ ...BASE, servedModelHeader: "content-length" }, 'servedModelHeader: "content-length" belongs to HTTP framing; expected a header of your own, such as x-llm-upstream');
  });

  // One fallback cluster per ordered chain: P!/(P−L)! of length L. Past 1000 the configuration is
  // refused here, with the field that sets the longest chain and the count, and by the generator
  // with the same words (cli/lib/failover.mjs), so the plugin never names a chain Envoy lacks.
  it("refuses fallbacks needing more than 1000 fallback clusters, naming the field, the count and what fits", async () => {
    const many = (count: number, extra: Json): Json => {
      const providers: Json = {};
      const models: Json[] = [];
      for (let i = 0; i < count; i++) {
        providers[`p${i}`] = { baseUrl: `https://api${i}.example.com/v1`, apiKeyEnv: `P${i}_KEY` };
        models.push(model(`m${i}`, { upstream: `p${i}` }));
      }
      return { models, providers, ...extra };
    };
    await bad(many(10, { routes: { all: { strategy: "price", maxFallbacks: 3 } } }),
      "routes.all.maxFallbacks: 3 fallbacks over 10 providers need 5850 fallback clusters (one per ordered chain of 2 to 4 providers); the gateway holds at most 1000: use at most 2 (810 clusters)");
    await bad(many(20, { maxClientFallbacks: 3 }),
      "maxClientFallbacks: 3 fallbacks over 20 providers need 123500 fallback clusters (one per ordered chain of 2 to 4 providers); the gateway holds at most 1000: use at most 1 (380 clusters)");
    const fallbacks = many(8, {});
    fallbacks.models[2].fallbacks = ["m3", "m4", "m5"];
    await bad(fallbacks, "models[2].fallbacks: 3 fallbacks over 8 providers need 2072 fallback clusters (one per ordered chain of 2 to 4 providers); the gateway holds at most 1000: use at most 2 (392 clusters)");
    await bad(many(40, {}), "maxClientFallbacks: 1 fallbacks over 40 providers need 1560 fallback clusters (one per ordered chain of 2 providers); the gateway holds at most 1000: turn failover off (0 fallbacks) or use fewer providers");
    // What fits is accepted, and turning failover off lifts the limit.
    expect((await router(many(10, { routes: { all: { strategy: "price", maxFallbacks: 2 } } }))).configured).toBe(true);
    expect((await router(many(40, { maxClientFallbacks: 0, routes: { all: { strategy: "price", maxFallbacks: 0 } } }))).configured).toBe(true);
  });

  it("the upstream filter refuses to start without a provider key in its environment", async () => {
    const { GROQ_API_KEY: _, ...missing } = KEYS;
    const h = await world({ environment: missing });
    expect(h.roots.length).toBe(2);
    expect(errorLines(h)).toEqual([
      "model-router: invalid configuration: providers.groq.apiKeyEnv: GROQ_API_KEY is not in the environment Envoy gives the upstream filter's VM (add it to vm_config.environment_variables.host_env_keys and set it)",
    ]);
  });
});
