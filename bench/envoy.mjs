// Through real Envoy (.venv/bin/envoy, --concurrency 1): added latency (p50/p99 at concurrency 1)
// and throughput (at fixed concurrency) of
//   direct      the mock provider itself (the floor of the floor)
//   envoy       the same Envoy configuration WITHOUT the Wasm filter (client sends x-llm-upstream)
//   envoy+wasm  the generated bootstrap (llm-router) with the plugin (model "auto" → routed, body rewritten)
//   portkey     Portkey's open-source gateway (bench/peers), conditional routing auto → mock
//   litellm     LiteLLM proxy (bench/.venv-peers), model_list alias auto → openai/<model>
// all in front of ONE mock provider (mock/provider.mjs, in this process, no artificial delay).
// Load generator: wrk (C, epoll; one thread). Every loop is bounded by --duration.
// Also the bounded Envoy soak (mixed sizes, --soak-seconds): zero unexpected non-2xx, valid JSON
// at the mock.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../cli/lib/shared-store.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { startMockProvider } from "../mock/provider.mjs";
import { chatBody, SIZES } from "./lib/bodies.mjs";
import { benchConfig } from "./lib/configs.mjs";
import { placeholderKeys } from "./lib/floor.mjs";
import { ROOT } from "./lib/ts.mjs";
import { buildBootstrap } from "../cli/lib/envoy.mjs";
import { toYaml } from "../cli/lib/yaml.mjs";
import { median } from "./lib/measure.mjs";

const BENCH = join(ROOT, "bench");
const ENVOY_BIN = join(ROOT, ".venv", "bin", "envoy");
const PORTKEY_MAIN = join(BENCH, "peers", "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
const LITELLM_BIN = join(BENCH, ".venv-peers", "bin", "litellm");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export { freePort };

export async function waitHttp(url, { timeoutMs = 60_000, ok = (s) => s > 0, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${url}: process exited (${proc.exitCode}): ${proc.logText?.() ?? ""}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (ok(r.status)) return;
    } catch { /* not up */ }
    await sleep(200);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms ${proc?.logText?.() ?? ""}`);
}

// Two cores: every gateway under test runs alone on CPU 1, while this process (the mock provider)
// and wrk share CPU 0 (runEnvoyBench pins itself there; children inherit it). Without this the
// scheduler moves the three around and p50 at concurrency 1 wanders by tens of µs between runs.
export const GATEWAY_CPU = "1";
export const LOAD_CPU = "0";
export const canPin = spawnSync("sh", ["-c", "command -v taskset"]).status === 0;

export function startProcess(cmd, args, opts = {}) {
  const [file, argv] = canPin ? ["taskset", ["-c", GATEWAY_CPU, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  let log = "";
  const keep = (d) => { log = (log + d.toString()).slice(-20000); };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.logText = () => log;
  child.stop = async () => {
    if (child.exitCode !== null || child.signalCode) return;
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await new Promise((r) => child.once("exit", r));
    clearTimeout(t);
  };
  return child;
}

// ------------------------------------------------------------------------------------- Envoy

// mode: "plain" (no filter), "buffer" (Envoy's native buffer filter holds the whole request body,
// the cost any body-reading router pays before it can decide), "noop" (a Wasm filter that does
// nothing: the cost of Envoy's Wasm machinery), "wasm" (the plugin, also as the router's upstream
// filter for requests with a fallback), "floor" (bench/floor-filter.ts in the plugin's places, with
// `floor` = its configuration: the plugin's host calls and nothing else), "wasm-no-upstream" (the
// plugin and its fallback chains without the upstream filter: attempts go out as the router filter
// left them), "wasm-noop-upstream" (the same with a do-nothing Wasm module as the upstream filter:
// Envoy's cost per attempt). The bootstrap is the one `llm-router start --mock` generates for the
// plugin's configuration (default: benchConfig()), every provider pointed at the one mock.
function envoyConfig({ port, adminPort, mockPort, mode, wasm, configuration, floor }) {
  const json = structuredClone(configuration ?? benchConfig());
  const text = JSON.stringify(json);
  const mocks = Object.fromEntries(Object.keys(json.providers ?? {}).map((name) => [name, [{ host: "127.0.0.1", port: mockPort }]]));
  const bootstrap = buildBootstrap({ json, text }, { listen: { host: "127.0.0.1", port }, admin: { host: "127.0.0.1", port: adminPort }, wasmPath: wasm, mocks });
  const cfg = YAML.parse(toYaml(bootstrap));
  const listener = cfg.static_resources.listeners[0];
  const hcm = listener.filter_chains[0].filters.find((f) => f.name === "envoy.filters.network.http_connection_manager").typed_config;
  delete hcm.access_log; // no per-request logging in a benchmark (same for every variant)
  const filtered = mode.startsWith("wasm") || mode === "floor";
  // Without the plugin the baselines route on a client-sent x-llm-upstream, which the gateway
  // otherwise drops as internal-only.
  if (!filtered) delete hcm.route_config.internal_only_headers;
  const wasmIdx = hcm.http_filters.findIndex((f) => f.typed_config?.["@type"]?.endsWith("filters.http.wasm.v3.Wasm"));
  // The plugin as the router's upstream filter (failover): configured like the router filter in
  // "wasm" and "floor" modes; "wasm-no-upstream" keeps the fallback chains but not the filter (what
  // it costs by itself); the baselines have neither.
  const router = hcm.http_filters.find((f) => f.name === "envoy.filters.http.router").typed_config;
  const upstream = router.upstream_http_filters?.find((f) => f.typed_config?.["@type"]?.endsWith("filters.http.wasm.v3.Wasm"));
  const code = mode === "floor" ? floor.wasm : wasm;
  const pluginConfiguration = mode === "floor" ? floor.configuration : text;
  if ((mode === "wasm" || mode === "floor") && upstream) {
    upstream.typed_config.config.vm_config.code.local.filename = code;
    upstream.typed_config.config.configuration.value = pluginConfiguration;
  } else if (mode === "wasm-noop-upstream" && upstream) {
    upstream.typed_config.config.vm_config = { vm_id: "noop-upstream", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: buildNoopFilter("noop-upstream-filter") } } };
  } else delete router.upstream_http_filters;
  if (filtered || mode === "noop") {
    const plugin = hcm.http_filters[wasmIdx].typed_config.config;
    plugin.vm_config.code.local.filename = mode === "noop" ? buildNoopFilter() : code;
    plugin.configuration.value = mode === "noop" ? text : pluginConfiguration;
  } else if (mode === "buffer") {
    hcm.http_filters[wasmIdx] = {
      name: "envoy.filters.http.buffer",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer", max_request_bytes: listener.per_connection_buffer_limit_bytes },
    };
  } else hcm.http_filters.splice(wasmIdx, 1);
  return cfg;
}

function buildNoopFilter(source = "noop-filter") {
  const out = join(ROOT, "build", source === "noop-filter" ? "bench-noop.wasm" : `bench-${source}.wasm`);
  const asc = join(ROOT, "node_modules", ".bin", "asc");
  // cwd bench/: the project's asconfig.json (abort handler, plugin entries) must not apply here.
  const r = spawnSync(asc, [`${source}.ts`, "-o", out, "-O3", "--runtime", "incremental", "--use", "abort=", "--exportStart", "_initialize"], { cwd: join(ROOT, "bench"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/${source}.ts failed: ${r.stderr}`);
  return out;
}

let envoysStarted = 0;

export async function startEnvoy(mockPort, mode, wasm, configuration, floor) {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-bench-"));
  const port = await freePort();
  const adminPort = await freePort();
  const file = join(dir, "envoy.yaml");
  writeFileSync(file, YAML.stringify(envoyConfig({ port, adminPort, mockPort, mode, wasm, configuration, floor })));
  // Envoy reads the provider key variables at start: placeholders for the mock.
  const keys = placeholderKeys(configuration ?? benchConfig());
  // every Envoy its own base id, also when several run side by side (bench/live.mjs interleaves three)
  const baseId = String(10000 + ((process.pid % 5000) * 10 + envoysStarted++) % 50000);
  const child = startProcess(ENVOY_BIN, ["-c", file, "--disable-hot-restart", "--concurrency", "1", "-l", "warning", "--base-id", baseId], { cwd: ROOT, env: { ...process.env, ...keys } });
  await waitHttp(`http://127.0.0.1:${adminPort}/ready`, { ok: (s) => s === 200, proc: child });
  return {
    url: `http://127.0.0.1:${port}`, child, adminPort,
    async stats() {
      const r = await fetch(`http://127.0.0.1:${adminPort}/stats?filter=wasm|llm_gateway.downstream_rq_`);
      return r.text();
    },
    async memory() {
      const r = await fetch(`http://127.0.0.1:${adminPort}/memory`);
      return r.json();
    },
    async stop() { await child.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

// -------------------------------------------------------------------------------------- peers

export const PORTKEY_ROUTING = (mockPort) => ({
  strategy: { mode: "conditional", conditions: [{ query: { "params.model": { $eq: "auto" } }, then: "mock-openai" }], default: "mock-openai" },
  targets: [{ name: "mock-openai", provider: "openai", api_key: "sk-bench", custom_host: `http://127.0.0.1:${mockPort}/v1`, override_params: { model: "gpt-4o-mini" } }],
});

async function startPortkey(mockPort) {
  if (!existsSync(PORTKEY_MAIN)) return null;
  const port = await freePort();
  const child = startProcess(process.execPath, ["--import", join(BENCH, "lib", "loopback.mjs"), PORTKEY_MAIN, `--port=${port}`, "--headless"], {
    cwd: join(BENCH, "peers"),
    env: { ...process.env, NODE_ENV: "production", TRUSTED_CUSTOM_HOSTS: "127.0.0.1,localhost" },
  });
  await waitHttp(`http://127.0.0.1:${port}/`, { proc: child });
  return {
    name: "portkey", url: `http://127.0.0.1:${port}`, child, path: "/v1/chat/completions",
    headers: { "x-portkey-config": JSON.stringify(PORTKEY_ROUTING(mockPort)) },
    stop: () => child.stop(),
  };
}

export const LITELLM_CONFIG = (mockPort) => ({
  model_list: [{ model_name: "auto", litellm_params: { model: "openai/gpt-4o-mini", api_base: `http://127.0.0.1:${mockPort}/v1`, api_key: "sk-bench" } }],
  litellm_settings: { telemetry: false, drop_params: true, set_verbose: false, json_logs: false },
  general_settings: { disable_spend_logs: true },
});

async function startLitellm(mockPort) {
  if (!existsSync(LITELLM_BIN)) return null;
  const dir = mkdtempSync(join(tmpdir(), "llm-router-litellm-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, YAML.stringify(LITELLM_CONFIG(mockPort)));
  const port = await freePort();
  const child = startProcess(LITELLM_BIN, ["--config", file, "--host", "127.0.0.1", "--port", String(port), "--num_workers", "1"], {
    cwd: dir,
    env: { ...process.env, LITELLM_LOG: "ERROR", LITELLM_TELEMETRY: "False", DISABLE_ADMIN_UI: "True", NO_DOCS: "True", PYTHONUNBUFFERED: "1" },
  });
  await waitHttp(`http://127.0.0.1:${port}/health/liveliness`, { ok: (s) => s === 200, proc: child, timeoutMs: 120_000 });
  return { name: "litellm", url: `http://127.0.0.1:${port}`, child, path: "/v1/chat/completions", headers: {}, stop: async () => { await child.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

// ---------------------------------------------------------------------------------------- wrk

export function wrkScript(dir, bodies, path, headers) {
  // bodies: [{file}] — one is picked per request, round robin
  const lua = `
local files = {${bodies.map((b) => JSON.stringify(b)).join(",")}}
local bodies = {}
for i, f in ipairs(files) do local h = io.open(f, "rb"); bodies[i] = h:read("*a"); h:close() end
local headers = {${Object.entries({ "content-type": "application/json", ...headers }).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(", ")}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", ${JSON.stringify(path)}, headers, bodies[(n % #bodies) + 1])
end
`;
  const file = join(dir, `s-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(file, lua);
  return file;
}

const UNIT = { us: 1, ms: 1000, s: 1e6 };
function parseWrk(out) {
  const val = (re) => { const m = re.exec(out); return m ? Number(m[1]) * UNIT[m[2]] : NaN; };
  const r = {
    p50_us: val(/^\s+50%\s+([\d.]+)(us|ms|s)$/m),
    p75_us: val(/^\s+75%\s+([\d.]+)(us|ms|s)$/m),
    p90_us: val(/^\s+90%\s+([\d.]+)(us|ms|s)$/m),
    p99_us: val(/^\s+99%\s+([\d.]+)(us|ms|s)$/m),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: /Socket errors: (.*)/.exec(out)?.[1] ?? "",
  };
  return r;
}

// Asynchronous on purpose: the mock provider lives in this process and must keep serving.
export function runWrk({ url, script, connections, seconds }) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk failed (${code}): ${err || out}`));
      else resolve({ ...parseWrk(out), raw: out });
    });
  });
}

// ------------------------------------------------------------------------------------ the run

/** Clears the mock's request log continuously, checking every body is valid JSON whose model is not an alias. */
function watchMock(mock) {
  const dec = new TextDecoder("utf-8", { fatal: true });
  const aliases = new Set(Object.keys(benchConfig().routes));
  const st = { received: 0, invalid: 0, alias: 0, examples: [], expectAlias: false };
  const drain = () => {
    for (const req of mock.requests) {
      st.received++;
      try {
        const v = JSON.parse(dec.decode(req.body));
        if (!st.expectAlias && aliases.has(v.model)) st.alias++;
      } catch (e) {
        st.invalid++;
        if (st.examples.length < 3) st.examples.push(req.body.subarray(0, 200).toString("latin1"));
      }
    }
    mock.requests.length = 0;
  };
  const timer = setInterval(drain, 100);
  return { st, drain, stop() { clearInterval(timer); drain(); } };
}


export async function runEnvoyBench({ seconds = 5, rounds = 5, connections = 8, sizes = SIZES, wasm = join(ROOT, "build", "envoy.wasm"), peers = true, soakSeconds = 60, soakConnections = 8, log = console.log } = {}) {
  if (spawnSync("sh", ["-c", "command -v wrk"]).status !== 0) throw new Error("wrk is not installed: run `node bench/setup.mjs`");
  if (!existsSync(ENVOY_BIN)) throw new Error(`${ENVOY_BIN} missing: run npm run setup`);
  if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
  const dir = mkdtempSync(join(tmpdir(), "llm-router-wrk-"));
  const mock = await startMockProvider({ host: "127.0.0.1", port: 0, name: "bench-mock", ttftMs: 0, tokensPerSecond: 0 });
  const watch = watchMock(mock);
  const targets = [];
  const result = { load_generator: "", targets: {}, rows: [], soak: null, peers: {} };
  result.load_generator = spawnSync("wrk", ["-v"], { encoding: "utf8" }).stdout.split("\n")[0] + ` (1 thread, keep-alive HTTP/1.1; latency at -c1 as the median of ${rounds} interleaved ${seconds} s runs, throughput at -c${connections} over ${seconds} s)` + (canPin ? `; gateways pinned to CPU ${GATEWAY_CPU}, wrk and the mock to CPU ${LOAD_CPU}` : "");
  try {
    const plain = await startEnvoy(mock.port, "plain", wasm);
    const buffered = await startEnvoy(mock.port, "buffer", wasm);
    const noop = await startEnvoy(mock.port, "noop", wasm);
    const routed = await startEnvoy(mock.port, "wasm", wasm);
    targets.push({ name: "direct", url: mock.url, path: "/v1/chat/completions", headers: {}, stop: async () => {} });
    targets.push({ name: "envoy", url: plain.url, path: "/v1/chat/completions", headers: { "x-llm-upstream": "openai" }, stop: () => plain.stop(), envoy: plain });
    targets.push({ name: "envoy+buffer", url: buffered.url, path: "/v1/chat/completions", headers: { "x-llm-upstream": "openai" }, stop: () => buffered.stop(), envoy: buffered });
    targets.push({ name: "envoy+noop-wasm", url: noop.url, path: "/v1/chat/completions", headers: { "x-llm-upstream": "openai" }, stop: () => noop.stop(), envoy: noop });
    targets.push({ name: "envoy+wasm", url: routed.url, path: "/v1/chat/completions", headers: {}, stop: () => routed.stop(), envoy: routed });
    if (peers) {
      for (const [name, start] of [["portkey", startPortkey], ["litellm", startLitellm]]) {
        try {
          const p = await start(mock.port);
          if (p) targets.push(p);
          else log(`  ${name}: not installed (node bench/setup.mjs) — skipped`);
        } catch (e) {
          log(`  ${name}: failed to start: ${e.message.slice(0, 500)}`);
        }
      }
    }
    result.peers = {
      portkey: { package: "@portkey-ai/gateway (bench/peers)", how: "x-portkey-config header, conditional strategy params.model == auto → target provider openai, custom_host http://127.0.0.1:<mock>/v1, override_params.model gpt-4o-mini; TRUSTED_CUSTOM_HOSTS=127.0.0.1; NODE_ENV=production --headless; one Node process", config: PORTKEY_ROUTING(0) },
      litellm: { package: "litellm[proxy] (bench/.venv-peers)", how: "litellm --config (model_list: model_name auto → openai/gpt-4o-mini, api_base http://127.0.0.1:<mock>/v1) --num_workers 1, LITELLM_LOG=ERROR", config: LITELLM_CONFIG(0) },
    };
    // sanity: each target answers 200 and the mock sees a concrete model
    for (const t of targets) {
      const body = chatBody(1024, { seed: 3 });
      const r = await fetch(t.url + t.path, { method: "POST", headers: { "content-type": "application/json", ...t.headers }, body });
      const text = await r.text();
      result.targets[t.name] = { status: r.status, sample: text.slice(0, 160) };
      if (r.status !== 200) log(`  ${t.name}: sanity request answered ${r.status}: ${text.slice(0, 300)}`);
    }
    // Latency at concurrency 1: `rounds` short runs per target, interleaved across targets, and the
    // median of their p50s and p99s, so a slow moment of the machine cannot land on one target only.
    for (const { label, bytes } of sizes) {
      const file = join(dir, `body-${bytes}.json`);
      writeFileSync(file, chatBody(bytes, { seed: 11 }));
      const live = targets.filter((t) => result.targets[t.name]?.status === 200);
      const scripts = new Map(live.map((t) => [t.name, wrkScript(dir, [file], t.path, t.headers)]));
      const latency = new Map(live.map((t) => [t.name, []]));
      const run = async (t, connections, secs) => {
        watch.st.expectAlias = t.name !== "envoy+wasm" && t.name !== "portkey" && t.name !== "litellm";
        const r = await runWrk({ url: t.url, script: scripts.get(t.name), connections, seconds: secs });
        watch.drain();
        return r;
      };
      for (const t of live) await run(t, 1, 1); // warm-up
      for (let round = 0; round < rounds; round++) for (const t of live) latency.get(t.name).push(await run(t, 1, seconds));
      for (const t of live) {
        const runs = latency.get(t.name);
        const thr = await run(t, connections, seconds);
        const row = {
          size: label, bytes, target: t.name,
          p50_us: median(runs.map((r) => r.p50_us)), p99_us: median(runs.map((r) => r.p99_us)), rps_c1: median(runs.map((r) => r.rps)),
          p50_us_rounds: runs.map((r) => r.p50_us),
          [`p50_us_c${connections}`]: thr.p50_us, [`p99_us_c${connections}`]: thr.p99_us, rps: thr.rps,
          non2xx: runs.reduce((n, r) => n + r.non2xx, 0) + thr.non2xx,
          errors: [...runs.map((r) => r.socketErrors), thr.socketErrors].filter(Boolean).join("; "),
        };
        result.rows.push(row);
        log(`  ${label.padEnd(6)} ${t.name.padEnd(15)} p50 ${row.p50_us.toFixed(0).padStart(6)} µs (rounds ${row.p50_us_rounds.map((x) => x.toFixed(0)).join("/")})  p99 ${row.p99_us.toFixed(0).padStart(6)} µs  | c${connections}: ${row.rps.toFixed(0).padStart(6)} req/s${row.non2xx ? `  non-2xx ${row.non2xx}` : ""}${row.errors ? `  errors ${row.errors}` : ""}`);
      }
    }
    watch.st.expectAlias = false;
    result.mock_before_soak = { ...watch.st };
    // ---- Envoy soak: mixed sizes and models through envoy+wasm
    if (soakSeconds > 0) {
      const routed = targets.find((t) => t.name === "envoy+wasm");
      const files = [];
      const mixModels = ["auto", "cheap", "fast", "mix", "best", "gpt-4o", "llama-3.1-8b", "some-other-model"];
      const mixSizes = [1024, 1024, 1024, 4096, 4096, 16384, 65536, 262144];
      for (let i = 0; i < 32; i++) {
        const f = join(dir, `soak-${i}.json`);
        writeFileSync(f, chatBody(mixSizes[i % mixSizes.length], { seed: 100 + i, model: mixModels[i % mixModels.length], stream: false }));
        files.push(f);
      }
      watch.st.received = 0; watch.st.invalid = 0; watch.st.alias = 0;
      const before = await routed.envoy.memory().catch(() => null);
      const script = wrkScript(dir, files, routed.path, {});
      log(`  envoy soak: ${soakSeconds} s at -c${soakConnections}, ${files.length} bodies (1 KB … 256 KB, models ${mixModels.join(", ")})`);
      const r = await runWrk({ url: routed.url, script, connections: soakConnections, seconds: soakSeconds });
      watch.drain();
      const after = await routed.envoy.memory().catch(() => null);
      const stats = await routed.envoy.stats().catch(() => "");
      result.soak = {
        seconds: soakSeconds, connections: soakConnections, requests: r.requests, rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us,
        non2xx: r.non2xx, socketErrors: r.socketErrors, mock_received: watch.st.received, mock_invalid_json: watch.st.invalid,
        mock_alias_model: watch.st.alias, invalid_examples: watch.st.examples,
        envoy_allocated_before: before?.allocated, envoy_allocated_after: after?.allocated,
        envoy_wasm_stats: stats.split("\n").filter((l) => /wasm/.test(l) && !/: 0$/.test(l)).slice(0, 20),
      };
      log(`  envoy soak: ${r.requests} requests, ${r.rps.toFixed(0)} req/s, non-2xx ${r.non2xx}, mock received ${watch.st.received} (invalid JSON ${watch.st.invalid}, alias leaked ${watch.st.alias}), envoy heap ${before?.allocated} → ${after?.allocated}`);
    }
  } finally {
    watch.stop();
    for (const t of targets.reverse()) await t.stop().catch(() => {});
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
