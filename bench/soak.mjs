// Soak in the test host: ONE VM serves N requests (default 1,000,000) of mixed sizes and kinds,
// with responses flowing back through the plugin (JSON and SSE answers with and without usage,
// split at random points, 5xx, 429 with Retry-After, Envoy's own replies, cut streams, clients
// that go away), so live statistics, cooldowns and probes run the whole time. Records Wasm memory
// pages along the way, checks that memory stops growing after warm-up, and verifies every
// `verifyEvery`-th answer with the fuzz oracle (test/fuzz/core.mjs).
//   node bench/soak.mjs [--requests N] [--wasm path] [--max-seconds S] [--no-responses]
// Also used by test/fuzz/soak.test.ts (50,000 requests) and bench/run.mjs.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { check, expectFor, FUZZ_CONFIG_TEXT } from "../test/fuzz/core.mjs";
import { mulberry32 } from "./lib/bodies.mjs";
import { chatBody } from "./lib/bodies.mjs";

const HEADERS = { "content-type": "application/json" };
const UPSTREAMS = ["openai", "deepseek", "groq"];

// size mix (bytes, cumulative probability): mostly small chat turns, a tail of long contexts
const MIX = [
  [1024, 0.55], [4096, 0.75], [16384, 0.9], [65536, 0.97], [262144, 0.995], [1000000, 1],
];
const MODELS = [["auto", 0.5], ["cheap", 0.6], ["fast", 0.65], ["smart", 0.7], ["mix", 0.75], ["gpt-4o", 0.8], ["llama-3.1-8b", 0.85], ["unknown-model", 0.95], ["<invalid>", 1]];

function pool(seed) {
  const rnd = mulberry32(seed);
  const bodies = [];
  for (let i = 0; i < 400; i++) {
    const u = rnd();
    const size = MIX.find(([, p]) => u <= p)[0];
    const v = rnd();
    const model = MODELS.find(([, p]) => v <= p)[0];
    let body;
    if (model === "<invalid>") {
      body = chatBody(size, { seed: i, model: "auto" });
      const cut = Math.floor(rnd() * body.length);
      body = rnd() < 0.5 ? body.subarray(0, cut) : Buffer.concat([body.subarray(0, cut), Buffer.from([0xff]), body.subarray(cut)]);
    } else {
      body = chatBody(size, { seed: i, model, stream: rnd() < 0.3 });
      // the 1 MB bodies exceed every context window of router.json: cap their estimate with text
      // that is not counted (image data), so they are still routed
      if (size >= 1000000) {
        const o = JSON.parse(body);
        const text = o.messages.slice(1).map((m) => m.content).join(" ");
        o.messages = [{ role: "user", content: [{ type: "text", text: text.slice(0, 200000) }, { type: "image_url", image_url: { url: "data:image/png;base64," + "A".repeat(size - 220000) } }] }];
        body = Buffer.from(JSON.stringify(o));
      }
    }
    bodies.push({ body, exp: expectFor(body), chunkSize: rnd() < 0.2 ? 16384 : undefined });
  }
  return bodies;
}

// What the upstream answers, drawn per request: [answer kind, cumulative probability].
const ANSWERS = [
  ["json", 0.4], ["sse", 0.65], ["sse-no-usage", 0.75], ["503", 0.83], ["429", 0.88], ["connect-failure", 0.92],
  ["reset-before-response", 0.94], ["cut-stream", 0.97], ["client-abort", 1],
];

function sseEvents(tokens, usage) {
  const events = [];
  for (let t = 0; t < tokens; t++) events.push(`data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok${t} \\"q\\""}}]}\n\n`);
  if (usage) events.push(`data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":${tokens},"total_tokens":${tokens + 9},"completion_tokens_details":{"reasoning_tokens":0}}}\n\n`);
  events.push("data: [DONE]\n\n");
  return events.join("");
}

// The SSE text cut at random points into timed chunks (a usage key or a `data:` prefix may be split).
function splitStream(rnd, text, ttft) {
  const chunks = [];
  let at = ttft;
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(rnd() * 120);
    chunks.push({ at, data: text.slice(i, i + n) });
    i += n;
    at += Math.floor(rnd() * 8);
  }
  return chunks;
}

/** One upstream answer for the test host (`response` of ProxyWasmHost.request), and a client abort time. */
export function answerFor(rnd) {
  const u = rnd();
  const kind = ANSWERS.find(([, p]) => u <= p)[0];
  const ttft = 5 + Math.floor(rnd() * 150);
  const tokens = 1 + Math.floor(rnd() * 40);
  const sse = { "content-type": "text/event-stream" };
  switch (kind) {
    case "json":
      return { answer: { status: 200, headers: { "content-type": "application/json" }, headersAt: ttft, body: [{ at: ttft, data: `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":${tokens},"total_tokens":${tokens + 9}}}` }] } };
    case "sse":
    case "sse-no-usage":
      return { answer: { status: 200, headers: sse, headersAt: Math.min(ttft, 10), body: splitStream(rnd, sseEvents(tokens, kind === "sse"), ttft) } };
    case "503":
    case "429":
      return { answer: { status: Number(kind), headers: { "content-type": "application/json", ...(kind === "429" ? { "retry-after": "1" } : {}) }, headersAt: 3, body: '{"error":{"message":"busy"}}' } };
    case "connect-failure":
    case "reset-before-response":
      return { answer: { envoy: kind, at: 2 } };
    case "cut-stream":
      return { answer: { status: 200, headers: sse, headersAt: 5, body: splitStream(rnd, sseEvents(tokens, true), ttft), resetAfterChunks: 2 } };
    default:
      return { answer: { status: 200, headers: sse, headersAt: 5, body: splitStream(rnd, sseEvents(tokens, true), ttft) }, clientAbortAt: 1 + Math.floor(rnd() * ttft) };
  }
}

/**
 * @returns {Promise<{requests:number, pages:{at:number,pages:number}[], warmPages:number, finalPages:number,
 *   grewAfterWarmup:boolean, verified:number, failures:string[], outcomes:Record<string,number>, seconds:number, vmFailedAt?:number}>}
 */
export async function runSoak(ProxyWasmHost, { requests = 1_000_000, wasm, verifyEvery = 997, warmupFraction = 0.1, maxSeconds = 1800, seed = 99, responses = true, log = () => {} } = {}) {
  const host = await ProxyWasmHost.load({
    wasm: wasm ?? join(new URL("..", import.meta.url).pathname, "build", "envoy.wasm"),
    configuration: FUZZ_CONFIG_TEXT, clusters: UPSTREAMS, bufferLimit: 16 << 20, logLevel: 4, maxLogs: 1000,
  });
  const bodies = pool(seed);
  const rnd = mulberry32(seed + 1);
  const pages = [];
  const pageCount = () => host.mem.memory.buffer.byteLength / 65536;
  const failures = [];
  const outcomes = {};
  const warmupAt = Math.floor(requests * warmupFraction);
  let warmPages = 0;
  let verified = 0;
  let vmFailedAt;
  const every = Math.max(1, Math.floor(requests / 100));
  const t0 = Date.now();
  let i = 0;
  for (; i < requests; i++) {
    const c = bodies[Math.floor(rnd() * bodies.length)];
    const response = responses ? answerFor(rnd) : null;
    const res = host.request({ headers: HEADERS, body: c.body, chunkSize: c.chunkSize, response: response?.answer, clientAbortAt: response?.clientAbortAt });
    outcomes[res.outcome] = (outcomes[res.outcome] ?? 0) + 1;
    if (res.outcome === "vm-failed") {
      vmFailedAt = i;
      failures.push(`request ${i}: VM failed: ${res.error} (memory ${pageCount()} pages)`);
      break;
    }
    if (i % verifyEvery === 0) {
      const msg = check(c.body, c.exp, res, HEADERS["content-type"]);
      verified++;
      if (msg) failures.push(`request ${i}: ${msg}`);
    }
    if (i === warmupAt) warmPages = pageCount();
    if (i % every === 0) {
      pages.push({ at: i, pages: pageCount(), heapMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1) });
      if (i % (every * 10) === 0) log(`  soak: ${i} requests, ${pageCount()} pages, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    if (failures.length > 20 || (i % 1000 === 0 && (Date.now() - t0) / 1000 > maxSeconds)) break;
  }
  const finalPages = pageCount();
  pages.push({ at: i, pages: finalPages, heapMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1) });
  const criticalLogs = host.logs.filter((l) => l.level >= 5).map((l) => l.message).slice(0, 5);
  return {
    requests: i, pages, warmupAt, warmPages, finalPages, grewAfterWarmup: finalPages > warmPages,
    verified, failures, outcomes, seconds: (Date.now() - t0) / 1000, vmFailedAt, criticalLogs,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
  const { loadHost } = await import("./lib/ts.mjs");
  const { ProxyWasmHost } = await loadHost();
  const r = await runSoak(ProxyWasmHost, { requests: Number(opt("requests", "1000000")), wasm: opt("wasm"), maxSeconds: Number(opt("max-seconds", "1800")), responses: !argv.includes("--no-responses"), log: console.log });
  console.log(JSON.stringify({ ...r, pages: undefined }, null, 1));
  console.log(`pages: ${r.pages.map((p) => `${p.at}:${p.pages}`).join(" ")}`);
  process.exit(r.failures.length === 0 && !r.grewAfterWarmup ? 0 : 1);
}
