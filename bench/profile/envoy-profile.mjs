// Profiling aid (bench only, not part of `npm run bench`): where the plugin's time goes INSIDE Envoy.
// The plugin and the floor filter, each built with every callback timed (bench/profile/timed.ts),
// serve `--seconds` of wrk -c1 each at one body size; prints the mean ns spent inside each callback
// per request, plugin next to floor.
//   node bench/profile/envoy-profile.mjs [--kb 1] [--seconds 10] [--config all-on|all-off|<variant name>]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockProvider } from "../../mock/provider.mjs";
import { canPin, LOAD_CPU, runWrk, startEnvoy, wrkScript } from "../envoy.mjs";
import { chatBody } from "../lib/bodies.mjs";
import { featureVariants } from "../lib/configs.mjs";
import { buildFloor, prepareFloor } from "../lib/floor.mjs";
import { loadHost, ROOT } from "../lib/ts.mjs";

const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
const bytes = Number(opt("kb", "1")) * 1024;
const seconds = Number(opt("seconds", "10"));
const variant = featureVariants().find((v) => v.name === opt("config", "all on").replace(/-/g, " ")) ?? featureVariants()[0];
const asc = join(ROOT, "node_modules", ".bin", "asc");
const PLUGIN = join(ROOT, "build", "bench-plugin-timed.wasm"), FLOOR = join(ROOT, "build", "bench-floor-timed.wasm");
// The plugin and the floor, each wrapped with every callback timed: one wrapper (timedWrapper),
// written into bench/profile/ (git-ignored; asc resolves the plugin's `use` only from there),
// importing the module it wraps.
function timedWrapper(modulePath) {
  return `import * as p from "${modulePath}";
import { countContext, note, now } from "./timed";
export { malloc, proxy_on_memory_allocate, proxy_on_vm_start, proxy_validate_configuration, proxy_on_configure, proxy_on_tick } from "${modulePath}";
export function proxy_on_context_create(c: u32, parent: u32): void {
  const t = now(); p.proxy_on_context_create(c, parent); if (parent != 0) { note(0, t); countContext(); }
}
export function proxy_on_request_headers(c: u32, n: u32, e: u32): u32 { const t = now(); const r = p.proxy_on_request_headers(c, n, e); note(1, t); return r; }
export function proxy_on_request_body(c: u32, n: usize, e: u32): u32 { const t = now(); const r = p.proxy_on_request_body(c, n, e); note(2, t); return r; }
export function proxy_on_request_trailers(c: u32, n: u32): u32 { const t = now(); const r = p.proxy_on_request_trailers(c, n); note(3, t); return r; }
export function proxy_on_response_body(c: u32, n: usize, e: u32): u32 { const t = now(); const r = p.proxy_on_response_body(c, n, e); note(5, t); return r; }
export function proxy_on_log(c: u32): void { const t = now(); p.proxy_on_log(c); note(6, t); }
export function proxy_on_delete(c: u32): void { const t = now(); p.proxy_on_delete(c); note(8, t); }
export function proxy_abi_version_0_2_1(): void {}
`;
}
for (const [wrapper, module, out, options] of [
  ["generated-plugin-timed.ts", "../../assembly/exports", PLUGIN, ["--config", "asconfig.json", "--target", "envoy", "--textFile", "/dev/null"]],
  // from bench/, where no asconfig.json applies the plugin's options
  ["generated-floor-timed.ts", "../floor-filter", FLOOR, ["-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "--exportStart", "_initialize"]],
]) {
  writeFileSync(join(ROOT, "bench", "profile", wrapper), timedWrapper(module));
  const cwd = module.startsWith("../../assembly") ? ROOT : join(ROOT, "bench");
  const r = spawnSync(asc, [join(cwd === ROOT ? "bench/profile" : "profile", wrapper), "--outFile", out, ...options], { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}
if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
const { ProxyWasmHost } = await loadHost();
const cfg = variant.config;
buildFloor(); // prepareFloor checks its configuration against the floor itself
const floor = await prepareFloor(ProxyWasmHost, { wasm: join(ROOT, "build", "envoy.wasm"), cfg, sizes: [bytes] });
const mock = await startMockProvider({ host: "127.0.0.1", port: 0, name: "bench-mock" });
const dir = mkdtempSync(join(tmpdir(), "llm-router-profile-"));
const file = join(dir, "body.json");
writeFileSync(file, chatBody(bytes, { seed: 11 }));
const headers = { "content-type": "application/json", ...(cfg.metrics?.consumerHeader ? { [cfg.metrics.consumerHeader]: "team-a" } : {}) };
const out = {};
for (const [name, mode, floorSpec] of [["plugin", "wasm", undefined], ["floor", "floor", { wasm: FLOOR, configuration: floor.configuration }]]) {
  const e = await startEnvoy(mock.port, mode, PLUGIN, cfg, floorSpec);
  try {
    const script = wrkScript(dir, [file], "/v1/chat/completions", headers);
    await runWrk({ url: e.url, script, connections: 1, seconds: 2 });
    const w = await runWrk({ url: e.url, script, connections: 1, seconds });
    await new Promise((res) => setTimeout(res, 300));
    const per = {};
    const lines = [...e.child.logText().matchAll(/timed (\w+) (\d+) (\d+)/g)];
    for (const m of lines.slice(-9 * 3)) (per[m[1]] ??= []).push({ calls: Number(m[2]), ns: Number(m[3]) });
    out[name] = { p50_us: w.p50_us, rps: w.rps, per: Object.fromEntries(Object.entries(per).map(([k, v]) => { const last = v.at(-1); return [k, { calls: last.calls, ns_per_call: last.ns / last.calls }]; })) };
  } finally {
    await e.stop();
  }
}
await mock.close();
rmSync(dir, { recursive: true, force: true });
const names = new Set([...Object.keys(out.plugin.per), ...Object.keys(out.floor.per)]);
console.log(`${variant.name}, ${bytes / 1024} KB: p50 plugin ${out.plugin.p50_us} µs, floor ${out.floor.p50_us} µs (timed builds)`);
console.log("callback            calls/period  plugin ns/call  floor ns/call");
for (const n of names) {
  const a = out.plugin.per[n], b = out.floor.per[n];
  console.log(`${n.padEnd(20)}${String(a?.calls ?? b?.calls).padStart(12)}  ${(a?.ns_per_call ?? 0).toFixed(0).padStart(14)}  ${(b?.ns_per_call ?? 0).toFixed(0).padStart(13)}`);
}
