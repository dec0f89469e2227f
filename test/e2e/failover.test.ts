// Cross-model failover through real Envoy 1.40 with the generated bootstrap: the plugin names a
// fallback chain, Envoy moves the attempts from provider to provider (aggregate cluster,
// previous_priorities), and the same module as the upstream filter makes each attempt its
// provider's (model id, path, Host, key). Mock providers fail on command: an error status, a reset,
// nothing listening, a stream cut after its first byte.
import { request as httpRequest } from "node:http";
import http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { mockKeyFor, postJson, readRouterConfig, send, sseData, useGateway, type Gateway, type Reply } from "./harness";

const base = readRouterConfig();
// Table routing (deterministic choices): auto = gpt-4o-mini (openai) then deepseek-chat; fast =
// llama-3.1-8b (groq) then gpt-4o-mini; sturdy = gpt-4o, deepseek-chat, llama-3.1-8b (quality).
const config = {
  ...base,
  live: false,
  maxClientFallbacks: 2,
  models: base.models.map((m: any) => (m.name === "deepseek-chat" ? { ...m, fallbacks: ["llama-3.1-8b"] } : m)),
  routes: { ...base.routes, sturdy: { strategy: "quality", maxFallbacks: 2, models: ["gpt-4o", "deepseek-chat", "llama-3.1-8b"] } },
};

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: "user", content: "hello" }], ...extra });

function failProvider(g: Gateway, cluster: string, knobs: Record<string, unknown>): void {
  for (const [name, p] of Object.entries(g.providers)) if (g.clusterOf[name] === cluster) p.setKnobs({ failureRate: 1, ...knobs });
}

function received(g: Gateway, cluster: string) {
  return g.received().filter((r) => r.cluster === cluster).map((r) => ({
    path: r.request.path,
    headers: r.request.headers,
    body: JSON.parse(r.request.body.toString("utf8")),
  }));
}

async function accessLines(g: Gateway): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 250));
  return g.envoy.log().split("\n").filter((l) => l.startsWith("[access]"));
}

// A streamed answer read until the connection ends, cleanly or not.
function streamUntilCut(g: Gateway, body: string): Promise<{ status: number; text: string; aborted: boolean }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port: g.port, path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, aborted: false }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, text, aborted: true }));
      res.on("aborted", () => resolve({ status: res.statusCode ?? 0, text, aborted: true }));
    });
    req.on("error", () => resolve({ status: 0, text: "", aborted: true }));
    req.end(body);
  });
}

function servedBy(reply: Reply, model: string, upstreamModel: string): void {
  expect(reply.status, reply.text).toBe(200);
  expect(reply.headers["x-llm-served-model"]).toBe(model);
  // The provider's own answer is untouched: its `model` is the id it received.
  expect(reply.json().model).toBe(upstreamModel);
}

describe("failover through Envoy", () => {
  const gw = useGateway({ pluginConfig: config });

  for (const [what, knobs] of [
    ["answers 503", { failureStatus: 503 }],
    ["answers 429", { failureStatus: 429 }],
    ["resets the connection", { failureMode: "reset" }],
  ] as const) {
    it(`the first provider ${what}: 200 from the next model, each provider got its own model, path and key`, async () => {
      const g = gw();
      failProvider(g, "openai", knobs);
      const reply = await postJson(g, "/v1/chat/completions", chat("auto"));
      servedBy(reply, "deepseek-chat", "deepseek-chat");
      const [first] = received(g, "openai");
      expect(first.body.model).toBe("gpt-4o-mini");
      expect(first.path).toBe("/v1/chat/completions");
      expect(first.headers.authorization).toBe(`Bearer ${mockKeyFor("openai")}`);
      expect(first.headers.host).toBe("api.openai.com");
      const [second] = received(g, "deepseek");
      expect(second.body).toEqual({ model: "deepseek-chat", messages: [{ role: "user", content: "hello" }] });
      expect(second.path).toBe("/v1/chat/completions");
      expect(second.headers.authorization).toBe(`Bearer ${mockKeyFor("deepseek")}`);
      expect(second.headers.host).toBe("api.deepseek.com");
      for (const r of [first, second]) {
        expect(r.headers["x-llm-upstream"]).toBeUndefined();
        expect(r.headers["x-llm-chain"]).toBeUndefined();
      }
      const line = (await accessLines(g)).at(-1)!;
      expect(line).toContain("cluster=openai+deepseek model=gpt-4o-mini served=deepseek-chat ");
      expect(line).toContain(" attempts=2 ");
    });
  }

  it("a model's fallback on a provider with another base path: its path, key and model id", async () => {
    const g = gw();
    failProvider(g, "deepseek", { failureStatus: 502 });
    const reply = await postJson(g, "/v1/chat/completions?x=1", chat("deepseek-chat"));
    servedBy(reply, "llama-3.1-8b", "llama-3.1-8b-instant");
    const [groq] = received(g, "groq");
    expect(groq.path).toBe("/openai/v1/chat/completions?x=1");
    expect(groq.headers.authorization).toBe(`Bearer ${mockKeyFor("groq")}`);
    expect(groq.headers.host).toBe("api.groq.com");
    expect(groq.body.model).toBe("llama-3.1-8b-instant");
    expect(received(g, "deepseek")[0].body.model).toBe("deepseek-chat");
  });

  it("a streaming request whose first provider answers 503 streams from the second", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    g.providers.deepseek.setKnobs({ tokensPerSecond: 50 });
    const reply = await postJson(g, "/v1/chat/completions", chat("auto", { stream: true }));
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("text/event-stream");
    expect(reply.headers["x-llm-served-model"]).toBe("deepseek-chat");
    const events = sseData(reply.text);
    expect(events.at(-1)).toBe("[DONE]");
    expect(JSON.parse(events[0]).model).toBe("deepseek-chat");
    expect(JSON.parse(events[0]).system_fingerprint).toBe("mock-deepseek");
    // chunk by chunk, not in one piece
    expect(reply.chunks.length).toBeGreaterThan(1);
  });

  it("every provider failing: the client gets the last error, after one attempt per model of the chain", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    failProvider(g, "deepseek", { failureStatus: 500 });
    failProvider(g, "groq", { failureStatus: 429 });
    const reply = await postJson(g, "/v1/chat/completions", chat("sturdy"));
    expect(reply.status).toBe(429);
    expect(reply.json().error.message).toBe("mock provider groq: injected failure");
    // No model served it: the header names a model only on a provider's 2xx.
    expect(reply.headers["x-llm-served-model"]).toBeUndefined();
    expect(received(g, "openai").map((r) => r.body.model)).toEqual(["gpt-4o"]);
    expect(received(g, "deepseek").map((r) => r.body.model)).toEqual(["deepseek-chat"]);
    expect(received(g, "groq").map((r) => r.body.model)).toEqual(["llama-3.1-8b-instant"]);
    const line = (await accessLines(g)).at(-1)!;
    expect(line).toContain("cluster=openai+deepseek+groq model=gpt-4o served=llama-3.1-8b ");
    expect(line).toContain(" attempts=3 ");
  });

  it("a stream broken after its first byte is not retried", async () => {
    const g = gw();
    failProvider(g, "openai", { failureMode: "midstream" });
    const cut = await streamUntilCut(g, chat("auto", { stream: true }));
    expect(cut.status).toBe(200);
    expect(cut.aborted).toBe(true);
    const events = sseData(cut.text);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]).system_fingerprint).toMatch(/^mock-openai-/);
    expect(received(g, "deepseek")).toHaveLength(0);
    expect((await accessLines(g)).at(-1)).toContain(" attempts=1 ");
  });

  it("a client's models list is honoured in order, and no provider sees it", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    failProvider(g, "deepseek", { failureStatus: 503 });
    const reply = await postJson(g, "/v1/chat/completions", chat("gpt-4o", { models: ["deepseek-chat", "llama-3.1-8b"] }));
    servedBy(reply, "llama-3.1-8b", "llama-3.1-8b-instant");
    expect(received(g, "openai")[0].body).toEqual({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
    expect(received(g, "deepseek")[0].body).toEqual({ model: "deepseek-chat", messages: [{ role: "user", content: "hello" }] });
    expect(received(g, "groq")[0].body).toEqual({ model: "llama-3.1-8b-instant", messages: [{ role: "user", content: "hello" }] });
    // Without `model`, the list's first entry is the model (OpenRouter).
    g.resetRequests();
    const listOnly = await postJson(g, "/v1/chat/completions", JSON.stringify({ models: ["gpt-4o-mini", "llama-3.1-8b"], messages: [] }));
    servedBy(listOnly, "llama-3.1-8b", "llama-3.1-8b-instant");
    expect(received(g, "groq")[0].body).toEqual({ messages: [], model: "llama-3.1-8b-instant" });
    const bad = await postJson(g, "/v1/chat/completions", chat("auto", { models: ["nope"] }));
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe("invalid_models");
  });

  it("an HTTP/2 request that ends with trailers is rewritten for the next model too", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    const session = http2.connect(g.url);
    try {
      const reply = await new Promise<{ status: number; served: string; text: string }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" }, { waitForTrailers: true });
        let status = 0, served = "", text = "";
        req.on("response", (h) => {
          status = Number(h[":status"]);
          served = String(h["x-llm-served-model"] ?? "");
        });
        req.on("wantTrailers", () => req.sendTrailers({ "x-client-trailer": "1" }));
        req.on("data", (d) => (text += d));
        req.on("end", () => resolve({ status, served, text }));
        req.on("error", reject);
        req.end(chat("auto"));
      });
      expect(reply.status, reply.text).toBe(200);
      expect(reply.served).toBe("deepseek-chat");
      expect(JSON.parse(reply.text).model).toBe("deepseek-chat");
      expect(received(g, "deepseek")[0].body.model).toBe("deepseek-chat");
    } finally {
      session.close();
    }
  });

  it("a request that does not fail goes once, and names the model that served", async () => {
    const g = gw();
    const reply = await postJson(g, "/v1/chat/completions", chat("auto"));
    servedBy(reply, "gpt-4o-mini", "gpt-4o-mini");
    expect(g.received()).toHaveLength(1);
    // a catalog model without fallbacks takes its provider's own route, and names itself too
    const direct = await postJson(g, "/v1/chat/completions", chat("gpt-4o"));
    servedBy(direct, "gpt-4o", "gpt-4o");
  });

  it("x-llm-served-model names a model only when its provider answered with a 2xx", async () => {
    const g = gw();
    // A provider's own error (a 400 it answers, never retried) came from no model that served.
    failProvider(g, "openai", { failureStatus: 400 });
    const refused = await postJson(g, "/v1/chat/completions", chat("gpt-4o-mini"));
    expect(refused.status).toBe(400);
    expect(received(g, "openai")).toHaveLength(1);
    expect(refused.headers["x-llm-served-model"]).toBeUndefined();
    // Nothing answers at all: the gateway's own 503 names no model either.
    for (const cluster of ["openai", "deepseek", "groq"]) failProvider(g, cluster, { failureMode: "reset" });
    const down = await postJson(g, "/v1/chat/completions", chat("sturdy"));
    expect(down.status).toBe(503);
    expect(down.json().error.code).toBe("provider_unavailable");
    expect(down.headers["x-llm-served-model"]).toBeUndefined();
  });

  it("counts fallbacks by route, from-model and to-model in /stats/prometheus", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    await postJson(g, "/v1/chat/completions", chat("auto"));
    await postJson(g, "/v1/chat/completions", chat("auto"));
    const stats = (await send(g.adminUrl, { path: "/stats/prometheus" })).text;
    const line = stats.split("\n").find((l) => l.startsWith("llm_router_fallbacks{") && l.includes('ai_route="auto"'));
    expect(line, stats.split("\n").filter((l) => l.includes("fallback")).join("\n")).toBeDefined();
    expect(line).toContain('from_model="gpt-4o-mini"');
    expect(line).toContain('to_model="deepseek-chat"');
    expect(Number(line!.split(" ").at(-1))).toBeGreaterThanOrEqual(2);
  });
});

describe("an endpoint ejected by outlier detection", () => {
  const gw = useGateway({ pluginConfig: config });

  it("first attempts stay on the chosen model while its provider has a healthy endpoint", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    // Each auto request fails over; five 503s in a row eject an openai endpoint for 30 s.
    for (let i = 0; i < 12; i++) servedBy(await postJson(g, "/v1/chat/completions", chat("auto")), "deepseek-chat", "deepseek-chat");
    const stats = (await send(g.adminUrl, { path: "/stats?filter=cluster.openai.outlier_detection.ejections_active" })).text;
    expect(Number(/ejections_active: (\d+)/.exec(stats)?.[1])).toBeGreaterThanOrEqual(1);
    g.resetKnobs();
    g.resetRequests();
    // Envoy would spread a share of the first attempts to the next priority (deepseek) now; the
    // provider clusters' overprovisioning factor keeps them on openai's healthy endpoint.
    for (let i = 0; i < 20; i++) servedBy(await postJson(g, "/v1/chat/completions", chat("auto")), "gpt-4o-mini", "gpt-4o-mini");
    expect(received(g, "deepseek")).toHaveLength(0);
  });
});

describe("nothing listening", () => {
  const gw = useGateway({ pluginConfig: config });

  it("a provider with nothing listening: the request moves on to the next model", async () => {
    const g = gw();
    for (const [name, p] of Object.entries(g.providers)) if (g.clusterOf[name] === "groq") await p.close();
    const reply = await postJson(g, "/v1/chat/completions", chat("fast"));
    servedBy(reply, "gpt-4o-mini", "gpt-4o-mini");
    const [openai] = received(g, "openai");
    expect(openai.path).toBe("/v1/chat/completions");
    expect(openai.headers.authorization).toBe(`Bearer ${mockKeyFor("openai")}`);
    expect((await accessLines(g)).at(-1)).toContain("cluster=groq+openai model=llama-3.1-8b served=gpt-4o-mini ");
  });
});

describe("live statistics per attempt", () => {
  const gw = useGateway({ pluginConfig: { ...config, live: { failureThreshold: 3, explore: 0, spread: 0 } } });

  it("the failed attempts cool the failing model down; the model that served stays healthy", async () => {
    const g = gw();
    failProvider(g, "openai", { failureStatus: 503 });
    // `best` ranks by quality alone (failure rates do not move it): gpt-4o, then deepseek-chat.
    for (let i = 0; i < 3; i++) servedBy(await postJson(g, "/v1/chat/completions", chat("best")), "deepseek-chat", "deepseek-chat");
    await new Promise((r) => setTimeout(r, 300));
    const log = g.envoy.log();
    expect(log).toContain('model "gpt-4o" cooling down for 5 s after 3 consecutive failures (last: HTTP 5xx or 429)');
    expect(log).not.toContain('model "deepseek-chat" cooling');
    // gpt-4o cools down: best starts at deepseek-chat, openai sees nothing more.
    g.resetRequests();
    servedBy(await postJson(g, "/v1/chat/completions", chat("best")), "deepseek-chat", "deepseek-chat");
    expect(received(g, "openai")).toHaveLength(0);
  });
});
