// Live signals: what watching responses and sharing statistics cost.
//   In process (test host, Node's V8; plugin callback time, host calls included):
//     - the response path per request (a JSON answer; a 50-chunk SSE stream) and per streamed chunk;
//     - the request path with live signals against the same configuration with "live": false, for
//       10 / 100 / 1000 models (the health-generation read and the snapshot the decision reads);
//     - one refresh tick per worker for 10 / 100 / 1000 models (off the request path).
//   Through real Envoy (--concurrency 1, an upstream streaming a token every millisecond): how long
//   the response headers and the first token take from the upstream's write to the client's read
//   with no filter, with the plugin built without its response callbacks
//   (bench/plugin-no-response.ts), and with the plugin; streams sent in turn, medians of paired differences.
//   node bench/live.mjs [--quick]   (also part of `npm run bench`)
import { spawnSync } from "node:child_process";
import { createServer, request as httpRequest, Agent } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benchConfig, configWithModels } from "./lib/configs.mjs";
import { installImportProbe, instrumentCallbacks } from "./lib/probe.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { canPin, LOAD_CPU, startEnvoy } from "./envoy.mjs";
import { upperMedian as median } from "./lib/measure.mjs";

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

  // ---- the request path: live against table-only, N models (batches interleaved, paired)
  const requestPath = [];
  for (const n of [10, 100, 1000]) {
    const row = { models: n };
    const vms = {};
    for (const [label, live] of [["table", false], ["live", true]]) {
      const cfg = configWithModels(n);
      if (!live) cfg.live = false;
      vms[label] = await load(cfg);
      // records for every model, as after some traffic: one streamed answer each
      if (live) for (const m of cfg.models) vms[label].h.request({ headers: HEADERS, body: json(m.name, { stream: true }), response: sseAnswer(3) });
    }
    for (const route of ["fast", "auto"]) {
      const req = { headers: HEADERS, body: json(route) };
      for (const label of ["table", "live"]) {
        const res = vms[label].h.request(req);
        if (res.outcome !== "upstream") throw new Error(`${n} models ${label} ${route}: ${res.outcome}`);
        for (let i = 0; i < 50; i++) vms[label].h.request(req);
      }
      const per = { table: [], live: [], diff: [] };
      for (let b = 0; b < 9; b++) {
        for (const label of ["table", "live"]) {
          const { h: host, cb: c } = vms[label];
          c.reset();
          let k = 0;
          const t = Date.now();
          do { host.request(req); k++; } while (Date.now() - t < 100);
          per[label].push(c.ns / k / 1000);
        }
        per.diff.push(per.live[b] - per.table[b]);
      }
      const mid = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      row[`${route}_table_us`] = mid(per.table);
      row[`${route}_live_us`] = mid(per.live);
      row[`${route}_extra_us`] = mid(per.diff);
    }
    const { h: host, cb: c } = vms.live;
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
    requestPath.push(row);
    log(`  request path, ${String(n).padStart(4)} models: fast ${row.fast_table_us.toFixed(2)} → ${row.fast_live_us.toFixed(2)} µs (paired +${row.fast_extra_us.toFixed(2)}), ` +
      `auto ${row.auto_table_us.toFixed(2)} → ${row.auto_live_us.toFixed(2)} µs (paired +${row.auto_extra_us.toFixed(2)}); ${row.shared_reads_per_request} shared read/request ` +
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

// A streaming upstream that notes when it writes: headers at once, the first event 2 ms later, then
// seven more 1 ms apart. The client in this process notes when each arrives, so the time Envoy (and
// the filter) takes to pass the headers and the first token on is measured without the timer
// jitter of the upstream's own delays.
function startStreamingUpstream() {
  const sent = { headers: 0n, first: 0n };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
      sent.headers = process.hrtime.bigint();
      let i = 0;
      const next = () => {
        if (i === 0) sent.first = process.hrtime.bigint();
        res.write(`data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n`);
        if (++i < 8) setTimeout(next, 1);
        else res.end('data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":8,"total_tokens":11}}\n\ndata: [DONE]\n\n');
      };
      setTimeout(next, 2);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ port: server.address().port, sent, close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) })));
}

/** One streamed request: µs from the upstream writing the headers / the first event to the client reading them. */
function exchange(agent, url, body, headers, upstream) {
  return new Promise((resolve, reject) => {
    const u = new URL("/v1/chat/completions", url);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length, ...headers } }, (res) => {
      const headersAt = process.hrtime.bigint();
      let firstAt = 0n;
      res.on("data", () => { if (firstAt === 0n) firstAt = process.hrtime.bigint(); });
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        resolve({ headers: Number(headersAt - upstream.sent.headers) / 1000, first: Number(firstAt - upstream.sent.first) / 1000 });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}


export async function runLiveEnvoy(log = console.log, { wasm = WASM, rounds = 7, requests = 300 } = {}) {
  buildNoResponse();
  if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
  const upstream = await startStreamingUpstream();
  // The plugin routes a concrete model (no ranking noise); plain Envoy gets the cluster header.
  const body = json("gpt-4o-mini", { stream: true, max_tokens: 8 });
  const targets = [
    { name: "no filter", env: await startEnvoy(upstream.port, "plain"), headers: { "x-llm-upstream": "openai" } },
    { name: "plugin without response callbacks", env: await startEnvoy(upstream.port, "wasm", NO_RESPONSE_WASM), headers: {} },
    { name: "plugin", env: await startEnvoy(upstream.port, "wasm", wasm), headers: {} },
  ];
  try {
    for (const t of targets) {
      t.agent = new Agent({ keepAlive: true, maxSockets: 1 });
      t.send = () => exchange(t.agent, t.env.url, body, t.headers, upstream);
      for (let i = 0; i < 100; i++) await t.send(); // warm-up
    }
    // Request by request in turn (A, B, C, A, B, C …): each difference compares streams sent within
    // a few milliseconds of each other, so the drift of a shared machine cancels out.
    const n = rounds * requests;
    const samples = targets.map(() => ({ headers: [], first: [] }));
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < targets.length; k++) {
        const x = await targets[k].send();
        samples[k].headers.push(x.headers);
        samples[k].first.push(x.first);
      }
    }
    const diff = (a, b, key) => median(samples[a][key].map((x, i) => x - samples[b][key][i]));
    const result = { rounds, requests, streams: n, targets: {} };
    targets.forEach((t, k) => (result.targets[t.name] = { headers_us: median(samples[k].headers), first_token_us: median(samples[k].first) }));
    result.response_callbacks_add = { headers_us: diff(2, 1, "headers"), first_token_us: diff(2, 1, "first") };
    result.plugin_adds = { headers_us: diff(2, 0, "headers"), first_token_us: diff(2, 0, "first") };
    log(`  through Envoy, upstream write → client read (medians of ${n} streams per target, sent in turn):`);
    for (const t of targets) log(`    ${t.name.padEnd(34)} headers ${result.targets[t.name].headers_us.toFixed(0)} µs, first token ${result.targets[t.name].first_token_us.toFixed(0)} µs`);
    log(`    the response callbacks add ${result.response_callbacks_add.headers_us.toFixed(1)} µs to the headers and ${result.response_callbacks_add.first_token_us.toFixed(1)} µs to the first token; ` +
      `the whole plugin ${result.plugin_adds.headers_us.toFixed(1)} / ${result.plugin_adds.first_token_us.toFixed(1)} µs`);
    return result;
  } finally {
    for (const t of targets) {
      t.agent?.destroy();
      await t.env.stop();
    }
    await upstream.close();
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
