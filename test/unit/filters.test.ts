// Candidate filtering (docs/behaviour.md "Filter" and "Estimates"): each drop rule, its boundary,
// the order in which reasons are named, onNoCandidate and 400 model_not_available.
import { describe, expect, it } from "vitest";
import { chosen, err, type Json, model, router, send } from "./helpers.ts";

// "cheap" is always the price winner unless a rule drops it; "backup" is the fallback survivor.
const cheap = (over: Json = {}) => model("cheap", { price: { input: 0.1, output: 0.1 }, ...over });
const backup = (over: Json = {}) => model("backup", { price: { input: 5, output: 5 }, capabilities: ["tools", "vision", "json", "reasoning"], quality: 9, ...over });
const msg = (content: string) => ({ messages: [{ role: "user", content }] });

async function pick(cheapOver: Json, route: Json, body: Json, backupOver: Json = {}) {
  const h = await router({ models: [cheap(cheapOver), backup(backupOver)], routes: { r: { strategy: "price", ...route } } });
  return send(h, { model: "r", ...body });
}

describe("drop rules", () => {
  it("context: input + output > contextWindow (boundary kept)", async () => {
    // 396 + "user" = 400 bytes → 100 input tokens
    expect(chosen(await pick({ contextWindow: 1000 }, {}, { max_tokens: 900, ...msg("x".repeat(396)) }))).toBe("cheap");
    expect(chosen(await pick({ contextWindow: 1000 }, {}, { max_tokens: 901, ...msg("x".repeat(396)) }))).toBe("backup");
    // one more byte rounds the input up to 101 tokens
    expect(chosen(await pick({ contextWindow: 1000 }, {}, { max_tokens: 900, ...msg("x".repeat(397)) }))).toBe("backup");
  });
  it("context counts decoded bytes of text fields, not urls/data, and escapes as what they decode to", async () => {
    const img = { type: "image_url", image_url: { url: "data:image/png;base64," + "A".repeat(5000) } };
    // "user"(4) + "image_url"(9) + text 87 = 100 bytes → 25 tokens + 75 out = 100 = window
    const body = { max_tokens: 75, messages: [{ role: "user", content: [{ type: "text", text: "t".repeat(83) }, img] }] };
    // "text"(4) is a value too: 4+4+83+9 = 100
    expect(chosen(await pick({ contextWindow: 100, capabilities: ["vision"] }, {}, body))).toBe("cheap");
    // \u00e9 is 6 bytes of JSON but 2 bytes decoded: 4 + 2·48 = 100 bytes → 25 tokens
    const esc = `{"model":"r","max_tokens":75,"messages":[{"role":"user","content":"${"\\u00e9".repeat(48)}"}]}`;
    const h = await router({ models: [cheap({ contextWindow: 100 }), backup()], routes: { r: { strategy: "price" } } });
    expect(chosen(send(h, esc))).toBe("cheap");
    const esc2 = esc.replace('"max_tokens":75', '"max_tokens":76');
    expect(chosen(send(h, esc2))).toBe("backup");
  });
  it("context counts prompt, input, system, instructions, tools and functions", async () => {
    for (const field of ["prompt", "input", "system", "instructions"]) {
      const r = await pick({ contextWindow: 100 }, {}, { max_tokens: 50, [field]: "x".repeat(300) });
      expect(chosen(r), field).toBe("backup");
    }
    const tools = [{ type: "function", function: { name: "f", description: "d".repeat(400) } }];
    expect(chosen(await pick({ contextWindow: 100, capabilities: ["tools"] }, {}, { max_tokens: 10, tools }))).toBe("backup");
    // fields outside the list do not count
    expect(chosen(await pick({ contextWindow: 100 }, {}, { max_tokens: 10, metadata: "x".repeat(4000), ...msg("hi") }))).toBe("cheap");
  });
  it("output: max_tokens > maxOutputTokens (default maxOutputTokens = contextWindow)", async () => {
    expect(chosen(await pick({ maxOutputTokens: 100 }, {}, { max_tokens: 100, ...msg("x") }))).toBe("cheap");
    expect(chosen(await pick({ maxOutputTokens: 100 }, {}, { max_tokens: 101, ...msg("x") }))).toBe("backup");
    expect(chosen(await pick({ maxOutputTokens: 100 }, {}, { max_completion_tokens: 101, ...msg("x") }))).toBe("backup");
  });
  it("vision: image parts under messages or input need the vision capability", async () => {
    const parts = [
      { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }] },
      { input: [{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] },
      { messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", data: "AAAA" } }] }] },
    ];
    for (const p of parts) {
      expect(chosen(await pick({}, {}, p)), JSON.stringify(p)).toBe("backup");
      expect(chosen(await pick({ capabilities: ["vision"] }, {}, p))).toBe("cheap");
    }
    // "image_url" as a plain text value outside "type" is not an image
    expect(chosen(await pick({}, {}, msg("image_url")))).toBe("cheap");
  });
  it("tools: non-empty tools or functions need the tools capability", async () => {
    const t = [{ type: "function", function: { name: "f" } }];
    expect(chosen(await pick({}, {}, { tools: t, ...msg("x") }))).toBe("backup");
    expect(chosen(await pick({}, {}, { functions: [{ name: "f" }], ...msg("x") }))).toBe("backup");
    expect(chosen(await pick({}, {}, { tools: [], ...msg("x") }))).toBe("cheap");
    expect(chosen(await pick({ capabilities: ["tools"] }, {}, { tools: t, ...msg("x") }))).toBe("cheap");
  });
  it("json: response_format json_object / json_schema need the json capability", async () => {
    expect(chosen(await pick({}, {}, { response_format: { type: "json_object" }, ...msg("x") }))).toBe("backup");
    expect(chosen(await pick({}, {}, { response_format: { type: "json_schema", json_schema: { name: "s" } }, ...msg("x") }))).toBe("backup");
    expect(chosen(await pick({}, {}, { response_format: { type: "text" }, ...msg("x") }))).toBe("cheap");
    expect(chosen(await pick({ capabilities: ["json"] }, {}, { response_format: { type: "json_object" }, ...msg("x") }))).toBe("cheap");
  });
  it("require: route-required capabilities, including custom ones", async () => {
    expect(chosen(await pick({ capabilities: ["tools"] }, { require: ["reasoning"] }, msg("x")))).toBe("backup");
    expect(chosen(await pick({ capabilities: ["reasoning"] }, { require: ["reasoning"] }, msg("x")))).toBe("cheap");
    expect(chosen(await pick({ capabilities: ["tools"] }, { require: ["tools"] }, msg("x")))).toBe("cheap");
  });
  it("minQuality uses the route task's quality", async () => {
    expect(chosen(await pick({ quality: 6 }, { minQuality: 6 }, msg("x")))).toBe("cheap");
    expect(chosen(await pick({ quality: 5.9 }, { minQuality: 6 }, msg("x")))).toBe("backup");
    expect(chosen(await pick({ quality: { default: 9, coding: 4 } }, { minQuality: 6, task: "coding" }, msg("x")))).toBe("backup");
    expect(chosen(await pick({ quality: { default: 4, coding: 9 } }, { minQuality: 6, task: "coding" }, msg("x")))).toBe("cheap");
    expect(chosen(await pick({}, { minQuality: 6 }, msg("x")))).toBe("backup"); // default 5
  });
  it("maxCostUsd drops models whose estimated request cost exceeds it", async () => {
    // backup: 1,000 in + 1,000 out at $5/M each = $0.01
    const body = { max_tokens: 1000, ...msg("x".repeat(3996)) };
    const cfg = (max: number) => ({ models: [backup(), model("pricey", { price: { input: 20, output: 20 } })], routes: { r: { strategy: "quality", maxCostUsd: max } } });
    const h1 = await router(cfg(0.01));
    expect(chosen(send(h1, { model: "r", ...body }))).toBe("backup");
    const h2 = await router({ ...cfg(0.0099), routes: { r: { strategy: "quality", maxCostUsd: 0.0099, onNoCandidate: "pricey" } } });
    expect(chosen(send(h2, { model: "r", ...body }))).toBe("pricey");
    const h3 = await router({ models: [model("pricey", { price: { input: 20, output: 20 }, quality: 9 }), backup({ quality: 1 })], routes: { r: { strategy: "quality", maxCostUsd: 0.02 } } });
    expect(chosen(send(h3, { model: "r", ...body }))).toBe("backup");
  });
  it("maxTtftMs and minTokensPerSecond", async () => {
    expect(chosen(await pick({ ttftMs: 500 }, { maxTtftMs: 500 }, msg("x"), { ttftMs: 100 }))).toBe("cheap");
    expect(chosen(await pick({ ttftMs: 501 }, { maxTtftMs: 500 }, msg("x"), { ttftMs: 100 }))).toBe("backup");
    expect(chosen(await pick({ tokensPerSecond: 50 }, { minTokensPerSecond: 50 }, msg("x"), { tokensPerSecond: 100 }))).toBe("cheap");
    expect(chosen(await pick({ tokensPerSecond: 49 }, { minTokensPerSecond: 50 }, msg("x"), { tokensPerSecond: 100 }))).toBe("backup");
  });
  it("a route's models and exclude limit the candidates", async () => {
    const h = await router({ models: [cheap(), backup(), model("other")], routes: { a: { strategy: "price", models: ["backup", "other"] }, b: { strategy: "price", exclude: ["cheap"] } } });
    expect(chosen(send(h, { model: "a", ...msg("x") }))).toBe("other");
    expect(chosen(send(h, { model: "b", ...msg("x") }))).toBe("other");
  });
});

describe("no candidate", () => {
  const reasons: Array<[string, Json, Json, Json, RegExp]> = [
    ["context", { contextWindow: 10 }, {}, { max_tokens: 20 }, /context/i],
    ["output", { maxOutputTokens: 10 }, {}, { max_tokens: 20 }, /output/i],
    ["vision", {}, {}, { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "u" } }] }] }, /vision/i],
    ["tools", {}, {}, { tools: [{ type: "function", function: { name: "f" } }] }, /tool/i],
    ["json", {}, {}, { response_format: { type: "json_object" } }, /json/i],
    ["require", {}, { require: ["reasoning"] }, {}, /reasoning|capabilit|require/i],
    ["minQuality", { quality: 1 }, { minQuality: 6 }, {}, /quality/i],
    ["maxCostUsd", {}, { maxCostUsd: 0 }, { max_tokens: 1000 }, /cost/i],
    ["maxTtftMs", { ttftMs: 900 }, { maxTtftMs: 10 }, {}, /ttft|first token/i],
    ["minTokensPerSecond", { tokensPerSecond: 5 }, { minTokensPerSecond: 10 }, {}, /tokens.?per.?second|throughput|tps/i],
  ];
  it.each(reasons)("%s → 400 model_not_available naming the model and the reason", async (_n, m, route, body, re) => {
    // "spare" declares the capability a route may require; the route itself only lists the two.
    const models = [cheap(m), model("second", { ...m }), model("spare", { capabilities: ["reasoning"] })];
    const h = await router({ models, routes: { r: { strategy: "price", models: ["cheap", "second"], ...route } } });
    const r = send(h, { model: "r", ...(body.messages ? {} : msg("x")), ...body });
    const e = err(r);
    expect(e).toMatchObject({ status: 400, code: "model_not_available" });
    expect(e.message).toContain("cheap");
    expect(e.message).toContain("second");
    expect(e.message).toMatch(re);
    expect(r.upstream).toBeUndefined();
  });
  it("the first failing rule names the reason (context before vision)", async () => {
    const h = await router({ models: [cheap({ contextWindow: 10 })], routes: { r: { strategy: "price" } } });
    const e = err(send(h, { model: "r", max_tokens: 50, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "u" } }] }] }));
    expect(e.message).toMatch(/context/i);
    expect(e.message).not.toMatch(/vision/i);
  });
  it("onNoCandidate routes to the named model", async () => {
    const h = await router({ models: [cheap({ ttftMs: 900 }), backup({ ttftMs: 900 })], routes: { r: { strategy: "price", maxTtftMs: 10, onNoCandidate: "backup" } } });
    const r = send(h, { model: "r", ...msg("x") });
    expect(r.outcome).toBe("upstream");
    expect(chosen(r)).toBe("backup");
    expect(r.upstream!.cluster).toBe("up-backup");
  });
});
