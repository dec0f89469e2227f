// The floor filter (bench/floor-filter.ts): its build, and its configuration written from the
// plugin's own host calls. For each body size the plugin serves one request in the test host with
// every host call recorded (test/host: LoadOptions.recordHostCalls); each call becomes one op of the
// floor in the same filter and callback. Then the floor serves the same requests in the same
// emulated Envoy and must make the same calls, in the same order, with the same names and sizes
// (checkFloor): the floor is what the plugin's host calls cost, and nothing else.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { chatBody } from "./bodies.mjs";
import { ROOT } from "./ts.mjs";
import { UPSTREAM_ROOT_ID } from "../../cli/lib/names.mjs";

export const FLOOR_WASM = join(ROOT, "build", "bench-floor.wasm");
export { UPSTREAM_ROOT_ID } from "../../cli/lib/names.mjs";

/** Compiles bench/floor-filter.ts with the plugin's compiler settings (cwd bench/: not the plugin's asconfig). */
export function buildFloor(out = FLOOR_WASM) {
  const asc = join(ROOT, "node_modules", ".bin", "asc");
  out = resolve(out);
  const r = spawnSync(asc, ["floor-filter.ts", "-o", out, "-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "--exportStart", "_initialize"],
    { cwd: join(ROOT, "bench"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/floor-filter.ts failed: ${r.stderr}`);
  return out;
}

/** Placeholder keys for every provider key variable of a configuration (the upstream filter needs them). */
export function placeholderKeys(pluginConfig) {
  return Object.fromEntries(Object.values(pluginConfig.providers ?? {}).filter((p) => p.apiKeyEnv).map((p) => [p.apiKeyEnv, "bench-key"]));
}

/**
 * One VM as the generated bootstrap runs it: `wasm` as the router filter and, when the configuration
 * has providers, as the router's upstream filter; a cluster per provider (endpoint metadata naming
 * it) and an aggregate per chain of two providers.
 */
export async function loadWorld(ProxyWasmHost, { wasm, configuration, pluginConfig, record = true, mode = "envoy-allow-stop-iteration" }) {
  const providers = Object.keys(pluginConfig.providers ?? {});
  const clusters = {};
  providers.forEach((p, i) => (clusters[p] = { hosts: [{ address: `10.0.0.${i + 1}:443`, metadata: { llm_router: { provider: p } } }] }));
  for (const a of providers) for (const b of providers) if (a !== b) clusters[`${a}+${b}`] = { aggregate: [a, b] };
  for (const m of pluginConfig.models) if (!clusters[m.upstream]) clusters[m.upstream] = { hosts: [{ address: "10.0.0.99:80" }] };
  const host = await ProxyWasmHost.load({
    wasm, mode, configuration, recordHostCalls: record, logLevel: 3, maxLogs: 1000,
    clusterHeader: ["x-llm-chain", "x-llm-upstream"], upstream: { clusters }, environment: placeholderKeys(pluginConfig),
    upstreamFilter: providers.length ? { rootId: UPSTREAM_ROOT_ID, configuration } : undefined,
    route: { timeoutMs: 0, retryPolicy: { retryOn: "5xx,reset,connect-failure", numRetries: 1, previousPriorities: true } },
  });
  if (!host.configured) throw new Error(`configuration refused: ${host.logs.map((l) => l.message).join(" | ")}`);
  return host;
}

/** A JSON answer with usage, as the benchmark's mock provider gives it. */
export const JSON_ANSWER = {
  status: 200, headers: { "content-type": "application/json" }, headersAt: 5,
  body: [{ at: 5, data: '{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}' }],
};

const hex = (bytes) => Buffer.from(bytes ?? []).toString("hex");
const MAPS = { 0: "request", 2: "response" };

/** The metric names by id that a VM defined (ids differ between VMs; names do not). */
export const metricNames = (host) =>
  new Map(host.hostCallLog.filter((c) => c.name === "proxy_define_metric" && c.result !== undefined).map((c) => [c.result, c]));

/** The host calls of one request, as comparable lines (a metric by its name). */
export function callLines(calls, metrics = new Map()) {
  return calls.map((c) => {
    const metric = /metric/.test(c.name) && metrics.get(c.args[0]);
    return `${c.filter} ${c.callback} ${c.name} ${metric ? Buffer.from(metric.key).toString("latin1") : c.detail}`;
  });
}

// One recorded call as an op of the floor (bench/floor-filter.ts OpKind), or an error.
function opOf(call, metricDefinitions) {
  switch (call.name) {
    case "proxy_get_header_map_pairs": return ["pairs"];
    case "proxy_remove_header_map_value": return MAPS[call.args[0]] === "request" ? ["remove", hex(call.key)] : null;
    case "proxy_replace_header_map_value": return MAPS[call.args[0]] === "request" ? ["replace", hex(call.key), hex(call.value)] : null;
    case "proxy_get_header_map_value": return MAPS[call.args[0]] === "request" ? ["getHeader", hex(call.key)] : null;
    case "proxy_get_buffer_bytes": return call.args[0] === 0 ? ["readBody"] : null;
    case "proxy_set_buffer_bytes": return call.args[0] === 0 ? ["writeBody"] : null;
    case "proxy_get_current_time_nanoseconds": return ["clock"];
    case "proxy_get_shared_data": return ["sharedGet", hex(call.key)];
    case "proxy_set_shared_data": return ["sharedSet", hex(call.key), hex(call.value)];
    case "proxy_set_property": return ["setProperty", hex(call.key), hex(call.value)];
    case "proxy_get_property": return ["getProperty", hex(call.key)];
    case "proxy_call_foreign_function": return ["foreign", hex(call.key)];
    case "proxy_record_metric": {
      const def = metricDefinitions.get(call.args[0]);
      return def ? ["record", hex(def.key), def.args[0]] : null;
    }
    default: return null;
  }
}

// The callbacks whose calls the floor replays as recorded; the response body is observed by fixed
// code (the plugin's observation: clock at the first byte, every chunk read, clock at the end).
const REPLAYED = { router: ["requestHeaders", "requestBody", "log"], upstream: ["requestHeaders"] };

function variantOf(calls, metricDefinitions, what) {
  const plans = { router: {}, upstream: {} };
  for (const [filter, callbacks] of Object.entries(REPLAYED)) for (const cb of callbacks) plans[filter][cb] = [];
  for (const call of calls) {
    if (call.filter === "router" && call.callback === "responseBody") continue;
    const list = plans[call.filter]?.[call.callback];
    const op = list ? opOf(call, metricDefinitions) : null;
    if (!op) throw new Error(`${what}: the floor filter cannot make the plugin's call ${call.filter} ${call.callback} ${call.name} ${call.detail}`);
    list.push(op);
  }
  // A held request: the plugin stopped at the request headers and read the body.
  if (plans.router.requestBody.length > 0) plans.router.requestHeaders.push(["stop"]);
  return plans;
}

/**
 * The floor's configuration for `pluginConfig` and one routed request per entry of `requests`
 * ({minBytes, request: RequestOptions}), from the plugin's recorded host calls. The floor writes the
 * same model id into the body as the plugin (the chosen model's `upstreamModel`).
 * Returns { configuration (JSON text), traces: [{minBytes, calls}] }.
 */
export async function floorConfiguration(ProxyWasmHost, { wasm, pluginConfig, requests, bodyWrite = "auto", warmup = 3 }) {
  const host = await loadWorld(ProxyWasmHost, { wasm, configuration: JSON.stringify(pluginConfig), pluginConfig });
  const variants = [];
  const traces = [];
  let observeResponse = false;
  for (const { minBytes, request } of requests) {
    for (let i = 0; i < warmup; i++) host.request(request);
    const r = host.request(request);
    if (r.response?.status !== 200) throw new Error(`${minBytes} B: the plugin did not forward the request (${r.outcome} ${r.localResponse?.text ?? ""})`);
    const metrics = metricNames(host);
    const plans = variantOf(r.hostCalls, metrics, `${minBytes} B`);
    observeResponse ||= r.hostCalls.some((c) => c.filter === "router" && c.callback === "responseBody");
    const chosen = pluginConfig.models.find((m) => m.name === r.finalHeaders.first(pluginConfig.modelHeader ?? "x-llm-model"));
    const modelIn = JSON.stringify(JSON.parse(Buffer.from(request.body).toString("utf8")).model);
    const modelOut = JSON.stringify(chosen ? chosen.upstreamModel ?? chosen.name : "");
    variants.push({ minBytes, model: [hex(Buffer.from(modelIn)), hex(Buffer.from(modelOut))], ...plans });
    traces.push({ minBytes, calls: r.hostCalls, lines: callLines(r.hostCalls, metrics), chosen: chosen?.name });
  }
  const heads = variants.map((v) => JSON.stringify(v.router.requestHeaders));
  if (heads.some((h) => h !== heads[0])) throw new Error("the plugin's request-header calls differ between body sizes: the floor cannot know the size there");
  return { configuration: JSON.stringify({ variants, observeResponse, bodyWrite }), traces };
}

/**
 * Runs `requests` through the floor in the same emulated Envoy and compares its host calls with
 * the plugin's recorded ones; returns the differences (empty: the floor makes exactly the plugin's calls).
 */
export async function checkFloor(ProxyWasmHost, { floorWasm = FLOOR_WASM, configuration, pluginConfig, requests, traces }) {
  const host = await loadWorld(ProxyWasmHost, { wasm: floorWasm, configuration, pluginConfig });
  const problems = [];
  requests.forEach(({ minBytes, request }, i) => {
    for (let k = 0; k < 2; k++) host.request(request);
    const r = host.request(request);
    const want = traces[i].lines, got = callLines(r.hostCalls, metricNames(host));
    const n = Math.max(want.length, got.length);
    for (let j = 0; j < n; j++) {
      if (want[j] !== got[j]) {
        problems.push(`${minBytes} B, call ${j + 1}: the plugin makes ${want[j] ?? "nothing more"}, the floor ${got[j] ?? "nothing more"}`);
        break;
      }
    }
    if (r.response?.status !== 200) problems.push(`${minBytes} B: the floor's request was not forwarded (${r.outcome})`);
  });
  return problems;
}

// ---- the benchmark's requests --------------------------------------------------------------------

export const PATH = "/v1/chat/completions";

/** A client's headers: JSON, and the consumer header when the configuration counts consumers. */
export const requestHeaders = (cfg) => ({ "content-type": "application/json", ...(cfg.metrics?.consumerHeader ? { [cfg.metrics.consumerHeader]: "team-a" } : {}) });

/** The benchmark's routed request body of `bytes` bytes (model "auto"). */
export const benchBody = (bytes) => chatBody(bytes, { seed: 11 });

/** The test-host requests the floor is written from: one routed request per body size. */
export function floorRequests(cfg, sizes) {
  return sizes.map((bytes) => ({ minBytes: bytes, request: { method: "POST", path: PATH, headers: requestHeaders(cfg), body: benchBody(bytes), response: JSON_ANSWER } }));
}

/** The floor's configuration for `cfg` at `sizes`, checked call by call against the plugin in the test host. */
export async function prepareFloor(ProxyWasmHost, { wasm, cfg, sizes, bodyWrite = "auto", floorWasm = FLOOR_WASM }) {
  const requests = floorRequests(cfg, sizes);
  const { configuration, traces } = await floorConfiguration(ProxyWasmHost, { wasm, pluginConfig: cfg, requests, bodyWrite });
  // A forced write mode makes another body write than the plugin's, by design: only "auto" must match.
  const problems = bodyWrite === "auto" ? await checkFloor(ProxyWasmHost, { floorWasm, configuration, pluginConfig: cfg, requests, traces }) : [];
  if (problems.length) throw new Error(`the floor does not make the plugin's host calls:\n  ${problems.join("\n  ")}`);
  return { configuration, traces };
}
