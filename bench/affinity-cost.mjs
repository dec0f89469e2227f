// What prompt-cache affinity costs a request in process (issue 22: ≤ 1 µs at 16 KB for the key and
// the lookup): the prefix key fed the spans the body scan will pass (bench/affinity-entry.ts, the
// plugin's own code compiled alone, no host) and one affinity-map lookup against a host stub that
// copies the bucket's record into Wasm memory as proxy-wasm-cpp-host does. Then the hashes the key's
// was chosen against, over the same 16 KB (docs/affinity.md, "Choosing the hash").
//   node bench/affinity-cost.mjs [--no-write]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chatBody } from "./lib/bodies.mjs";
import { loadEntry } from "./lib/entry.mjs";
import { median } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const RECORD_SIZE = 8 + 4 * 32;

/**
 * ns per call of each function, its batches interleaved with the others' (on a shared machine a
 * batch is often slowed by other work; interleaving spreads that over every variant alike): the
 * median and the minimum of `rounds` batches of `calls` calls.
 */
function interleaved(fns, { rounds = 31, calls = 200, warmup = 3000 } = {}) {
  for (const f of Object.values(fns)) for (let i = 0; i < warmup; i++) f();
  const per = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, f] of Object.entries(fns)) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) f();
      per[k].push(Number(process.hrtime.bigint() - t) / calls);
    }
  }
  return Object.fromEntries(Object.entries(per).map(([k, xs]) => [k, { median: median(xs), min: Math.min(...xs) }]));
}

/** Spans of a body's members as the scan will feed them: [start, end, kind] (0 input, 1 model, 2 + part head). */
export function spansOf(text) {
  const body = JSON.parse(text);
  const spans = [];
  const at = (needle, from) => {
    const i = text.indexOf(needle, from);
    if (i < 0) throw new Error(`span not found: ${needle.slice(0, 40)}`);
    return i;
  };
  const bytes = (i) => Buffer.byteLength(text.slice(0, i));
  for (const [name, part] of [["tools", 1], ["system", 3], ["instructions", 4]]) {
    if (body[name] === undefined) continue;
    const value = JSON.stringify(body[name]);
    const i = at(`"${name}":${value}`) + name.length + 3;
    spans.push([bytes(i), bytes(i) + Buffer.byteLength(value), 2 + part]);
  }
  let from = at('"messages":[');
  for (const m of body.messages ?? []) {
    const value = JSON.stringify(m);
    const i = at(value, from);
    spans.push([bytes(i), bytes(i) + Buffer.byteLength(value), m.role === "assistant" ? 1 : 0]);
    from = i + value.length;
  }
  return spans;
}

/** An agent-like body of about `size` bytes: tools, a system prompt, many small tool steps. */
export function agentBody(size) {
  const tools = Array.from({ length: 6 }, (_, i) => ({ type: "function", function: { name: `tool_${i}`, description: `Tool ${i} of the agent: reads, searches or edits the repository.`, parameters: { type: "object", properties: { path: { type: "string" }, pattern: { type: "string" } } } } }));
  const messages = [{ role: "system", content: "You are a coding agent. Use the tools to answer; cite files." }, { role: "user", content: "Find where the budget is checked and fix the off-by-one." }];
  for (let step = 0; Buffer.byteLength(JSON.stringify({ model: "auto", tools, messages })) < size - 400; step++) {
    messages.push({ role: "assistant", content: null, tool_calls: [{ id: `call_${step}`, type: "function", function: { name: `tool_${step % 6}`, arguments: JSON.stringify({ path: `src/module_${step}.ts` }) } }] });
    messages.push({ role: "tool", tool_call_id: `call_${step}`, content: `src/module_${step}.ts:${step * 7}: if (spent >= limit) return refuse(${step});` });
  }
  return Buffer.from(JSON.stringify({ model: "auto", tools, messages, stream: true }));
}

export async function runAffinityCost(log = console.log) {
  let e = null;
  let record = null;
  // proxy_get_shared_data(key, keyLen, outPtr, outLenPtr, casPtr): the record, copied into a block of
  // the module's own malloc, as cpp-host answers.
  const env = (name) => name !== "proxy_get_shared_data" ? () => 0 : (_k, _kl, outPtr, outLenPtr, casPtr) => {
    const p = e.malloc(RECORD_SIZE);
    new Uint8Array(e.memory.buffer, p, RECORD_SIZE).set(record);
    const dv = new DataView(e.memory.buffer);
    dv.setUint32(outPtr, p, true);
    dv.setUint32(outLenPtr, RECORD_SIZE, true);
    dv.setUint32(casPtr, 1, true);
    return 0;
  };
  const entry = loadEntry("affinity-entry", env);
  e = entry.exports;
  const { put } = entry;
  const rows = [];
  const bodies = [["chat 1 KB", chatBody(1024)], ["chat 16 KB", chatBody(16384)], ["agent 16 KB", agentBody(16384)], ["chat 256 KB", chatBody(262144)]];
  for (const [name, buf] of bodies) {
    const spans = spansOf(buf.toString("utf8"));
    const body = put(buf);
    const table = put(new Uint8Array(new Uint32Array(spans.flat()).buffer));
    const key = BigInt.asUintN(64, e.keys(body, table, spans.length, 1));
    // the key sits in the bucket's last slot: a lookup reads all four
    record = new Uint8Array(RECORD_SIZE);
    const dv = new DataView(record.buffer);
    dv.setUint32(0, 0x31666661, true);
    for (let i = 0; i < 4; i++) { dv.setBigUint64(8 + 32 * i, i === 3 ? key : BigInt(i + 1), true); dv.setFloat64(24 + 32 * i, 1e12, true); }
    if (e.lookups(key, 1e12 + 1000, 1) !== 1) throw new Error("the lookup did not find its key");
    const t = interleaved({
      key: () => e.keys(body, table, spans.length, 10),
      lookup: () => e.lookups(key, 1e12 + 1000, 10),
      sampled: () => e.sampledKeys(body, table, spans.length, 10),
    }, { calls: buf.length > 100_000 ? 10 : 100 });
    const us = (x) => x / 10 / 1000;
    const row = {
      body: name, bytes: buf.length, messages: spans.filter((s) => s[2] < 2).length,
      key_us: us(t.key.median), lookup_us: us(t.lookup.median), total_us: us(t.key.median + t.lookup.median),
      total_min_us: us(t.key.min + t.lookup.min), sampled_key_us: us(t.sampled.median),
    };
    rows.push(row);
    log(`  ${name.padEnd(12)} ${String(row.messages).padStart(4)} items: key ${row.key_us.toFixed(3)} µs + lookup ${row.lookup_us.toFixed(3)} µs = ${row.total_us.toFixed(3)} µs ` +
      `(fastest batch ${row.total_min_us.toFixed(3)}; sampled key ${row.sampled_key_us.toFixed(3)} µs)`);
  }
  // the hashes compared, over the 16 KB chat body in one span
  const buf = chatBody(16384);
  const p = put(buf);
  const names = ["nh32", "nh16", "xxh3Like", "scalar64"];
  const t = interleaved(Object.fromEntries(names.map((n) => [n, () => e[n](p, buf.length)])), { rounds: 41 });
  const hashes = {};
  for (const name of names) {
    const ns = t[name].median;
    hashes[name] = { us_per_16kb: ns / 1000, min_us_per_16kb: t[name].min / 1000, gb_per_s: buf.length / ns };
    log(`  ${name.padEnd(9)} ${(ns / 1000).toFixed(3)} µs per 16 KB (${(buf.length / ns).toFixed(1)} GB/s; fastest batch ${(t[name].min / 1000).toFixed(3)} µs)`);
  }
  return { rows, hashes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log("prompt-cache affinity in process (bench/affinity-entry.ts):");
  const result = await runAffinityCost();
  if (!process.argv.includes("--no-write")) {
    const md = [
      "# Prompt-cache affinity: the key and the lookup in process", "",
      `${new Date().toISOString()} · Node ${process.version} · \`node bench/affinity-cost.mjs\` (bench/affinity-entry.ts: the plugin's prefix key and affinity map compiled alone; the lookup's host read is a stub copying the 136-byte record in). µs per request: medians of 31 batches interleaved with the other columns' (the fastest batch in brackets: this 2-core VM is shared, and other work slows some batches).`, "",
      "| body | items | key | lookup | key + lookup | sampled key (alternative) |", "|---|---|---|---|---|---|",
      ...result.rows.map((r) => `| ${r.body} | ${r.messages} | ${r.key_us.toFixed(3)} | ${r.lookup_us.toFixed(3)} | **${r.total_us.toFixed(3)}** [${r.total_min_us.toFixed(3)}] | ${r.sampled_key_us.toFixed(3)} |`), "",
      "Hashes over the 16 KB chat body as one span:", "",
      "| hash | µs per 16 KB | GB/s |", "|---|---|---|",
      ...Object.entries(result.hashes).map(([k, v]) => `| ${k} | ${v.us_per_16kb.toFixed(3)} [${v.min_us_per_16kb.toFixed(3)}] | ${v.gb_per_s.toFixed(1)} |`), "",
    ];
    writeFileSync(join(ROOT, "bench", "results", "affinity-cost.md"), md.join("\n"));
    writeFileSync(join(ROOT, "bench", "results", "affinity-cost.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, ...result }, null, 1));
    console.log("  wrote bench/results/affinity-cost.md");
  }
}
