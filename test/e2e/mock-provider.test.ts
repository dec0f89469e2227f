// The OpenAI-compatible mock on its own (library and CLI), without Envoy.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddingOf, startMockProvider, type MockProvider } from "../../mock/provider.mjs";
import { ROOT, send, sseData } from "./harness";

let p: MockProvider;

beforeAll(async () => {
  p = await startMockProvider({ port: 0, name: "unit" });
});

afterAll(async () => {
  await p?.close();
});

const post = (path: string, body: string) =>
  send(p.url, { method: "POST", path, body, headers: { "content-type": "application/json" } });

describe("mock provider failure modes and control", () => {
  it("fails by status, by closing the connection, or by cutting a 200 stream after its first event", async () => {
    const m = await startMockProvider({ port: 0, name: "f" });
    try {
      const body = '{"model":"x","stream":true,"messages":[]}';
      const request = () => send(m.url, { method: "POST", path: "/v1/chat/completions", body, headers: { "content-type": "application/json" } });
      m.setKnobs({ failureRate: 1, failureStatus: 502 });
      expect((await request()).status).toBe(502);
      m.setKnobs({ failureMode: "reset" });
      await expect(request()).rejects.toThrow(/socket hang up|ECONNRESET/);
      m.setKnobs({ failureMode: "midstream" });
      await expect(request()).rejects.toThrow(/aborted|ECONNRESET|terminated/);
      expect(m.requests).toHaveLength(3);
    } finally {
      await m.close();
    }
  });

  it("POST /_mock/knobs sets knobs and /_mock/stop takes the mock down (not recorded as requests)", async () => {
    const m = await startMockProvider({ port: 0, name: "c" });
    const knobs = await send(m.url, { method: "POST", path: "/_mock/knobs", body: '{"failureRate":1,"failureStatus":429}' });
    expect(knobs.json()).toMatchObject({ failureRate: 1, failureStatus: 429 });
    expect(m.knobs.failureStatus).toBe(429);
    const stop = await send(m.url, { method: "POST", path: "/_mock/stop", body: "" });
    expect(stop.json()).toEqual({ stopped: "c", hard: false });
    await new Promise((r) => setTimeout(r, 50));
    await expect(send(m.url, { path: "/v1/models" })).rejects.toThrow(/ECONNREFUSED/);
    expect(m.requests).toHaveLength(0);
    await m.close();
  });
});

describe("mock provider", () => {
  it("answers chat completions echoing the model and naming the instance, and records the request", async () => {
    const body = '{"model":"m-1","messages":[{"role":"user","content":"hi"}],"max_tokens":3}';
    const r = await post("/v1/chat/completions", body);
    expect(r.status).toBe(200);
    expect(r.headers["x-mock-provider"]).toBe("unit");
    const j = r.json();
    expect(j.object).toBe("chat.completion");
    expect(j.model).toBe("m-1");
    expect(j.system_fingerprint).toBe("mock-unit");
    expect(j.usage.completion_tokens).toBe(3);
    const rec = p.requests[p.requests.length - 1];
    expect(rec.method).toBe("POST");
    expect(rec.path).toBe("/v1/chat/completions");
    expect(rec.body.toString()).toBe(body);
    expect(rec.headers["content-type"]).toBe("application/json");
  });

  it("streams SSE chunks spaced by tokensPerSecond, then a usage chunk and [DONE]", async () => {
    p.setKnobs({ ttftMs: 50, tokensPerSecond: 25 });
    try {
      const r = await post("/v1/chat/completions", '{"model":"s","stream":true,"max_tokens":4}');
      expect(r.headers["content-type"]).toMatch(/^text\/event-stream/);
      const events = sseData(r.text);
      expect(events[events.length - 1]).toBe("[DONE]");
      const objs = events.slice(0, -1).map((e) => JSON.parse(e));
      expect(objs.filter((o) => o.choices[0]?.delta?.content !== undefined)).toHaveLength(4);
      expect(objs[objs.length - 1].usage.completion_tokens).toBe(4);
      expect(r.chunks.length).toBeGreaterThanOrEqual(4);
      expect(r.chunks[r.chunks.length - 1].at - r.chunks[0].at).toBeGreaterThanOrEqual(100);
    } finally {
      p.setKnobs({ ttftMs: 0, tokensPerSecond: 0 });
    }
  });

  it("serves completions, embeddings and models; anything else is a 404 error JSON", async () => {
    expect((await post("/v1/completions", '{"model":"c","prompt":"x"}')).json().object).toBe("text_completion");
    const emb = (await post("/v1/embeddings", '{"model":"e","input":["a","b"]}')).json();
    expect(emb.data).toHaveLength(2);
    expect(emb.model).toBe("e");
    expect(emb.data[1].embedding).toEqual(embeddingOf(1));
    // encoding_format base64: little-endian float32, as OpenAI answers (the SDKs ask for it)
    const b64 = (await post("/v1/embeddings", '{"model":"e","input":["a","b"],"encoding_format":"base64"}')).json();
    const bytes = Buffer.from(b64.data[1].embedding, "base64");
    const floats = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(4 * i));
    expect(floats).toEqual(embeddingOf(1).map((v) => Math.fround(v)));
    expect((await send(p.url, { path: "/v1/models" })).json().object).toBe("list");
    const nf = await send(p.url, { path: "/v2/whatever" });
    expect(nf.status).toBe(404);
    expect(nf.json().error.type).toBe("invalid_request_error");
    expect((await send(p.url, { path: "/v1/chat/completions" })).status).toBe(404);
  });

  it("fails with failureStatus and an OpenAI error JSON when failureRate is 1", async () => {
    p.setKnobs({ failureRate: 1, failureStatus: 429 });
    try {
      const r = await post("/v1/chat/completions", '{"model":"f"}');
      expect(r.status).toBe(429);
      expect(r.json().error.code).toBe("rate_limit_exceeded");
    } finally {
      p.setKnobs({ failureRate: 0, failureStatus: 503 });
    }
    expect((await post("/v1/chat/completions", '{"model":"f"}')).status).toBe(200);
  });

  it("CLI: --instances starts several providers in one process and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "mock", "provider.mjs"), "--quiet", "--instances", JSON.stringify([{ name: "a", port: 0 }, { name: "b", port: 0, ttftMs: 1 }])],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const urls = await new Promise<string[]>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`no listening lines: ${out}`)), 10_000);
        child.stdout!.on("data", (d) => {
          out += d;
          const found = [...out.matchAll(/mock provider (\w+) listening on (http:\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
          if (found.length === 2) {
            clearTimeout(timer);
            resolve(found);
          }
        });
      });
      for (const line of urls) {
        const [name, url] = line.split(" ");
        const r = await send(url, { path: "/v1/models" });
        expect(r.headers["x-mock-provider"]).toBe(name);
      }
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      expect(await exited).toBe(0);
      clearTimeout(timer);
    }
  });
});
