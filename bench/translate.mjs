// The API translators in process (bench/translate-entry.ts: assembly/api with the plugin's compiler
// settings, no host): a 1 KB and a 16 KB chat request translated each way, and each event of a
// streamed answer translated as it arrives (one provider chunk per event). Issue 19's budgets:
// ≤ 10 µs per 1 KB request, ≤ 1 µs per streamed event. Timed by this process's CPU time (median of
// batches), so that other processes on a shared machine do not count.
//   node bench/translate.mjs
import { pathToFileURL } from "node:url";
import { chatBody } from "./lib/bodies.mjs";
import { loadEntry } from "./lib/entry.mjs";
import { timePerOp } from "./lib/measure.mjs";

const OPENAI_TO_ANTHROPIC = 1;
const ANTHROPIC_TO_OPENAI = 2;

/** The same conversation as an Anthropic Messages request. */
function anthropicBody(openai) {
  const o = JSON.parse(openai);
  const system = o.messages.filter((m) => m.role === "system").map((m) => m.content).join("\n");
  const messages = o.messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role, content: [{ type: "text", text: m.content }] }));
  if (messages.at(-1)?.role !== "user") messages.push({ role: "user", content: "Go on." });
  return Buffer.from(JSON.stringify({ model: "auto", max_tokens: o.max_tokens, system, messages, temperature: o.temperature, metadata: { user_id: o.user } }));
}

const words = ["Hello", " there", ",", " this", " is", " a", " streamed", " answer", " with", " \"quotes\"", " and", " café", ".\n"];

/** A provider's stream of `n` text deltas (plus its framing events), one chunk per event. */
function anthropicStream(n) {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const events = [ev("message_start", { message: { id: "msg_bench", type: "message", role: "assistant", model: "claude-bench", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1000, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } } }),
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } })];
  for (let i = 0; i < n; i++) events.push(ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: words[i % words.length] } }));
  events.push(ev("content_block_stop", { index: 0 }), ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }), ev("message_stop", {}));
  return events;
}

function openaiStream(n) {
  const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1767225600, model: "gpt-bench", system_fingerprint: "fp_1", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const events = [chunk({ role: "assistant", content: "" })];
  for (let i = 0; i < n; i++) events.push(chunk({ content: words[i % words.length] }));
  events.push(chunk({}, "stop"), `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1767225600, model: "gpt-bench", choices: [], usage: { prompt_tokens: 1000, completion_tokens: n, total_tokens: 1000 + n } })}\n\n`, "data: [DONE]\n\n");
  return events;
}

export async function runTranslateBench(log = console.log) {
  const { exports: e, put } = loadEntry("translate-entry");
  const literal = Buffer.from(JSON.stringify("bench-upstream-model"));
  e.setTarget(put(literal), literal.length, 4096n);
  const rows = { requests: [], streams: [] };
  for (const kb of [1, 16]) {
    const openai = chatBody(kb * 1024, { seed: 5 });
    const anthropic = anthropicBody(openai);
    for (const [name, pair, body] of [["OpenAI chat → Anthropic", OPENAI_TO_ANTHROPIC, openai], ["Anthropic → OpenAI chat", ANTHROPIC_TO_OPENAI, anthropic]]) {
      e.setBody(put(body), body.length);
      const batch = kb === 1 ? 200 : 20;
      if (e.runRequest(pair, 1) === 0) throw new Error(`${name}: the ${kb} KB request was refused`);
      const us = timePerOp(() => e.runRequest(pair, batch), { cpu: true }).median / batch / 1000;
      rows.requests.push({ translation: name, kb, bytes: body.length, us });
      log(`  ${name}, ${kb} KB request (${body.length} B): ${us.toFixed(2)} µs`);
    }
  }
  const DELTAS = 200;
  for (const [name, pair, events, request] of [
    ["Anthropic stream → OpenAI chunks", OPENAI_TO_ANTHROPIC, anthropicStream(DELTAS), { model: "auto", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] }],
    ["OpenAI chunks → Anthropic stream", ANTHROPIC_TO_OPENAI, openaiStream(DELTAS), { model: "auto", max_tokens: 500, stream: true, messages: [{ role: "user", content: "hi" }] }],
  ]) {
    const text = Buffer.from(events.join(""));
    const ends = new Uint32Array(events.length);
    let at = 0;
    events.forEach((ev, i) => { at += Buffer.byteLength(ev); ends[i] = at; });
    const req = Buffer.from(JSON.stringify(request));
    e.setStream(put(req), req.length, put(text), put(Buffer.from(ends.buffer)), events.length);
    if (e.runStream(pair, 1) === 0) throw new Error(`${name}: nothing written`);
    const batch = 5;
    const us = timePerOp(() => e.runStream(pair, batch), { cpu: true }).median / batch / 1000;
    const perEvent = us / events.length;
    rows.streams.push({ translation: name, events: events.length, us_per_stream: us, us_per_event: perEvent });
    log(`  ${name}: ${perEvent.toFixed(3)} µs per event (${events.length} events, one chunk each)`);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await runTranslateBench();
