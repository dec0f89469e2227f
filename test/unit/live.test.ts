// Live signals (README "Live signals", docs/behaviour.md): what the plugin measures on the response
// path, how the shared statistics turn into the estimates routes use, cooldowns with backoff and a
// single probe, spread and exploration, and what happens when the clock steps or shared data is
// garbage. Everything runs in the emulated Envoy process: several worker VMs sharing one
// shared-data store, a controllable clock, upstream answers with timed chunks and Envoy's own
// replies (test/host).
import { describe, expect, it } from "vitest";
import { EnvoyProcess, Status } from "../host/index.ts";
import { errorLines, HIGRESS_WASM, type Json, model, router, rejected } from "./helpers.ts";
import {
  blend, chat, estimateRoutes, estimates, failure, gateway, jsonAnswer, log1p, logLines, modelOf, record,
  streamAnswer, VM_ID, statisticsKey, wallMs,
} from "./live-helpers.ts";

const HALF_LIFE = 60_000;
const PRIOR = 5;

function config(models: Json[], routes: Json, live: Json | boolean = {}): Json {
  return { models, routes: { ...routes, ...estimateRoutes(models.map((m) => m.name)) }, live };
}

describe("what the response path measures", () => {
  const cfg = config([model("A", { ttftMs: 100, tokensPerSecond: 100 })], { fast: { strategy: "latency" } });

  it("a stream: time to first token at the first body byte, speed = tokens / (end - first token)", async () => {
    const g = await gateway(cfg);
    const r = chat(g.workers[0], "fast", streamAnswer({ headersAt: 40, ttftMs: 120, tokens: 50, spanMs: 1000 }), { stream: true });
    expect(r.response!.status).toBe(200);
    // the stream reached the client chunk by chunk, untouched
    expect(r.response!.chunks.length).toBe(51);
    const rec = record(g, "A")!;
    expect(rec.ttft.weight).toBe(1);
    expect(Math.expm1(rec.ttft.mean)).toBeCloseTo(120, 6);
    expect(Math.exp(rec.tps.mean)).toBeCloseTo(50, 6); // 50 tokens in 1000 ms
    expect(rec.failure).toMatchObject({ weight: 1, mean: 0 });
  });

  it("usage split anywhere across chunks (a `data:` prefix, the key, the number) is still read", async () => {
    const g = await gateway(cfg);
    const parts = [
      'data: {"choices":[{"delta":{"content":"hi"}}]}\n\nda',
      'ta: {"choices":[],"usage":{"prompt_tokens":3,"completion_to',
      'kens": 4',
      '2,"total_tokens":45}}\n',
      "\ndata: [DONE]\n\n",
    ];
    const answer = { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 5, body: parts.map((data, i) => ({ at: 100 + i * 250, data })) };
    chat(g.workers[0], "fast", answer, { stream: true });
    // 42 tokens from the first byte (100 ms) to the end (1100 ms)
    expect(Math.exp(record(g, "A")!.tps.mean)).toBeCloseTo(42, 6);
  });

  it("a long stream's usage reads the same whatever the chunking (the direct path inside a chunk, byte by byte at its edges)", async () => {
    const events = Array.from({ length: 6 }, (_, i) => `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"token \\"${i}\\" prompt_tokens"}}]}\n\n`);
    const text = events.join("") +
      'data: {"choices":[],"usage":{"completion_tokens" :\t42,"prompt_tokens": 17 ,"prompt_tokens_details":{"cached_tokens":1},"total_tokens":59.0}}\n\ndata: [DONE]\n\n';
    for (const cut of [1, 7, 64, 65, 100, 200, 333, text.length - 40, text.length - 3]) {
      const g = await gateway(cfg, 1);
      const parts = [text.slice(0, cut), text.slice(cut)];
      const answer = { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 5, body: parts.map((data, i) => ({ at: 100 + i * 1000, data })) };
      chat(g.workers[0], "fast", answer, { stream: true });
      // 42 tokens from the first byte (100 ms) to the end (1100 ms), wherever the chunks were cut
      expect(Math.exp(record(g, "A")!.tps.mean), `cut at ${cut}`).toBeCloseTo(42, 6);
    }
  });

  it("no usage in the stream: one token per JSON event", async () => {
    const g = await gateway(cfg);
    chat(g.workers[0], "fast", streamAnswer({ ttftMs: 100, tokens: 30, spanMs: 1000, usage: false }), { stream: true });
    expect(Math.exp(record(g, "A")!.tps.mean)).toBeCloseTo(30, 6);
  });

  it("the text of the answer cannot fake usage; usage details are not usage", async () => {
    const g = await gateway(cfg);
    const body = [
      { at: 100, data: 'data: {"choices":[{"delta":{"content":"\\"completion_tokens\\": 999, \\"output_tokens\\": 7"}}]}\n\n' },
      { at: 1100, data: 'data: {"usage":{"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":77}}}\n\ndata: [DONE]\n\n' },
    ];
    chat(g.workers[0], "fast", { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 5, body }, { stream: true });
    expect(Math.exp(record(g, "A")!.tps.mean)).toBeCloseTo(3, 6);
  });

  it("a whole JSON answer: its duration splits between first token and generation as the estimates predict", async () => {
    const g = await gateway(cfg);
    // predicted 100 + 20 tokens / 100 tok/s = 300 ms; it took 600 ms: both halves twice as slow
    chat(g.workers[0], "fast", jsonAnswer(600, 20));
    const rec = record(g, "A")!;
    expect(Math.expm1(rec.ttft.mean)).toBeCloseTo(200, 6);
    expect(Math.exp(rec.tps.mean)).toBeCloseTo(50, 6);
  });

  it("the Responses API's output_tokens (not max_output_tokens) counts too", async () => {
    const g = await gateway(cfg);
    const body = '{"id":"resp_1","object":"response","max_output_tokens":null,"output":[{"type":"message"}],"usage":{"input_tokens":5,"output_tokens":20,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":25}}';
    chat(g.workers[0], "fast", { status: 200, headers: { "content-type": "application/json" }, headersAt: 600, body: [{ at: 600, data: body }] });
    expect(Math.exp(record(g, "A")!.tps.mean)).toBeCloseTo(50, 6);
  });

  it("a whole answer without usage gives no timing sample, only health", async () => {
    const g = await gateway(cfg);
    chat(g.workers[0], "fast", jsonAnswer(600, null));
    const rec = record(g, "A")!;
    expect(rec.ttft.weight).toBe(0);
    expect(rec.tps.weight).toBe(0);
    expect(rec.failure.weight).toBe(1);
  });

  it("requests naming a catalog model are observed too", async () => {
    const g = await gateway(cfg);
    chat(g.workers[0], "A", streamAnswer({ ttftMs: 80, tokens: 10, spanMs: 500 }), { stream: true });
    expect(Math.expm1(record(g, "A")!.ttft.mean)).toBeCloseTo(80, 6);
  });

  it("the plugin's own replies and passed-through requests are not observed", async () => {
    const g = await gateway(cfg);
    chat(g.workers[0], "fast", { status: 200 }, { maxTokens: 10_000_000 }); // 400 model_not_available
    chat(g.workers[0], "some-other-model", { status: 503 });
    expect(g.proc.shared.keys(VM_ID)).toEqual([]);
  });
});

describe("estimates: decay and the table as a prior", () => {
  const cfg = config([model("A", { ttftMs: 100, tokensPerSecond: 100 }), model("B", { ttftMs: 300 })], { fast: { strategy: "latency", spread: 0, explore: 0 } });

  it("one slow sample moves the estimate by a factor, not to the sample (prior worth 5 samples)", async () => {
    const g = await gateway(cfg);
    chat(g.workers[0], "A", streamAnswer({ ttftMs: 1000, tokens: 10, spanMs: 100 }), { stream: true });
    const expected = Math.expm1((PRIOR * log1p(100) + log1p(1000)) / (PRIOR + 1));
    expect(estimates(g.workers[0], "A").ttftMs).toBe(Math.round(expected)); // 147 ms, not 1000
    expect(modelOf(chat(g.workers[0], "fast", { status: 200 }, { stream: true }))).toBe("A");
  });

  it("steady evidence wins over the prior, the other worker sees it after its refresh, and without samples it drifts back", async () => {
    const g = await gateway(cfg);
    const [w1, w2] = g.workers;
    for (let i = 0; i < 10; i++) chat(w1, "A", streamAnswer({ ttftMs: 1000, tokens: 10, spanMs: 100 }), { stream: true });
    expect(estimates(w1, "A").ttftMs).toBeGreaterThan(300);
    expect(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))).toBe("B");
    g.proc.advance(1000); // refreshMs: the other worker has read the shared statistics
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("B");
    const rec = record(g, "A")!;
    // four half-lives later the samples weigh 1/16 as much: the estimate is near the table again
    g.proc.advance(4 * HALF_LIFE);
    const expected = Math.expm1(blend(log1p(100), rec.ttft, wallMs(g), HALF_LIFE, PRIOR));
    expect(estimates(w2, "A").ttftMs).toBe(Math.round(expected));
    expect(expected).toBeLessThan(300);
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("A");
  });

  it("halfLifeMs and priorWeight are the configured ones", async () => {
    const g = await gateway({ ...cfg, live: { halfLifeMs: 1000, priorWeight: 1 } });
    // the answer ends at 1000 ms, on a refresh tick; the next tick is one half-life later
    chat(g.workers[0], "A", streamAnswer({ ttftMs: 900, tokens: 10, spanMs: 100 }), { stream: true });
    g.proc.advance(1000);
    // the sample now weighs 0.5 against a prior worth 1
    const expected = Math.expm1((1 * log1p(100) + 0.5 * log1p(900)) / 1.5);
    expect(estimates(g.workers[0], "A").ttftMs).toBe(Math.round(expected));
  });

  it("maxTtftMs and minTokensPerSecond use the estimates", async () => {
    const g = await gateway(config([model("A", { ttftMs: 100, tokensPerSecond: 100 }), model("B", { ttftMs: 100 })], {
      capped: { strategy: "price", maxTtftMs: 200, minTokensPerSecond: 50 },
    }));
    const w = g.workers[0];
    expect(modelOf(chat(w, "capped", { status: 200 }))).toBe("A");
    for (let i = 0; i < 20; i++) chat(w, "A", streamAnswer({ ttftMs: 2000, tokens: 10, spanMs: 100 }), { stream: true });
    expect(modelOf(chat(w, "capped", { status: 200 }))).toBe("B");
  });

  it("a failing model ranks as if each answer took 1 / (1 - failure rate) tries", async () => {
    const g = await gateway(config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 130 })], { fast: { strategy: "latency", spread: 0, explore: 0 } }, { failureThreshold: 100 }));
    const w = g.workers[0];
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A");
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    // failure rate 3 / (5 + 3): A's 100 ms count as 160 ms
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("B");
  });
});

describe("health: cooldown, backoff, one probe", () => {
  const models = [model("A", { ttftMs: 100 }), model("B", { ttftMs: 300 }), model("C", { ttftMs: 300, contextWindow: 1000 })];
  const cfg = config(models, { fast: { strategy: "latency", models: ["A", "B"], spread: 0, explore: 0 } });

  it("3 consecutive failures: the model is dropped before ranking for 5 s; one log line for the whole process", async () => {
    const g = await gateway(cfg);
    const [w1, w2] = g.workers;
    for (let i = 0; i < 3; i++) {
      const r = chat(w1, "fast", failure(503), { stream: true });
      expect(modelOf(r)).toBe("A");
      expect(r.response!.status).toBe(503);
    }
    expect(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))).toBe("B");
    // the other worker too, at its very next request (no refresh tick in between)
    expect(g.proc.clock.pendingTimers()).toBeGreaterThan(0);
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("B");
    expect(logLines(g, "cooling down")).toEqual(['model-router: model "A" cooling down for 5 s after 3 consecutive failures (last: HTTP 503)']);
    const rec = record(g, "A")!;
    expect(rec).toMatchObject({ open: true, consecutive: 3, cooldownMs: 5000, status: 503 });
  });

  it("other 4xx are the client's doing: no cooldown; a success resets the count", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 5; i++) chat(w, "fast", failure(400), { stream: true });
    chat(w, "fast", failure(503), { stream: true });
    chat(w, "fast", failure(503), { stream: true });
    chat(w, "fast", streamAnswer({ ttftMs: 100, tokens: 5, spanMs: 50 }), { stream: true });
    chat(w, "fast", failure(503), { stream: true });
    chat(w, "fast", failure(503), { stream: true });
    expect(record(g, "A")!.consecutive).toBe(2);
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A");
  });

  it("Envoy's own replies count with their cause: connect failure, reset, timeout", async () => {
    for (const [kind, cause] of [["connect-failure", "connect failure"], ["reset-before-response", "connection reset"], ["response-timeout", "timeout"]]) {
      const g = await gateway(cfg);
      const w = g.workers[0];
      for (let i = 0; i < 3; i++) chat(w, "fast", { envoy: kind, at: 10 }, { stream: true });
      expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true })), kind).toBe("B");
      expect(logLines(g, "cooling down"), kind).toEqual([`model-router: model "A" cooling down for 5 s after 3 consecutive failures (last: ${cause})`]);
    }
  });

  it("a stream the upstream cuts after a good start is a failure (reset)", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    const cut = { ...streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 100 }), resetAfterChunks: 2 };
    for (let i = 0; i < 3; i++) expect(chat(w, "fast", cut, { stream: true }).response!.reset).toBe("upstream");
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("B");
    expect(logLines(g, "cooling down")[0]).toContain("(last: connection reset)");
  });

  it("a client that goes away says nothing about the model's health", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 5; i++) chat(w, "fast", streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 100 }), { stream: true, clientAbortAt: 20 });
    expect(record(g, "A")?.consecutive ?? 0).toBe(0);
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A");
  });

  it("the cooldown ends with ONE probe; while it runs nothing else goes there; success closes it", async () => {
    const g = await gateway(cfg);
    const [w1, w2] = g.workers;
    for (let i = 0; i < 3; i++) chat(w1, "fast", failure(503), { stream: true });
    g.proc.advance(5000);
    const during: string[] = [];
    const probe = chat(w1, "fast", () => {
      // while the probe waits for its answer, both workers route elsewhere
      during.push(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))!);
      during.push(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))!);
      return streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 100 });
    }, { stream: true });
    expect(modelOf(probe)).toBe("A");
    expect(during).toEqual(["B", "B"]);
    expect(logLines(g, "one probe request")).toEqual(['model-router: model "A" cooldown over: one probe request goes to it']);
    expect(logLines(g, "healthy again")).toHaveLength(1);
    expect(logLines(g, "healthy again")[0]).toMatch(/^model-router: model "A" healthy again after [\d.]+ s \(cooled down for HTTP 503\)$/);
    expect(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))).toBe("A");
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("A");
    expect(record(g, "A")).toMatchObject({ open: false, consecutive: 0, level: 0 });
  });

  it("several cooldowns at once reach the other worker's next request too", async () => {
    const g = await gateway(config([...models, model("D", { ttftMs: 400 })], { fast: { strategy: "latency", models: ["A", "B", "D"], spread: 0, explore: 0 } }));
    const [w1, w2] = g.workers;
    for (let i = 0; i < 3; i++) chat(w1, "A", failure(503));
    for (let i = 0; i < 3; i++) chat(w1, "B", failure(503));
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("D");
  });

  it("the request path reads one shared-data key (the health generation), nothing else", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    chat(w, "A", streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 50 }), { stream: true });
    const keys: string[] = [];
    const get = w.getSharedData.bind(w);
    w.getSharedData = (key: string) => (keys.push(key), get(key));
    // no `response`: the request stops once it went upstream, so only the request path runs
    w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: '{"model":"fast","stream":true}' });
    expect(keys).toEqual(["model-router/live/v1/health"]);
  });

  it("a probe whose client goes away frees the model for the next probe at once", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "fast", failure(503), { stream: true });
    g.proc.advance(5000);
    const gone = chat(w, "fast", streamAnswer({ ttftMs: 500, tokens: 5, spanMs: 50 }), { stream: true, clientAbortAt: 100 });
    expect(modelOf(gone)).toBe("A");
    expect(gone.response!.reset).toBe("client");
    expect(record(g, "A")!.leaseUntil).toBe(0);
    expect(modelOf(chat(w, "fast", streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 50 }), { stream: true }))).toBe("A");
    expect(record(g, "A")!.open).toBe(false);
  });

  it("a failed probe reopens with a doubled cooldown, up to maxCooldownMs", async () => {
    const g = await gateway({ ...cfg, live: { maxCooldownMs: 15_000 } });
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "fast", failure(503), { stream: true });
    const lengths: number[] = [];
    for (const wait of [5000, 10_000, 15_000, 15_000]) {
      g.proc.advance(wait - 1);
      expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("B");
      g.proc.advance(1);
      expect(modelOf(chat(w, "fast", failure(503), { stream: true }))).toBe("A"); // the probe, failing
      lengths.push(record(g, "A")!.cooldownMs);
    }
    expect(lengths).toEqual([10_000, 15_000, 15_000, 15_000]);
    expect(logLines(g, "still failing")[0]).toBe('model-router: model "A" still failing (HTTP 503): cooling down for 10 s after 4 consecutive failures');
  });

  it("a 429's Retry-After (seconds or HTTP date) makes the cooldown at least that long", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    chat(w, "fast", failure(429), { stream: true });
    chat(w, "fast", failure(429, { "retry-after": "30" }), { stream: true });
    chat(w, "fast", failure(429), { stream: true });
    expect(record(g, "A")!.cooldownMs).toBeCloseTo(30_000 - 10, -2); // asked 30 s, two requests ago
    const g2 = await gateway(cfg);
    const date = new Date(wallMs(g2) + 45_000).toUTCString();
    for (let i = 0; i < 3; i++) chat(g2.workers[0], "fast", failure(429, { "retry-after": date }), { stream: true });
    expect(record(g2, "A")!.cooldownMs).toBeGreaterThan(44_000);
    expect(logLines(g2, "cooling down")[0]).toContain("(last: HTTP 429)");
  });

  it("every candidate cooling down: the one whose cooldown ends first takes the request", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    g.proc.advance(2000);
    for (let i = 0; i < 3; i++) chat(w, "B", failure(503));
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A"); // A ends 2 s before B
  });

  it("when the request rules out the others, the answer names the cooldown", async () => {
    const g = await gateway(config(models, { big: { strategy: "price", models: ["A", "C"] } }));
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    g.proc.advance(1200);
    const r = chat(w, "big", { status: 200 }, { bytes: 8000 }); // C's context window is too small
    expect(r.localResponse!.status).toBe(400);
    expect(r.localResponse!.json().error.message).toBe(
      'no model can serve this request (route "big"): A: cooling down for 4 s after 3 failures; C: needs 2513 tokens, context window is 1000',
    );
  });
});

describe("spread and exploration (fixed clock, fixed seed: the same picks every run)", () => {
  it("latency: every survivor within `spread` of the best gets traffic; spread 0 herds onto the best", async () => {
    const models = [model("A", { ttftMs: 100 }), model("B", { ttftMs: 105 }), model("C", { ttftMs: 130 })];
    const picks = async (spread: number) => {
      const g = await gateway(config(models, { fast: { strategy: "latency", spread, explore: 0 } }));
      const seen: Record<string, number> = {};
      for (let i = 0; i < 200; i++) {
        const m = modelOf(chat(g.workers[0], "fast", { status: 200 }, { stream: true }))!;
        seen[m] = (seen[m] ?? 0) + 1;
      }
      return seen;
    };
    expect(await picks(0)).toEqual({ A: 200 });
    const spread = await picks(0.1);
    expect(Object.keys(spread).sort()).toEqual(["A", "B"]);
    expect(spread.A).toBeGreaterThan(70);
    expect(spread.B).toBeGreaterThan(70);
    expect(Object.keys(await picks(0.5)).sort()).toEqual(["A", "B", "C"]);
    expect(await picks(0.1)).toEqual(spread); // deterministic
  });

  it("throughput: within spread of the best", async () => {
    const g = await gateway(config([model("A", { tokensPerSecond: 1000 }), model("B", { tokensPerSecond: 950 }), model("C", { tokensPerSecond: 500 })], {
      bulk: { strategy: "throughput", spread: 0.1, explore: 0 },
    }));
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(modelOf(chat(g.workers[0], "bulk", { status: 200 }))!);
    expect([...seen].sort()).toEqual(["A", "B"]);
  });

  it("a share of traffic explores survivors with stale statistics; fresh numbers stop it", async () => {
    const models = [model("A", { ttftMs: 100 }), model("B", { ttftMs: 400 })];
    const g = await gateway(config(models, { fast: { strategy: "latency", spread: 0, explore: 0.1 } }, { staleAfterMs: 10_000 }));
    const w = g.workers[0];
    const run = (n: number) => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const m = modelOf(chat(w, "fast", streamAnswer({ headersAt: 2, ttftMs: 5, tokens: 2, spanMs: 5 }), { stream: true }))!;
        seen[m] = (seen[m] ?? 0) + 1;
      }
      return seen;
    };
    // 300 requests of 10 ms: B (never measured) is explored once, then its numbers are fresh
    expect(run(300).B).toBe(1);
    const b = record(g, "B")!;
    expect(b.lastSampleAt).toBeGreaterThan(0);
    g.proc.advance(11_000); // B's numbers are stale again
    expect(run(300).B).toBeGreaterThanOrEqual(1);
  });

  it("price and quality routes never explore", async () => {
    const g = await gateway(config([model("A"), model("B", { price: { input: 2, output: 2 } })], { cheap: { strategy: "price", explore: 0.5 } }));
    for (let i = 0; i < 50; i++) expect(modelOf(chat(g.workers[0], "cheap", { status: 200 }))).toBe("A");
  });
});

describe("wall-clock steps", () => {
  const cfg = config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 200 })], { fast: { strategy: "latency", spread: 0, explore: 0 } });

  it("a clock stepped back an hour does not stretch a cooldown", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "fast", failure(503), { stream: true });
    g.proc.step(-3_600_000);
    g.proc.advance(1000); // a refresh notices the deadline an hour away and cuts it back
    g.proc.advance(5000);
    expect(modelOf(chat(w, "fast", streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 50 }), { stream: true }))).toBe("A");
    expect(record(g, "A")!.open).toBe(false);
  });

  it("a step during a request discards its timings, not its health", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    const r = chat(w, "A", () => {
      g.proc.step(600_000); // ten minutes forward while the answer is on its way
      return streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 50 });
    }, { stream: true });
    expect(r.response!.status).toBe(200);
    const rec = record(g, "A")!;
    expect(rec.ttft.weight).toBe(0);
    expect(rec.failure.weight).toBe(1);
    const back = chat(w, "A", () => {
      g.proc.step(-600_000);
      return streamAnswer({ ttftMs: 50, tokens: 5, spanMs: 50 });
    }, { stream: true });
    expect(back.response!.status).toBe(200);
    expect(record(g, "A")!.ttft.weight).toBe(0);
  });

  it("after a backward step samples keep counting and the estimate stays finite", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    chat(w, "A", streamAnswer({ ttftMs: 300, tokens: 5, spanMs: 50 }), { stream: true });
    g.proc.step(-86_400_000);
    chat(w, "A", streamAnswer({ ttftMs: 300, tokens: 5, spanMs: 50 }), { stream: true });
    const rec = record(g, "A")!;
    expect(rec.ttft.weight).toBeCloseTo(2, 6);
    expect(rec.ttft.at).toBeLessThan(wallMs(g) + 1);
    g.proc.advance(1000);
    expect(Number.isFinite(estimates(w, "A").ttftMs)).toBe(true);
  });
});

describe("fail-open: the table when shared data cannot be trusted or used", () => {
  const cfg = config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 200 })], { fast: { strategy: "latency", spread: 0, explore: 0 } });

  it("garbage under a model's key is ignored (never a trap) and replaced by the next write", async () => {
    const g = await gateway(cfg);
    const w = g.workers[0];
    const key = statisticsKey("up-A", "A");
    const bad = [new Uint8Array(0), new TextEncoder().encode("hello"), new Uint8Array(144), (() => {
      const v = new Uint8Array(144);
      const dv = new DataView(v.buffer);
      dv.setUint32(0, 0x31766c6d, true);
      dv.setFloat64(8, NaN, true);
      return v;
    })()];
    for (const value of bad) {
      g.proc.shared.set(VM_ID, key, value, 0);
      g.proc.advance(1000);
      expect(estimates(w, "A").ttftMs).toBe(100);
      expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A");
    }
    chat(w, "A", streamAnswer({ ttftMs: 120, tokens: 5, spanMs: 50 }), { stream: true });
    expect(record(g, "A")!.ttft.weight).toBe(1);
    expect(w.vmFailed).toBe(false);
  });

  it("a host that refuses shared data: each worker learns on its own and says so once", async () => {
    const g = await gateway(cfg);
    const [w1, w2] = g.workers;
    for (const w of g.workers) w.setSharedData = () => Status.INTERNAL_FAILURE;
    for (let i = 0; i < 3; i++) chat(w1, "fast", failure(503), { stream: true });
    expect(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))).toBe("B");
    g.proc.advance(1000);
    expect(modelOf(chat(w1, "fast", { status: 200 }, { stream: true }))).toBe("B"); // kept across refreshes
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("A"); // w2 never saw a failure
    chat(w2, "fast", { status: 200 }, { stream: true });
    const warnings = g.proc.logs.filter((l) => l.level === 3 && l.message.includes("refused shared data"));
    expect(warnings.map((l) => l.thread)).toEqual(["worker_0", "worker_1"]);
  });
});

describe("\"live\": false", () => {
  it.each([[false], [{ enabled: false, halfLifeMs: 1000 }]])("pure table routing (%j): nothing measured, nothing shared, no tick", async (live) => {
    // metrics off too: with metrics on, a tick pushes the counters every second (test/unit/metrics.test.ts)
    const cfg = { ...config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 105 })], { fast: { strategy: "latency", spread: 0.5, explore: 0.5 } }, live), metrics: false };
    const g = await gateway(cfg);
    const w = g.workers[0];
    for (let i = 0; i < 5; i++) chat(w, "fast", failure(503), { stream: true });
    for (let i = 0; i < 20; i++) expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("A");
    expect(g.proc.shared.keys(VM_ID)).toEqual([]);
    expect(g.proc.clock.pendingTimers()).toBe(1); // only the stats flush
  });
});

describe("the live configuration", () => {
  const base = (live?: unknown, route: Json = {}): Json => ({
    models: [model("A"), model("B")],
    routes: { fast: { strategy: "latency", ...route } },
    ...(live === undefined ? {} : { live }),
  });

  it("absent, true, {} and a full object are accepted", async () => {
    const full = {
      halfLifeMs: 30000, priorWeight: 2, refreshMs: 250, staleAfterMs: 60000, failureThreshold: 5, cooldownMs: 1000,
      maxCooldownMs: 60000, probeTimeoutMs: 10000, spread: 0.2, explore: 0.05,
    };
    for (const live of [undefined, true, false, {}, full, { ...full, enabled: true }, { enabled: false }]) {
      expect((await router(base(live))).configured, JSON.stringify(live)).toBe(true);
    }
    expect((await router(base({}, { spread: 0, explore: 0.5 }))).configured).toBe(true);
  });

  it.each([
    ["a string", "yes", 'live: expected true, false or an object of live settings, got a string'],
    ["a typo", { halfLife: 1 }, 'live.halfLife: unknown field (did you mean "halfLifeMs"?)'],
    ["half-life 0", { halfLifeMs: 0 }, "live.halfLifeMs: expected a positive number"],
    ["prior weight 0", { priorWeight: 0 }, "live.priorWeight: expected a positive number"],
    ["refresh too fast", { refreshMs: 5 }, "live.refreshMs: expected at least 10"],
    ["refresh fraction", { refreshMs: 100.5 }, "live.refreshMs: expected a whole number"],
    ["threshold 0", { failureThreshold: 0 }, "live.failureThreshold: expected at least 1"],
    ["threshold fraction", { failureThreshold: 2.5 }, "live.failureThreshold: expected a whole number"],
    ["cooldown negative", { cooldownMs: -1 }, "live.cooldownMs: expected a positive number"],
    ["max below cooldown", { cooldownMs: 10000, maxCooldownMs: 5000 }, "live.maxCooldownMs: must be at least cooldownMs (10000)"],
    ["spread above 1", { spread: 2 }, "live.spread: expected at most 1"],
    ["explore above 0.5", { explore: 0.6 }, "live.explore: expected at most 0.5"],
    ["probe timeout as string", { probeTimeoutMs: "30s" }, "live.probeTimeoutMs: expected a positive number"],
    ["enabled as string", { enabled: "no" }, "live.enabled: expected true or false"],
    ["disabled but invalid", { enabled: false, spread: 3 }, "live.spread: expected at most 1"],
  ])("%s", async (_name, live, message) => {
    expect(await rejected(base(live))).toBe(message);
  });

  it("route spread and explore are checked with their path", async () => {
    expect(await rejected(base({}, { spread: -0.1 }))).toBe("routes.fast.spread: expected a non-negative number");
    expect(await rejected(base({}, { explore: 1 }))).toBe("routes.fast.explore: expected at most 0.5");
    expect(await rejected(base({}, { sprad: 0.1 }))).toBe('routes.fast.sprad: unknown field (did you mean "spread"?)');
  });

  it("\"live\": false is a kill switch: routes may keep their spread and explore", async () => {
    expect((await router(base(false, { spread: 0.3, explore: 0.1 }))).configured).toBe(true);
  });

  it("a Higress rule with its own live settings gets statistics of its own snapshot", async () => {
    const cfg = {
      ...config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 200 })], { fast: { strategy: "latency", spread: 0, explore: 0 } }),
      _rules_: [{ _match_route_: ["table-only"], live: false }],
    };
    const g = await gateway(cfg, 1);
    const w = g.workers[0];
    for (let i = 0; i < 3; i++) chat(w, "A", failure(503));
    expect(modelOf(chat(w, "fast", { status: 200 }, { stream: true }))).toBe("B");
    const r = w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: '{"model":"fast","stream":true}', routeName: "table-only", response: { status: 200 } });
    expect(modelOf(r)).toBe("A");
  });
});

describe("the Higress build", () => {
  it("measures, cools down and probes the same way", async () => {
    const proc = new EnvoyProcess();
    const cfg = config([model("A", { ttftMs: 100 }), model("B", { ttftMs: 300 })], { fast: { strategy: "latency", spread: 0, explore: 0 } });
    const [w1, w2] = await proc.start({ wasm: HIGRESS_WASM, mode: "higress", workers: 2, vmId: VM_ID, configuration: JSON.stringify(cfg), clusters: ["up-A", "up-B"] });
    const g = { proc, workers: [w1, w2] };
    for (let i = 0; i < 3; i++) chat(w1, "fast", failure(503), { stream: true });
    expect(modelOf(chat(w2, "fast", { status: 200 }, { stream: true }))).toBe("B");
    proc.advance(5000);
    expect(modelOf(chat(w2, "fast", streamAnswer({ ttftMs: 80, tokens: 5, spanMs: 50 }), { stream: true }))).toBe("A");
    expect(record(g, "A")).toMatchObject({ open: false });
    expect(Math.expm1(record(g, "A")!.ttft.mean)).toBeCloseTo(80, 6);
  });
});
