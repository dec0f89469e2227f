// Configuration validation (docs/behaviour.md "Configuration"): a bad configuration is rejected
// with exactly one ERROR line `model-router: invalid configuration: <path>: <what>`.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chosen, errorLines, type Json, model, ROUTER_JSON, router, send, user } from "./helpers.ts";

const base = JSON.parse(readFileSync(ROUTER_JSON, "utf8"));
const clone = (): Json => JSON.parse(JSON.stringify(base));
const PREFIX = "model-router: invalid configuration: ";

async function rejected(cfg: Json | string) {
  const h = await router(cfg, { logLevel: 0 });
  expect(h.configured).toBe(false);
  const lines = errorLines(h);
  expect(lines, JSON.stringify(h.logs)).toHaveLength(1);
  expect(lines[0].startsWith(PREFIX)).toBe(true);
  return lines[0].slice(PREFIX.length);
}

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
