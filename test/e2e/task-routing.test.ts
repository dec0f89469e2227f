// Real Envoy + build/envoy.wasm + the four mock providers, plugin configuration = config/router.json
// with task detection switched on:
//   - deepseek-chat is the translation model (quality translation 9.5; gpt-4o has coding 8.8, the
//     best coding score; nobody else scores translation, so their defaults 7 / 8.5 / 5.5 count);
//   - `auto` ranks by quality for the detected task ("task": "auto");
//   - `router` delegates: coding → `best` (quality for coding: gpt-4o), translation → `zh`
//     (deepseek-chat only), everything else → `cheap` (price, minQuality 6).
import { describe, expect, it } from "vitest";
import { postJson, readRouterConfig, useGateway } from "./harness";

function taskConfig() {
  const cfg = readRouterConfig();
  const deepseek = cfg.models.find((m: any) => m.name === "deepseek-chat");
  deepseek.quality = { ...deepseek.quality, translation: 9.5 };
  cfg.routes.auto = { strategy: "quality", task: "auto" };
  cfg.routes.zh = { strategy: "price", models: ["deepseek-chat"] };
  cfg.routes.router = { byTask: { coding: "best", translation: "zh", default: "cheap" } };
  return cfg;
}

const gw = useGateway({ pluginConfig: taskConfig() });

const PYTHON = "How do I read a CSV file with pandas in Python and skip the first two rows?";
const CHINESE_TRANSLATION = "请把下面这段话翻译成英文：我们下周一上午十点在会议室讨论新产品的发布计划。";

async function ask(model: string, content: string, headers: Record<string, string> = {}) {
  const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model, messages: [{ role: "user", content }] }), headers);
  expect(reply.status, reply.text).toBe(200);
  const all = gw().received();
  expect(all).toHaveLength(1);
  const got = all[0];
  gw().resetRequests();
  return { cluster: got.cluster, body: JSON.parse(got.request.body.toString("utf8")), headers: got.request.headers, reply };
}

describe('"task": "auto" through real Envoy', () => {
  it("a Python question goes to the best coding model (gpt-4o on openai)", async () => {
    const got = await ask("auto", PYTHON);
    expect(got.cluster).toBe("openai");
    expect(got.body.model).toBe("gpt-4o");
    // the routing headers end at Envoy; the task headers go on for upstream policies and logs
    expect(got.headers["x-llm-model"]).toBeUndefined();
    expect(got.headers["x-llm-task"]).toBe("coding");
    expect(got.headers["x-llm-complexity"]).toBe("medium");
    expect(got.reply.json().model).toBe("gpt-4o");
  });

  it("a Chinese translation request goes to the translation model (deepseek-chat on deepseek)", async () => {
    const got = await ask("auto", CHINESE_TRANSLATION);
    expect(got.cluster).toBe("deepseek");
    expect(got.body.model).toBe("deepseek-chat");
    expect(got.headers["x-llm-task"]).toBe("translation");
    expect(got.headers["x-llm-complexity"]).toBe("medium");
    // the body reached the provider byte-identical but for the model
    expect(got.body.messages[0].content).toBe(CHINESE_TRANSLATION);
  });

  it("the same request sent by Python's json.dumps (\\uXXXX escapes) is detected the same way", async () => {
    const escaped = JSON.stringify({ model: "auto", messages: [{ role: "user", content: CHINESE_TRANSLATION }] })
      .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const reply = await postJson(gw(), "/v1/chat/completions", escaped);
    expect(reply.status, reply.text).toBe(200);
    const [got] = gw().received();
    expect(got.cluster).toBe("deepseek");
    expect(got.request.headers["x-llm-task"]).toBe("translation");
  });

  it("a greeting is the default task, tier simple, and ranks by default quality (gpt-4o 8.5)", async () => {
    const got = await ask("auto", "hello!");
    expect(got.body.model).toBe("gpt-4o");
    expect(got.headers["x-llm-task"]).toBe("default");
    expect(got.headers["x-llm-complexity"]).toBe("simple");
  });
});

describe("byTask delegation through real Envoy", () => {
  it("coding → best (gpt-4o), translation → zh (deepseek-chat), anything else → cheap (gpt-4o-mini)", async () => {
    expect((await ask("router", PYTHON)).body.model).toBe("gpt-4o");
    expect((await ask("router", CHINESE_TRANSLATION)).body.model).toBe("deepseek-chat");
    const other = await ask("router", "hello!");
    expect(other.body.model).toBe("gpt-4o-mini");
    expect(other.headers["x-llm-task"]).toBe("default");
  });

  it("client-sent task headers are replaced on detecting routes and removed elsewhere", async () => {
    const spoof = { "x-llm-task": "coding", "x-llm-complexity": "reasoning" };
    const detected = await ask("router", "hello!", spoof);
    expect(detected.headers["x-llm-task"]).toBe("default");
    expect(detected.headers["x-llm-complexity"]).toBe("simple");
    const fixed = await ask("cheap", "hello!", spoof);
    expect(fixed.headers["x-llm-task"]).toBeUndefined();
    expect(fixed.headers["x-llm-complexity"]).toBeUndefined();
  });
});
