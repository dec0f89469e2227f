// The gateway driven by the official OpenAI SDKs (npm `openai`, Python `openai` from .venv), as an
// application would use it: chat, streaming, tools, embeddings, errors, model listing.
import { execFile } from "node:child_process";
import { join } from "node:path";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { embeddingOf } from "../../mock/provider.mjs";
import { ROOT, readRouterConfig, useGateway } from "./harness";

// Table routing: the SDK checks expect the models the table picks (live estimates would follow the mocks).
const gw = useGateway({ pluginConfig: { ...readRouterConfig(), live: false } });

/** Runs the Python client (asynchronously: the mock providers live in this process). */
function runPython(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const python = join(ROOT, ".venv", "bin", "python");
  return new Promise((resolve) => {
    execFile(python, [join(ROOT, "test", "e2e", "python", "openai_client.py"), `${gw().url}/v1`, EMBED_MODEL, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const router = readRouterConfig();
// The embedding alias of config/router.json once it has one; a catalog model until then.
const EMBED_MODEL = router.routes?.embed ? "embed" : "gpt-4o-mini";
const EXPECTED_IDS = [...Object.keys(router.routes ?? {}), ...router.models.map((m: any) => m.name)].sort();
const tools = [
  {
    type: "function" as const,
    function: {
      name: "get_weather",
      description: "Current weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

describe("npm openai SDK", () => {
  const client = () => new OpenAI({ baseURL: `${gw().url}/v1`, apiKey: "sk-client-side-unused", maxRetries: 0 });

  it("chat: auto is answered by the model the router chose", async () => {
    const r = await client().chat.completions.create({ model: "auto", messages: [{ role: "user", content: "Say hello" }] });
    expect(r.model).toBe("gpt-4o-mini");
    expect(r.choices[0].message.content).toMatch(/^Hello from the mock provider/);
  });

  it("streaming: chunks arrive as an async iterator, with the usage chunk", async () => {
    const stream = await client().chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "Say hello" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 6,
    });
    let text = "";
    let pieces = 0;
    let usage: number | undefined;
    for await (const chunk of stream) {
      expect(chunk.model).toBe("llama-3.1-8b-instant");
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) {
        text += delta;
        pieces++;
      }
      if (chunk.usage) usage = chunk.usage.completion_tokens;
    }
    expect(text).toBe("Hello from the mock provider.");
    expect(pieces).toBe(6);
    expect(usage).toBe(6);
  });

  it("tools: the request reaches a tools-capable model with its tools, and the tool call comes back", async () => {
    const r = await client().chat.completions.create({
      model: "cheap",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools,
      tool_choice: "required",
    });
    expect(r.choices[0].finish_reason).toBe("tool_calls");
    expect(r.choices[0].message.tool_calls?.[0]).toMatchObject({ type: "function", function: { name: "get_weather", arguments: "{}" } });
    const [got] = gw().received();
    const sent = JSON.parse(got.request.body.toString());
    expect(sent.tools).toEqual(tools);
    const model = router.models.find((m: any) => (m.upstreamModel ?? m.name) === sent.model);
    expect(model.capabilities).toContain("tools");
  });

  it("embeddings: the SDK's default base64 and encoding_format float give the same vectors", async () => {
    const r = await client().embeddings.create({ model: EMBED_MODEL, input: ["hello", "world"] });
    expect(r.data).toHaveLength(2);
    expect(gw().received()[0].request.path).toBe("/v1/embeddings");
    expect(JSON.parse(gw().received()[0].request.body.toString()).encoding_format).toBe("base64");
    expect(Array.from(r.data[1].embedding)).toEqual(embeddingOf(1).map((v) => Math.fround(v)));
    const float = await client().embeddings.create({ model: EMBED_MODEL, input: ["hello", "world"], encoding_format: "float" });
    expect(float.data[1].embedding).toEqual(embeddingOf(1));
  });

  it("errors surface as the SDK's typed errors: unknown model 404, no candidate 400", async () => {
    const unknown = await client().chat.completions.create({ model: "no-such-model", messages: [] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe("model_not_found");
    const none = await client().chat.completions.create({ model: "auto", messages: [], max_tokens: 1_000_000 }).catch((e) => e);
    expect(none).toBeInstanceOf(OpenAI.BadRequestError);
    expect(none.code).toBe("model_not_available");
    expect(gw().received()).toHaveLength(0);
  });

  it("models.list: the aliases and the catalog models, in OpenAI's list format", async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(EXPECTED_IDS);
  });
});

describe("Python openai SDK (.venv)", () => {
  it("chat, streaming, tools, embeddings and typed errors", async () => {
    const r = await runPython([]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.chat).toEqual({ model: "gpt-4o-mini", content: expect.stringMatching(/^Hello from the mock provider/), finish_reason: "length" });
    expect(out.stream).toEqual({ text: "Hello from the mock provider.", chunks: 6, models: ["llama-3.1-8b-instant"], completion_tokens: 6 });
    expect(out.tools).toMatchObject({ name: "get_weather", arguments: "{}", finish_reason: "tool_calls" });
    expect(out.embeddings).toMatchObject({ count: 2 });
    expect(out.unknown_model).toEqual({ raised: "NotFoundError", status: 404, code: "model_not_found" });
    expect(out.no_candidate).toEqual({ raised: "BadRequestError", status: 400, code: "model_not_available" });
  });

  it("models.list", async () => {
    const r = await runPython(["--models"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).models).toEqual(EXPECTED_IDS);
  });
});
