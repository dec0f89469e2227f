// The schema in spec.yaml accepts every configuration we ship (config/router.json, the WasmPlugin's
// defaultConfig and matchRules, the spec's own examples) and rejects broken ones.
import { describe, expect, it } from "vitest";
import {
  compileSpec,
  crossCheck,
  effectiveRuleConfigs,
  explain,
  loadRouterJsonForHigress as loadRouterJson,
  loadSpec,
  loadWasmPlugin,
  loadYaml,
  ruleOwnConfig,
  toPluginConfiguration,
} from "./helpers";

const spec = loadSpec();
const { config: validateConfig, rule: validateRule } = compileSpec(spec);
const wasmPlugin = loadWasmPlugin();

function expectAccepted(config: unknown, label: string) {
  expect(validateConfig(config), `${label}: ${explain(validateConfig.errors)}`).toBe(true);
  expect(crossCheck(config), label).toEqual([]);
}

const clone = <T>(v: T): T => structuredClone(v);

describe("accepted configurations", () => {
  it("config/router.json", () => {
    expectAccepted(loadRouterJson(), "config/router.json (as `llm-router higress` delivers it)");
  });

  it("the spec's configSchema example", () => {
    expectAccepted(spec.spec.configSchema.openAPIV3Schema.example, "configSchema.example");
  });

  it("the spec's routeConfigSchema example, alone and merged over the global example", () => {
    const example = spec.spec.routeConfigSchema.openAPIV3Schema.example;
    expect(validateRule(example), explain(validateRule.errors)).toBe(true);
    expectAccepted({ ...spec.spec.configSchema.openAPIV3Schema.example, ...example }, "merged rule example");
  });

  it("a minimal configuration: one model with only the required fields, no routes", () => {
    expectAccepted(
      { models: [{ name: "m", upstream: "u", price: { input: 0, output: 0 }, ttftMs: 0, tokensPerSecond: 1, contextWindow: 1 }] },
      "minimal",
    );
  });

  it("routes: {} is allowed", () => {
    const c = clone(loadRouterJson()) as any;
    c.routes = {};
    expectAccepted(c, "empty routes");
  });
});

describe("wasmplugin.yaml", () => {
  it("is a WasmPlugin in higress-system with an oci:// url", () => {
    expect(wasmPlugin.apiVersion).toBe("extensions.higress.io/v1alpha1");
    expect(wasmPlugin.kind).toBe("WasmPlugin");
    expect(wasmPlugin.metadata.namespace).toBe("higress-system");
    expect(wasmPlugin.metadata.name).toBe(spec.info.name);
    expect(wasmPlugin.spec.url).toMatch(/^oci:\/\/.+\/[a-z0-9-]+:[\w.-]+$/);
  });

  it("has the same phase and priority as spec.yaml", () => {
    expect(wasmPlugin.spec.phase).toBe(spec.spec.phase);
    expect(wasmPlugin.spec.priority).toBe(spec.spec.priority);
  });

  it("defaultConfig is accepted and routes with x-higress-llm-model", () => {
    const d = wasmPlugin.spec.defaultConfig;
    expectAccepted(d, "defaultConfig");
    expect(d.modelHeader).toBe("x-higress-llm-model");
    for (const key of ["models", "routes", "upstreamHeader", "modelHeader", "maxBodyBytes", "defaultOutputTokens"]) {
      expect(d, key).toHaveProperty(key);
    }
  });

  it("has one domain rule and one route rule, each with exactly one match key", () => {
    const rules = wasmPlugin.spec.matchRules;
    expect(rules.map((r: any) => Object.keys(r).filter((k) => k !== "config").sort())).toEqual([["domain"], ["ingress"]]);
    for (const r of rules) expect(Object.keys(r.config).length).toBeGreaterThan(0);
  });

  it("each rule config is accepted by routeConfigSchema on its own", () => {
    for (const [i, r] of wasmPlugin.spec.matchRules.entries()) {
      expect(validateRule(r.config), `matchRules[${i}]: ${explain(validateRule.errors)}`).toBe(true);
    }
  });

  it("as Higress delivers it (defaultConfig + _rules_), every rule's effective configuration is accepted", () => {
    const delivered = toPluginConfiguration(wasmPlugin);
    const rules = delivered._rules_ as any[];
    expect(rules[0]._match_domain_).toEqual(["api.example.com"]);
    expect(rules[1]._match_route_).toEqual(["default/llm-batch"]);
    // The configuration travels as JSON; nothing may be lost on the way.
    expect(JSON.parse(JSON.stringify(delivered))).toEqual(delivered);
    for (const [i, effective] of effectiveRuleConfigs(delivered).entries()) {
      expectAccepted(effective, `_rules_[${i}] merged`);
      expect(validateRule(ruleOwnConfig(rules[i]))).toBe(true);
    }
  });

  it("envoyfilter-cluster-header.yaml routes on the plugin's upstreamHeader", () => {
    const f = loadYaml("config", "higress", "envoyfilter-cluster-header.yaml");
    expect(f.kind).toBe("EnvoyFilter");
    expect(f.metadata.namespace).toBe("higress-system");
    const patch = f.spec.configPatches[0];
    expect(patch.applyTo).toBe("HTTP_ROUTE");
    expect(patch.match.context).toBe("GATEWAY");
    expect(patch.patch.value.route.cluster_header).toBe(wasmPlugin.spec.defaultConfig.upstreamHeader);
  });
});

describe("rejected configurations", () => {
  const base = () => clone(loadRouterJson()) as any;
  const cases: [string, (c: any) => void][] = [
    ["a model without upstream", (c) => delete c.models[0].upstream],
    ["a model without name", (c) => delete c.models[0].name],
    ["a model without price.output", (c) => delete c.models[0].price.output],
    ["a model without ttftMs", (c) => delete c.models[1].ttftMs],
    ["a model without contextWindow", (c) => delete c.models[1].contextWindow],
    ["a negative input price", (c) => (c.models[0].price.input = -0.15)],
    ["a negative output price", (c) => (c.models[2].price.output = -1)],
    ["a price given as a string", (c) => (c.models[0].price.input = "0.15")],
    ["tokensPerSecond 0", (c) => (c.models[0].tokensPerSecond = 0)],
    ["a negative ttftMs", (c) => (c.models[0].ttftMs = -1)],
    ["contextWindow 0", (c) => (c.models[0].contextWindow = 0)],
    ["a fractional contextWindow", (c) => (c.models[0].contextWindow = 1000.5)],
    ["maxOutputTokens 0", (c) => (c.models[0].maxOutputTokens = 0)],
    ["quality 11", (c) => (c.models[0].quality = 11)],
    ["quality -1", (c) => (c.models[0].quality = -1)],
    ["quality object with a task above 10", (c) => (c.models[1].quality = { default: 8, coding: 11 })],
    ["quality object with default above 10", (c) => (c.models[1].quality = { default: 10.5 })],
    ["quality as a string", (c) => (c.models[0].quality = "7")],
    ["an empty quality object", (c) => (c.models[0].quality = {})],
    ["capabilities as a string", (c) => (c.models[0].capabilities = "tools")],
    ["a negative weight", (c) => (c.models[0].weight = -1)],
    ["an unknown model field (typo)", (c) => (c.models[0].ttft = 400)],
    ["an empty model name", (c) => (c.models[0].name = "")],
    ["an unknown strategy", (c) => (c.routes.auto.strategy = "cheapest")],
    ["a route without strategy", (c) => delete c.routes.fast.strategy],
    ["a route that is not an object", (c) => (c.routes.fast = "latency")],
    ["minQuality 11", (c) => (c.routes.cheap.minQuality = 11)],
    ["a negative maxCostUsd", (c) => (c.routes.cheap.maxCostUsd = -0.01)],
    ["a negative maxTtftMs", (c) => (c.routes.fast.maxTtftMs = -5)],
    ["an empty route models list", (c) => (c.routes.mix.models = [])],
    ["route models given as a string", (c) => (c.routes.mix.models = "gpt-4o-mini")],
    ["an unknown weights key", (c) => (c.routes.auto.weights.cost = 0.3)],
    ["an empty weights object", (c) => (c.routes.auto.weights = {})],
    ["a negative weight in weights", (c) => (c.routes.auto.weights.price = -0.3)],
    ["an unknown route field (typo)", (c) => (c.routes.fast.stratgy = "latency")],
    ["routes as an array", (c) => (c.routes = [{ strategy: "price" }])],
    ["no models", (c) => delete c.models],
    ["an empty model catalog", (c) => (c.models = [])],
    ["models as an object", (c) => (c.models = { "gpt-4o": c.models[1] })],
    ["an unknown top-level field (typo)", (c) => (c.modelheader = "x-llm-model")],
    ["a header name with a space", (c) => (c.upstreamHeader = "x llm upstream")],
    ["a pseudo-header as modelHeader", (c) => (c.modelHeader = ":authority")],
    ["maxBodyBytes 0", (c) => (c.maxBodyBytes = 0)],
    ["a fractional maxBodyBytes", (c) => (c.maxBodyBytes = 1024.5)],
    ["a negative defaultOutputTokens", (c) => (c.defaultOutputTokens = -1)],
    ["an empty paths list", (c) => (c.paths = [])],
    ["paths as a string", (c) => (c.paths = "/chat/completions")],
    ["bytesPerToken 0", (c) => (c.bytesPerToken = 0)],
  ];
  for (const [label, mutate] of cases) {
    it(`rejects ${label}`, () => {
      const c = base();
      mutate(c);
      expect(validateConfig(c)).toBe(false);
    });
  }

  it("rejects a broken rule config in routeConfigSchema too", () => {
    expect(validateRule({ routes: { auto: { strategy: "smart" } } })).toBe(false);
    expect(validateRule({ models: [{ name: "x" }] })).toBe(false);
    expect(validateRule({ maxBodyBytes: -1 })).toBe(false);
  });

  it("the cross-field check catches a route named like a model and dangling model references", () => {
    const c = base();
    c.routes["gpt-4o"] = { strategy: "price" };
    c.routes.cheap.onNoCandidate = "gpt-5";
    c.routes.mix.models.push("claude");
    expect(validateConfig(c)).toBe(true); // JSON Schema alone cannot see these
    expect(crossCheck(c)).toEqual([
      "routes.cheap.onNoCandidate: unknown model gpt-5",
      "routes.mix.models: unknown model claude",
      "routes.gpt-4o: route named like a model",
    ]);
  });
});
