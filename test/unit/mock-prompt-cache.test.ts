// The mock provider's prompt cache (mock/prompt-cache.mjs): automatic prefix caching as OpenAI reports
// it (1024 tokens, then 128-token blocks, per model, expiring), explicit cache_control breakpoints as
// Anthropic reports them (reads found up to 20 blocks before a breakpoint, writes up to the last one),
// the usage shapes, and the mock answering with it over HTTP.
import { describe, expect, it } from "vitest";
import { applyCacheUsage, createPromptCache, promptBlocks } from "../../mock/prompt-cache.mjs";
import { startMockProvider } from "../../mock/provider.mjs";

/** A text of exactly n tokens as the mock counts them (4 bytes a token, JSON quotes included). */
const words = (n: number, seed = "a") => (seed + " lorem ipsum dolor sit amet ").repeat(Math.ceil((4 * n) / 27)).slice(0, 4 * n - 2);
const sys = (n: number, seed?: string) => ({ role: "system", content: words(n - 13, seed) }); // {"role":"system","content":""} is 13 tokens

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("automatic prefix caching (OpenAI)", () => {
  it("nothing below 1024 tokens; then 1024 + 128-token blocks of the prefix seen before, per model", () => {
    const c = clock();
    const cache = createPromptCache({ ttlMs: 300_000, now: c.now });
    const short = { messages: [sys(1000), { role: "user", content: "hi" }] };
    expect(cache.observe("m", "chat", short).cachedTokens).toBe(0);
    expect(cache.observe("m", "chat", short).cachedTokens).toBe(0);

    const turn1 = { messages: [sys(1500), { role: "user", content: "What is in the report?" }] };
    const total1 = Math.floor(promptBlocks("chat", turn1).reduce((n, b) => n + b.bytes.length, 0) / 4);
    expect(cache.observe("m", "chat", turn1).cachedTokens).toBe(0);
    expect(cache.observe("m", "chat", turn1).cachedTokens).toBe(1024 + 128 * Math.floor((total1 - 1024) / 128));
    // another model has not seen it
    expect(cache.observe("other", "chat", turn1).cachedTokens).toBe(0);
    // the next turn starts with turn 1's prompt: its whole blocks come from the cache
    const turn2 = { messages: [...turn1.messages, { role: "assistant", content: "Budgets." }, { role: "user", content: "And the totals?" }] };
    expect(cache.observe("m", "chat", turn2).cachedTokens).toBe(1024 + 128 * Math.floor((total1 - 1024) / 128));
    // a changed system prompt shares nothing
    expect(cache.observe("m", "chat", { messages: [sys(1500, "b"), ...turn1.messages.slice(1)] }).cachedTokens).toBe(0);
  });

  it("an entry expires ttlMs after it was last sent; sending it again keeps it alive", () => {
    const c = clock();
    const cache = createPromptCache({ ttlMs: 60_000, now: c.now });
    const body = { tools: [{ type: "function", function: { name: "f", description: words(1200) } }], messages: [{ role: "user", content: "x" }] };
    cache.observe("m", "chat", body);
    c.advance(59_000);
    expect(cache.observe("m", "chat", body).cachedTokens).toBeGreaterThanOrEqual(1024);
    c.advance(59_000);
    expect(cache.observe("m", "chat", body).cachedTokens).toBeGreaterThanOrEqual(1024);
    c.advance(60_001);
    expect(cache.observe("m", "chat", body).cachedTokens).toBe(0);
  });

  it("tools come first: the same messages with other tools share nothing; Responses input and instructions count too", () => {
    const cache = createPromptCache({ now: () => 0 });
    const messages = [sys(1300), { role: "user", content: "go" }];
    cache.observe("m", "chat", { tools: [{ type: "function", function: { name: "a" } }], messages });
    expect(cache.observe("m", "chat", { tools: [{ type: "function", function: { name: "b" } }], messages }).cachedTokens).toBe(0);
    const r = { instructions: words(1100), input: [{ role: "user", content: "go" }] };
    cache.observe("m", "responses", r);
    expect(cache.observe("m", "responses", { ...r, input: [...r.input, { type: "function_call", call_id: "c", name: "f", arguments: "{}" }] }).cachedTokens).toBe(1024);
  });

  it("keeps at most maxEntries, the least recently used going first", () => {
    const cache = createPromptCache({ now: () => 0, maxEntries: 10 });
    for (let i = 0; i < 30; i++) cache.observe("m", "chat", { messages: [sys(1100, `s${i}`)] });
    expect(cache.size).toBe(10);
  });
});

describe("explicit breakpoints (Anthropic)", () => {
  const system = [{ type: "text", text: words(1100), cache_control: { type: "ephemeral" } }];
  const userBlock = (text: string, mark: boolean) => ({ type: "text", text, ...(mark ? { cache_control: { type: "ephemeral" } } : {}) });

  it("writes up to the last breakpoint, reads the longest written prefix, the breakpoint moving forward", () => {
    const cache = createPromptCache({ now: () => 0 });
    const turn1 = { system, messages: [{ role: "user", content: [userBlock(words(300), true)] }] };
    const first = cache.observe("m", "anthropic", turn1);
    expect(first.cachedTokens).toBe(0);
    expect(first.cacheWriteTokens).toBeGreaterThan(1100 + 290);
    const again = cache.observe("m", "anthropic", turn1);
    expect(again).toEqual({ cachedTokens: first.cacheWriteTokens, cacheWriteTokens: 0 });
    // turn 2: turn 1's message without its breakpoint, the answer, a new marked message
    const turn2 = { system, messages: [{ role: "user", content: [userBlock(words(300), false)] }, { role: "assistant", content: [{ type: "text", text: "ok" }] }, { role: "user", content: [userBlock("next", true)] }] };
    const second = cache.observe("m", "anthropic", turn2);
    expect(second.cachedTokens).toBe(first.cacheWriteTokens);
    // the rest up to the new breakpoint (the last block) is written
    const total2 = Math.floor(promptBlocks("anthropic", turn2).reduce((n, b) => n + b.bytes.length, 0) / 4);
    expect(second.cacheWriteTokens).toBe(total2 - first.cacheWriteTokens);
  });

  it("no breakpoint, or a prefix under 1024 tokens, caches nothing", () => {
    const cache = createPromptCache({ now: () => 0 });
    const unmarked = { system: words(2000), messages: [{ role: "user", content: "x" }] };
    cache.observe("m", "anthropic", unmarked);
    expect(cache.observe("m", "anthropic", unmarked)).toEqual({ cachedTokens: 0, cacheWriteTokens: 0 });
    const small = { system: [{ type: "text", text: words(500), cache_control: { type: "ephemeral" } }], messages: [{ role: "user", content: "x" }] };
    cache.observe("m", "anthropic", small);
    expect(cache.observe("m", "anthropic", small)).toEqual({ cachedTokens: 0, cacheWriteTokens: 0 });
  });
});

describe("usage shapes", () => {
  it("chat and Responses count cached tokens within the input; Anthropic takes them out of input_tokens", () => {
    expect(applyCacheUsage({ prompt_tokens: 2000, completion_tokens: 5 }, { cachedTokens: 1536, cacheWriteTokens: 0 }, "chat"))
      .toEqual({ prompt_tokens: 2000, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1536 } });
    expect(applyCacheUsage({ input_tokens: 1200 }, { cachedTokens: 1536, cacheWriteTokens: 0 }, "responses"))
      .toEqual({ input_tokens: 1200, input_tokens_details: { cached_tokens: 1200 } });
    expect(applyCacheUsage({ input_tokens: 3000, output_tokens: 9 }, { cachedTokens: 2000, cacheWriteTokens: 700 }, "anthropic"))
      .toEqual({ input_tokens: 300, output_tokens: 9, cache_read_input_tokens: 2000, cache_creation_input_tokens: 700 });
  });
});

describe("the mock provider with promptCache on", () => {
  it("reports cached_tokens for a repeated prefix, streamed or not, per model; off by default", async () => {
    const p = await startMockProvider({ name: "pc" });
    try {
      const post = async (body: object) => {
        const r = await fetch(`${p.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const text = await r.text();
        if (!text.startsWith("data:")) return JSON.parse(text).usage;
        return JSON.parse(text.split("\n\n").filter((e) => e.includes('"usage"')).pop()!.slice(6)).usage;
      };
      const body = { model: "m", messages: [sys(1300), { role: "user", content: "go" }] };
      await post(body);
      expect((await post(body)).prompt_tokens_details).toBeUndefined();
      await fetch(`${p.url}/_mock/knobs`, { method: "POST", body: JSON.stringify({ promptCache: true }) });
      expect((await post(body)).prompt_tokens_details.cached_tokens).toBe(0);
      const usage = await post({ ...body, stream: true, stream_options: { include_usage: true } });
      expect(usage.prompt_tokens_details.cached_tokens).toBe(1280);
      expect(usage.prompt_tokens).toBeGreaterThanOrEqual(1280);
      expect((await post({ ...body, model: "n" })).prompt_tokens_details.cached_tokens).toBe(0);
    } finally {
      await p.close();
    }
  });
});
