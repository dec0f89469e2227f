// Ranking strategies (docs/behaviour.md "Strategies"), each with a case that the strategy's own
// formula decides and a naive alternative would get wrong.
import { describe, expect, it } from "vitest";
import { chosen, type Json, model, router, send, user } from "./helpers.ts";

const prompt = (bytes: number) => ({ messages: [{ role: "user", content: "x".repeat(bytes - 4) }] }); // "user" counts too

describe("price", () => {
  // A has the lower summed unit price (3+1=4 < 1+4=5); the per-request cost decides.
  const cfg = {
    models: [model("A", { price: { input: 3, output: 1 } }), model("B", { price: { input: 1, output: 4 } })],
    routes: { cheap: { strategy: "price" } },
  };
  it("long prompt, short answer: B is cheaper per request although its unit prices sum higher", async () => {
    const h = await router(cfg);
    // 40,000 bytes → 10,000 input tokens; A = 30,000+10, B = 10,000+40
    expect(chosen(send(h, { model: "cheap", max_tokens: 10, ...prompt(40_000) }))).toBe("B");
  });
  it("short prompt, long answer: A", async () => {
    const h = await router(cfg);
    expect(chosen(send(h, { model: "cheap", max_tokens: 10_000, ...prompt(40) }))).toBe("A");
  });
  it("uses defaultOutputTokens when no max_* is given, and max_completion_tokens / max_output_tokens", async () => {
    // input 4,000 tokens: A = 12,000 + out, B = 4,000 + 4·out → B while out < 2,666
    const h = await router({ ...cfg, defaultOutputTokens: 3000 });
    expect(chosen(send(h, { model: "cheap", ...prompt(16_000) }))).toBe("A");
    expect(chosen(send(h, { model: "cheap", max_completion_tokens: 100, ...prompt(16_000) }))).toBe("B");
    expect(chosen(send(h, { model: "cheap", max_output_tokens: 100, ...prompt(16_000) }))).toBe("B");
    // max_tokens wins over the others
    expect(chosen(send(h, { model: "cheap", max_tokens: 3000, max_completion_tokens: 100, ...prompt(16_000) }))).toBe("A");
  });
  it("bytesPerToken changes the input estimate", async () => {
    // 8,000 bytes, out 1,000: bytesPerToken 4 → 2,000 in: A 7,000 / B 6,000 → B; bytesPerToken 16 → 500 in: A 2,500 / B 4,500 → A
    const a = await router(cfg);
    expect(chosen(send(a, { model: "cheap", max_tokens: 1000, ...prompt(8000) }))).toBe("B");
    const b = await router({ ...cfg, bytesPerToken: 16 });
    expect(chosen(send(b, { model: "cheap", max_tokens: 1000, ...prompt(8000) }))).toBe("A");
  });
  it("ties go to the earlier model in the route's list, else catalog order", async () => {
    const h = await router({
      models: [model("A"), model("B"), model("C")],
      routes: { p: { strategy: "price" }, q: { strategy: "price", models: ["C", "B", "A"] } },
    });
    expect(chosen(send(h, { model: "p", ...user("x") }))).toBe("A");
    expect(chosen(send(h, { model: "q", ...user("x") }))).toBe("C");
  });
});

describe("latency", () => {
  const cfg = {
    models: [model("A", { ttftMs: 100, tokensPerSecond: 10 }), model("B", { ttftMs: 300, tokensPerSecond: 1000 })],
    routes: { fast: { strategy: "latency" } },
  };
  it("streaming: lowest ttft", async () => {
    expect(chosen(send(await router(cfg), { model: "fast", stream: true, max_tokens: 100, ...user("x") }))).toBe("A");
  });
  it("non-streaming: lowest ttft + out/tps·1000", async () => {
    const h = await router(cfg);
    // A = 100 + 10,000, B = 300 + 100
    expect(chosen(send(h, { model: "fast", max_tokens: 100, ...user("x") }))).toBe("B");
    expect(chosen(send(h, { model: "fast", stream: false, max_tokens: 100, ...user("x") }))).toBe("B");
    // tiny output: A = 100 + 100, B = 300 + 1
    expect(chosen(send(h, { model: "fast", max_tokens: 1, ...user("x") }))).toBe("A");
  });
});

describe("throughput", () => {
  it("highest tokensPerSecond", async () => {
    const h = await router({
      models: [model("A", { tokensPerSecond: 50 }), model("B", { tokensPerSecond: 700, ttftMs: 5000 }), model("C", { tokensPerSecond: 80 })],
      routes: { bulk: { strategy: "throughput" } },
    });
    expect(chosen(send(h, { model: "bulk", ...user("x") }))).toBe("B");
  });
});

describe("quality", () => {
  const models = [
    model("A", { quality: { default: 9, coding: 6 } }),
    model("B", { quality: { default: 7, coding: 8 } }),
    model("C", { quality: 8 }),
    model("D"), // default quality 5
  ];
  it("uses the route task, the model default, a plain number, ties by order", async () => {
    const h = await router({
      models,
      routes: {
        best: { strategy: "quality" },
        code: { strategy: "quality", task: "coding" },
        codeR: { strategy: "quality", task: "coding", models: ["C", "B", "A"] },
        other: { strategy: "quality", task: "poetry" },
        low: { strategy: "quality", models: ["D", "B"] },
      },
    });
    expect(chosen(send(h, { model: "best", ...user("x") }))).toBe("A");
    expect(chosen(send(h, { model: "code", ...user("x") }))).toBe("B"); // B 8 = C 8, B first in catalog
    expect(chosen(send(h, { model: "codeR", ...user("x") }))).toBe("C");
    expect(chosen(send(h, { model: "other", ...user("x") }))).toBe("A");
    expect(chosen(send(h, { model: "low", ...user("x") }))).toBe("B"); // D defaults to 5
  });
});

describe("balanced", () => {
  // Reference implementation of the documented score, to compare against many weightings.
  function expectBalanced(ms: Json[], weights: Json | undefined, req: { input: number; output: number; stream: boolean; task?: string }): string {
    const w = weights ?? { quality: 0.4, price: 0.3, latency: 0.2, throughput: 0.1 };
    const q = ms.map((m) => (typeof m.quality === "object" ? (m.quality[req.task ?? ""] ?? m.quality.default ?? 5) : (m.quality ?? 5)));
    const c = ms.map((m) => (req.input * m.price.input + req.output * m.price.output) / 1e6);
    const l = ms.map((m) => (req.stream ? m.ttftMs : m.ttftMs + (req.output / m.tokensPerSecond) * 1000));
    const t = ms.map((m) => m.tokensPerSecond);
    const norm = (xs: number[]) => {
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      return xs.map((x) => (hi === lo ? 1 : (x - lo) / (hi - lo)));
    };
    const [nq, nc, nl, nt] = [norm(q), norm(c), norm(l), norm(t)];
    let best = 0;
    let bestScore = -Infinity;
    ms.forEach((_, i) => {
      const s = (w.quality ?? 0) * nq[i] + (w.price ?? 0) * (1 - nc[i]) + (w.latency ?? 0) * (1 - nl[i]) + (w.throughput ?? 0) * nt[i];
      if (s > bestScore + 1e-12) {
        bestScore = s;
        best = i;
      }
    });
    return ms[best].name;
  }
  const ms = [
    model("premium", { quality: 9.5, price: { input: 10, output: 30 }, ttftMs: 600, tokensPerSecond: 60 }),
    model("budget", { quality: 5, price: { input: 0.1, output: 0.2 }, ttftMs: 300, tokensPerSecond: 150 }),
    model("speedy", { quality: 6.5, price: { input: 0.6, output: 0.8 }, ttftMs: 120, tokensPerSecond: 900 }),
    model("middle", { quality: { default: 8, coding: 9.8 }, price: { input: 2, output: 6 }, ttftMs: 450, tokensPerSecond: 100 }),
  ];
  const weightings: Array<Json | undefined> = [
    undefined,
    { quality: 1 },
    { price: 1 },
    { latency: 1 },
    { throughput: 1 },
    { quality: 0.5, price: 0.5 },
    { quality: 0.5, price: 0.3, latency: 0.2 },
    { quality: 0.2, latency: 0.8 },
    { quality: 0.35, price: 0.45, throughput: 0.2 },
  ];
  it.each(weightings.map((w) => [JSON.stringify(w) ?? "default weights", w]))("weights %s", async (_n, weights) => {
    const routes: Json = { auto: { strategy: "balanced", ...(weights ? { weights } : {}) } };
    routes.autoCode = { ...routes.auto, task: "coding" };
    const h = await router({ models: ms, routes });
    for (const [stream, output, task] of [[false, 512, undefined], [true, 512, undefined], [false, 4000, "coding"]] as const) {
      const r = send(h, { model: task ? "autoCode" : "auto", stream, max_tokens: output, ...prompt(4000) });
      const want = expectBalanced(ms, weights, { input: 1000, output, stream, task });
      expect(chosen(r), `stream=${stream} out=${output} task=${task}`).toBe(want);
    }
  });
  it("weights change the winner", async () => {
    const h = await router({ models: ms, routes: { q: { strategy: "balanced", weights: { quality: 1 } }, p: { strategy: "balanced", weights: { price: 1 } } } });
    expect(chosen(send(h, { model: "q", ...user("x") }))).toBe("premium");
    expect(chosen(send(h, { model: "p", ...user("x") }))).toBe("budget");
  });
  it("a metric equal for all survivors does not break the score", async () => {
    const same = [model("A", { quality: 7, tokensPerSecond: 100 }), model("B", { quality: 7, tokensPerSecond: 100, price: { input: 0.5, output: 0.5 } })];
    const h = await router({ models: same, routes: { auto: { strategy: "balanced" } } });
    expect(chosen(send(h, { model: "auto", ...user("x") }))).toBe("B");
  });
});

describe("random", () => {
  it("follows the weights and never picks weight 0", async () => {
    const h = await router({
      models: [model("A", { weight: 3 }), model("B", { weight: 1 }), model("Z", { weight: 0 }), model("N")],
      routes: { mix: { strategy: "random", models: ["A", "B", "Z"] }, mix2: { strategy: "random", models: ["Z", "N"] } },
    });
    const n = 4000;
    const count: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const m = chosen(send(h, { model: "mix", ...user("x") }))!;
      count[m] = (count[m] ?? 0) + 1;
    }
    expect(count.Z ?? 0).toBe(0);
    expect(count.A + count.B).toBe(n);
    // expected 0.75; 4000 draws give σ ≈ 0.007
    expect(count.A / n).toBeGreaterThan(0.7);
    expect(count.A / n).toBeLessThan(0.8);
    for (let i = 0; i < 200; i++) expect(chosen(send(h, { model: "mix2", ...user("x") }))).toBe("N");
  });
  it("all weights 0: the first survivor", async () => {
    const h = await router({
      models: [model("A", { weight: 0 }), model("B", { weight: 0, contextWindow: 10 }), model("C", { weight: 0 })],
      routes: { mix: { strategy: "random", models: ["B", "C", "A"] } },
    });
    for (let i = 0; i < 100; i++) expect(chosen(send(h, { model: "mix", ...user("x".repeat(100)) }))).toBe("C");
  });
  it("the default weight is 1", async () => {
    const h = await router({ models: [model("A"), model("B", { weight: 1 })], routes: { mix: { strategy: "random" } } });
    const n = 2000;
    let a = 0;
    for (let i = 0; i < n; i++) if (chosen(send(h, { model: "mix", ...user("x") })) === "A") a++;
    expect(a / n).toBeGreaterThan(0.43);
    expect(a / n).toBeLessThan(0.57);
  });
});
