// Live signals: what watching responses and sharing statistics cost.
//   In process (test host, Node's V8; plugin callback time, host calls included):
//     - the response path per request (a JSON answer; a 50-chunk SSE stream) and per streamed chunk;
//     - the request path with live signals against the same configuration with "live": false, for
//       10 / 100 / 1000 models (the health-generation read and the snapshot the decision reads);
//     - one refresh tick per worker for 10 / 100 / 1000 models (off the request path).
//   Through real Envoy (--concurrency 1, one mock provider streaming a token every 2 ms): the time
//   to first byte of a streamed answer with no filter, with the plugin built without its response
//   callbacks (bench/plugin-no-response.ts), and with the plugin; interleaved rounds, medians.
//   node bench/live.mjs [--quick]   (also part of `npm run bench`)
import { spawnSync } from "node:child_process";
import { request as httpRequest, Agent } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startMockProvider } from "../mock/provider.mjs";
import { benchConfig, configWithModels } from "./lib/configs.mjs";
import { percentile } from "./lib/measure.mjs";
import { installImportProbe, instrumentCallbacks } from "./lib/probe.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { canPin, LOAD_CPU, startEnvoy } from "./envoy.mjs";

const HEADERS = { "content-type": "application/json" };
const CLUSTERS = ["openai", "deepseek", "groq"];
const WASM = join(ROOT, "build", "envoy.wasm");
const NO_RESPONSE_WASM = join(ROOT, "build", "bench-no-response.wasm");

const json = (model, extra = {}) => Buffer.from(JSON.stringify({ model, messages: [{ role: "user", content: "Say hello in one word." }], max_tokens: 64, ...extra }));

function sseAnswer(chunks) {
  const body = [];
  for (let i = 0; i < chunks; i++) {
    body.push({ at: 1 + i, data: `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"token ${i} \\"q\\""},"finish_reason":null}]}\n\n` });
  }
  body.push({ at: chunks + 1, data: `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":${chunks},"total_tokens":${chunks + 9}}}\n\ndata: [DONE]\n\n` });
  return { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 1, body };
}

function jsonAnswer(contentBytes) {
  const content = "word ".repeat(Math.ceil(contentBytes / 5)).slice(0, contentBytes);
  const text = JSON.stringify({ id: "x", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: Math.ceil(contentBytes / 4), total_tokens: 9 + Math.ceil(contentBytes / 4) } });
  return { status: 200, headers: { "content-type": "application/json" }, headersAt: 20, body: [{ at: 20, data: text }] };
}

/** Median over batches of the per-request callback times (µs) for `req`. */
function perRequest(host, cb, req, { batches = 7, batchMs = 150 } = {}) {
  for (let i = 0; i < 30; i++) host.request(req);
  const rows = [];
  for (let b = 0; b < batches; b++) {
    cb.reset();
    let n = 0;
    const t = Date.now();
    do { host.request(req); n++; } while (Date.now() - t < batchMs);
    rows.push({ request: cb.ns / n / 1000, response: cb.response / n / 1000, chunk: cb.responseBodyCalls ? cb.responseBody / cb.responseBodyCalls / 1000 : 0 });
  }
  const mid = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
  return { request_us: mid("request"), response_us: mid("response"), per_chunk_us: mid("chunk") };
}

export async function runLiveInproc(log = console.log, { wasm = WASM } = {}) {
  const { ProxyWasmHost } = await loadHost();
  const probe = installImportProbe();
  const load = async (configuration) => {
    const h = await ProxyWasmHost.load({ wasm, configuration: JSON.stringify(configuration), clusters: CLUSTERS, logLevel: 3, maxLogs: 1000 });
    if (!h.configured) throw new Error(`configuration rejected: ${h.logs.map((l) => l.message).join(" | ")}`);
    return { h, cb: instrumentCallbacks(h) };
  };

  // ---- the response path
  const { h, cb } = await load(benchConfig());
  const concrete = json("gpt-4o-mini");
  const streamed = json("gpt-4o-mini", { stream: true });
  const response = {};
  for (const [name, body, answer] of [
    ["json 1 KB", concrete, jsonAnswer(1000)],
    ["json 16 KB", concrete, jsonAnswer(16000)],
    ["sse 50 chunks", streamed, sseAnswer(50)],
  ]) {
    const r = h.request({ headers: HEADERS, body, response: answer });
    if (r.response?.status !== 200) throw new Error(`${name}: ${r.outcome}`);
    const row = perRequest(h, cb, { headers: HEADERS, body, response: answer });
    response[name] = row;
    log(`  response path, ${name.padEnd(13)}: ${row.response_us.toFixed(2)} µs per request` + (name.startsWith("sse") ? ` (${row.per_chunk_us.toFixed(2)} µs per chunk)` : ""));
  }
  // the same with "live": false: callbacks that return at once
  const { h: off, cb: offCb } = await load({ ...benchConfig(), live: false });
  const offRow = perRequest(off, offCb, { headers: HEADERS, body: streamed, response: sseAnswer(50) });
  response["sse 50 chunks, live off"] = offRow;
  log(`  response path, sse 50 chunks with "live": false: ${offRow.response_us.toFixed(2)} µs per request (${offRow.per_chunk_us.toFixed(2)} µs per chunk)`);

  // ---- the request path: live against table-only, N models
  const requestPath = [];
  for (const n of [10, 100, 1000]) {
    const row = { models: n };
    for (const [label, live] of [["table", false], ["live", true]]) {
      const cfg = configWithModels(n);
      if (!live) cfg.live = false;
      const { h: host, cb: c } = await load(cfg);
      // records for every model, as after some traffic: one streamed answer each
      if (live) for (const m of cfg.models) host.request({ headers: HEADERS, body: json(m.name, { stream: true }), response: sseAnswer(3) });
      for (const route of ["fast", "auto"]) {
        const req = { headers: HEADERS, body: json(route) };
        const res = host.request(req);
        if (res.outcome !== "upstream") throw new Error(`${n} models ${label} ${route}: ${res.outcome}`);
        row[`${route}_${label}_us`] = perRequest(host, c, req).request_us;
      }
      if (live) {
        probe.reset();
        const k = 200;
        for (let i = 0; i < k; i++) host.request({ headers: HEADERS, body: json("fast") });
        const get = probe.snapshot().proxy_get_shared_data;
        row.shared_reads_per_request = get ? get.calls / k : 0;
        row.shared_read_us = get ? get.ns / get.calls / 1000 : 0;
        // one refresh tick (every worker, every refreshMs): read and publish every model
        c.reset();
        for (let i = 0; i < 20; i++) host.process.advance(1000);
        row.tick_us = c.ticks ? c.tick / c.ticks / 1000 : NaN;
      }
    }
    row.fast_extra_us = row.fast_live_us - row.fast_table_us;
    row.auto_extra_us = row.auto_live_us - row.auto_table_us;
    requestPath.push(row);
    log(`  request path, ${String(n).padStart(4)} models: fast ${row.fast_table_us.toFixed(2)} → ${row.fast_live_us.toFixed(2)} µs (+${row.fast_extra_us.toFixed(2)}), ` +
      `auto ${row.auto_table_us.toFixed(2)} → ${row.auto_live_us.toFixed(2)} µs (+${row.auto_extra_us.toFixed(2)}); ${row.shared_reads_per_request} shared read/request ` +
      `(${row.shared_read_us.toFixed(2)} µs); refresh tick ${row.tick_us.toFixed(0)} µs`);
  }
  probe.restore();
  return { response, requestPath };
}

// ------------------------------------------------------------------------------ through Envoy

function buildNoResponse() {
  const asc = join(ROOT, "node_modules", ".bin", "asc");
  const r = spawnSync(asc, ["bench/plugin-no-response.ts", "--config", "asconfig.json", "--target", "envoy", "--outFile", NO_RESPONSE_WASM, "--textFile", NO_RESPONSE_WASM.replace(/\.wasm$/, ".wat")], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/plugin-no-response.ts failed: ${r.stderr}`);
}

/** Time from sending a streamed request to its first response body byte, ms. */
function firstByte(agent, url, body, headers) {
  return new Promise((resolve, reject) => {
    const u = new URL("/v1/chat/completions", url);
    const t0 = process.hrtime.bigint();
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length, ...headers } }, (res) => {
      let first = -1;
      res.on("data", () => { if (first < 0) first = Number(process.hrtime.bigint() - t0) / 1e6; });
      res.on("end", () => (res.statusCode === 200 ? resolve(first) : reject(new Error(`status ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

// Median over rounds of the per-round difference a − b.
function pairedMedian(a, b) {
  const d = a.map((x, i) => x - b[i]).sort((p, q) => p - q);
  return d[d.length >> 1];
}

export async function runLiveEnvoy(log = console.log, { wasm = WASM, rounds = 7, requests = 300 } = {}) {
  buildNoResponse();
  if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
  // Headers at once, the first token 2 ms later, then one token every 2 ms: as from a real model,
  // the first byte travels alone, so what it waits for is on_response_headers and the first
  // on_response_body (not the rest of the stream, as when everything arrives in one read).
  const mock = await startMockProvider({ port: 0, name: "bench", ttftMs: 2, tokensPerSecond: 500 });
  // The plugin routes a concrete model (no ranking noise); plain Envoy gets the cluster header.
  const body = json("gpt-4o-mini", { stream: true, max_tokens: 8 });
  const targets = [
    { name: "no filter", env: await startEnvoy(mock.port, "plain"), headers: { "x-llm-upstream": "openai" } },
    { name: "plugin without response callbacks", env: await startEnvoy(mock.port, "wasm", NO_RESPONSE_WASM), headers: {} },
    { name: "plugin", env: await startEnvoy(mock.port, "wasm", wasm), headers: {} },
  ];
  try {
    for (const t of targets) {
      t.agent = new Agent({ keepAlive: true, maxSockets: 1 });
      t.send = () => firstByte(t.agent, t.env.url, body, t.headers);
      t.medians = [];
      for (let i = 0; i < 100; i++) await t.send(); // warm-up
    }
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const xs = [];
        for (let i = 0; i < requests; i++) xs.push(await t.send());
        xs.sort((a, b) => a - b);
        t.medians.push(percentile(xs, 50));
      }
    }
    const [plain, noResponse, full] = targets;
    const result = {
      ttfb_p50_us: Object.fromEntries(targets.map((t) => [t.name, ([...t.medians].sort((a, b) => a - b)[t.medians.length >> 1]) * 1000])),
      response_callbacks_add_us: pairedMedian(full.medians, noResponse.medians) * 1000,
      plugin_adds_us: pairedMedian(full.medians, plain.medians) * 1000,
      rounds, requests,
    };
    log(`  TTFB through Envoy (p50 of ${requests} streamed requests, median of ${rounds} interleaved rounds): ` +
      targets.map((t) => `${t.name} ${result.ttfb_p50_us[t.name].toFixed(0)} µs`).join(", ") +
      `; the response callbacks add ${result.response_callbacks_add_us.toFixed(0)} µs, the whole plugin ${result.plugin_adds_us.toFixed(0)} µs`);
    return result;
  } finally {
    for (const t of targets) {
      t.agent?.destroy();
      await t.env.stop();
    }
    await mock.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const quick = process.argv.includes("--quick");
  console.log("live signals, in process:");
  const inproc = await runLiveInproc();
  console.log("live signals, through Envoy:");
  const envoy = await runLiveEnvoy(console.log, quick ? { rounds: 3, requests: 100 } : {});
  console.log(JSON.stringify({ inproc, envoy }, null, 1));
}
