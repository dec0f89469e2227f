// Options of the generated bootstrap that change what reaches a provider: --default-provider
// (requests the plugin does not route go to one provider instead of the JSON 404).
import { describe, expect, it } from "vitest";
import { mockKeyFor, postJson, readRouterConfig, send, useGateway } from "./harness";

describe("--default-provider openai", () => {
  const gw = useGateway({ pluginConfig: { ...readRouterConfig(), live: false }, generator: { defaultProvider: "openai" } });

  it("an unrouted path goes to openai with openai's path and key, without routing headers or the client's key", async () => {
    const reply = await send(gw().url, { method: "GET", path: "/v1/files", headers: { authorization: "Bearer client", "x-llm-upstream": "groq" } });
    // the mock has no files API: its own 404 shows the request reached the provider
    expect(reply.headers["x-mock-provider"], reply.text).toMatch(/^openai-[12]$/);
    const [got, ...rest] = gw().received();
    expect(rest).toHaveLength(0);
    expect(got.cluster).toBe("openai");
    expect(got.request.path).toBe("/v1/files");
    expect(got.request.headers.authorization).toBe(`Bearer ${mockKeyFor("openai")}`);
    expect(got.request.headers.host).toBe("api.openai.com");
    expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
  });

  it("a model outside the configuration passes through to openai untouched", async () => {
    const body = JSON.stringify({ model: "gpt-4.1-nano", messages: [] });
    const reply = await postJson(gw(), "/v1/chat/completions", body);
    expect(reply.status, reply.text).toBe(200);
    const [got] = gw().received();
    expect(got.cluster).toBe("openai");
    expect(got.request.body.toString()).toBe(body);
  });

  it("an upload larger than maxBodyBytes on a path the plugin never reads streams through to openai", async () => {
    const body = Buffer.alloc(readRouterConfig().maxBodyBytes + 2 * 1024 * 1024, 0x61);
    const reply = await send(gw().url, { method: "POST", path: "/v1/files", body, headers: { "content-type": "application/octet-stream" }, timeoutMs: 20_000 });
    expect(reply.headers["x-mock-provider"], reply.text).toMatch(/^openai-[12]$/);
    const [got] = gw().received();
    expect(got.request.body.length).toBe(body.length);
  });

  it("aliases are still routed by the plugin", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model: "fast", messages: [] }));
    expect(reply.status, reply.text).toBe(200);
    expect(gw().received()[0].cluster).toBe("groq");
  });
});
