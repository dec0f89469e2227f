// Soak in the test host: ONE VM serves N requests (default 1,000,000) of mixed sizes and kinds.
// Records Wasm memory pages along the way, checks that memory stops growing after warm-up, and
// verifies every `verifyEvery`-th answer with the fuzz oracle (test/fuzz/core.mjs).
//   node bench/soak.mjs [--requests N] [--wasm path] [--max-seconds S]
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

/**
 * @returns {Promise<{requests:number, pages:{at:number,pages:number}[], warmPages:number, finalPages:number,
 *   grewAfterWarmup:boolean, verified:number, failures:string[], outcomes:Record<string,number>, seconds:number, vmFailedAt?:number}>}
 */
export async function runSoak(ProxyWasmHost, { requests = 1_000_000, wasm, verifyEvery = 997, warmupFraction = 0.1, maxSeconds = 1800, seed = 99, log = () => {} } = {}) {
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
    const res = host.request({ headers: HEADERS, body: c.body, chunkSize: c.chunkSize });
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
  const r = await runSoak(ProxyWasmHost, { requests: Number(opt("requests", "1000000")), wasm: opt("wasm"), maxSeconds: Number(opt("max-seconds", "1800")), log: console.log });
  console.log(JSON.stringify({ ...r, pages: undefined }, null, 1));
  console.log(`pages: ${r.pages.map((p) => `${p.at}:${p.pages}`).join(" ")}`);
  process.exit(r.failures.length === 0 && !r.grewAfterWarmup ? 0 : 1);
}
