// config/higress/spec.yaml: the Higress console plugin spec. Structure, i18n coverage and
// OpenAPI 3.0 compatibility of the configuration schema.
import { describe, expect, it } from "vitest";
import {
  OPENAPI_30_KEYWORDS,
  allSchemas,
  compileSpec,
  documentedSchemas,
  loadSpec,
  loadWasmPlugin,
  readText,
} from "./helpers";

const spec = loadSpec();
const CJK = /[\u3400-\u9fff]/;

describe("spec.yaml structure", () => {
  it("has the console's top-level layout", () => {
    expect(spec.apiVersion).toBe("1.0.0");
    expect(Object.keys(spec).sort()).toEqual(["apiVersion", "info", "spec"]);
  });

  it("has a complete info block with zh-CN title and description", () => {
    const info = spec.info;
    expect(info.gatewayMinVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.category).toBe("ai");
    expect(info.name).toMatch(/^[a-z0-9-]+$/);
    expect(info.name).not.toBe("model-router"); // Higress's built-in plugin of that name
    expect(info.title).toEqual(expect.any(String));
    expect(info["x-title-i18n"]["zh-CN"]).toMatch(CJK);
    expect(info.description).toEqual(expect.any(String));
    expect(info["x-description-i18n"]["zh-CN"]).toMatch(CJK);
    expect(info.contact?.name).toEqual(expect.any(String));
  });

  it("versions agree: spec.yaml, package.json and the image tag in wasmplugin.yaml", () => {
    const pkg = JSON.parse(readText("package.json"));
    expect(spec.info.version).toBe(pkg.version);
    expect(loadWasmPlugin().spec.url).toMatch(new RegExp(`/${spec.info.name}:${spec.info.version.replace(/\./g, "\\.")}$`));
  });

  it("runs in AUTHN, before ai-proxy (100) and before the built-in model-router (900)", () => {
    expect(spec.spec.phase).toBe("AUTHN");
    expect(Number.isInteger(spec.spec.priority)).toBe(true);
    expect(spec.spec.priority).toBeGreaterThan(100);
    expect(spec.spec.priority).toBeGreaterThan(900);
  });

  it("has configSchema and routeConfigSchema with openAPIV3Schema objects", () => {
    for (const key of ["configSchema", "routeConfigSchema"]) {
      const schema = spec.spec[key].openAPIV3Schema;
      expect(schema.type, key).toBe("object");
      expect(schema.properties, key).toEqual(expect.any(Object));
      expect(schema.example, key).toEqual(expect.any(Object));
    }
  });

  it("configSchema requires models and covers the whole configuration", () => {
    const schema = spec.spec.configSchema.openAPIV3Schema;
    expect(schema.required).toEqual(["models"]);
    expect(Object.keys(schema.properties).sort()).toEqual(
      ["bytesPerToken", "complexityHeader", "decisionHeader", "defaultOutputTokens", "detection", "listModels", "live", "maxBodyBytes", "metrics", "modelHeader", "models", "paths", "routes", "taskHeader", "upstreamHeader"],
    );
    const model = schema.properties.models.items;
    expect([...model.required].sort()).toEqual(["contextWindow", "name", "price", "tokensPerSecond", "ttftMs", "upstream"]);
    expect([...model.properties.price.required].sort()).toEqual(["input", "output"]);
    expect(Object.keys(model.properties.price.properties).sort()).toEqual(["cachedInput", "input", "output"]);
    expect(Object.keys(schema.properties.metrics.properties).sort()).toEqual(["consumerHeader", "enabled", "maxConsumers"]);
    expect(Object.keys(model.properties).sort()).toEqual(
      ["capabilities", "contextWindow", "endpoints", "maxOutputTokens", "name", "price", "quality", "tokensPerSecond", "ttftMs", "upstream", "upstreamModel", "weight"],
    );
    const route = schema.properties.routes.additionalProperties;
    expect(route.properties.strategy.enum).toEqual(["price", "latency", "throughput", "quality", "balanced", "random"]);
    expect(Object.keys(route.properties).sort()).toEqual(
      ["byComplexity", "byTask", "exclude", "explore", "maxCostUsd", "maxTtftMs", "minQuality", "minTokensPerSecond", "models", "onNoCandidate", "require", "spread", "strategy", "task", "weights"],
    );
    expect(Object.keys(route.properties.weights.properties).sort()).toEqual(["latency", "price", "quality", "throughput"]);
    expect(Object.keys(schema.properties.live.properties).sort()).toEqual(
      ["cooldownMs", "enabled", "explore", "failureThreshold", "halfLifeMs", "maxCooldownMs", "priorWeight", "probeTimeoutMs", "refreshMs", "spread", "staleAfterMs"],
    );
  });

  it("routeConfigSchema has the same properties as configSchema and requires none", () => {
    const rule = spec.spec.routeConfigSchema.openAPIV3Schema;
    expect(rule.properties).toEqual(spec.spec.configSchema.openAPIV3Schema.properties);
    expect(rule.required ?? []).toEqual([]);
  });
});

describe("spec.yaml i18n", () => {
  for (const key of ["configSchema", "routeConfigSchema"]) {
    it(`${key}: every property (recursively) has title, description and zh-CN translations`, () => {
      const documented = documentedSchemas(spec.spec[key].openAPIV3Schema);
      expect(documented.length).toBeGreaterThan(30);
      const missing: string[] = [];
      for (const { path, schema } of documented) {
        if (typeof schema.title !== "string" || schema.title === "") missing.push(`${path}: title`);
        if (typeof schema.description !== "string" || schema.description === "") missing.push(`${path}: description`);
        if (!CJK.test(schema["x-title-i18n"]?.["zh-CN"] ?? "")) missing.push(`${path}: x-title-i18n.zh-CN`);
        if (!CJK.test(schema["x-description-i18n"]?.["zh-CN"] ?? "")) missing.push(`${path}: x-description-i18n.zh-CN`);
        for (const i18n of ["x-title-i18n", "x-description-i18n"]) {
          for (const lang of Object.keys(schema[i18n] ?? {})) {
            if (lang !== "zh-CN" && lang !== "en-US") missing.push(`${path}: ${i18n} has unexpected locale ${lang}`);
          }
        }
      }
      expect(missing).toEqual([]);
    });
  }

  it("every i18n key localises a field that exists next to it", () => {
    const orphans: string[] = [];
    const walk = (node: any, path: string) => {
      if (node === null || typeof node !== "object") return;
      for (const [k, v] of Object.entries(node)) {
        const m = /^x-(.+)-i18n$/.exec(k);
        if (m && !(m[1] in node)) orphans.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
    };
    walk(spec, "$");
    expect(orphans).toEqual([]);
  });
});

describe("spec.yaml schema dialect", () => {
  it("uses only OpenAPI 3.0 Schema Object keywords (plus x-*-i18n)", () => {
    const bad: string[] = [];
    for (const key of ["configSchema", "routeConfigSchema"]) {
      for (const { path, schema } of allSchemas(spec.spec[key].openAPIV3Schema, key)) {
        for (const [k, v] of Object.entries(schema)) {
          if (!OPENAPI_30_KEYWORDS.has(k) && !/^x-.+-i18n$/.test(k)) bad.push(`${path}: ${k}`);
          if (k === "type" && typeof v !== "string") bad.push(`${path}: type must be a single string in OpenAPI 3.0`);
          if ((k === "exclusiveMinimum" || k === "exclusiveMaximum") && typeof v !== "boolean") {
            bad.push(`${path}: ${k} must be boolean in OpenAPI 3.0`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("compiles under Ajv strict mode after the OpenAPI -> JSON Schema conversion", () => {
    expect(() => compileSpec(spec)).not.toThrow();
  });

  it("defaults satisfy their own schemas", () => {
    const { config } = compileSpec(spec);
    const base = spec.spec.configSchema.openAPIV3Schema.example;
    const withDefaults = {
      ...base,
      paths: spec.spec.configSchema.openAPIV3Schema.properties.paths.default,
      bytesPerToken: spec.spec.configSchema.openAPIV3Schema.properties.bytesPerToken.default,
      models: base.models.map((m: any) => ({ ...m, capabilities: [], quality: 5, weight: 1 })),
    };
    expect(config(withDefaults), JSON.stringify(config.errors)).toBe(true);
  });
});
