// Task detection cost, in process (Node's V8, the engine Envoy uses):
//   1. detection alone (bench/detect-entry.ts: the plugin's own scan and detector without the
//      proxy-wasm glue) on 4 KB and 64 KB of user text: English, Chinese as UTF-8, Chinese as
//      \uXXXX escapes (what Python's json.dumps sends); flat beyond maxBytes (4096 by default);
//   2. the body scan alone on the realistic chat bodies of the other benchmarks;
//   3. through the test host: guest time of a routed request on a "task": "auto" route minus the
//      same request on a route with a fixed task.
//   node bench/detect.mjs
import { pathToFileURL } from "node:url";
import { chatBody, SIZES } from "./lib/bodies.mjs";
import { loadDetectModule } from "./lib/detect-wasm.mjs";
import { timePerOp, us } from "./lib/measure.mjs";
import { installImportProbe, instrumentCallbacks } from "./lib/probe.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { join } from "node:path";

const EN = "I am building a small web service in Python with Flask and a PostgreSQL database. " +
  "Requests sometimes take several seconds, and the logs show the connection pool running out under load. " +
  "Could you explain how to size the pool, where to add timeouts, and how to test the change before deploying it? ";
const ZH = "我们公司正在评估把客服系统迁移到新的平台，需要比较两种方案的成本、风险和上线时间。" +
  "请结合过去三年的工单数据，说明每种方案对响应速度和客户满意度的影响，并给出分阶段的实施建议。";

const MODEL = { name: "m", upstream: "up", price: { input: 1, output: 1 }, ttftMs: 100, tokensPerSecond: 100, contextWindow: 100_000_000, maxOutputTokens: 1_000_000, quality: { default: 7, coding: 8 } };
export const DETECT_CONFIG = {
  models: [MODEL, { ...MODEL, name: "n", quality: { default: 6, writing: 9 } }],
  routes: { fixed: { strategy: "quality", task: "coding" }, auto: { strategy: "quality", task: "auto" } },
};

/** A chat body whose single user message's content is `bytes` raw JSON bytes of `text` repeated. */
export function detectBody(text, bytes, { escaped = false, model = "auto" } = {}) {
  const json = (s) => (escaped ? JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : JSON.stringify(s));
  let s = "";
  while (Buffer.byteLength(json(s)) - 2 < bytes) s += text;
  while (Buffer.byteLength(json(s)) - 2 > bytes) s = s.slice(0, -1);
  return Buffer.from(`{"model":"${model}","messages":[{"role":"user","content":${json(s)}}]}`, "utf8");
}

export const TEXTS = [
  { label: "English", text: EN, escaped: false },
  { label: "Chinese (UTF-8)", text: ZH, escaped: false },
  { label: "Chinese (\\u escapes)", text: ZH, escaped: true },
];
export const TEXT_SIZES = [{ label: "4 KB", bytes: 4096 }, { label: "64 KB", bytes: 65536 }];

function medianNs(fn, calls) {
  const r = timePerOp(fn, { batches: 7 });
  return r.median / calls;
}

function guestTime(host, cb, probe, req) {
  for (let i = 0; i < 200; i++) host.request(req);
  const per = [];
  for (let b = 0; b < 7; b++) {
    cb.reset();
    probe.reset();
    let n = 0;
    const t0 = Date.now();
    do { host.request(req); n++; } while (Date.now() - t0 < 100);
    per.push((cb.ns - probe.total()) / n);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1];
}

export async function runDetectBench(log = console.log) {
  const m = await loadDetectModule();
  if (!m.configure(DETECT_CONFIG)) throw new Error("the detection benchmark configuration was rejected");
  const alone = [];
  for (const t of TEXTS) {
    const row = { text: t.label };
    for (const s of TEXT_SIZES) {
      const body = detectBody(t.text, s.bytes, { escaped: t.escaped });
      const p = m.put(body);
      const calls = 100;
      if (!m.exports.prepare(p, body.length)) throw new Error(`${t.label} ${s.label}: the body does not scan`);
      row[s.label] = us(medianNs(() => m.exports.detectMany(p, calls), calls));
      m.exports.free(p);
    }
    alone.push(row);
    log(`  detection alone, ${t.label}: 4 KB ${row["4 KB"].toFixed(2)} µs, 64 KB ${row["64 KB"].toFixed(2)} µs`);
  }

  const scan = [];
  for (const { label, bytes } of SIZES) {
    const body = chatBody(bytes, { seed: 7 });
    const p = m.put(body);
    const calls = Math.max(1, Math.floor(262144 / bytes));
    const ns = medianNs(() => m.exports.scanMany(p, body.length, calls), calls);
    m.exports.free(p);
    scan.push({ size: label, us: us(ns), gbps: bytes / ns });
    log(`  body scan alone, ${label}: ${us(ns).toFixed(2)} µs (${(bytes / ns).toFixed(1)} GB/s)`);
  }

  const { ProxyWasmHost } = await loadHost();
  const probe = installImportProbe();
  const host = await ProxyWasmHost.load({ wasm: join(ROOT, "build", "envoy.wasm"), configuration: JSON.stringify(DETECT_CONFIG), clusters: ["up"], bufferLimit: 16 << 20, logLevel: 3 });
  probe.restore();
  const cb = instrumentCallbacks(host);
  const routed = [];
  for (const t of TEXTS) {
    for (const s of TEXT_SIZES) {
      const req = (model) => ({ headers: { "content-type": "application/json" }, body: detectBody(t.text, s.bytes, { escaped: t.escaped, model }) });
      const r = host.request(req("auto"));
      if (r.outcome !== "upstream" || !r.upstream.header("x-llm-task")) throw new Error(`${t.label} ${s.label}: not routed with a task header`);
      const fixed = guestTime(host, cb, probe, req("fixed"));
      const auto = guestTime(host, cb, probe, req("auto"));
      routed.push({ text: t.label, size: s.label, fixed_us: us(fixed), auto_us: us(auto), added_us: us(auto - fixed), task: r.upstream.header("x-llm-task") });
      log(`  through the test host, ${t.label} ${s.label}: guest ${us(fixed).toFixed(2)} µs fixed task, ${us(auto).toFixed(2)} µs task auto → detection adds ${us(auto - fixed).toFixed(2)} µs`);
    }
  }
  return { alone, scan, routed };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runDetectBench();
