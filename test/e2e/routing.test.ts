// Real Envoy + build/envoy.wasm + four mock providers, plugin configuration = config/router.json
// with "live": false: the choices below are worked out from the table, and the mocks answer in about
// a millisecond, which live signals would (rightly) learn. Live routing has test/e2e/live.test.ts.
//
// Expected choices, worked out by hand from config/router.json and docs/behaviour.md for the chat
// body below (messages "system"/"You are terse." and "user"/"Say hello to the router." = 48 bytes of
// string values -> ceil(48/4) = 12 input tokens; no max_tokens -> defaultOutputTokens = 512 output):
//
//   model          cost $ (12 in, 512 out)      latency ms (ttft + 512/tps*1000)   tps   quality (default/coding)
//   gpt-4o-mini    (12*.15 + 512*.60)/1e6 = 3.09e-4   400 + 5688.9 = 6088.9        90    7 / 7
//   gpt-4o         (12*2.5 + 512*10)/1e6  = 5.15e-3   500 + 6400   = 6900          80    8.5 / 8.8
//   deepseek-chat  (12*.07 + 512*1.1)/1e6 = 5.64e-4   900 + 8533.3 = 9433.3        60    7.5 / 8.2
//   llama-3.1-8b   (12*.05 + 512*.08)/1e6 = 4.16e-5   150 + 682.7  = 832.7         750   5.5 / 5.5
//
// - auto (balanced, weights quality .5, price .3, latency .2, throughput 0): min-max normalised
//   scores: gpt-4o-mini .5*.5 + .3*(1-.0524) + .2*(1-.6111) = .612; deepseek-chat .5*.667 +
//   .3*(1-.1026) + .2*0 = .603; gpt-4o .5*1 + 0 + .2*(1-.7055) = .559; llama .5*0 + .3 + .2 = .5
//   -> gpt-4o-mini (openai).
// - cheap (price, minQuality 6): llama dropped (5.5 < 6); cheapest of the rest is gpt-4o-mini
//   (3.09e-4 < 5.64e-4) -> openai. With max_tokens 1: gpt-4o-mini 12*.15+.60 = 2.4e-6,
//   deepseek-chat 12*.07+1.1 = 1.94e-6 -> deepseek-chat (deepseek).
// - fast (latency, not streaming): llama-3.1-8b 832.7 ms -> groq, upstream model
//   llama-3.1-8b-instant. Streaming ranks by ttft only: llama 150 ms -> the same.
//   With an image in the messages only the vision models survive (gpt-4o-mini 6088.9 <
//   gpt-4o 6900) -> gpt-4o-mini (openai).
// - bulk (throughput): llama-3.1-8b 750 tok/s -> groq / llama-3.1-8b-instant.
// - best (quality, task coding): gpt-4o 8.8 > deepseek-chat 8.2 > gpt-4o-mini 7 -> gpt-4o (openai).
// - mix (random over gpt-4o-mini weight 3, deepseek-chat weight 1): either, both over many requests.
// - max_tokens 20000 exceeds every maxOutputTokens (16384, 16384, 8192, 8192) -> no candidate,
//   routes have no onNoCandidate -> 400 model_not_available naming all four models.
import { describe, expect, it } from "vitest";
import { mockKeyFor, postJson, readRouterConfig, send, sseData, useGateway, type Reply } from "./harness";

// Each provider's base path (config/router.json `providers`): a client's /v1/<api> reaches <base>/<api>.
const BASE_PATH: Record<string, string> = { openai: "/v1", deepseek: "/v1", groq: "/openai/v1" };

const gw = useGateway({ pluginConfig: { ...readRouterConfig(), live: false } });

const MESSAGES = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say hello to the router." },
];

function chatBody(model: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages: MESSAGES, ...extra });
}

/** The only request any mock received since the last reset. */
function onlyUpstreamRequest() {
  const all = gw().received();
  expect(all.map((r) => `${r.provider} ${r.request.method} ${r.request.path}`)).toHaveLength(1);
  return all[0];
}

/** The gateway's access-log line for the last request (the routing decision Envoy recorded). */
async function lastAccessLine(): Promise<string> {
  await new Promise((r) => setTimeout(r, 250)); // the harness flushes the access log every 100 ms
  const lines = gw().envoy.log().split("\n").filter((l) => l.startsWith("[access]"));
  return lines[lines.length - 1] ?? "";
}

function expectRouted(reply: Reply, cluster: string, modelName: string, upstreamModel: string, api = "/chat/completions") {
  expect(reply.status, reply.text).toBe(200);
  const got = onlyUpstreamRequest();
  expect(got.cluster).toBe(cluster);
  expect(reply.headers["x-mock-provider"]).toBe(got.provider);
  // the provider answered with the model it received
  expect(reply.json().model).toBe(upstreamModel);
  expect(reply.json().system_fingerprint).toBe(`mock-${got.provider}`);
  const sent = JSON.parse(got.request.body.toString("utf8"));
  expect(sent.model).toBe(upstreamModel);
  // the provider's own path and key; the routing headers stayed inside the gateway
  expect(got.request.path.split("?")[0]).toBe(`${BASE_PATH[cluster]}${api}`);
  expect(got.request.headers.authorization).toBe(`Bearer ${mockKeyFor(cluster)}`);
  expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
  expect(got.request.headers["x-llm-model"]).toBeUndefined();
  void modelName;
  return got;
}

describe("aliases from config/router.json reach the expected provider and model", () => {
  const cases: [alias: string, extra: Record<string, unknown>, cluster: string, model: string, upstreamModel: string][] = [
    ["auto", {}, "openai", "gpt-4o-mini", "gpt-4o-mini"],
    ["auto", { stream: false, temperature: 0.3 }, "openai", "gpt-4o-mini", "gpt-4o-mini"],
    ["cheap", {}, "openai", "gpt-4o-mini", "gpt-4o-mini"],
    ["cheap", { max_tokens: 1 }, "deepseek", "deepseek-chat", "deepseek-chat"],
    ["fast", {}, "groq", "llama-3.1-8b", "llama-3.1-8b-instant"],
    ["bulk", {}, "groq", "llama-3.1-8b", "llama-3.1-8b-instant"],
    ["best", {}, "openai", "gpt-4o", "gpt-4o"],
  ];
  for (const [alias, extra, cluster, model, upstreamModel] of cases) {
    it(`${alias} ${JSON.stringify(extra)} -> ${cluster} / ${upstreamModel}`, async () => {
      const reply = await postJson(gw(), "/v1/chat/completions", chatBody(alias, extra));
      expectRouted(reply, cluster, model, upstreamModel);
    });
  }

  it("fast with an image in the messages -> vision models only -> gpt-4o-mini on openai", async () => {
    const body = JSON.stringify({
      model: "fast",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this picture?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          ],
        },
      ],
    });
    const reply = await postJson(gw(), "/v1/chat/completions", body);
    expectRouted(reply, "openai", "gpt-4o-mini", "gpt-4o-mini");
  });

  it("mix picks gpt-4o-mini (openai) or deepseek-chat (deepseek), and both over many requests", async () => {
    const seen = new Set<string>();
    const allowed = new Set(["openai gpt-4o-mini", "deepseek deepseek-chat"]);
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      gw().resetRequests();
      const reply = await postJson(gw(), "/v1/chat/completions", chatBody("mix"));
      expect(reply.status, reply.text).toBe(200);
      const got = onlyUpstreamRequest();
      const key = `${got.cluster} ${JSON.parse(got.request.body.toString()).model}`;
      expect(allowed).toContain(key);
      seen.add(key);
    }
    // P(only gpt-4o-mini in 40 draws at weight 3:1) = 0.75^40 ~ 1e-5
    expect([...seen].sort()).toEqual([...allowed].sort());
  });

  it("an alias with no surviving candidate -> 400 model_not_available naming every model", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("auto", { max_tokens: 20000 }));
    expect(reply.status).toBe(400);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    const err = reply.json().error;
    expect(err.type).toBe("invalid_request_error");
    expect(err.code).toBe("model_not_available");
    for (const name of ["gpt-4o-mini", "gpt-4o", "deepseek-chat", "llama-3.1-8b"]) expect(err.message).toContain(name);
    expect(gw().received()).toHaveLength(0);
  });
});

describe("body and headers", () => {
  it("the provider receives exactly the client's bytes except the model value", async () => {
    // Odd spacing, escapes, non-ASCII, nested "model" keys that must stay, key order kept.
    const before =
      '{\n  "messages": [ {"role":"user", "content": "h\\u00e9llo \\"quoted\\" \\\\ ünïcødé 🚀\\n", "model": "nested-stays"} ],\n' +
      '  "temperature" : 0.25,\t"max_tokens": 64,\n  "model"  :   ';
    const after = '  ,\n  "metadata": {"model": "also-stays", "n": [1, 2.5e3, null, true]}\n}\n';
    const client = Buffer.from(before + '"cheap"' + after, "utf8");
    const expected = Buffer.from(before + JSON.stringify("gpt-4o-mini") + after, "utf8");
    const reply = await postJson(gw(), "/v1/chat/completions", client);
    const got = expectRouted(reply, "openai", "gpt-4o-mini", "gpt-4o-mini");
    expect(got.request.body.toString("utf8")).toBe(expected.toString("utf8"));
    expect(got.request.body.equals(expected)).toBe(true);
    // the body length changed: the upstream request must not carry the client's stale length
    const cl = got.request.headers["content-length"];
    if (cl !== undefined) expect(Number(cl)).toBe(expected.length);
  });

  it("a rewrite to a longer upstream model keeps every other byte (groq)", async () => {
    const client = '{"model":"llama-3.1-8b","messages":[{"role":"user","content":"hi"}],"stream":false}';
    const expected = '{"model":"llama-3.1-8b-instant","messages":[{"role":"user","content":"hi"}],"stream":false}';
    const reply = await postJson(gw(), "/v1/chat/completions", client);
    const got = expectRouted(reply, "groq", "llama-3.1-8b", "llama-3.1-8b-instant");
    expect(got.request.body.toString("utf8")).toBe(expected);
  });

  it("a concrete model whose upstream name is the same goes to its provider unchanged (deepseek-chat)", async () => {
    const client = chatBody("deepseek-chat");
    const reply = await postJson(gw(), "/v1/chat/completions", client);
    const got = expectRouted(reply, "deepseek", "deepseek-chat", "deepseek-chat");
    expect(got.request.body.toString("utf8")).toBe(client);
  });

  it("the access log records the route, cluster and chosen model of a routed request", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions?trace=1", chatBody("fast"));
    const got = expectRouted(reply, "groq", "llama-3.1-8b", "llama-3.1-8b-instant");
    expect(got.request.path).toBe("/openai/v1/chat/completions?trace=1");
    const line = await lastAccessLine();
    expect(line).toContain('"POST /v1/chat/completions?trace=1 HTTP/1.1" 200');
    // An alias has a fallback: its chain's route and cluster, the model chosen (served=: a model the
    // request moved to; - when it did not move).
    expect(line).toContain("route=fallback.2 cluster=groq+openai model=llama-3.1-8b served=- ");
    expect(line).toContain(" attempts=1 ");
    // A catalog model without fallbacks: its provider's own route.
    await postJson(gw(), "/v1/chat/completions", chatBody("deepseek-chat"));
    expect(await lastAccessLine()).toContain("route=provider.deepseek cluster=deepseek model=deepseek-chat served=- ");
  });

  it("the client's own credentials never reach a provider: the provider's key replaces them", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("auto"), {
      authorization: "Bearer client-secret",
      "api-key": "client-secret",
      "x-api-key": "client-secret",
    });
    const got = expectRouted(reply, "openai", "gpt-4o-mini", "gpt-4o-mini");
    expect(JSON.stringify(got.request.headers)).not.toContain("client-secret");
  });

  it("spoofed x-llm-upstream / x-llm-model from the client are ignored", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("auto"), {
      "x-llm-upstream": "deepseek",
      "x-llm-model": "deepseek-chat",
    });
    // the router decides gpt-4o-mini on openai; the provider sees only the router's values
    expectRouted(reply, "openai", "gpt-4o-mini", "gpt-4o-mini");
  });

  it("spoofed headers naming a cluster that does not exist are ignored too", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("best"), { "x-llm-upstream": "evil" });
    expectRouted(reply, "openai", "gpt-4o", "gpt-4o");
  });

  it("the legacy completions and the embeddings endpoints are routed as well", async () => {
    const completion = await postJson(gw(), "/v1/completions", JSON.stringify({ model: "bulk", prompt: "Once upon a time" }));
    expectRouted(completion, "groq", "llama-3.1-8b", "llama-3.1-8b-instant", "/completions");
    expect(completion.json().object).toBe("text_completion");
    gw().resetRequests();
    const embedding = await postJson(gw(), "/v1/embeddings", JSON.stringify({ model: "gpt-4o-mini", input: "hello" }));
    expect(embedding.status, embedding.text).toBe(200);
    const got = onlyUpstreamRequest();
    expect(got.cluster).toBe("openai");
    expect(got.request.path).toBe("/v1/embeddings");
    expect(JSON.parse(got.request.body.toString()).model).toBe("gpt-4o-mini");
  });
});

describe("body size with the shipped configuration (maxBodyBytes 10 MiB)", () => {
  // The bulk sits in a field the token estimate ignores, so the alias still has candidates.
  function bigBody(model: string, size: number): string {
    const head = `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"metadata":{"blob":"`;
    const tail = `"}}`;
    return head + "y".repeat(size - head.length - tail.length) + tail;
  }

  it("a 2 MiB body (over Envoy's default 1 MiB buffer) is routed: the listener limit is raised", async () => {
    const client = bigBody("best", 2 * 1024 * 1024);
    const reply = await postJson(gw(), "/v1/chat/completions", client);
    expect(reply.status, reply.text.slice(0, 500)).toBe(200);
    const got = onlyUpstreamRequest();
    expect(got.cluster).toBe("openai");
    expect(got.request.body.length).toBe(client.length + ("gpt-4o".length - "best".length));
    expect(got.request.body.toString()).toBe(client.replace('"model":"best"', '"model":"gpt-4o"'));
  });

  it("a body just over 10 MiB gets the plugin's JSON 413, not Envoy's own", async () => {
    const client = bigBody("best", 10 * 1024 * 1024 + 64 * 1024);
    const reply = await postJson(gw(), "/v1/chat/completions", client);
    expect(reply.status).toBe(413);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(reply.json().error.code).toBe("request_too_large");
    expect(gw().received()).toHaveLength(0);
  });
});

describe("streaming", () => {
  it("an SSE answer streams through chunk by chunk, with the usage chunk and [DONE]", async () => {
    // groq: first token after 100 ms, then one token every 50 ms (20 tokens/s)
    gw().providers["groq"].setKnobs({ ttftMs: 100, tokensPerSecond: 20 });
    const started = Date.now();
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("fast", { stream: true, max_tokens: 6 }));
    const elapsed = Date.now() - started;
    expect(reply.status, reply.text).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^text\/event-stream/);
    const got = onlyUpstreamRequest();
    expect(got.cluster).toBe("groq");
    expect(JSON.parse(got.request.body.toString()).model).toBe("llama-3.1-8b-instant");
    expect(JSON.parse(got.request.body.toString()).stream).toBe(true);

    const events = sseData(reply.text);
    expect(events[events.length - 1]).toBe("[DONE]");
    const objects = events.slice(0, -1).map((e) => JSON.parse(e));
    const content = objects.filter((o) => o.choices.length > 0 && o.choices[0].delta?.content !== undefined);
    expect(content).toHaveLength(6);
    expect(content.map((o) => o.choices[0].delta.content).join("")).toBe("Hello from the mock provider.");
    for (const o of objects) expect(o.model).toBe("llama-3.1-8b-instant");
    const usage = objects[objects.length - 1];
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(6);

    // Streamed, not buffered: several socket reads, spread over the ~250 ms the tokens take.
    expect(reply.chunks.length).toBeGreaterThanOrEqual(4);
    const first = reply.chunks[0].at;
    const last = reply.chunks[reply.chunks.length - 1].at;
    expect(last - first).toBeGreaterThanOrEqual(150);
    // the first content arrived long before the end of the answer
    const firstText = reply.chunks[0].data.toString();
    expect(firstText).toContain("Hello");
    expect(firstText).not.toContain("[DONE]");
    expect(elapsed).toBeGreaterThanOrEqual(300);
  });
});

describe("errors answered by the plugin", () => {
  it("invalid JSON -> 400 invalid_json as an OpenAI error JSON, nothing forwarded", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", '{"model":"auto","messages":[');
    expect(reply.status).toBe(400);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    const body = reply.json();
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("invalid_json");
    expect(typeof body.error.message).toBe("string");
    expect(gw().received()).toHaveLength(0);
  });

  it("a model that is not a string -> 400 invalid_model", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", '{"model":42,"messages":[]}');
    expect(reply.status).toBe(400);
    expect(reply.json().error.code).toBe("invalid_model");
    expect(gw().received()).toHaveLength(0);
  });
});

describe("requests the plugin does not route never reach a provider", () => {
  function expectJsonError(reply: Reply, status: number, code: string) {
    expect(reply.status, reply.text).toBe(status);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(reply.json().error.code).toBe(code);
    expect(gw().received()).toHaveLength(0);
  }

  it("an unknown path gets the gateway's 404 unknown_url (JSON), nothing is forwarded", async () => {
    expectJsonError(await send(gw().url, { method: "GET", path: "/v1/files" }), 404, "unknown_url");
    expectJsonError(await send(gw().url, { method: "DELETE", path: "/v1/files/file-abc" }), 404, "unknown_url");
  });

  it("a client's x-llm-upstream on an unrouted request is not obeyed", async () => {
    const reply = await send(gw().url, { method: "GET", path: "/v1/files", headers: { "x-llm-upstream": "groq", "x-llm-model": "x" } });
    expectJsonError(reply, 404, "unknown_url");
  });

  it("an unknown model name gets 404 model_not_found like OpenAI's own, nothing is forwarded", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", chatBody("some-model-the-router-does-not-know"));
    expectJsonError(reply, 404, "model_not_found");
    const line = await lastAccessLine();
    expect(line).toContain("route=unrouted.model cluster=- ");
  });

  it("GET /v1/models/<an unknown id> gets 404 model_not_found like OpenAI's own, nothing is forwarded", async () => {
    expectJsonError(await send(gw().url, { method: "GET", path: "/v1/models/gpt-5" }), 404, "model_not_found");
    expectJsonError(await send(gw().url, { method: "GET", path: "/v1/models/org/some-model?x=1" }), 404, "model_not_found");
    // a known one is the plugin's answer
    const known = await send(gw().url, { method: "GET", path: "/v1/models/gpt-4o-mini" });
    expect(known.status).toBe(200);
    expect(known.json().id).toBe("gpt-4o-mini");
  });

  it("a JSON body sent as text/plain is routed all the same, and forwarded as application/json", async () => {
    const client = chatBody("auto");
    const reply = await send(gw().url, { method: "POST", path: "/v1/chat/completions", body: client, headers: { "content-type": "text/plain" } });
    expect(reply.status, reply.text).toBe(200);
    const got = onlyUpstreamRequest();
    expect(got.cluster).toBe("openai");
    expect(got.request.headers["content-type"]).toBe("application/json");
    expect(reply.json().model).toBe("gpt-4o-mini");
  });
});
