// The routing decision alone (bench/decide-entry.ts: estimate, every candidate's drop reason and
// cost, rank; no host, no body scan), per strategy, for 10 / 100 / 1000 generated models whose routes
// list every model. The issue-13 budget: balanced within 2 µs at 100 models, 20 µs at 1000.
//   node bench/decide.mjs
import { pathToFileURL } from "node:url";
import { configWithModels } from "./lib/configs.mjs";
import { loadEntry } from "./lib/entry.mjs";
import { timePerOp } from "./lib/measure.mjs";

const ROUTES = [["auto", "balanced"], ["cheap", "price"], ["fast", "latency"], ["best", "quality"], ["mix", "random"]];

export async function runDecideBench(log = console.log, { models = [10, 100, 1000] } = {}) {
  const rows = [];
  for (const n of models) {
    const { exports: e, put } = loadEntry("decide-entry");
    const text = Buffer.from(JSON.stringify(configWithModels(n)));
    if (!e.configure(put(text), text.length)) throw new Error(`${n} models: configuration rejected`);
    const row = { models: n };
    for (const [alias, strategy] of ROUTES) {
      const body = Buffer.from(JSON.stringify({ model: alias, messages: [{ role: "user", content: "Write a haiku about routers." }], max_tokens: 256 }));
      if (!e.setBody(put(body), body.length)) throw new Error("invalid body");
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
