// The mock provider's Anthropic Messages and OpenAI Responses APIs on their own (no Envoy): driven by
// the official SDKs (anthropic from .venv, npm openai), its Anthropic checks (so a translated request
// it accepts is one Anthropic's API would take), its errors in Anthropic's shape, 529 on demand; and
// every golden translated Anthropic request (test/golden/translation) accepted by it.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockProvider, type MockProvider } from "../../mock/provider.mjs";
import { ROOT, send, sseData } from "./harness";

let p: MockProvider;

beforeAll(async () => {
  p = await startMockProvider({ port: 0, name: "claude" });
});

afterAll(async () => {
  await p?.close();
});

const ANTHROPIC_HEADERS = { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" };
const messages = (body: unknown, headers: Record<string, string> = ANTHROPIC_HEADERS) =>
  send(p.url, { method: "POST", path: "/v1/messages", body: typeof body === "string" ? body : JSON.stringify(body), headers });

function runAnthropicSdk(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const python = join(ROOT, ".venv", "bin", "python");
  return new Promise((resolve) => {
    execFile(python, [join(ROOT, "test", "e2e", "python", "anthropic_client.py"), p.url, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as any).code ?? 1) : 0, stdout, stderr }));
  });
}

describe("mock Anthropic Messages API through the official Anthropic Python SDK", () => {
  it("create, stream (text and tool use) and a full tool-call round trip; usage with Anthropic's cache fields", async () => {
    p.setKnobs({ cachedTokens: 0 });
    const r = await runAnthropicSdk(["claude-sonnet-4-5"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sdk_version).toBe("2.17.0");
    expect(out.text).toMatchObject({ model: "claude-sonnet-4-5", text: "Hello from the mock provider", stop_reason: "max_tokens" });
    expect(out.text.id).toMatch(/^msg_/);
    // the system block carries cache_control and nothing was read: a cache write
    expect(out.text.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(out.text.usage.cache_read_input_tokens).toBe(0);
    expect(out.stream).toMatchObject({ pieces: 6, text: "Hello from the mock provider.", final_text: "Hello from the mock provider.", stop_reason: "max_tokens" });
    expect(out.stream.usage.output_tokens).toBe(6);
    expect(out.tools).toMatchObject({ stop_reason: "tool_use", name: "get_weather", input: {}, streamed: { stop_reason: "tool_use", name: "get_weather", input: {} } });
    expect(out.tools.after_result.stop_reason).toBe("max_tokens");
    // the round trip's second request carried the tool_use and its tool_result, and the mock took it
    const last = JSON.parse(p.requests.at(-1)!.body.toString());
    expect(last.messages[2].content[0]).toEqual({ type: "tool_result", tool_use_id: out.tools.id, content: "18°C, sunny" });
    // (SDK 2.17 sends a newer version than the 2023-06-01 Anthropic's docs show; the mock takes any)
    expect(p.requests.at(-1)!.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  }, 90_000);

  it("cache reads on demand (the cachedTokens knob): cache_read_input_tokens, input_tokens without them", async () => {
    p.setKnobs({ cachedTokens: 10 });
    try {
      const body = JSON.stringify({ model: "m", max_tokens: 2, messages: [{ role: "user", content: "x".repeat(200) }] });
      const usage = (await messages(body)).json().usage;
      expect(usage.cache_read_input_tokens).toBe(10);
      expect(usage.cache_creation_input_tokens).toBe(0);
      // the mock's prompt is a quarter of the body's bytes: input_tokens is what the cache did not serve
      expect(usage.input_tokens).toBe(Math.ceil(body.length / 4) - 10);
    } finally {
      p.setKnobs({ cachedTokens: 0 });
    }
  });

  it("529 overloaded_error on demand: the SDK raises OverloadedError; mid-stream error events and cut streams", async () => {
    p.setKnobs({ failureRate: 1, failureStatus: 529, failureMode: "status" });
    try {
      const r = await runAnthropicSdk(["m", "error"]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).error).toEqual({ status: 529, class: "OverloadedError", type: "overloaded_error", message: "Overloaded" });
      p.setKnobs({ failureMode: "error-event" });
      const s = await messages({ model: "m", max_tokens: 4, stream: true, messages: [{ role: "user", content: "Hi" }] });
      expect(s.status).toBe(200);
      const events = sseData(s.text).map((d) => JSON.parse(d));
      expect(events.at(-1)).toEqual({ type: "error", error: { type: "overloaded_error", message: "Overloaded" }, request_id: null });
      p.setKnobs({ failureMode: "midstream" });
      await expect(messages({ model: "m", max_tokens: 4, stream: true, messages: [{ role: "user", content: "Hi" }] })).rejects.toThrow(/aborted|ECONNRESET|terminated/);
    } finally {
      p.setKnobs({ failureRate: 0, failureStatus: 503, failureMode: "status" });
    }
  }, 60_000);

  it("checks what Anthropic's API checks, answering 400 (401 for the key) in Anthropic's error shape", async () => {
    const ok = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] };
    const cases: Array<[unknown, Record<string, string> | undefined, number, RegExp]> = [
      [ok, { "content-type": "application/json", "anthropic-version": "2023-06-01" }, 401, /x-api-key header is required/],
      [ok, { "content-type": "application/json", "anthropic-version": "2023-06-01", authorization: "Basic k" }, 401, /x-api-key header is required/],
      [ok, { "content-type": "application/json", "x-api-key": "k" }, 400, /anthropic-version: header is required/],
      ["{not json", undefined, 400, /parsing the body/],
      [{ ...ok, max_tokens: undefined }, undefined, 400, /^max_tokens: Field required/],
      [{ ...ok, max_tokens: 0 }, undefined, 400, /^max_tokens/],
      [{ ...ok, n: 2 }, undefined, 400, /^n: Extra inputs are not permitted/],
      [{ ...ok, temperature: 1.5 }, undefined, 400, /^temperature/],
      [{ ...ok, messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }] }, undefined, 400, /roles must alternate/],
      [{ ...ok, messages: [{ role: "system", content: "a" }] }, undefined, 400, /^messages\.0\.role/],
      [{ ...ok, messages: [{ role: "user", content: "" }] }, undefined, 400, /text content blocks must be non-empty/],
      [{ ...ok, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/bmp", data: "Qk0=" } }] }] }, undefined, 400, /media_type/],
      [{ ...ok, messages: [{ role: "user", content: "a" }, { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] }, { role: "user", content: "no result" }] }, undefined, 400, /without `tool_result` blocks immediately after: t1/],
      [{ ...ok, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "zz", content: "x" }] }] }, undefined, 400, /unexpected `tool_use_id`/],
      [{ ...ok, messages: [{ role: "user", content: "a" }, { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] }, { role: "user", content: [{ type: "text", text: "first" }, { type: "tool_result", tool_use_id: "t1" }] }] }, undefined, 400, /tool_result blocks must come first/],
      [{ ...ok, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t 1", name: "f", input: {} }] }] }, undefined, 400, /\.id: String should match pattern/],
      [{ ...ok, tools: [{ name: "f", input_schema: { type: "string" } }] }, undefined, 400, /input_schema\.type/],
      [{ ...ok, tools: [{ name: "f", input_schema: { type: "object" } }], tool_choice: { type: "tool", name: "g" } }, undefined, 400, /tool_choice\.name/],
      [{ ...ok, tool_choice: { type: "required" } }, undefined, 400, /^tool_choice/],
    ];
    for (const [body, headers, status, message] of cases) {
      const r = await messages(body, headers);
      expect(r.status, JSON.stringify(body)).toBe(status);
      const j = r.json();
      expect(j.type).toBe("error");
      expect(j.error.type).toBe(status === 401 ? "authentication_error" : "invalid_request_error");
      expect(j.error.message, JSON.stringify(body)).toMatch(message);
      expect(j.request_id).toBe(r.headers["request-id"]);
    }
  });

  it("accepts every request the OpenAI → Anthropic translation wrote in the golden files", async () => {
    const dir = join(ROOT, "test", "golden", "translation", "openai_anthropic", "request");
    let accepted = 0;
    for (const file of readdirSync(dir)) {
      const spec = JSON.parse(readFileSync(join(dir, file), "utf8"));
      if (!spec.expected) continue;
      const body = { ...spec.expected, stream: false };
      const r = await messages(body);
      expect(r.status, `${file}: ${r.text}`).toBe(200);
      expect(r.json().type).toBe("message");
      accepted++;
    }
    expect(accepted).toBeGreaterThan(8);
  });

  it("a model the mock names in its answer, a streamed answer's events in Anthropic's order", async () => {
    const r = await messages({ model: "claude-x", max_tokens: 3, stream: true, messages: [{ role: "user", content: "Hi" }] });
    expect(r.headers["content-type"]).toMatch(/^text\/event-stream/);
    const names = r.text.split("\n").filter((l) => l.startsWith("event: ")).map((l) => l.slice(7));
    expect(names).toEqual(["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(JSON.parse(sseData(r.text)[0]).message.model).toBe("claude-x");
  });
});

describe("mock OpenAI Responses API through the npm openai SDK", () => {
  const client = () => new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "sk-x", maxRetries: 0 });

  it("responses.create: one output_text message and usage", async () => {
    const r = await client().responses.create({ model: "gpt-4.1-mini", input: "Say hello" });
    expect(r.object).toBe("response");
    expect(r.status).toBe("completed");
    expect(r.model).toBe("gpt-4.1-mini");
    expect(r.output_text).toBe("Hello from the mock provider. This is");
    expect(r.usage?.output_tokens).toBe(8);
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + 8);
  });

  it("responses.stream: Responses event names in order, text deltas, the final response with usage", async () => {
    const stream = client().responses.stream({ model: "m", input: [{ role: "user", content: "Hi" }] });
    const types: string[] = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    const final = await stream.finalResponse();
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types.filter((t) => t === "response.output_text.delta")).toHaveLength(8);
    expect(text).toBe("Hello from the mock provider. This is");
    expect(final.output_text).toBe(text);
    expect(final.usage?.output_tokens).toBe(8);
  });

  it("an answer cut by max_output_tokens is incomplete, as the API says", async () => {
    const r = await client().responses.create({ model: "m", input: "Hi", max_output_tokens: 16 });
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details?.reason).toBe("max_output_tokens");
    expect(r.usage?.output_tokens).toBe(16);
  });

  it("errors in OpenAI's shape; a failing knob applies", async () => {
    await expect(client().responses.create({ model: "m", input: "x", max_output_tokens: 3 })).rejects.toMatchObject({ status: 400 });
    p.setKnobs({ failureRate: 1, failureStatus: 429 });
    try {
      await expect(client().responses.create({ model: "m", input: "x" })).rejects.toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    } finally {
      p.setKnobs({ failureRate: 0, failureStatus: 503 });
    }
  });
});
