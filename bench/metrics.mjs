// Observability: what the metrics and the decision summary cost, in process (test host, Node's V8;
// plugin callback time, host calls included). Each figure compares two VMs that differ in one setting
// only, in paired batches (A, B, A, B …), and reports the median of the per-batch differences:
//   - the request path of a routed `auto` request, metrics on vs "metrics": false (one row lookup
//     and an add; with a consumer header also its lookup);
//   - the response path (a 1 KB JSON answer; a 50-chunk SSE stream), metrics on vs off (the counts
//     from the observation live signals make anyway, and the histogram records);
//   - the decision header on vs off (the response-headers callback writing it);
//   - one tick pushing the counters of the requests since the last one (off the request path);
//   - the host calls a routed request makes for observability (the filter state write), per call.
// Through real Envoy (bench/host-calls.ts): what each of those host calls costs in Envoy 1.40's C++
// (the test host's are JavaScript), so that "plugin work + host calls" adds up to a request's cost.
//   node bench/metrics.mjs   (also `node bench/run.mjs metrics`)
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import YAML from "yaml";
import { benchConfig } from "./lib/configs.mjs";
import { loadEntry } from "./lib/entry.mjs";
import { timePerOp, upperMedian as median } from "./lib/measure.mjs";
import { installImportProbe, instrumentCallbacks } from "./lib/probe.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";

const WASM = join(ROOT, "build", "envoy.wasm");
const CLUSTERS = ["openai", "deepseek", "groq"];
const json = (model, extra = {}) => Buffer.from(JSON.stringify({ model, messages: [{ role: "user", content: "Say hello in one word." }], max_tokens: 64, ...extra }));

function sseAnswer(chunks) {
  const body = [];
  for (let i = 0; i < chunks; i++) {
    body.push({ at: 1 + i, data: `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"token ${i}"},"finish_reason":null}]}\n\n` });
  }
  body.push({ at: chunks + 1, data: `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":${chunks},"total_tokens":${chunks + 9},"prompt_tokens_details":{"cached_tokens":0}}}\n\ndata: [DONE]\n\n` });
  return { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 1, body };
}

function jsonAnswer(contentBytes) {
  const content = "word ".repeat(Math.ceil(contentBytes / 5)).slice(0, contentBytes);
  const text = JSON.stringify({ id: "x", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 250, total_tokens: 259, prompt_tokens_details: { cached_tokens: 0 } } });
  return { status: 200, headers: { "content-type": "application/json" }, headersAt: 20, body: [{ at: 20, data: text }] };
}


/**
 * Paired batches of `req` on two VMs (A, B, A, B …). Per request: callback time of group `key`, the
 * plugin's own work in the request's callbacks (minus the time in host functions, which in the test
 * host are JavaScript, not Envoy's C++) and the host calls it made by name (ticks included: the
 * counters' pushes); medians of the per-batch differences B − A.
 */
function paired(a, b, req, key, { batches = 31, batchMs = 60 } = {}) {
  for (const v of [a, b]) for (let i = 0; i < 200; i++) v.h.request(req);
  const per = { a: [], b: [], diff: [], guest: [] };
  const calls = [{}, {}];
  for (let i = 0; i < batches; i++) {
    const guest = [];
    [a, b].forEach((v, k) => {
      v.cb.reset();
      v.probe.reset();
      v.tickHost.ns = 0;
      let n = 0;
      const t = Date.now();
      do { v.h.request(req); n++; } while (Date.now() - t < batchMs);
      const cbNs = key === "all" ? v.cb.ns + v.cb.response : v.cb[key];
      per[k === 0 ? "a" : "b"].push(cbNs / n / 1000);
      // Ticks fire while the emulated clock moves with the answers; their live refresh would only add
      // noise here (the flush a tick does is measured on its own below), so they are left out.
      guest.push((v.cb.ns + v.cb.response - (v.probe.total() - v.tickHost.ns)) / n);
      if (i === batches - 1) for (const [name, x] of Object.entries(v.probe.snapshot())) calls[k][name] = x.calls / n;
    });
    per.diff.push(per.b[i] - per.a[i]);
    per.guest.push(guest[1] - guest[0]);
  }
  const extraCalls = {};
  for (const name of new Set([...Object.keys(calls[0]), ...Object.keys(calls[1])])) {
    const d = (calls[1][name] ?? 0) - (calls[0][name] ?? 0);
    if (Math.abs(d) >= 0.01) extraCalls[name] = +d.toFixed(2); // ticks (and their refresh) land in either VM now and then
  }
  return { off_us: median(per.a), on_us: median(per.b), extra_ns: median(per.diff) * 1000, guest_extra_ns: median(per.guest), extra_host_calls: extraCalls };
}

const describeCalls = (c) => Object.entries(c).map(([k, v]) => `${v} ${k}`).join(", ") || "no host call";

export async function runMetricsBench(log = console.log, { wasm = WASM } = {}) {
  const { ProxyWasmHost } = await loadHost();
  // Each VM gets its own import probe (installed around its load), so host time is per VM.
  const load = async (configuration) => {
    const probe = installImportProbe();
    const h = await ProxyWasmHost.load({ wasm, configuration: JSON.stringify(configuration), clusters: CLUSTERS, logLevel: 3, maxLogs: 1000 });
    probe.restore();
    if (!h.configured) throw new Error(`configuration rejected: ${h.logs.map((l) => l.message).join(" | ")}`);
    const cb = instrumentCallbacks(h);
    // host time spent inside ticks, to take out of the request's share
    const tickHost = { ns: 0 };
    const tick = h.fns.tick;
    h.fns.tick = (...args) => {
      const before = probe.total();
      try { return tick(...args); } finally { tickHost.ns += probe.total() - before; }
    };
    return { h, cb, probe, tickHost };
  };
  // Spread and exploration off: every request takes the same path in both VMs.
  const base = { ...benchConfig(), live: { spread: 0, explore: 0 } };
  const off = await load({ ...base, metrics: false });
  const on = await load(base);
  const consumers = await load({ ...base, metrics: { consumerHeader: "x-consumer" } });
  const header = await load({ ...base, decisionHeader: "x-llm-decision" });
  const H = { "content-type": "application/json" };
  const out = {};

  const auto = { headers: H, body: json("auto") };
  const report = (label, r) =>
    log(`  ${label}: metrics add ${r.guest_extra_ns.toFixed(0)} ns of plugin work and ${describeCalls(r.extra_host_calls)} per request ` +
      `(callbacks ${r.off_us.toFixed(2)} → ${r.on_us.toFixed(2)} µs, paired difference ${r.extra_ns.toFixed(0)} ns with the test host's JavaScript host calls)`);
  out.request = paired(off, on, auto, "ns");
  report('request path, routed "auto"', out.request);
  out.requestConsumer = paired(off, consumers, { headers: { ...H, "x-consumer": "team-a" }, body: json("auto") }, "ns");
  report("request path with a consumer header", out.requestConsumer);
  for (const [name, body, answer] of [["json 1 KB", json("gpt-4o-mini"), jsonAnswer(1000)], ["sse 50 chunks", json("gpt-4o-mini", { stream: true }), sseAnswer(50)]]) {
    const r = paired(off, on, { headers: H, body, response: answer }, "all");
    out[`request and response, ${name}`] = r;
    report(`request and response, ${name}`, r);
  }
  out.decisionHeader = paired(on, header, { headers: H, body: json("gpt-4o-mini"), response: jsonAnswer(1000) }, "response");
  log(`  decision header on: ${out.decisionHeader.guest_extra_ns.toFixed(0)} ns of plugin work and ${describeCalls(out.decisionHeader.extra_host_calls)} per response`);

  // One tick after k requests spread over 12 series (4 routes × 3 consumers): what it pushes.
  const ticker = await load({ ...base, metrics: { consumerHeader: "x-consumer" } });
  const routes = ["auto", "cheap", "fast", "bulk"];
  const tick = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 1000; i++) {
      ticker.h.request({ headers: { ...H, "x-consumer": `c${i % 3}` }, body: json(routes[i % 4]), response: jsonAnswer(200) });
    }
    ticker.cb.reset();
    ticker.h.process.advance(1000);
    tick.push(ticker.cb.tick / Math.max(1, ticker.cb.ticks) / 1000);
  }
  out.tick_us = median(tick.slice(2));
  log(`  one tick pushing 1000 requests' counts (12 rows): ${out.tick_us.toFixed(1)} µs (${(out.tick_us / 1000 * 1000).toFixed(0)} ns per request)`);

  const calls = paired(off, on, auto, "ns").extra_host_calls;
  const summary = await load(base);
  for (let i = 0; i < 200; i++) summary.h.request(auto);
  summary.probe.reset();
  for (let i = 0; i < 2000; i++) summary.h.request(auto);
  const set = summary.probe.snapshot().proxy_set_property;
  out.filterStateCallsPerRequest = set ? set.calls / 2000 : 0;
  log(`  decision summary in filter state: ${out.filterStateCallsPerRequest} proxy_set_property per handled request (whether metrics are on or not: ${JSON.stringify(calls)})`);
  return out;
}

// ------------------------------------------------------------------------ the metrics' code alone

/**
 * bench/metrics-entry.ts compiled with the plugin's settings and run with stub host functions: ns of
 * the metrics' own code per request (the request's row and outcome, the response's tokens, cost,
 * times and histogram values), free of the test host's noise. Host calls are measured apart.
 */
export async function runMetricsCode(log = console.log) {
  const calls = { define: 0, increment: 0, record: 0 };
  let memory;
  const { exports: e, put } = loadEntry("metrics-entry", (name) => {
    if (name === "proxy_define_metric") return (type, p, n, outId) => { calls.define++; new DataView(memory.buffer).setUint32(outId, 4 + type, true); return 0; };
    if (name === "proxy_increment_metric") return () => { calls.increment++; return 0; };
    if (name === "proxy_record_metric") return () => { calls.record++; return 0; };
    return () => 1; // NOT_FOUND: nothing else is asked for here
  });
  memory = e.memory;
  const text = new TextEncoder().encode(JSON.stringify(benchConfig()));
  if (!e.configure(put(text), text.length)) throw new Error("bench/metrics-entry.ts: configuration rejected");
  const BATCH = 1000;
  const result = {};
  for (const [name, stream] of [["json", 0], ["stream", 1]]) {
    const t = timePerOp(() => e.run(BATCH, 0, stream));
    result[`${name}_ns`] = t.median / BATCH;
  }
  // what one tick's push costs the guest for a row changed since the last one (host calls stubbed)
  e.run(BATCH, 0, 1);
  result.flush_ns_per_row = timePerOp(() => { e.run(1, 0, 1); e.flush(); }).median - result.stream_ns;
  log(`  the metrics' own code per request (stub host calls): ${result.json_ns.toFixed(0)} ns for a JSON answer, ${result.stream_ns.toFixed(0)} ns for a stream ` +
    `(its 1 / 3 histogram values included as stub calls); a tick's push of one changed row ${result.flush_ns_per_row.toFixed(0)} ns`);
  return result;
}

// ------------------------------------------------------------------------------ through Envoy

function buildHostCalls() {
  const out = join(ROOT, "build", "bench-host-calls.wasm");
  const asc = join(ROOT, "node_modules", ".bin", "asc");
  // cwd bench/: the project's asconfig.json (abort handler, plugin entries) must not apply here.
  const r = spawnSync(asc, ["host-calls.ts", "-o", out, "-O3", "--runtime", "minimal", "--use", "abort=", "--exportStart", "_initialize"], { cwd: join(ROOT, "bench"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/host-calls.ts failed: ${r.stderr}`);
  return out;
}

function envoyConfig(wasm) {
  const t = (name) => `type.googleapis.com/${name}`;
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: "bench",
        address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
        filter_chains: [{ filters: [{
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": t("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
            stat_prefix: "bench",
            route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "ok" } } }] }] },
            http_filters: [
              { name: "host-calls", typed_config: { "@type": t("envoy.extensions.filters.http.wasm.v3.Wasm"), config: { name: "host-calls", vm_config: { vm_id: "host-calls", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasm } } } } } },
              { name: "envoy.filters.http.router", typed_config: { "@type": t("envoy.extensions.filters.http.router.v3.Router") } },
            ],
          },
        }] }],
      }],
    },
  };
}

const get = (url) => new Promise((resolve, reject) => {
  const req = httpRequest(url, { headers: { "x-consumer": "team-a" } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
  req.on("error", reject);
  req.end();
});

/** ns per host call in Envoy 1.40 (V8), medians over `requests` requests of 20,000-call loops. */
export async function runHostCallsEnvoy(log = console.log, { requests = 9 } = {}) {
  const wasm = buildHostCalls();
  const dir = mkdtempSync(join(tmpdir(), "llm-router-host-calls-"));
  writeFileSync(join(dir, "envoy.yaml"), YAML.stringify(envoyConfig(wasm)));
  const child = spawn(join(ROOT, ".venv", "bin", "envoy"), [
    "-c", join(dir, "envoy.yaml"), "--disable-hot-restart", "--concurrency", "1", "-l", "warning",
    "--base-id", String(30000 + (process.pid % 9000)), "--admin-address-path", join(dir, "admin"),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  child.stderr.on("data", (d) => (text += d));
  try {
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        const admin = (await import("node:fs")).readFileSync(join(dir, "admin"), "utf8").trim();
        const listeners = await (await fetch(`http://${admin}/listeners?format=json`)).json();
        port = listeners.listener_statuses[0].local_address.socket_address.port_value;
      } catch { /* not up yet */ }
    }
    if (!port) throw new Error(`Envoy did not start: ${text}`);
    for (let i = 0; i < requests; i++) await get(`http://127.0.0.1:${port}/`);
    await new Promise((r) => setTimeout(r, 300));
    const per = {};
    for (const m of text.matchAll(/host-calls (\w+) (\d+) (\d+)/g)) (per[m[1]] ??= []).push(Number(m[3]) / Number(m[2]));
    const out = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, median(v.slice(1))])); // the first request warms up
    log(`  through Envoy 1.40, ns per host call: ${Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}`);
    return out;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log("observability, in process:");
  const inproc = await runMetricsBench();
  const code = await runMetricsCode();
  console.log("observability, host calls through Envoy:");
  const envoy = await runHostCallsEnvoy();
  console.log(JSON.stringify({ inproc, code, envoy }, null, 1));
}
