// Configuration validation (docs/behaviour.md "Configuration"): a bad configuration is rejected
// with exactly one ERROR line `model-router: invalid configuration: <path>: <what>`.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chosen, errorLines, type Json, model, ROUTER_JSON, router, send, user, rejected } from "./helpers.ts";

const base = JSON.parse(readFileSync(ROUTER_JSON, "utf8"));
const clone = (): Json => JSON.parse(JSON.stringify(base));


describe("valid configurations", () => {
  it("config/router.json is accepted without error lines", async () => {
    const h = await router(base, { logLevel: 0 });
    expect(h.configured).toBe(true);
    expect(errorLines(h)).toEqual([]);
  });
  it("routes may be absent or empty: only concrete model names are routed", async () => {
    for (const cfg of [{ models: [model("A")] }, { models: [model("A")], routes: {} }]) {
      const h = await router(cfg);
      expect(h.configured).toBe(true);
      expect(chosen(send(h, { model: "A", ...user("x") }))).toBe("A");
      expect(chosen(send(h, { model: "auto", ...user("x") }))).toBeUndefined();
    }
  });
  it("keys starting with _ (Higress) are ignored", async () => {
    const h = await router({ models: [model("A")], _plugin_id_: "x" });
    expect(h.configured).toBe(true);
  });
});

describe("invalid configurations", () => {
  it("negative price names the exact path (docs example)", async () => {
    const c = clone();
    c.models[2].price.input = -1;
    expect(await rejected(c)).toBe("models[2].price.input: expected a non-negative number");
  });
  const cases: Array<[string, (c: Json) => void, string]> = [
    ["missing name", (c) => delete c.models[0].name, "models[0].name: "],
    ["missing upstream", (c) => delete c.models[1].upstream, "models[1].upstream: "],
    ["missing price", (c) => delete c.models[0].price, "models[0].price"],
    ["missing price.output", (c) => delete c.models[3].price.output, "models[3].price.output: "],
    ["price as string", (c) => (c.models[0].price.output = "1"), "models[0].price.output: "],
    ["missing ttftMs", (c) => delete c.models[0].ttftMs, "models[0].ttftMs: "],
    ["tokensPerSecond 0", (c) => (c.models[1].tokensPerSecond = 0), "models[1].tokensPerSecond: "],
    ["contextWindow 0", (c) => (c.models[0].contextWindow = 0), "models[0].contextWindow: "],
    ["contextWindow missing", (c) => delete c.models[2].contextWindow, "models[2].contextWindow: "],
    ["quality above 10", (c) => (c.models[0].quality = 11), "models[0].quality"],
    ["negative weight", (c) => (c.models[0].weight = -1), "models[0].weight: "],
    ["capabilities not strings", (c) => (c.models[0].capabilities = [1]), "models[0].capabilities"],
    ["duplicate model names", (c) => (c.models[1].name = c.models[0].name), "models[1].name: "],
    ["empty model list", (c) => (c.models = []), "models: "],
    ["models not an array", (c) => (c.models = {}), "models: "],
    ["no models", (c) => delete c.models, "models: "],
    ["unknown model in a route", (c) => (c.routes.mix.models = ["gpt-4o-mini", "nope"]), "routes.mix.models"],
    ["unknown strategy", (c) => (c.routes.fast.strategy = "fastest"), "routes.fast.strategy: "],
    ["missing strategy", (c) => delete c.routes.fast.strategy, "routes.fast.strategy: "],
    ["route named like a model", (c) => (c.routes["gpt-4o"] = { strategy: "price" }), "routes"],
    ["onNoCandidate unknown model", (c) => (c.routes.cheap.onNoCandidate = "nope"), "routes.cheap.onNoCandidate: "],
    ["maxBodyBytes not a number", (c) => (c.maxBodyBytes = "big"), "maxBodyBytes: "],
    ["defaultOutputTokens negative", (c) => (c.defaultOutputTokens = -1), "defaultOutputTokens: "],
    ["bytesPerToken 0", (c) => (c.bytesPerToken = 0), "bytesPerToken: "],
  ];
  it.each(cases)("%s", async (_n, mutate, path) => {
    const c = clone();
    mutate(c);
    expect(await rejected(c)).toMatch(new RegExp("^" + path.replace(/[.[\]]/g, "\\$&")));
  });
  it.each([["not JSON", "{models:"], ["JSON array", "[]"], ["JSON string", '"x"'], ["truncated", JSON.stringify(base).slice(0, 100)]])(
    "%s → rejected",
    async (_n, text) => {
      await rejected(text);
    },
  );
  it("a rejected configuration handles no requests", async () => {
    const c = clone();
    c.models = [];
    const h = await router(c);
    expect(send(h, { model: "fast", ...user("x") }).outcome).toBe("vm-failed");
  });
});

describe("strict configuration: unknown fields at every level, with the closest known name", () => {
  const typos: Array<[string, (c: Json) => void, string]> = [
    ["top level", (c) => (c.maxBodyByte = 1), 'maxBodyByte: unknown field (did you mean "maxBodyBytes"?)'],
    ["model", (c) => (c.models[0].capabilites = ["vision"]), 'models[0].capabilites: unknown field (did you mean "capabilities"?)'],
    ["model upstreamModle", (c) => (c.models[1].upstreamModle = "x"), 'models[1].upstreamModle: unknown field (did you mean "upstreamModel"?)'],
    ["model weigth", (c) => (c.models[2].weigth = 2), 'models[2].weigth: unknown field (did you mean "weight"?)'],
    ["price", (c) => (c.models[0].price.inpt = 1), 'models[0].price.inpt: unknown field (did you mean "input"?)'],
    ["route maxCostUSD", (c) => (c.routes.cheap.maxCostUSD = 0.01), 'routes.cheap.maxCostUSD: unknown field (did you mean "maxCostUsd"?)'],
    ["route minQualty", (c) => (c.routes.cheap.minQualty = 9), 'routes.cheap.minQualty: unknown field (did you mean "minQuality"?)'],
    ["route exlude", (c) => (c.routes.auto.exlude = ["gpt-4o"]), 'routes.auto.exlude: unknown field (did you mean "exclude"?)'],
    ["weights", (c) => (c.routes.auto.weights.qualty = 1), 'routes.auto.weights.qualty: unknown field (did you mean "quality"?)'],
    ["nothing close", (c) => (c.routes.auto.colour = "red"), "routes.auto.colour: unknown field"],
    ["duplicate key", (c) => c, "models[0].price.input: duplicate field"],
  ];
  it.each(typos)("%s", async (name, mutate, message) => {
    const c = clone();
    mutate(c);
    let text = JSON.stringify(c);
    if (name === "duplicate key") text = text.replace('"price":{"input":0.15', '"price":{"input":0.15,"input":0.2');
    expect(await rejected(text)).toBe(message);
  });
  it("a capability a route requires must be declared by some model (typos are caught)", async () => {
    const c = clone();
    c.routes.cheap.require = ["visoin"];
    expect(await rejected(c)).toBe('routes.cheap.require[0]: no model has capability "visoin" (did you mean "vision"?)');
  });
  it("an unknown model in a route suggests the closest name", async () => {
    const c = clone();
    c.routes.mix.models = ["gpt-4o-mini", "deepseek-chta"];
    expect(await rejected(c)).toBe('routes.mix.models[1]: unknown model "deepseek-chta" (did you mean "deepseek-chat"?)');
  });
  it("a misspelt Higress match key is an error; other _ keys are the host's", async () => {
    const c = clone();
    c._rules_ = [{ _match_rout_: ["r1"], routes: { auto: { strategy: "price" } } }];
    expect(await rejected(c)).toBe('_rules_[0]._match_rout_: unknown match key (did you mean "_match_route_"?)');
    const d = clone();
    d._rules_ = [{ _match_route_: ["r1"], _plugin_id_: "x", routes: { auto: { strategy: "price" } } }];
    expect((await router(d)).configured).toBe(true);
  });
  it("a typo inside a rule names the rule's path", async () => {
    const c = clone();
    c._rules_ = [{ _match_domain_: ["a.example"], routes: { auto: { strategy: "price", minQualty: 3 } } }];
    expect(await rejected(c)).toBe('_rules_[0].routes.auto.minQualty: unknown field (did you mean "minQuality"?)');
  });
});

describe("header names in the configuration", () => {
  const bad: Array<[string, string, RegExp]> = [
    ["upstreamHeader", "content-length", /^upstreamHeader: "content-length" belongs to HTTP framing/],
    ["upstreamHeader", ":path", /^upstreamHeader: ":path" is a pseudo-header/],
    ["modelHeader", "host", /^modelHeader: "host" belongs to HTTP framing/],
    ["modelHeader", "transfer-encoding", /framing/],
    ["modelHeader", "te", /framing/],
    ["modelHeader", "connection", /framing/],
    ["modelHeader", "upgrade", /framing/],
    ["upstreamHeader", "X-LLM-Upstream", /^upstreamHeader: expected a lower-case header name \("x-llm-upstream"\)/],
    ["upstreamHeader", "x llm", /^upstreamHeader: expected an HTTP header name/],
    ["upstreamHeader", "", /^upstreamHeader: expected a non-empty string/],
  ];
  it.each(bad)("%s = %j is rejected", async (key, value, re) => {
    const c = clone();
    c[key] = value;
    expect(await rejected(c)).toMatch(re);
  });
  it("a rule is checked too", async () => {
    const c = clone();
    c._rules_ = [{ _match_route_: ["r"], modelHeader: "content-length" }];
    expect(await rejected(c)).toMatch(/^_rules_\[0\]\.modelHeader: "content-length" belongs to HTTP framing/);
  });
  // The routes add these to responses: a name a browser or client acts on would let a model name
  // (or the decision text) set a cookie, an authentication challenge, a redirect, a CORS policy...
  const responseOwned: Array<[string, string]> = [
    ["servedModelHeader", "set-cookie"],
    ["servedModelHeader", "www-authenticate"],
    ["servedModelHeader", "location"],
    ["servedModelHeader", "access-control-allow-origin"],
    ["servedModelHeader", "strict-transport-security"],
    ["decisionHeader", "set-cookie"],
    ["decisionHeader", "cache-control"],
    ["decisionHeader", "x-envoy-upstream-service-time"],
  ];
  it.each(responseOwned)("%s = %j is rejected (a response header clients act on)", async (key, value) => {
    const c = clone();
    c[key] = value;
    expect(await rejected(c)).toBe(`${key}: "${value}" is a response header clients act on; expected a header of your own, such as x-llm-served-model`);
  });
  it("a Higress rule's decisionHeader is checked the same way", async () => {
    const c = clone();
    c._rules_ = [{ _match_route_: ["r"], decisionHeader: "set-cookie" }];
    expect(await rejected(c)).toMatch(/^_rules_\[0\]\.decisionHeader: "set-cookie" is a response header clients act on/);
  });
});

describe("names with control characters", () => {
  it("a route name is refused, shown escaped", async () => {
    const c = clone();
    c.routes["au\u0007to"] = { strategy: "price" };
    expect(await rejected(c)).toBe('routes: "au\\u0007to": a route name must not contain control characters');
  });
  it("a model name is refused (it is written into the served-model header)", async () => {
    const c = clone();
    c.models[0].name = "gpt\r\nset-cookie: x";
    expect(await rejected(c)).toBe("models[0].name: must not contain control characters");
  });
});

describe("providers", () => {
  const withProviders = (): Json => {
    const c = clone();
    c.providers = {
      openai: { baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" },
      deepseek: { baseUrl: "https://api.deepseek.com", apiKeyEnv: "DEEPSEEK_API_KEY" },
      groq: { baseUrl: "https://api.groq.com/openai/v1", apiKeyEnv: "GROQ_API_KEY" },
      azure: { baseUrl: "https://my.openai.azure.com", apiKeyEnv: "AZURE_OPENAI_API_KEY", auth: "api-key", apiVersion: "2024-10-21" },
      anthropic: { baseUrl: "https://api.anthropic.com/v1", apiKeyEnv: "ANTHROPIC_API_KEY", auth: "x-api-key", headers: { "anthropic-version": "2023-06-01" } },
      local: { baseUrl: "http://127.0.0.1:8000/v1", auth: "none" },
    };
    return c;
  };
  it("a configuration with providers is accepted and routes as before", async () => {
    const h = await router(withProviders());
    expect(h.configured).toBe(true);
    expect(chosen(send(h, { model: "fast", ...user("hi") }))).toBe("llama-3.1-8b");
  });
  it("`api` may name each provider's API: openai (the default) or azure-openai (with its apiVersion)", async () => {
    const c = withProviders();
    c.providers.azure.api = "azure-openai";
    c.providers.openai.api = "openai";
    expect((await router(c)).configured).toBe(true);
  });
  const bad: Array<[string, (c: Json) => void, string | RegExp]> = [
    ["upstream not a provider", (c) => (c.models[3].upstream = "grok"), 'models[3].upstream: unknown provider "grok" (did you mean "groq"?)'],
    ["baseUrl missing", (c) => delete c.providers.openai.baseUrl, "providers.openai.baseUrl: required"],
    ["baseUrl scheme", (c) => (c.providers.openai.baseUrl = "api.openai.com/v1"), /^providers\.openai\.baseUrl: expected http\(s\):\/\/host/],
    ["baseUrl query", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1?x=1"), /no query/],
    ["baseUrl port", (c) => (c.providers.local.baseUrl = "http://127.0.0.1:99999/v1"), "providers.local.baseUrl: expected a port from 1 to 65535"],
    ["baseUrl userinfo", (c) => (c.providers.local.baseUrl = "http://user:pw@host/v1"), /^providers\.local\.baseUrl: /],
    ["apiKeyEnv missing", (c) => delete c.providers.groq.apiKeyEnv, /^providers\.groq\.apiKeyEnv: required/],
    ["a key instead of a variable", (c) => (c.providers.groq.apiKeyEnv = "gsk_abc-123"), /^providers\.groq\.apiKeyEnv: expected an environment variable name/],
    ["auth unknown", (c) => (c.providers.azure.auth = "apikey"), 'providers.azure.auth: expected bearer, api-key, x-api-key or none (did you mean "api-key"?)'],
    ["apiKeyEnv with auth none", (c) => (c.providers.local.apiKeyEnv = "X"), /^providers\.local\.apiKeyEnv: not used with auth "none"/],
    ["typo in a provider", (c) => (c.providers.openai.baseURL = "x"), 'providers.openai.baseURL: unknown field (did you mean "baseUrl"?)'],
    ["credential in static headers", (c) => (c.providers.anthropic.headers["x-api-key"] = "sk-ant"), "providers.anthropic.headers.x-api-key: credentials come from apiKeyEnv, never from a file"],
    ["framing header in static headers", (c) => (c.providers.anthropic.headers["content-length"] = "1"), /framing/],
    ["header value not a string", (c) => (c.providers.anthropic.headers["anthropic-version"] = 1), "providers.anthropic.headers.anthropic-version: expected a string"],
    ["provider name", (c) => (c.providers["my provider"] = { baseUrl: "http://h", auth: "none" }), /^providers\.my provider: a provider name may use only/],
    ["empty providers", (c) => (c.providers = {}), "providers: expected at least one provider"],
    // The path is sent as written: nothing a URL parser would rewrite (issue 23).
    ["baseUrl with ..", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1/../admin"), "providers.openai.baseUrl: a '.' or '..' segment in the path: write the path it stands for"],
    ["baseUrl with .", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/./v1"), /^providers\.openai\.baseUrl: a '\.' or '\.\.' segment/],
    ["baseUrl with %2F", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1%2F..%2Fadmin"), "providers.openai.baseUrl: a %-escape in the path: providers are sent this path as written, so write it unescaped"],
    ["baseUrl with a backslash in the path", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1\\..\\admin"), "providers.openai.baseUrl: a backslash in the URL: write it with '/' only"],
    ["baseUrl with a backslash for a slash", (c) => (c.providers.openai.baseUrl = "https://api.openai.com\\v1"), "providers.openai.baseUrl: a backslash in the URL: write it with '/' only"],
    ["baseUrl with an empty segment", (c) => (c.providers.openai.baseUrl = "https://api.openai.com//v1"), "providers.openai.baseUrl: an empty segment ('//') in the path"],
    ["baseUrl with port 0", (c) => (c.providers.openai.baseUrl = "https://api.openai.com:0/v1"), "providers.openai.baseUrl: expected a port from 1 to 65535"],
    ["baseUrl with an empty port", (c) => (c.providers.openai.baseUrl = "https://api.openai.com:/v1"), "providers.openai.baseUrl: expected a port from 1 to 65535"],
    ["api unknown", (c) => (c.providers.azure.api = "azure_openai"), 'providers.azure.api: expected openai or azure-openai (did you mean "azure-openai"?)'],
    ["api not a string", (c) => (c.providers.azure.api = 1), "providers.azure.api: expected a non-empty string"],
    [
      "azure-openai without apiVersion",
      (c) => { c.providers.azure.api = "azure-openai"; delete c.providers.azure.apiVersion; },
      'providers.azure.apiVersion: required with "api": "azure-openai": Azure OpenAI\'s api-version, such as "2024-10-21"',
    ],
    [
      "openai with apiVersion",
      (c) => { c.providers.groq.api = "openai"; c.providers.groq.apiVersion = "2024-10-21"; },
      'providers.groq.apiVersion: only for "api": "azure-openai" (Azure OpenAI\'s api-version); remove it',
    ],
  ];
  it("a baseUrl ending in '/' and an IPv6 host with a port are accepted", async () => {
    const c = withProviders();
    c.providers.openai.baseUrl = "https://api.openai.com/v1/";
    c.providers.local.baseUrl = "http://[::1]:8000/v1";
    expect((await router(c)).configured).toBe(true);
  });
  it.each(bad)("%s", async (_n, mutate, message) => {
    const c = withProviders();
    mutate(c);
    const text = await rejected(c);
    if (typeof message === "string") expect(text).toBe(message);
    else expect(text).toMatch(message);
  });
});
