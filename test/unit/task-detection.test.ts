// Task and complexity detection (docs/behaviour.md "Task detection"): each built-in signal in
// English and Chinese, where the text is taken from in every request format, the limits of the
// examined window, and the task headers on the routed request.
import { describe, expect, it } from "vitest";
import { type Json, model, router, send } from "./helpers.ts";
import type { ProxyWasmHost } from "../host/index.ts";

// One model; a "task": "auto" route just to get the task and tier headers.
const AUTO = { models: [model("m")], routes: { auto: { strategy: "price", task: "auto" } } };

type Detected = { task: string | undefined; tier: string | undefined };

function detected(h: ProxyWasmHost, body: Json | string, path = "/v1/chat/completions"): Detected {
  const r = send(h, body, { path });
  expect(r.outcome, r.localResponse?.text).toBe("upstream");
  return { task: r.upstream!.header("x-llm-task"), tier: r.upstream!.header("x-llm-complexity") };
}

const chat = (content: unknown, extra: Json[] = []) => ({ model: "auto", messages: [...extra, { role: "user", content }] });

async function taskOf(text: string): Promise<string | undefined> {
  return detected(await router(AUTO), chat(text)).task;
}

// Python's json.dumps: every non-ASCII character as a \uXXXX escape (surrogate pairs included).
const pythonJson = (v: unknown) => JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

describe("built-in signals, English and Chinese", () => {
  const cases: Array<[string, string, string]> = [
    // [task, English, Chinese]
    ["coding", "How do I reverse a linked list in Python?", "如何用python读取一个csv文件？"],
    ["coding", "Why does this crash?\n```\nint main() { char *p = 0; *p = 1; }\n```", "这段代码为什么报错？"],
    ["coding", "for (int i = 0; i < n; i++) { sum += a[i]; } if (sum == 0) { return -1; }", "帮我写一个sql查询，统计每个部门的人数"],
    ["math", "Solve the equation 3x + 5 = 20.", "解方程 3x + 5 = 20"],
    ["math", "What is ∫ x² dx from 0 to 3?", "求函数 f(x)=x³ 的导数"],
    ["math", "A train travels 120 km in 1.5 hours. How many km does it travel in 4 hours at the same speed?", "小明有12个苹果，给了小红5个，又买了8个，现在有几个？"],
    ["translation", "Translate this sentence into French: the weather is nice today.", "把这句话翻译成英文：今天天气很好。"],
    ["translation", "How do you say 'thank you very much' in Japanese?", "“The early bird catches the worm”这句话是什么意思？"],
    ["summarization", "Summarize the following article in three bullet points: The city council met on Monday...", "请总结下面这段文字的主要内容：会议讨论了明年的预算……"],
    ["extraction", "Extract all email addresses from this text: contact alice@example.com or bob@example.org.", "请从下面的简历中提取姓名、电话和邮箱。"],
    ["writing", "Write a short poem about the sea at night.", "帮我写一封给客户的感谢信。"],
    ["writing", "Pretend you are a medieval knight and greet the king.", "请你扮演一位导游，向游客介绍西湖。"],
    ["reasoning", "Solve this riddle: what has keys but cannot open locks?", "逻辑题：甲说乙在说谎，乙说丙在说谎，丙说甲和乙都在说谎。谁说了真话？"],
    ["default", "What is the capital of Australia?", "你好，今天过得怎么样？"],
  ];
  for (const [task, en, zh] of cases) {
    it(`${task}: ${JSON.stringify(en.slice(0, 40))} / ${JSON.stringify(zh.slice(0, 20))}`, async () => {
      const h = await router(AUTO);
      expect(detected(h, chat(en)).task).toBe(task);
      expect(detected(h, chat(zh)).task).toBe(task);
    });
  }

  it("Chinese sent as \\uXXXX escapes (Python's json.dumps), lower- or uppercase hex, surrogate pairs", async () => {
    const h = await router(AUTO);
    for (const text of ["把这句话翻译成英文：今天天气很好。", "帮我写一首关于秋天的诗😀", "请总结下面这段文字：𠀀𠀁会议讨论了预算"]) {
      const plain = detected(h, chat(text));
      expect(detected(h, pythonJson(chat(text)))).toEqual(plain);
      expect(detected(h, pythonJson(chat(text)).replace(/\\u([0-9a-f]{4})/g, (_, x) => `\\u${x.toUpperCase()}`))).toEqual(plain);
    }
  });

  it("escaped and raw text detect the same on random mixes of Chinese, full-width forms, ASCII and emoji", async () => {
    // (maxBytes counts raw bytes, 6 per escaped character: make both forms fit the window)
    const h = await router({ ...AUTO, detection: { maxBytes: 65536 } });
    const pieces = ["翻译", "成英文", "总结", "代码", "，", "。", "？", "ｐｙｔｈｏｎ", "Ａ", "write a poem", "😀", "\n", "é", "一步一步", "多少", "12", "+", "提取", "的"];
    let x = 12345;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    for (let i = 0; i < 60; i++) {
      const text = Array.from({ length: 5 + rnd(120) }, () => pieces[rnd(pieces.length)]).join("");
      expect(detected(h, pythonJson(chat(text))), text).toEqual(detected(h, chat(text)));
    }
  });

  it("ASCII letters match case-insensitively and full-width forms fold to ASCII", async () => {
    expect(await taskOf("TRANSLATE THIS INTO GERMAN: GOOD MORNING")).toBe("translation");
    expect(await taskOf("ｐｙｔｈｏｎ怎么安装第三方库？")).toBe("coding");
  });

  it("Latin keywords match whole words only (a trailing * in a keyword matches word starts); Chinese anywhere", async () => {
    expect(await taskOf("We climbed to the summit at dawn; how high is it?")).toBe("default"); // not "sum up"
    expect(await taskOf("Where can I buy a storyboard notebook?")).toBe("default"); // "story" is a keyword, "storyboard" is not
    expect(await taskOf("I need this summarised.")).toBe("summarization"); // "summari*"
    expect(await taskOf("请帮我把这段话翻成英文")).toBe("translation");
  });

  it("mixed scripts push towards translation when nothing else decides", async () => {
    expect(await taskOf("“Knowledge is power” 是什么意思")).toBe("translation");
  });

  it("code in the system prompt or an earlier turn makes a follow-up a coding request", async () => {
    const h = await router(AUTO);
    const followUp = "It still fails with the same error, what else can I try?";
    expect(detected(h, chat(followUp)).task).toBe("default");
    const earlier = [
      { role: "user", content: "My function:\n```js\nfunction f(a) { return a.map(x => x * 2) }\n```" },
      { role: "assistant", content: "Looks fine, what error do you see?" },
    ];
    expect(detected(h, chat(followUp, earlier)).task).toBe("coding");
    expect(detected(h, chat(followUp, [{ role: "system", content: "Review code like:\n```py\nx = 1\n```" }])).task).toBe("coding");
    // Anthropic-style top-level system
    expect(detected(h, { model: "auto", system: "Snippet:\n```\nSELECT 1;\n```", messages: [{ role: "user", content: followUp }] }, "/v1/messages").task).toBe("coding");
  });
});

describe("complexity tiers", () => {
  it("greetings and short factual questions are simple, in both languages", async () => {
    const h = await router(AUTO);
    for (const t of ["hi", "Thanks!", "What is the capital of France?", "你好", "谢谢", "中国的首都是哪里？"]) expect(detected(h, chat(t)).tier, t).toBe("simple");
  });
  it("an ordinary request is medium", async () => {
    expect(detected(await router(AUTO), chat("Write a Python function that merges two sorted lists and explain how it works.")).tier).toBe("medium");
  });
  it("a long technical request with requirements is complex", async () => {
    const text = "Design a distributed rate limiter for a microservice architecture. Requirements: it must handle 100k requests " +
      "per second, stay consistent across three regions and degrade gracefully when a region is down. Compare token bucket and " +
      "sliding window approaches in detail, describe the data structures, and list the edge cases your design must handle.";
    expect(detected(await router(AUTO), chat(text))).toEqual({ task: "coding", tier: "complex" });
    const zh = "请设计一个高并发的分布式订单系统，要求支持每秒十万笔交易，并详细说明数据库分库分表方案、缓存策略和容灾设计，至少给出三种优化方案并比较它们的性能。";
    expect(detected(await router(AUTO), chat(zh)).tier).toBe("complex");
  });
  it("explicit requests to reason step by step or prove are reasoning", async () => {
    const h = await router(AUTO);
    expect(detected(h, chat("Prove that the square root of 2 is irrational, step by step."))).toEqual({ task: "math", tier: "reasoning" });
    expect(detected(h, chat("请一步一步推导勾股定理。"))).toEqual({ task: "math", tier: "reasoning" });
  });
});

describe("where the text comes from", () => {
  it("the LAST user message decides, also when its role comes after its content", async () => {
    const h = await router(AUTO);
    const body = {
      model: "auto",
      messages: [
        { role: "user", content: "Write a Python script that renames files." },
        { role: "assistant", content: "Sure: ```python\nimport os\n```" },
        { content: "Now translate your answer into Spanish, please.", role: "user" },
        { role: "assistant", content: "Claro…" },
      ],
    };
    expect(detected(h, body).task).toBe("translation");
  });
  it("content as an array of text parts (OpenAI) and content blocks (Anthropic /messages)", async () => {
    const h = await router(AUTO);
    const parts = [{ type: "text", text: "Here is a picture of my notes." }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }, { type: "text", text: "Summarize them in one sentence." }];
    const vision = await router({ models: [model("m", { capabilities: ["vision"] })], routes: AUTO.routes });
    expect(detected(vision, chat(parts)).task).toBe("summarization");
    const anthropic = { model: "auto", max_tokens: 100, system: [{ type: "text", text: "You are helpful." }], messages: [{ role: "user", content: [{ type: "text", text: "请把下面的句子翻译成法语：我爱你" }] }] };
    expect(detected(h, anthropic, "/v1/messages").task).toBe("translation");
  });
  it("Responses API input as a string and as a message list; completions prompt", async () => {
    const h = await router(AUTO);
    expect(detected(h, { model: "auto", input: "Translate 'good night' into Italian." }, "/v1/responses").task).toBe("translation");
    const items = { model: "auto", input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "写一首关于春天的诗" }] }] };
    expect(detected(h, items, "/v1/responses").task).toBe("writing");
    expect(detected(h, { model: "auto", prompt: "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n" }, "/v1/completions").task).toBe("coding");
  });
  it("tool results and assistant turns are not the user's request", async () => {
    const h = await router(AUTO);
    const body = {
      model: "auto",
      messages: [
        { role: "user", content: "What's the weather in Paris?" },
        { role: "assistant", tool_calls: [{ id: "1", type: "function", function: { name: "weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "1", content: "Translate: sunny, 21 degrees" },
      ],
    };
    expect(detected(h, body).task).toBe("default");
  });
});

describe("the examined window (detection.maxBytes)", () => {
  const filler = (n: number) => "The committee reviewed the quarterly figures and the plans for next year. ".repeat(Math.ceil(n / 74)).slice(0, n);
  it("a long text is read at its start and its end: an instruction at either end is found", async () => {
    const h = await router(AUTO);
    expect(detected(h, chat(filler(200_000) + "\n\nSummarize the text above in five bullet points.")).task).toBe("summarization");
    expect(detected(h, chat("Translate the following report into German.\n\n" + filler(200_000))).task).toBe("translation");
  });
  it("an instruction in the middle of a text longer than maxBytes is not seen", async () => {
    const text = filler(4000) + " Summarize this. " + filler(4000);
    expect(detected(await router(AUTO), chat(text)).task).toBe("default");
    expect(detected(await router({ ...AUTO, detection: { maxBytes: 16384 } }), chat(text)).task).toBe("summarization");
  });
  it("a small maxBytes examines less", async () => {
    const text = "Please " + filler(300) + " translate the above into French.";
    expect(detected(await router(AUTO), chat(text)).task).toBe("translation");
    const h = await router({ ...AUTO, detection: { maxBytes: 64 } });
    expect(detected(h, chat(filler(300) + " translate it into French. " + filler(300))).task).toBe("default");
  });
  it("random text, randomly escaped, under random windows: never traps, always a task and a tier", async () => {
    const TASKS = ["coding", "math", "reasoning", "writing", "translation", "summarization", "extraction", "default"];
    const TIERS = ["simple", "medium", "complex", "reasoning"];
    let x = 99;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    const units = ["\\", "\"", "\u0000", "\ud800", "\udfff", "\ud83d\ude00", "\uff1f", "é", "翻", "译", "\n", "```", " ", "a", "Z", "7", "\t", "\u4e2d"];
    for (const maxBytes of [64, 65, 97, 128, 333, 4096]) {
      const h = await router({ ...AUTO, detection: { maxBytes } });
      for (let i = 0; i < 40; i++) {
        // JSON string content built from raw units, each unit escaped or not at random
        let content = "";
        for (let k = rnd(400); k > 0; k--) {
          const u = units[rnd(units.length)];
          content += rnd(3) === 0 ? [...u].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("") : JSON.stringify(u).slice(1, -1);
        }
        const r = send(h, `{"model":"auto","messages":[{"role":"user","content":"${content}"}]}`);
        if (r.outcome === "local") { expect(r.localResponse!.status).toBe(400); continue; } // invalid JSON is the scan's answer
        expect(r.outcome).toBe("upstream");
        expect(TASKS).toContain(r.upstream!.header("x-llm-task"));
        expect(TIERS).toContain(r.upstream!.header("x-llm-complexity"));
      }
      expect(h.vmFailed).toBe(false);
    }
  });

  it("never traps on broken escapes cut by the window, lone surrogates or odd text", async () => {
    const h = await router({ ...AUTO, detection: { maxBytes: 64 } });
    for (const content of ["\\".repeat(301), "\ud800\udc00".repeat(50), "\\u4e2d".repeat(40) + "x", "\u0000\u001f\u007f", "é".repeat(500), "```".repeat(100)]) {
      const r = send(h, chat(content));
      expect(r.outcome).toBe("upstream");
    }
    const raw = `{"model":"auto","messages":[{"role":"user","content":"${"\\\\u12".repeat(40)}\\u12ab\\ud83d\\ude00\\ud83d"}]}`;
    expect(send(h, raw).outcome).toBe("upstream");
  });
});
