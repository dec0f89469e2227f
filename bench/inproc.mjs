// In-process benchmarks on Node's V8 through the test host (test/host):
//   1. plugin time per routed request at 1 KB … 1 MB, next to the floor (copy into Wasm memory
//      and back, no parsing) and a JavaScript gateway (TextDecoder + JSON.parse + set model +
//      JSON.stringify + TextEncoder), with a per-phase breakdown;
//   2. the routing decision alone for 10 / 100 / 1000 models against a pass-through baseline;
//   3. module sizes.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chatBody, SIZES } from "./lib/bodies.mjs";
import { benchConfig, configWithModels } from "./lib/configs.mjs";
import { timePerOp, us } from "./lib/measure.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { installImportProbe, instrumentCallbacks } from "./lib/probe.mjs";

const HEADERS = { "content-type": "application/json" };
const CLUSTERS = ["openai", "deepseek", "groq"];
const WASM = join(ROOT, "build", "envoy.wasm");

// A hand-assembled 1-function module: memory + alloc(size) that grows memory as needed and always
// returns offset 1024 (a bump allocator reset per request). The floor: what moving the body into a
// Wasm VM and back costs with no parsing at all.
const FLOOR_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
  0x03, 0x02, 0x01, 0x00, // function 0: type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
  0x07, 0x12, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x05, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x00, 0x00,
  0x0a, 0x25, 0x01, 0x23, 0x00,
  0x20, 0x00, 0x41, 0x80, 0x08, 0x6a, 0x3f, 0x00, 0x41, 0x10, 0x74, 0x4b, // size+1024 > memory.size<<16
  0x04, 0x40,
  0x20, 0x00, 0x41, 0x80, 0x08, 0x6a, 0x41, 0x10, 0x76, 0x41, 0x01, 0x6a, 0x40, 0x00, 0x1a, // memory.grow((size+1024>>16)+1)
  0x0b,
  0x41, 0x80, 0x08, 0x0b,
]);

export async function makeFloor() {
  const { instance } = await WebAssembly.instantiate(FLOOR_WASM);
  const { alloc, memory } = instance.exports;
  let u8 = new Uint8Array(memory.buffer);
  const copyIn = (body) => {
    const p = alloc(body.length);
    if (u8.buffer !== memory.buffer) u8 = new Uint8Array(memory.buffer);
    u8.set(body, p);
    return p;
  };
  return {
    copyIn,
    roundTrip(body) {
      const p = copyIn(body);
      return u8.slice(p, p + body.length);
    },
  };
}

const dec = new TextDecoder();
const te = new TextEncoder();
export function jsGateway(body) {
  const obj = JSON.parse(dec.decode(body));
  obj.model = "gpt-4o-mini";
  return te.encode(JSON.stringify(obj));
}

/** Plugin callback time per request (all callbacks), guest-only time and host-call breakdown. */
function callbackTime(host, cb, probe, req) {
  for (let i = 0; i < 50; i++) host.request(req);
  const per = [];
  const t0 = Date.now();
  let last;
  while (per.length < 7) {
    cb.reset();
    probe.reset();
    const tb = Date.now();
    let n = 0;
    do {
      host.request(req);
      n++;
    } while (Date.now() - tb < 100);
    const imports = probe.snapshot();
    const hostNs = Object.values(imports).reduce((a, s) => a + s.ns, 0);
    per.push({ total: cb.ns / n, host: hostNs / n, breakdown: Object.fromEntries(Object.entries(imports).map(([k, s]) => [k.replace("proxy_", ""), us(s.ns / n)])) });
    if (Date.now() - t0 > 5000 && per.length >= 3) break;
  }
  per.sort((a, b) => a.total - b.total);
  last = per[per.length >> 1];
  return { us: us(last.total), guest_us: us(last.total - last.host), host_us: us(last.host), breakdown: last.breakdown };
}

/**
 * on_configure cost for a big catalog (1000 models, 200 routes listing all of them, 2.9 MB of
 * JSON): each Envoy worker compiles the configuration in its own fresh VM, so every sample is a new
 * VM's first compile (proxy_validate_configuration runs the same code as on_configure).
 */
async function compileTime(ProxyWasmHost, wasm, log) {
  const cfg = configWithModels(1000);
  const names = cfg.models.map((m) => m.name);
  for (let i = 0; i < 200; i++) cfg.routes[`r${i}`] = { strategy: ["price", "balanced", "latency"][i % 3], models: names };
  const text = JSON.stringify(cfg);
  const tiny = JSON.stringify({ models: [configWithModels(1).models[0]] });
  const ms = [];
  for (let i = 0; i < 9; i++) {
    const h = await ProxyWasmHost.load({ wasm, configuration: tiny, clusters: CLUSTERS });
    const t = performance.now();
    if (!h.validateConfiguration(text)) throw new Error(`big configuration rejected: ${h.logs.map((l) => l.message).join(" | ")}`);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const row = { models: 1000, routes: 200, bytes: text.length, median_ms: ms[4], min_ms: ms[0] };
  log(`  compile 1000 models × 200 routes (${(text.length / 1e6).toFixed(1)} MB): median ${row.median_ms.toFixed(1)} ms, min ${row.min_ms.toFixed(1)} ms per fresh VM`);
  return row;
}

export async function runInproc(log = console.log, { wasm = WASM } = {}) {
  const { ProxyWasmHost } = await loadHost();
  const probe = installImportProbe();
  const load = async (configuration, extra = {}) => {
    const h = await ProxyWasmHost.load({ wasm, configuration: JSON.stringify(configuration), clusters: CLUSTERS, bufferLimit: 16 << 20, logLevel: 3, ...extra });
    return { h, cb: instrumentCallbacks(h) };
  };
  const { h: host, cb } = await load(benchConfig());
  const floor = await makeFloor();
  const sizes = [];
  const pages = () => host.mem.memory.buffer.byteLength / 65536;

  for (const { label, bytes } of SIZES) {
    const body = chatBody(bytes, { seed: 7 });
    const passBody = Buffer.from(body.toString("utf8").replace('"model":"auto"', '"model":"mist"'), "utf8"); // same size, not ours
    const routedReq = { headers: HEADERS, body };
    const r = host.request(routedReq);
    if (r.outcome !== "upstream" || r.upstream.header("x-llm-model") === undefined) {
      throw new Error(`${label}: expected a routed request, got ${r.outcome} ${r.localResponse?.text ?? ""}`);
    }
    const routed = callbackTime(host, cb, probe, routedReq);
    const pass = callbackTime(host, cb, probe, { headers: HEADERS, body: passBody });
    const full = timePerOp(() => host.request(routedReq)).median;
    // the same body on a request the plugin does not handle: the test host's own cost
    const hostOnly = timePerOp(() => host.request({ headers: { "content-type": "text/plain", "x-llm-upstream": "openai" }, body })).median;
    const floorRT = us(timePerOp(() => floor.roundTrip(body)).median);
    const js = us(timePerOp(() => jsGateway(body), { batches: 5 }).median);
    const row = {
      size: label, bytes: body.length, chosen: r.upstream.header("x-llm-model"),
      plugin_us: routed.us, guest_us: routed.guest_us, host_calls_us: routed.host_us, host_call_breakdown: routed.breakdown,
      passthrough_us: pass.us, passthrough_guest_us: pass.guest_us,
      floor_us: floorRT, floor_copy_in_us: us(timePerOp(() => floor.copyIn(body)).median), js_us: js,
      request_us: us(full), host_only_request_us: us(hostOnly), pages_after: pages(),
    };
    row.ratio_plugin_floor = row.plugin_us / row.floor_us;
    row.ratio_js_plugin = row.js_us / row.plugin_us;
    sizes.push(row);
    log(`  ${label.padEnd(7)} plugin ${row.plugin_us.toFixed(2)} µs (guest ${row.guest_us.toFixed(2)}, host calls ${row.host_calls_us.toFixed(2)}), pass-through ${row.passthrough_us.toFixed(2)}, ` +
      `floor ${row.floor_us.toFixed(2)}, JS ${row.js_us.toFixed(1)} → plugin/floor ${row.ratio_plugin_floor.toFixed(2)}×, JS/plugin ${row.ratio_js_plugin.toFixed(1)}×; pages ${row.pages_after}`);
  }

  // ---- requests decided from the headers alone: every request pays for the header read and the
  // removal of client routing headers, handled or not
  const headerOnly = {};
  const getReq = (path, headers = {}) => ({ method: "GET", path, headers });
  headerOnly.get_us = callbackTime(host, cb, probe, getReq("/v1/files", { accept: "application/json", "user-agent": "bench" })).us;
  headerOnly.get_spoofed_us = callbackTime(host, cb, probe, getReq("/v1/files", { accept: "application/json", "x-llm-upstream": "groq", "x-llm-model": "x" })).us;
  headerOnly.models_list_us = callbackTime(host, cb, probe, getReq("/v1/models")).us;
  log(`  headers only: GET ${headerOnly.get_us.toFixed(2)} µs, GET with spoofed routing headers ${headerOnly.get_spoofed_us.toFixed(2)} µs, GET /v1/models ${headerOnly.models_list_us.toFixed(2)} µs`);

  // ---- routing decision alone: tiny body, N models
  const routing = [];
  const tiny = (model) => Buffer.from(JSON.stringify({ model, messages: [{ role: "user", content: "Say hello in one word." }], max_tokens: 64 }));
  for (const n of [10, 100, 1000]) {
    const { h, cb: c } = await load(configWithModels(n));
    if (!h.configured) throw new Error(`config with ${n} models rejected: ${h.logs.map((l) => l.message).join(" | ")}`);
    const row = { models: n };
    row.passthrough_us = callbackTime(h, c, probe, { headers: HEADERS, body: tiny("not-routed") }).us;
    for (const route of ["auto", "cheap", "mix"]) {
      const req = { headers: HEADERS, body: tiny(route) };
      const res = h.request(req);
      if (res.outcome !== "upstream") throw new Error(`${n} models, ${route}: ${res.outcome} ${res.localResponse?.text}`);
      row[`${route}_us`] = callbackTime(h, c, probe, req).us;
    }
    row.catalog_last_us = callbackTime(h, c, probe, { headers: HEADERS, body: tiny(`model-${String(n - 1).padStart(4, "0")}`) }).us;
    routing.push(row);
    log(`  ${String(n).padStart(4)} models: pass-through ${row.passthrough_us.toFixed(2)} µs, auto ${row.auto_us.toFixed(2)}, cheap ${row.cheap_us.toFixed(2)}, mix ${row.mix_us.toFixed(2)}, catalog name ${row.catalog_last_us.toFixed(2)}`);
  }
  probe.restore();
  const compile = await compileTime(ProxyWasmHost, wasm, log);

  const size = {};
  for (const t of ["envoy", "higress"]) {
    const file = t === "envoy" ? wasm : join(ROOT, "build", "higress.wasm");
    const bytes = readFileSync(file);
    size[t] = { bytes: statSync(file).size, gzip: gzipSync(bytes, { level: 9 }).length };
  }
  log(`  module: envoy.wasm ${size.envoy.bytes} B (gzip ${size.envoy.gzip} B), higress.wasm ${size.higress.bytes} B`);
  return { sizes, headerOnly, routing, compile, module: size };
}
