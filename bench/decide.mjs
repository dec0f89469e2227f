// The routing decision alone (bench/decide-entry.ts: estimate, every candidate's drop reason and
// cost, rank; no host, no body scan), per strategy, for 10 / 100 / 1000 generated models whose routes
// list every model. The issue-13 budget: balanced within 2 µs at 100 models, 20 µs at 1000.
//   node bench/decide.mjs
import { mkdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { configWithModels } from "./lib/configs.mjs";
import { timePerOp } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const ROUTES = [["auto", "balanced"], ["cheap", "price"], ["fast", "latency"], ["best", "quality"], ["mix", "random"]];

function buildEntry() {
  const out = join(ROOT, "node_modules", ".cache", "llm-router-bench", "decide-entry.wasm");
  mkdirSync(join(out, ".."), { recursive: true });
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "asc"), [join(ROOT, "bench", "decide-entry.ts"), "-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "-o", out], { cwd: join(ROOT, "bench"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building bench/decide-entry.ts failed: ${r.stderr}`);
  return out;
}

function instantiate(file) {
  const mod = new WebAssembly.Module(readFileSync(file));
  const imports = {};
  for (const imp of WebAssembly.Module.imports(mod)) (imports[imp.module] ??= {})[imp.name] = () => 0;
  const e = new WebAssembly.Instance(mod, imports).exports;
  e._initialize?.();
  const put = (bytes) => {
    const p = e.alloc(bytes.length);
    new Uint8Array(e.memory.buffer, p, bytes.length).set(bytes);
    return [p, bytes.length];
  };
  return { e, put };
}

export async function runDecideBench(log = console.log, { models = [10, 100, 1000] } = {}) {
  const file = buildEntry();
  const rows = [];
  for (const n of models) {
    const { e, put } = instantiate(file);
    if (!e.configure(...put(Buffer.from(JSON.stringify(configWithModels(n)))))) throw new Error(`${n} models: configuration rejected`);
    const row = { models: n };
    for (const [alias, strategy] of ROUTES) {
      const body = Buffer.from(JSON.stringify({ model: alias, messages: [{ role: "user", content: "Write a haiku about routers." }], max_tokens: 256 }));
      if (!e.setBody(...put(body))) throw new Error("invalid body");
      const batch = Math.max(10, Math.round(20000 / n));
      if (e.run(batch) !== batch) throw new Error(`${n} models, ${alias}: not every decision routed`);
      row[strategy] = timePerOp(() => e.run(batch)).median / batch / 1000; // µs per decision
    }
    rows.push(row);
    log(`  ${String(n).padStart(5)} models: ${ROUTES.map(([, s]) => `${s} ${row[s].toFixed(2)} µs`).join(", ")}`);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runDecideBench();
