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
import { timePerOp } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const RECORD_SIZE = 8 + 4 * 32;

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
    // medians of 15 batches (the machine is shared: a batch is often slowed by other work)
    const time = (f) => timePerOp(f, { batches: 15, batchMs: 60 }).median / 100 / 1000;
    const keyUs = time(() => e.keys(body, table, spans.length, 100));
    const lookupUs = time(() => e.lookups(key, 1e12 + 1000, 100));
    const sampledUs = time(() => e.sampledKeys(body, table, spans.length, 100));
    const row = { body: name, bytes: buf.length, messages: spans.filter((s) => s[2] < 2).length, key_us: keyUs, lookup_us: lookupUs, total_us: keyUs + lookupUs, sampled_key_us: sampledUs };
    rows.push(row);
    log(`  ${name.padEnd(12)} ${String(row.messages).padStart(4)} messages: key ${keyUs.toFixed(3)} µs + lookup ${lookupUs.toFixed(3)} µs = ${row.total_us.toFixed(3)} µs (sampled key: ${sampledUs.toFixed(3)} µs)`);
  }
  // the hashes compared, over the 16 KB chat body in one span
  const buf = chatBody(16384);
  const p = put(buf);
  const hashes = {};
  for (const name of ["nh32", "nh16", "xxh3Like", "scalar64"]) {
    const ns = timePerOp(() => { for (let i = 0; i < 20; i++) e[name](p, buf.length); }, { batches: 15, batchMs: 60 }).median / 20;
    hashes[name] = { us_per_16kb: ns / 1000, gb_per_s: buf.length / ns };
    log(`  ${name.padEnd(9)} ${(ns / 1000).toFixed(3)} µs per 16 KB (${(buf.length / ns).toFixed(1)} GB/s)`);
  }
  return { rows, hashes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log("prompt-cache affinity in process (bench/affinity-entry.ts):");
  const result = await runAffinityCost();
  if (!process.argv.includes("--no-write")) {
    const md = [
      "# Prompt-cache affinity: the key and the lookup in process", "",
      `${new Date().toISOString()} · Node ${process.version} · \`node bench/affinity-cost.mjs\` (bench/affinity-entry.ts: the plugin's prefix key and affinity map compiled alone; the lookup's host read is a stub copying the 136-byte record in). µs per request, medians of 15 batches.`, "",
      "| body | messages | key | lookup | key + lookup | sampled key (alternative) |", "|---|---|---|---|---|---|",
      ...result.rows.map((r) => `| ${r.body} | ${r.messages} | ${r.key_us.toFixed(3)} | ${r.lookup_us.toFixed(3)} | **${r.total_us.toFixed(3)}** | ${r.sampled_key_us.toFixed(3)} |`), "",
      "Hashes over the 16 KB chat body as one span:", "",
      "| hash | µs per 16 KB | GB/s |", "|---|---|---|",
      ...Object.entries(result.hashes).map(([k, v]) => `| ${k} | ${v.us_per_16kb.toFixed(3)} | ${v.gb_per_s.toFixed(1)} |`), "",
    ];
    writeFileSync(join(ROOT, "bench", "results", "affinity-cost.md"), md.join("\n"));
    writeFileSync(join(ROOT, "bench", "results", "affinity-cost.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, ...result }, null, 1));
    console.log("  wrote bench/results/affinity-cost.md");
  }
}
