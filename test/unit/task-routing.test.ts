// Routing by detected task and complexity (docs/behaviour.md "Task detection"): "task": "auto",
// byTask / byComplexity delegation, the task headers, user keywords, and every configuration error.
import { describe, expect, it } from "vitest";
import { ProxyWasmHost } from "../host/index.ts";
import { chosen, err, errorLines, HIGRESS_WASM, type Json, model, router, send, user, rejected } from "./helpers.ts";

const CODE = "Write a Python function that checks whether a string is a palindrome.";
const TRANSLATE = "请把这句话翻译成英文：我们明天上午十点见。";
const HELLO = "hello";

const models = [
  model("coder", { quality: { default: 6, coding: 9.5 } }),
  model("linguist", { quality: { default: 6, translation: 9.8, writing: 8 } }),
  model("generalist", { quality: 7.5 }),
  model("tiny", { quality: 4, price: { input: 0.01, output: 0.01 } }),
];


const headers = (r: ReturnType<typeof send>) => ({ task: r.finalHeaders.first("x-llm-task"), tier: r.finalHeaders.first("x-llm-complexity") });

describe('"task": "auto"', () => {
  it("ranks with the detected task's quality; a model without a score for it uses its default", async () => {
    const h = await router({ models, routes: { auto: { strategy: "quality", task: "auto" } } });
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user(TRANSLATE) }))).toBe("linguist");
    // default task: defaults 6, 6, 7.5, 4
    expect(chosen(send(h, { model: "auto", ...user(HELLO) }))).toBe("generalist");
    // math: nobody has a math score → defaults
    expect(chosen(send(h, { model: "auto", ...user("Solve the equation 2x + 7 = 19.") }))).toBe("generalist");
  });
  it("also drives minQuality and the balanced strategy", async () => {
    const h = await router({ models, routes: { strict: { strategy: "price", task: "auto", minQuality: 9 }, mix: { strategy: "balanced", task: "auto", weights: { quality: 1 } } } });
    expect(chosen(send(h, { model: "strict", ...user(CODE) }))).toBe("coder");
    expect(chosen(send(h, { model: "strict", ...user(TRANSLATE) }))).toBe("linguist");
    const e = err(send(h, { model: "strict", ...user(HELLO) }));
    expect(e.code).toBe("model_not_available");
    expect(e.message).toContain("coder: quality 6.0 < minQuality 9.0");
    expect(chosen(send(h, { model: "mix", ...user(CODE) }))).toBe("coder");
  });
  it("works the same in the Higress build", async () => {
    const cfg = { models, routes: { auto: { strategy: "quality", task: "auto" } } };
    const h = await ProxyWasmHost.load({ wasm: HIGRESS_WASM, mode: "higress", configuration: JSON.stringify(cfg), clusters: models.map((m) => m.upstream) });
    const r = send(h, { model: "auto", ...user(TRANSLATE) });
    expect(chosen(r)).toBe("linguist");
    expect(r.upstream!.header("x-llm-task")).toBe("translation");
  });
  it("sets the task and tier headers on the routed request", async () => {
    const h = await router({ models, routes: { auto: { strategy: "quality", task: "auto" } } });
    const r = send(h, { model: "auto", ...user(TRANSLATE) });
    expect(r.upstream!.header("x-llm-task")).toBe("translation");
    expect(r.upstream!.header("x-llm-complexity")).toBe("medium");
  });
});

describe("byTask and byComplexity", () => {
  const routes = {
    best: { strategy: "quality", task: "coding" },
    words: { strategy: "quality", task: "translation" },
    cheap: { strategy: "price" },
    smart: { strategy: "quality", task: "auto" },
  };
  it("byTask sends each task to its route; `default` also catches tasks without an entry", async () => {
    const h = await router({ models, routes: { ...routes, auto: { byTask: { coding: "best", translation: "words", default: "cheap" } } } });
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user(TRANSLATE) }))).toBe("linguist");
    expect(chosen(send(h, { model: "auto", ...user(HELLO) }))).toBe("tiny");
    expect(chosen(send(h, { model: "auto", ...user("Write a poem about autumn leaves.") }))).toBe("tiny"); // writing → default
  });
  it("without `default`, an unlisted task is ranked by the route itself", async () => {
    const h = await router({ models, routes: { ...routes, auto: { strategy: "quality", byTask: { coding: "cheap" } } } });
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("tiny");
    expect(chosen(send(h, { model: "auto", ...user(HELLO) }))).toBe("generalist");
  });
  it("a delegation target with task auto ranks with the detected task", async () => {
    const h = await router({ models, routes: { ...routes, auto: { byComplexity: { simple: "cheap", medium: "smart", complex: "smart", reasoning: "smart" } } } });
    expect(chosen(send(h, { model: "auto", ...user(HELLO) }))).toBe("tiny");
    expect(chosen(send(h, { model: "auto", ...user(TRANSLATE) }))).toBe("linguist");
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("coder");
  });
  it("byTask is consulted before byComplexity; an unlisted tier ranks by the route itself", async () => {
    const h = await router({ models, routes: { ...routes, auto: { strategy: "quality", byTask: { translation: "cheap" }, byComplexity: { simple: "best" } } } });
    expect(chosen(send(h, { model: "auto", ...user(TRANSLATE) }))).toBe("tiny"); // task entry wins
    expect(chosen(send(h, { model: "auto", ...user(HELLO) }))).toBe("coder"); // simple → best
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("generalist"); // medium, no entry → itself (quality, default)
  });
  it("the target's limits and onNoCandidate apply", async () => {
    const h = await router({ models, routes: { strict: { strategy: "price", minQuality: 9.9, onNoCandidate: "generalist" }, auto: { strategy: "price", byTask: { coding: "strict" } } } });
    expect(chosen(send(h, { model: "auto", ...user(CODE) }))).toBe("generalist");
  });
  it("the headers name the detected task and tier, whichever route ranks", async () => {
    const h = await router({ models, routes: { ...routes, auto: { byTask: { default: "cheap" } } } });
    expect(headers(send(h, { model: "auto", ...user(HELLO) }))).toEqual({ task: "default", tier: "simple" });
  });
});

describe("headers and when detection runs", () => {
  it("taskHeader / complexityHeader rename the headers", async () => {
    const h = await router({ models, routes: { auto: { strategy: "quality", task: "auto" } }, taskHeader: "x-task", complexityHeader: "x-tier" });
    const r = send(h, { model: "auto", ...user(CODE) });
    expect(r.finalHeaders.first("x-task")).toBe("coding");
    expect(r.finalHeaders.first("x-tier")).toBe("medium");
    expect(r.finalHeaders.first("x-llm-task")).toBeUndefined();
  });
  it("no headers on routes that do not need detection, on catalog models, on pass-through and on errors", async () => {
    const h = await router({ models, routes: { fixed: { strategy: "quality", task: "coding" }, smart: { strategy: "quality", task: "auto", minQuality: 9.9 } } });
    expect(headers(send(h, { model: "fixed", ...user(CODE) }))).toEqual({ task: undefined, tier: undefined });
    expect(headers(send(h, { model: "coder", ...user(CODE) }))).toEqual({ task: undefined, tier: undefined });
    expect(headers(send(h, { model: "elsewhere", ...user(CODE) }))).toEqual({ task: undefined, tier: undefined });
    const r = send(h, { model: "smart", ...user(CODE) });
    expect(r.localResponse?.status).toBe(400);
  });
  it("detection.always detects every routed request, aliases and catalog models", async () => {
    const h = await router({ models, routes: { fixed: { strategy: "quality", task: "coding" } }, detection: { always: true } });
    expect(headers(send(h, { model: "fixed", ...user(TRANSLATE) }))).toEqual({ task: "translation", tier: "medium" });
    expect(headers(send(h, { model: "tiny", ...user(HELLO) }))).toEqual({ task: "default", tier: "simple" });
    expect(headers(send(h, { model: "elsewhere", ...user(HELLO) }))).toEqual({ task: undefined, tier: undefined });
  });
  it("client-sent task headers never reach the provider", async () => {
    const h = await router({ models, routes: { fixed: { strategy: "price" }, smart: { strategy: "quality", task: "auto" } } });
    const spoof = { headers: { "x-llm-task": "coding", "x-llm-complexity": "reasoning" } };
    expect(headers(send(h, { model: "fixed", ...user(HELLO) }, spoof))).toEqual({ task: undefined, tier: undefined });
    expect(headers(send(h, { model: "elsewhere", ...user(HELLO) }, spoof))).toEqual({ task: undefined, tier: undefined });
    expect(headers(send(h, { model: "smart", ...user(HELLO) }, spoof))).toEqual({ task: "default", tier: "simple" });
    const none = await router({ models, routes: { fixed: { strategy: "price" } } });
    expect(headers(send(none, { model: "fixed", ...user(HELLO) }, spoof))).toEqual({ task: undefined, tier: undefined });
  });
});

describe("detection settings", () => {
  const auto = { strategy: "quality", task: "auto" };
  it("tasks.<task>.keywords add keywords and phrases in any language, with weights", async () => {
    const h = await router({
      models, routes: { auto },
      detection: { tasks: { coding: { keywords: { kubernetes: 3, "helm chart": 3, "k8s*": 3 } }, translation: { keywords: { "譯成": 4 } } } },
    });
    expect(chosen(send(h, { model: "auto", ...user("My Kubernetes pods restart every hour") }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user("Where do I put values in a helm chart?") }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user("k8sclusters are hard") }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user("請把這句話譯成日文") }))).toBe("linguist");
  });
  it("a negative weight keeps a phrase from counting for a task", async () => {
    const text = "What is a translation memory in CAT tools?";
    expect(headers(send(await router({ models, routes: { auto } }), { model: "auto", ...user(text) })).task).toBe("translation");
    const h = await router({ models, routes: { auto }, detection: { tasks: { translation: { keywords: { "translation memory": -5 } } } } });
    expect(headers(send(h, { model: "auto", ...user(text) })).task).toBe("default");
  });
  it("builtin: false switches a task's built-in rules off (its own keywords still count)", async () => {
    const h = await router({ models, routes: { auto }, detection: { tasks: { translation: { builtin: false, keywords: { "render in": 3 } } } } });
    expect(headers(send(h, { model: "auto", ...user("Translate 'good night' into Italian.") })).task).not.toBe("translation");
    expect(headers(send(h, { model: "auto", ...user("Render in Italian: good night") })).task).toBe("translation");
    const off = await router({ models, routes: { auto }, detection: { tasks: { coding: { builtin: false } } } });
    expect(headers(send(off, { model: "auto", ...user("```\nx = 1\n```\nwhy?") })).task).toBe("default");
  });
  it("complexity markers: keywords per tier marker and builtin: false", async () => {
    const h = await router({ models, routes: { auto }, detection: { complexity: { reasoning: { keywords: { "think hard": 3 } }, simple: { builtin: false } } } });
    expect(headers(send(h, { model: "auto", ...user("Think hard: which plan is better for the team?") })).tier).toBe("reasoning");
    expect(headers(send(h, { model: "auto", ...user("Hello there, could you help me out today with a few things?") })).tier).toBe("medium");
  });
  it("settings are shared by Higress rules that do not override them, and a rule may override them", async () => {
    const h = await router({
      models, routes: { auto }, detection: { tasks: { coding: { keywords: { zorblax: 5 } } } },
      _rules_: [{ _match_domain_: ["same.com"], routes: { auto } }, { _match_domain_: ["own.com"], detection: { tasks: { writing: { keywords: { zorblax: 5 } } } } }],
    });
    expect(chosen(send(h, { model: "auto", ...user("zorblax") }))).toBe("coder");
    expect(chosen(send(h, { model: "auto", ...user("zorblax") }, { authority: "same.com" }))).toBe("coder");
    expect(headers(send(h, { model: "auto", ...user("zorblax") }, { authority: "own.com" })).task).toBe("writing");
  });
});

describe("configuration errors name the field", () => {
  const auto = { strategy: "quality", task: "auto" };
  const base = (extra: Json = {}, routes: Json = { auto }) => ({ models, routes, ...extra });
  const cases: Array<[string, Json, string]> = [
    ["detection not an object", base({ detection: [] }), "detection: expected an object {maxBytes, always, tasks, complexity}"],
    ["unknown detection field", base({ detection: { task: {} } }), 'detection.task: unknown field (did you mean "tasks"?)'],
    ["maxBytes fraction", base({ detection: { maxBytes: 100.5 } }), "detection.maxBytes: expected a whole number of bytes from 64 to 1048576"],
    ["maxBytes too small", base({ detection: { maxBytes: 10 } }), "detection.maxBytes: expected a whole number of bytes from 64 to 1048576"],
    ["maxBytes too big", base({ detection: { maxBytes: 2097152 } }), "detection.maxBytes: expected a whole number of bytes from 64 to 1048576"],
    ["always not a boolean", base({ detection: { always: "yes" } }), "detection.always: expected true or false, got a string"],
    ["tasks not an object", base({ detection: { tasks: ["coding"] } }), "detection.tasks: expected an object keyed by coding, math, reasoning, writing, translation, summarization or extraction"],
    ["unknown task", base({ detection: { tasks: { codng: {} } } }), 'detection.tasks.codng: unknown task (did you mean "coding"?) (expected coding, math, reasoning, writing, translation, summarization or extraction)'],
    ["default has no keywords", base({ detection: { tasks: { default: {} } } }), 'detection.tasks.default: "default" is what matches no task; it has no keywords'],
    ["rule not an object", base({ detection: { tasks: { math: true } } }), 'detection.tasks.math: expected an object {"keywords": {...}, "builtin": true|false}'],
    ["unknown rule field", base({ detection: { tasks: { math: { keyword: {} } } } }), 'detection.tasks.math.keyword: unknown field (did you mean "keywords"?)'],
    ["builtin not a boolean", base({ detection: { tasks: { math: { builtin: 0 } } } }), "detection.tasks.math.builtin: expected true or false, got a number"],
    ["keywords as a list", base({ detection: { tasks: { math: { keywords: ["sum"] } } } }), 'detection.tasks.math.keywords: expected an object of keyword → weight, e.g. {"kubernetes": 2}'],
    ["zero weight", base({ detection: { tasks: { math: { keywords: { sum: 0 } } } } }), "detection.tasks.math.keywords.sum: expected a weight between -10 and 10, not 0, got 0"],
    ["weight too big", base({ detection: { tasks: { math: { keywords: { sum: 11 } } } } }), "detection.tasks.math.keywords.sum: expected a weight between -10 and 10, not 0, got 11"],
    ["weight not a number", base({ detection: { tasks: { math: { keywords: { sum: "2" } } } } }), "detection.tasks.math.keywords.sum: expected a weight between -10 and 10, not 0, got a string"],
    ["empty keyword", base({ detection: { tasks: { math: { keywords: { "*": 1 } } } } }), "detection.tasks.math.keywords.*: expected 1 to 64 bytes of text (a trailing * marks a prefix)"],
    ["keyword too long", base({ detection: { tasks: { math: { keywords: { ["x".repeat(65)]: 1 } } } } }), `detection.tasks.math.keywords.${"x".repeat(65)}: expected 1 to 64 bytes of text (a trailing * marks a prefix)`],
    ["control character", base({ detection: { tasks: { math: { keywords: { "a\tb": 1 } } } } }), "detection.tasks.math.keywords.a\tb: a keyword must not contain control characters"],
    ["unknown complexity marker", base({ detection: { complexity: { medium: {} } } }), "detection.complexity.medium: unknown complexity marker (expected reasoning, complex or simple)"],
    ["uppercase taskHeader", base({ taskHeader: "X-Task" }), 'taskHeader: expected a lower-case header name ("x-task")'],
    ["invalid header character", base({ complexityHeader: "x tier" }), "complexityHeader: expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"],
    ["reserved header", base({ taskHeader: "authorization" }), 'taskHeader: "authorization" carries credentials; expected a header of your own, such as x-llm-upstream'],
    ["pseudo-header", base({ taskHeader: ":path" }), 'taskHeader: ":path" is a pseudo-header; expected an ordinary header name'],
    ["taskHeader = modelHeader", base({ taskHeader: "x-llm-model" }), "taskHeader: must differ from upstreamHeader and modelHeader"],
    ["complexityHeader = taskHeader", base({ taskHeader: "x-t", complexityHeader: "x-t" }), "complexityHeader: must differ from taskHeader"],
    ["byTask not an object", base({}, { auto: { strategy: "price", byTask: "best" } }), "routes.auto.byTask: expected an object of task → route name"],
    ["empty byTask", base({}, { auto: { strategy: "price", byTask: {} } }), "routes.auto.byTask: expected at least one task"],
    ["unknown task in byTask", base({}, { best: { strategy: "price" }, auto: { strategy: "price", byTask: { summarisation: "best" } } }), 'routes.auto.byTask.summarisation: unknown task (did you mean "summarization"?) (expected coding, math, reasoning, writing, translation, summarization, extraction or default)'],
    ["target not a string", base({}, { auto: { strategy: "price", byTask: { coding: 1 } } }), "routes.auto.byTask.coding: expected a route name"],
    ["unknown target route", base({}, { best: { strategy: "price" }, auto: { strategy: "price", byTask: { coding: "bset" } } }), 'routes.auto.byTask.coding: unknown route "bset" (did you mean "best"?)'],
    ["target is a model", base({}, { auto: { strategy: "price", byTask: { coding: "coder" } } }), 'routes.auto.byTask.coding: "coder" is a model; delegation targets are routes (add a route with "models": ["coder"])'],
    ["delegating to itself", base({}, { auto: { strategy: "price", byTask: { coding: "auto" } } }), "routes.auto.byTask.coding: a route cannot delegate to itself"],
    ["two hops", base({}, { a: { strategy: "price" }, b: { strategy: "price", byComplexity: { simple: "a" } }, auto: { strategy: "price", byTask: { coding: "b" } } }), 'routes.auto.byTask.coding: route "b" delegates too (byTask/byComplexity); delegation is one hop'],
    ["cycle", base({}, { a: { strategy: "price", byTask: { math: "b" } }, b: { strategy: "price", byTask: { math: "a" } } }), 'routes.a.byTask.math: route "b" delegates too (byTask/byComplexity); delegation is one hop'],
    ["unknown tier", base({}, { a: { strategy: "price" }, auto: { strategy: "price", byComplexity: { hard: "a" } } }), "routes.auto.byComplexity.hard: unknown complexity tier (expected simple, medium, complex or reasoning)"],
    ["strategy needed when not every request is delegated", base({}, { a: { strategy: "price" }, auto: { byTask: { coding: "a" } } }), "routes.auto.strategy: required"],
  ];
  for (const [name, cfg, message] of cases) {
    it(name, async () => {
      expect(await rejected(cfg)).toBe(message);
    });
  }
  it("more keywords than the matcher may hold", async () => {
    let x = 7;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 26);
    const keywords: Json = {};
    for (let i = 0; i < 400; i++) keywords[Array.from({ length: 60 }, () => String.fromCharCode(97 + rnd())).join("")] = 1;
    expect(await rejected(base({ detection: { tasks: { coding: { keywords } } } }))).toBe("detection: the keywords need more than 16384 matcher states; use fewer or shorter keywords");
  });
  it("settings are validated even when no route detects", async () => {
    expect(await rejected({ models, routes: { cheap: { strategy: "price" } }, detection: { maxBytes: 1 } })).toBe("detection.maxBytes: expected a whole number of bytes from 64 to 1048576");
  });
});
