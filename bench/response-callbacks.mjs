// What an exported proxy_on_response_headers costs a request that needs no translation, through real
// Envoy 1.40 (issue 19: the Envoy build exports none today, assembly/exports.ts). Two do-nothing
// modules that differ only by that export (bench/noop-upstream-filter.ts, with the plugin's other
// callbacks, and bench/noop-response-headers-filter.ts), each as the router filter AND the router's
// upstream filter (as the plugin runs: a callback per stream and per attempt), and plain Envoy, serve
// the same 1 KB request in interleaved rounds (wrk, one connection; Envoy pinned to CPU 1, wrk and
// the mock on CPU 0). Two measures per round: Envoy's CPU time per request (every thread's
// /proc/<pid>/task/*/schedstat, ns: what the callbacks cost, and far less disturbed than latency
// when other processes load the machine) and the p50 latency. Each round's difference is a sample;
// the median and its interquartile range over the rounds are reported (µs per request: one stream
// + one attempt = two calls).
//   node bench/response-callbacks.mjs [--rounds N] [--seconds S]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import YAML from "yaml";
import { startMockProvider } from "../mock/provider.mjs";
import { freePort, runWrk, startProcess, waitHttp, wrkScript } from "./envoy.mjs";
import { chatBody } from "./lib/bodies.mjs";
import { summary } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const ENVOY_BIN = join(ROOT, ".venv", "bin", "envoy");
const PATH = "/v1/chat/completions";

function build(source) {
  const out = join(ROOT, "build", `bench-${source}.wasm`);
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "asc"), [`${source}.ts`, "-o", out, "-O3", "--runtime", "incremental", "--use", "abort=", "--exportStart", "_initialize"], { cwd: join(ROOT, "bench"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/${source}.ts failed: ${r.stderr}`);
  return out;
}

function wasmFilter(name, rootId, wasm) {
  return {
    name,
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: { name, root_id: rootId, vm_config: { vm_id: "bench", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasm } } } },
    },
  };
}

function config({ port, adminPort, mockPort, wasm }) {
  const router = { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" };
  if (wasm) {
    router.upstream_http_filters = [
      wasmFilter("up", "up", wasm),
      { name: "envoy.filters.http.upstream_codec", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec" } },
    ];
  }
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: adminPort } } },
    static_resources: {
      listeners: [{
        name: "l",
        address: { socket_address: { address: "127.0.0.1", port_value: port } },
        filter_chains: [{ filters: [{
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            stat_prefix: "l",
            route_config: { name: "r", virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "mock", timeout: "10s" } }] }] },
            http_filters: [...(wasm ? [wasmFilter("down", "down", wasm)] : []), { name: "envoy.filters.http.router", typed_config: router }],
          },
        }] }],
      }],
      clusters: [{
        name: "mock", type: "STATIC", connect_timeout: "1s",
        load_assignment: { cluster_name: "mock", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: mockPort } } } }] }] },
      }],
    },
  };
}

// CPU time every thread of the process has run, in ns.
function cpuNs(pid) {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try { total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]); } catch { /* thread gone */ }
  }
  return total;
}

async function startTarget(name, mockPort, wasm, dir) {
  const port = await freePort();
  const adminPort = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, YAML.stringify(config({ port, adminPort, mockPort, wasm })));
  const baseId = String(30000 + ((process.pid % 3000) * 10 + name.length) % 30000);
  const child = startProcess(ENVOY_BIN, ["-c", file, "--disable-hot-restart", "--concurrency", "1", "-l", "warning", "--base-id", baseId], { cwd: ROOT });
  await waitHttp(`http://127.0.0.1:${adminPort}/ready`, { ok: (s) => s === 200, proc: child });
  return { name, url: `http://127.0.0.1:${port}`, child };
}

export async function runResponseCallbacks({ rounds = 15, seconds = 2, log = console.log } = {}) {
  const without = build("noop-upstream-filter");
  const withHeaders = build("noop-response-headers-filter");
  const mock = await startMockProvider({ port: 0, name: "bench" });
  const dir = mkdtempSync(join(tmpdir(), "llm-router-callbacks-"));
  const targets = [];
  try {
    targets.push(await startTarget("plain", mock.port, null, dir));
    targets.push(await startTarget("noop", mock.port, without, dir));
    targets.push(await startTarget("noop+response_headers", mock.port, withHeaders, dir));
    const body = join(dir, "body.json");
    writeFileSync(body, chatBody(1024, { seed: 3 }));
    const script = wrkScript(dir, [body], PATH, {});
    const run = async (t, s) => { try { return await runWrk({ url: t.url, script, connections: 1, seconds: s }); } finally { mock.requests.length = 0; } };
    for (const t of targets) await run(t, 1);
    const p50 = new Map(targets.map((t) => [t.name, []]));
    const cpu = new Map(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + round) % targets.length];
        const before = cpuNs(t.child.pid);
        const r = await run(t, seconds);
        const used = cpuNs(t.child.pid) - before;
        if (r.non2xx > 0 || r.socketErrors) throw new Error(`${t.name}: ${r.non2xx} non-2xx ${r.socketErrors}`);
        p50.get(t.name).push(r.p50_us);
        cpu.get(t.name).push(used / 1000 / r.requests);
      }
    }
    const diff = (m, a, b) => summary(m.get(a).map((x, i) => x - m.get(b)[i]));
    const result = {
      rounds,
      plain: { cpu_us: summary(cpu.get("plain")), p50_us: summary(p50.get("plain")) },
      noop_over_plain: { cpu_us: diff(cpu, "noop", "plain"), p50_us: diff(p50, "noop", "plain") },
      response_headers_export: { cpu_us: diff(cpu, "noop+response_headers", "noop"), p50_us: diff(p50, "noop+response_headers", "noop") },
    };
    const f = (s) => `${s.median.toFixed(2)} µs [${s.p25.toFixed(2)}, ${s.p75.toFixed(2)}]`;
    log(`  plain Envoy: CPU ${f(result.plain.cpu_us)} per request, p50 ${f(result.plain.p50_us)}`);
    log(`  no-op Wasm filter (router + upstream) adds CPU ${f(result.noop_over_plain.cpu_us)}, p50 ${f(result.noop_over_plain.p50_us)}`);
    log(`  exporting proxy_on_response_headers adds CPU ${f(result.response_headers_export.cpu_us)}, p50 ${f(result.response_headers_export.p50_us)} per request (one stream + one attempt), ${rounds} rounds`);
    return result;
  } finally {
    for (const t of targets) await t.child.stop();
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? Number(process.argv[i + 1]) : d; };
  await runResponseCallbacks({ rounds: arg("rounds", 15), seconds: arg("seconds", 2) });
}
