// The configurations we ship must be ones the plugin itself accepts, in the form each host
// delivers them: config/router.json as Envoy's configuration string, and the Higress WasmPlugin's
// defaultConfig + matchRules turned into `_rules_` the way the Higress controller does.
import { describe, expect, it } from "vitest";
import { loadSpec, loadWasmPlugin, loadRouterJson } from "../higress/helpers.ts";
import { ProxyWasmHost } from "../host/index.ts";
import { ENVOY_WASM, HIGRESS_WASM, errorLines } from "./helpers.ts";

function higressDelivery(spec: any): Record<string, unknown> {
  const rules = (spec.matchRules ?? []).map((rule: any) => {
    const out: Record<string, unknown> = { ...rule.config };
    if (rule.ingress) out._match_route_ = rule.ingress;
    if (rule.domain) out._match_domain_ = rule.domain;
    if (rule.service) out._match_service_ = rule.service;
    return out;
  });
  return { ...spec.defaultConfig, _rules_: rules };
}

async function configures(wasm: string, cfg: unknown, mode: "envoy-allow-stop-iteration" | "higress") {
  const host = await ProxyWasmHost.load({ wasm, mode, configuration: JSON.stringify(cfg), clusters: [] });
  return { ok: host.configured, errors: errorLines(host) };
}

describe("shipped configurations", () => {
  it("config/router.json configures the Envoy build", async () => {
    expect(await configures(ENVOY_WASM, loadRouterJson(), "envoy-allow-stop-iteration")).toEqual({ ok: true, errors: [] });
  });

  it("the WasmPlugin's defaultConfig with its matchRules configures the Higress build", async () => {
    const delivered = higressDelivery(loadWasmPlugin().spec);
    expect((delivered._rules_ as unknown[]).length).toBeGreaterThan(0);
    expect(await configures(HIGRESS_WASM, delivered, "higress")).toEqual({ ok: true, errors: [] });
  });

  it("the console form's examples configure the plugin", async () => {
    const spec = loadSpec().spec;
    const example = spec.configSchema.openAPIV3Schema.example;
    expect(await configures(HIGRESS_WASM, example, "higress")).toEqual({ ok: true, errors: [] });
    const ruleExample = spec.routeConfigSchema.openAPIV3Schema.example;
    const delivered = { ...example, _rules_: [{ ...ruleExample, _match_domain_: ["api.example.com"] }] };
    expect(await configures(HIGRESS_WASM, delivered, "higress")).toEqual({ ok: true, errors: [] });
  });

  it("a broken shipped config is refused with the field named", async () => {
    const cfg = loadRouterJson() as any;
    cfg.models[1].tokensPerSecond = 0;
    const r = await configures(ENVOY_WASM, cfg, "envoy-allow-stop-iteration");
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual(["model-router: invalid configuration: models[1].tokensPerSecond: expected a positive number"]);
  });
});
