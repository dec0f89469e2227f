// What failover costs a request that does not fail.
//   In process (test host, Node's V8, callback time with host calls): the router filter with and
//   without a plan (chain header and plan in filter state), and the upstream filter's callbacks of
//   the one attempt (plan and endpoint metadata read, path, Host, key and served model written, the
//   response passing by), for a 1 KB `auto` request answered with JSON and with a 20-chunk stream.
//   Through real Envoy (--concurrency 1, requests sent to the targets in turn, medians of paired
//   differences): the same configuration without failover (direct provider route), with its
//   fallback chains but no upstream filter, and with both.
//   node bench/failover.mjs [--quick] [--no-write]
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UPSTREAM_ROOT_ID } from "../cli/lib/names.mjs";
import { startMockProvider } from "../mock/provider.mjs";
import { canPin, LOAD_CPU, startEnvoy } from "./envoy.mjs";
import { benchConfig } from "./lib/configs.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { upperMedian as median } from "./lib/measure.mjs";

const WASM = join(ROOT, "build", "envoy.wasm");
const HEADERS = { "content-type": "application/json" };
const KEYS = { OPENAI_API_KEY: "k1", DEEPSEEK_API_KEY: "k2", GROQ_API_KEY: "k3" };

/** The benchmark configuration with every fallback count 0: the same routing, no plans. */
export function withoutFailover(cfg = benchConfig()) {
  const c = structuredClone(cfg);
  c.maxClientFallbacks = 0;
  for (const r of Object.values(c.routes)) r.maxFallbacks = 0;
  return c;
}

function chatBody(bytes = 1024) {
  const head = { model: "auto", messages: [{ role: "user", content: "" }], max_tokens: 64 };
  const base = Buffer.byteLength(JSON.stringify(head));
  head.messages[0].content = "Tell me about routing. ".repeat(Math.ceil((bytes - base) / 23)).slice(0, Math.max(0, bytes - base));
  return JSON.stringify(head);
}

const jsonAnswer = { status: 200, headers: { "content-type": "application/json" }, headersAt: 5, body: [{ at: 5, data: '{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}' }] };
function sseAnswer(chunks) {
  const body = [];
  for (let i = 0; i < chunks; i++) body.push({ at: 2 + i, data: `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n` });
  body.push({ at: chunks + 2, data: 'data: {"choices":[],"usage":{"completion_tokens":20}}\n\ndata: [DONE]\n\n' });
  return { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: 2, body };
}

// Callback time split by who runs: the router filter (downstream stream) or the upstream filter.
function splitTimer(host) {
  const acc = { router: 0, upstream: 0, upstreamBody: 0, upstreamBodyCalls: 0 };
  for (const name of Object.keys(host.fns)) {
    const inner = host.fns[name];
    if (typeof inner !== "function" || name === "tick") continue;
    host.fns[name] = (...args) => {
      const up = host.stream?.downstream != null;
      const t = process.hrtime.bigint();
      try { return inner(...args); } finally {
        const d = Number(process.hrtime.bigint() - t);
        if (up) {
          acc.upstream += d;
          if (name === "responseBody") { acc.upstreamBody += d; acc.upstreamBodyCalls++; }
        } else acc.router += d;
      }
    };
  }
  acc.reset = () => { acc.router = acc.upstream = acc.upstreamBody = acc.upstreamBodyCalls = 0; };
  return acc;
}

async function world(ProxyWasmHost, cfg, upstreamFilter) {
  const configuration = JSON.stringify(cfg);
  const providers = Object.keys(cfg.providers);
  const clusters = {};
  providers.forEach((p, i) => (clusters[p] = { hosts: [{ address: `10.0.0.${i + 1}:443`, metadata: { llm_router: { provider: p } } }] }));
  for (const a of providers) for (const b of providers) if (a !== b) clusters[`${a}+${b}`] = { aggregate: [a, b] };
  const h = await ProxyWasmHost.load({
    wasm: WASM, configuration, clusterHeader: ["x-llm-chain", "x-llm-upstream"], upstream: { clusters }, environment: KEYS,
    upstreamFilter: upstreamFilter ? { rootId: UPSTREAM_ROOT_ID, configuration } : undefined,
    route: { timeoutMs: 0, retryPolicy: { retryOn: "5xx,reset,connect-failure", numRetries: 1, previousPriorities: true } },
    logLevel: 3, maxLogs: 1000,
  });
  if (!h.configured) throw new Error(h.logs.map((l) => l.message).join(" | "));
  return { h, t: splitTimer(h) };
}

function measure(vm, req, { batches = 9, batchMs = 120 } = {}) {
  for (let i = 0; i < 50; i++) vm.h.request(req);
  const rows = [];
  for (let b = 0; b < batches; b++) {
    vm.t.reset();
    let n = 0;
    const t0 = Date.now();
    do { vm.h.request(req); n++; } while (Date.now() - t0 < batchMs);
    rows.push({ router: vm.t.router / n / 1000, upstream: vm.t.upstream / n / 1000, chunk: vm.t.upstreamBodyCalls ? vm.t.upstreamBody / vm.t.upstreamBodyCalls / 1000 : 0 });
  }
  const mid = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
  return { router_us: mid("router"), upstream_us: mid("upstream"), upstream_per_chunk_us: mid("chunk") };
}

export async function runFailoverInproc(log = console.log) {
  const { ProxyWasmHost } = await loadHost();
  const direct = await world(ProxyWasmHost, withoutFailover(), false);
  const chain = await world(ProxyWasmHost, benchConfig(), true);
  const body = chatBody(1024);
  const out = {};
  for (const [name, answer, stream] of [["json", jsonAnswer, false], ["sse 20 chunks", sseAnswer(20), true]]) {
    const b = stream ? body.replace('"max_tokens":64', '"max_tokens":64,"stream":true') : body;
    const req = { method: "POST", path: "/v1/chat/completions", headers: HEADERS, body: b, response: answer };
    const check = chain.h.request(req);
    if (check.response?.status !== 200 || check.exchange?.attempts.length !== 1 || !check.finalHeaders.first("x-llm-chain")) {
      throw new Error(`${name}: expected one attempt on a chain, got ${check.outcome} ${check.response?.status}`);
    }
    const d = measure(direct, req), c = measure(chain, req);
    out[name] = { without: d, with: c, plan_us: c.router_us - d.router_us };
    log(`  ${name.padEnd(13)}: router filter ${d.router_us.toFixed(2)} µs without a plan, ${c.router_us.toFixed(2)} µs with one (+${out[name].plan_us.toFixed(2)}); ` +
      `upstream filter ${c.upstream_us.toFixed(2)} µs per attempt` + (stream ? ` (${c.upstream_per_chunk_us.toFixed(2)} µs per response chunk)` : ""));
  }
  return out;
}

// ------------------------------------------------------------------------------ through Envoy

function exchange(agent, url, body) {
  return new Promise((resolve, reject) => {
    const u = new URL("/v1/chat/completions", url);
    const t0 = process.hrtime.bigint();
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { ...HEADERS, "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1000) : reject(new Error(`status ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}


export async function runFailoverEnvoy(log = console.log, { wasm = WASM, requests = 3000 } = {}) {
  if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
  const mock = await startMockProvider({ host: "127.0.0.1", port: 0, name: "bench", ttftMs: 0, tokensPerSecond: 0 });
  const targets = [
    { name: "no failover (provider route)", env: await startEnvoy(mock.port, "wasm", wasm, withoutFailover()) },
    { name: "fallback chain, no upstream filter", env: await startEnvoy(mock.port, "wasm-no-upstream", wasm, benchConfig()) },
    { name: "fallback chain + no-op Wasm upstream filter", env: await startEnvoy(mock.port, "wasm-noop-upstream", wasm, benchConfig()) },
    { name: "fallback chain + upstream filter", env: await startEnvoy(mock.port, "wasm", wasm, benchConfig()) },
  ];
  const body = chatBody(1024);
  try {
    for (const t of targets) {
      t.agent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 200; i++) await exchange(t.agent, t.env.url, body);
    }
    const samples = targets.map(() => []);
    for (let i = 0; i < requests; i++) for (let k = 0; k < targets.length; k++) samples[k].push(await exchange(targets[k].agent, targets[k].env.url, body));
    const diff = (a, b) => median(samples[a].map((x, i) => x - samples[b][i]));
    const result = { requests, targets: Object.fromEntries(targets.map((t, k) => [t.name, { p50_us: median(samples[k]) }])),
      chains_add_us: diff(1, 0), noop_upstream_filter_adds_us: diff(2, 1), upstream_filter_adds_us: diff(3, 1),
      upstream_filter_over_noop_us: diff(3, 2), failover_adds_us: diff(3, 0) };
    log(`  through Envoy (1 KB auto, JSON answer; medians of ${requests} requests per target, sent in turn):`);
    for (const t of targets) log(`    ${t.name.padEnd(44)} p50 ${result.targets[t.name].p50_us.toFixed(0)} µs`);
    log(`    the fallback chain adds ${result.chains_add_us.toFixed(1)} µs; a no-op Wasm upstream filter ${result.noop_upstream_filter_adds_us.toFixed(1)} µs, ` +
      `the upstream filter ${result.upstream_filter_adds_us.toFixed(1)} µs (${result.upstream_filter_over_noop_us.toFixed(1)} µs over the no-op); failover in all ${result.failover_adds_us.toFixed(1)} µs (paired medians)`);
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
  console.log("failover, in process:");
  const inproc = await runFailoverInproc();
  console.log("failover, through Envoy:");
  const envoy = await runFailoverEnvoy(console.log, { requests: quick ? 500 : 3000 });
  const result = { date: new Date().toISOString(), node: process.version, cpu: (await import("node:os")).cpus()[0].model, inproc, envoy };
  if (!process.argv.includes("--no-write")) {
    writeFileSync(join(ROOT, "bench", "results", "failover.json"), JSON.stringify(result, null, 1));
    console.log("wrote bench/results/failover.json");
  }
}
