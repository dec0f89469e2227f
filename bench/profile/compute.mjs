// Runs bench/profile/compute.ts in Envoy (one request at a time) and in Node, on the same body.
//   node bench/profile/compute.mjs [--kb 16]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startMockProvider } from "../../mock/provider.mjs";
import { startEnvoy } from "../envoy.mjs";
import { chatBody } from "../lib/bodies.mjs";
import { ROOT } from "../lib/ts.mjs";

const argv = process.argv.slice(2);
const kb = Number(argv.includes("--kb") ? argv[argv.indexOf("--kb") + 1] : "16");
const out = join(ROOT, "build", "bench-compute.wasm");
const r = spawnSync(join(ROOT, "node_modules", ".bin", "asc"), ["profile/compute.ts", "-o", out, "-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "--exportStart", "_initialize"], { cwd: join(ROOT, "bench"), encoding: "utf8" });
if (r.status !== 0) throw new Error(r.stderr);
const body = chatBody(kb * 1024, { seed: 11 });

// Node: stub host functions, the same exports.
let mem;
const env = new Proxy({}, { get: (_, name) => (name === "proxy_get_buffer_bytes"
  ? (t, s, n, pp, sp) => { const p = inst.exports.malloc(body.length); new Uint8Array(mem.buffer).set(body, p); new DataView(mem.buffer).setUint32(pp, p, true); new DataView(mem.buffer).setUint32(sp, body.length, true); return 0; }
  : () => 0) });
const { instance: inst } = await WebAssembly.instantiate(readFileSync(out), { env });
mem = inst.exports.memory;
inst.exports._initialize();
inst.exports.proxy_on_configure(1, body.length);
for (let i = 0; i < 20; i++) inst.exports.scanRepeatedly(200);
const node = [];
for (let i = 0; i < 9; i++) { const t = process.hrtime.bigint(); inst.exports.scanRepeatedly(200); node.push(Number(process.hrtime.bigint() - t) / 200); }
node.sort((a, b) => a - b);

// Envoy: the module as the Wasm filter, configured with the body.
const mock = await startMockProvider({ host: "127.0.0.1", port: 0 });
const e = await startEnvoy(mock.port, "floor", out, undefined, { wasm: out, configuration: body.toString("utf8") });
for (let i = 0; i < 30; i++) await (await fetch(e.url + "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).arrayBuffer();
await new Promise((res) => setTimeout(res, 300));
const envoy = [...e.child.logText().matchAll(/compute (\d+)/g)].map((m) => Number(m[1])).slice(5).sort((a, b) => a - b);
await e.stop();
await mock.close();
const med = (xs) => xs[xs.length >> 1];
console.log(`body scan of ${kb} KB: Node ${med(node).toFixed(0)} ns, Envoy ${med(envoy).toFixed(0)} ns (${(med(envoy) / med(node)).toFixed(2)}×)`);
