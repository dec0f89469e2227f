// Differential fuzzing of the API translators (assembly/api, through test/unit/translator.mjs).
//   requests: random valid OpenAI chat and Anthropic Messages requests (valid against their own
//     API's published schema: a generator bug shows up as such) must translate to a valid request of
//     the other API (its published schema; for Anthropic also the mock's checks of what the API
//     refuses: alternation, tool_use / tool_result pairing), or be refused with a 400 exactly when the
//     request uses a field the other API cannot carry; the same requests with random byte mutations
//     must never trap.
//   streams: random provider streams of either API, translated whole, must give events valid against
//     the client API's schema; split in two at every byte boundary, and at random, the same output,
//     holding at most one event.
// Every case is derived from (seed, index), so any failure replays alone.
import { isDeepStrictEqual } from "node:util";
import { caseRng } from "./core.mjs";
import { Translator } from "../unit/translator.mjs";
import { schemaErrors } from "../golden/translation/schemas/validators.mjs";
import { messagesProblem } from "../../mock/messages.mjs";

const WORDS = ["hello", "world", "café", "日本語", "😀", "\"quoted\"", "back\\slash", "line\nbreak", "tab\there", "\u2028", "<b>", "{json}", "", " "];
const text = (r, min = 1) => {
  let s = "";
  const n = min + r.int(5);
  for (let i = 0; i < n; i++) s += r.pick(WORDS) + " ";
  return s.trim() || "x";
};
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const toolName = (r) => r.pick(["get_weather", "search", "now", "calc_2", "lookup-id"]);
const schema = (r) => r.chance(0.2) ? { type: "object", properties: {} } : { type: "object", properties: { city: { type: "string", description: text(r) }, n: { type: "integer" } }, required: r.chance(0.5) ? ["city"] : [] };
const args = (r) => r.pick([{}, { city: text(r) }, { city: "Oslo", n: r.int(100) }, { nested: { list: [1, "two", null, true] } }]);

// ---- OpenAI chat requests ----------------------------------------------------------------------------

/** A valid chat completions request and whether the Anthropic translation must refuse it. */
export function openaiRequest(r) {
  const messages = [];
  let ids = 0;
  const tools = r.chance(0.4) ? Array.from({ length: 1 + r.int(3) }, () => ({ type: "function", function: { name: toolName(r), description: text(r), parameters: schema(r), ...(r.chance(0.2) ? { strict: true } : {}) } })) : null;
  if (r.chance(0.5)) messages.push({ role: r.pick(["system", "developer"]), content: r.chance(0.7) ? text(r) : [{ type: "text", text: text(r) }] });
  const turns = 1 + r.int(4);
  for (let t = 0; t < turns; t++) {
    const userContent = () => {
      if (r.chance(0.6)) return text(r);
      const parts = [{ type: "text", text: text(r) }];
      if (r.chance(0.3)) parts.push({ type: "image_url", image_url: { url: r.chance(0.5) ? `data:${r.pick(["image/png", "image/jpeg", "image/webp"])};base64,${PNG}` : "https://example.com/a.png", ...(r.chance(0.3) ? { detail: "low" } : {}) } });
      if (r.chance(0.1)) parts.push({ type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } });
      return parts;
    };
    messages.push({ role: "user", content: userContent(), ...(r.chance(0.1) ? { name: "alice" } : {}) });
    if (r.chance(0.2)) messages.push({ role: "user", content: userContent() }); // merged with the previous turn
    if (t === turns - 1 && r.chance(0.7)) break;
    if (tools && r.chance(0.5)) {
      const calls = Array.from({ length: 1 + r.int(2) }, () => ({ id: `call_${++ids}`, type: "function", function: { name: r.pick(tools).function.name, arguments: r.chance(0.1) ? "" : JSON.stringify(args(r), null, r.chance(0.3) ? 1 : 0) } }));
      messages.push({ role: "assistant", content: r.chance(0.5) ? null : text(r), tool_calls: calls });
      for (const c of calls) messages.push({ role: "tool", tool_call_id: c.id, content: r.chance(0.7) ? text(r) : [{ type: "text", text: text(r) }] });
    } else {
      messages.push({ role: "assistant", content: r.chance(0.8) ? text(r) : [{ type: "text", text: text(r) }] });
    }
  }
  const body = { model: r.pick(["auto", "cheap", "gpt-4o"]), messages };
  if (r.chance(0.5)) body[r.pick(["max_tokens", "max_completion_tokens"])] = 1 + r.int(4000);
  if (r.chance(0.3)) body.temperature = r.pick([0, 0.2, 0.7, 1]);
  if (r.chance(0.2)) body.top_p = r.pick([0.1, 0.9, 1]);
  if (r.chance(0.3)) body.stop = r.chance(0.5) ? text(r) : [text(r), "END"];
  if (r.chance(0.3)) { body.stream = true; if (r.chance(0.5)) body.stream_options = { include_usage: r.chance(0.7) }; }
  if (r.chance(0.2)) body.user = "user-" + r.int(1000);
  for (const k of ["frequency_penalty", "presence_penalty", "seed", "store", "service_tier", "reasoning_effort"]) {
    if (r.chance(0.05)) body[k] = { frequency_penalty: 0.5, presence_penalty: -0.5, seed: 42, store: false, service_tier: "auto", reasoning_effort: "low" }[k];
  }
  if (tools) {
    body.tools = tools;
    if (r.chance(0.5)) body.tool_choice = r.pick(["auto", "none", "required", { type: "function", function: { name: tools[0].function.name } }]);
    if (r.chance(0.3)) body.parallel_tool_calls = r.chance(0.5);
  }
  // fields the Anthropic translation must refuse
  let refuse = null;
  if (r.chance(0.08)) {
    const k = r.pick(["n", "logprobs", "logit_bias", "response_format", "audio", "temperature", "web_search_options", "functions"]);
    const v = { n: 2, logprobs: true, logit_bias: { 50256: -100 }, response_format: { type: "json_object" }, audio: { voice: "alloy", format: "mp3" }, temperature: 1.7, web_search_options: {}, functions: [{ name: "f" }] }[k];
    body[k] = v;
    if (k === "audio") body.modalities = ["text", "audio"];
    refuse = k;
  } else if (r.chance(0.03)) {
    body.messages.push({ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] });
    refuse = "input_audio";
  } else if (r.chance(0.03) && tools) {
    body.messages.push({ role: "assistant", content: null, tool_calls: [{ id: "call_bad", type: "function", function: { name: tools[0].function.name, arguments: r.pick(["{city: x}", "[1]", "\"str\"", "{\"a\":"]) } }]}, { role: "tool", tool_call_id: "call_bad", content: "x" });
    refuse = "arguments";
  }
  return { body, refuse };
}

// ---- Anthropic Messages requests ---------------------------------------------------------------------

export function anthropicRequest(r) {
  const tools = r.chance(0.4) ? Array.from({ length: 1 + r.int(3) }, () => ({ name: toolName(r), description: text(r), input_schema: schema(r), ...(r.chance(0.2) ? { cache_control: { type: "ephemeral" } } : {}) })) : null;
  const messages = [];
  let ids = 0;
  let pending = [];
  const turns = 1 + r.int(4);
  for (let t = 0; t < turns; t++) {
    const blocks = pending.map((id) => ({ type: "tool_result", tool_use_id: id, ...(r.chance(0.8) ? { content: r.chance(0.6) ? text(r) : [{ type: "text", text: text(r) }] } : {}), ...(r.chance(0.2) ? { is_error: true } : {}) }));
    pending = [];
    const extra = r.int(3);
    for (let i = 0; i < extra || blocks.length === 0; i++) {
      const kind = r.int(10);
      if (kind < 6) blocks.push({ type: "text", text: text(r), ...(r.chance(0.1) ? { cache_control: { type: "ephemeral" } } : {}) });
      else if (kind < 8) blocks.push({ type: "image", source: r.chance(0.5) ? { type: "base64", media_type: r.pick(["image/png", "image/gif"]), data: PNG } : { type: "url", url: "https://example.com/a.jpg" } });
      else if (kind < 9) blocks.push({ type: "document", source: r.chance(0.5) ? { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" } : { type: "text", media_type: "text/plain", data: text(r) } });
      else blocks.push({ type: "text", text: text(r) });
    }
    messages.push({ role: "user", content: r.chance(0.3) && blocks.length === 1 && blocks[0].type === "text" ? blocks[0].text : blocks });
    if (t === turns - 1 && r.chance(0.7)) break;
    const assistant = [];
    if (r.chance(0.2)) assistant.push({ type: "thinking", thinking: text(r), signature: "sig" });
    if (r.chance(0.7)) assistant.push({ type: "text", text: text(r) });
    if (tools && r.chance(0.5)) {
      for (let i = 0, n = 1 + r.int(2); i < n; i++) {
        const id = `toolu_${++ids}`;
        assistant.push({ type: "tool_use", id, name: r.pick(tools).name, input: args(r) });
        pending.push(id);
      }
    }
    if (assistant.length === 0 || assistant.every((b) => b.type === "thinking")) assistant.push({ type: "text", text: text(r) });
    messages.push({ role: "assistant", content: r.chance(0.2) && assistant.length === 1 && assistant[0].type === "text" ? assistant[0].text : assistant });
  }
  if (pending.length) messages.push({ role: "user", content: pending.map((id) => ({ type: "tool_result", tool_use_id: id, content: "done" })) });
  const body = { model: r.pick(["auto", "claude-sonnet"]), max_tokens: 1 + r.int(4000), messages };
  if (r.chance(0.5)) body.system = r.chance(0.5) ? text(r) : Array.from({ length: 1 + r.int(2) }, () => ({ type: "text", text: text(r), ...(r.chance(0.3) ? { cache_control: { type: "ephemeral" } } : {}) }));
  if (r.chance(0.3)) body.temperature = r.pick([0, 0.5, 1]);
  if (r.chance(0.2)) body.top_p = 0.9;
  if (r.chance(0.1)) body.top_k = 40;
  if (r.chance(0.2)) body.stop_sequences = [text(r)];
  if (r.chance(0.3)) body.stream = true;
  if (r.chance(0.2)) body.metadata = { user_id: "u-" + r.int(100) };
  if (r.chance(0.1)) body.thinking = { type: "enabled", budget_tokens: 1024 };
  if (tools) {
    body.tools = tools;
    if (r.chance(0.5)) body.tool_choice = r.pick([{ type: "auto" }, { type: "any" }, { type: "none" }, { type: "tool", name: tools[0].name }, { type: "auto", disable_parallel_tool_use: true }]);
  }
  let refuse = null;
  if (r.chance(0.05)) {
    body.tools = [...(body.tools ?? []), { type: "web_search_20250305", name: "web_search" }];
    refuse = "server tool";
  }
  return { body, refuse };
}

// ---- provider streams ----------------------------------------------------------------------------

const sse = (name, data) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;

/** A random Anthropic Messages stream (what an Anthropic provider sends). */
export function anthropicStream(r) {
  let out = sse("message_start", { message: { id: `msg_${r.int(1e6)}`, type: "message", role: "assistant", model: "claude-x", content: [], stop_reason: null, stop_sequence: null, stop_details: null, container: null, usage: { input_tokens: r.int(5000), output_tokens: 1, cache_creation_input_tokens: r.int(100), cache_read_input_tokens: r.int(1000), cache_creation: null, server_tool_use: null, service_tier: "standard", inference_geo: null } } });
  const blocks = 1 + r.int(4);
  let stop = "end_turn";
  for (let i = 0; i < blocks; i++) {
    const kind = r.int(6);
    if (r.chance(0.2)) out += "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    if (kind < 3) {
      out += sse("content_block_start", { index: i, content_block: { type: "text", text: "", citations: null } });
      for (let j = 0, n = 1 + r.int(6); j < n; j++) out += sse("content_block_delta", { index: i, delta: { type: "text_delta", text: text(r) } });
    } else if (kind < 5) {
      stop = "tool_use";
      out += sse("content_block_start", { index: i, content_block: { type: "tool_use", id: `toolu_${i}`, name: toolName(r), input: {}, caller: { type: "direct" } } });
      const json = JSON.stringify(args(r));
      for (let at = 0; at < json.length;) {
        const n = 1 + r.int(12);
        out += sse("content_block_delta", { index: i, delta: { type: "input_json_delta", partial_json: json.slice(at, at + n) } });
        at += n;
      }
    } else {
      out += sse("content_block_start", { index: i, content_block: { type: "thinking", thinking: "", signature: "" } });
      out += sse("content_block_delta", { index: i, delta: { type: "thinking_delta", thinking: text(r) } });
      out += sse("content_block_delta", { index: i, delta: { type: "signature_delta", signature: "EqQB" } });
    }
    out += sse("content_block_stop", { index: i });
  }
  if (r.chance(0.05)) return out + sse("error", { error: { type: "overloaded_error", message: "Overloaded" }, request_id: null });
  if (r.chance(0.05)) return out; // cut before the end
  out += sse("message_delta", { delta: { stop_reason: r.chance(0.1) ? "max_tokens" : stop, stop_sequence: null, stop_details: null, container: null }, usage: { input_tokens: null, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 1 + r.int(500), server_tool_use: null } });
  out += sse("message_stop", {});
  return r.chance(0.1) ? out.replaceAll("\n", "\r\n") : out;
}

/** A random OpenAI chat completions stream (what an OpenAI-compatible provider sends). */
export function openaiStream(r) {
  const id = `chatcmpl-${r.int(1e6)}`;
  const chunk = (delta, finish = null, extra = {}) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: "gpt-x", system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
  let out = chunk({ role: "assistant", content: r.chance(0.5) ? "" : null, refusal: null });
  let finish = "stop";
  for (let i = 0, n = r.int(6); i < n; i++) out += chunk({ content: text(r) });
  if (r.chance(0.4)) {
    finish = "tool_calls";
    for (let t = 0, calls = 1 + r.int(3); t < calls; t++) {
      const json = JSON.stringify(args(r));
      out += chunk({ tool_calls: [{ index: t, id: `call_${t}`, type: "function", function: { name: toolName(r), arguments: "" } }] });
      for (let at = 0; at < json.length;) {
        const k = 1 + r.int(10);
        out += chunk({ tool_calls: [{ index: t, function: { arguments: json.slice(at, at + k) } }] });
        at += k;
      }
    }
  }
  if (r.chance(0.05)) return out + `data: ${JSON.stringify({ error: { message: "boom", type: "server_error", param: null, code: null } })}\n\n`;
  if (r.chance(0.05)) return out;
  out += chunk({}, r.chance(0.1) ? "length" : finish);
  out += `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: "gpt-x", choices: [], usage: { prompt_tokens: r.int(1000), completion_tokens: r.int(200), total_tokens: 1200, prompt_tokens_details: { cached_tokens: 0 } } })}\n\n`;
  return r.chance(0.1) ? out : out + "data: [DONE]\n\n";
}

// ---- the runner --------------------------------------------------------------------------------------

function mutate(r, bytes) {
  const b = Buffer.from(bytes);
  for (let i = 0, n = 1 + r.int(4); i < n && b.length > 0; i++) {
    const at = r.int(b.length);
    const op = r.int(3);
    if (op === 0) b[at] = r.int(256);
    else if (op === 1) return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(20))]);
    else return Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(["{", "}", "[", "]", "\"", "\\", ",", ":", "\\u", "\u00e9", "null"])), b.subarray(at)]);
  }
  return b;
}

const dataOf = (text) => text.split(/\r?\n\r?\n/).flatMap((e) => e.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())).filter((d) => d !== "" && d !== "[DONE]");

/** One case: a request or a stream, by index. Returns null when it holds, else a message; counts
 *  what it exercised in `stats`. */
export function runTranslationCase(tr, seed, index, stats = {}) {
  const count = (k) => { stats[k] = (stats[k] ?? 0) + 1; };
  const r = caseRng(seed ^ 0x7a3e11, index);
  const kind = r.int(10);
  try {
    if (kind < 6) {
      const toAnthropic = kind < 3;
      const { body, refuse } = toAnthropic ? openaiRequest(r) : anthropicRequest(r);
      const inputErrors = schemaErrors(toAnthropic ? "openaiRequest" : "anthropicRequest", body);
      if (inputErrors && !refuse) return `generator: the input is not a valid request: ${inputErrors}`;
      tr.begin(toAnthropic ? "openai_anthropic" : "anthropic_openai");
      const res = tr.request(body);
      count(`${toAnthropic ? "openai→anthropic" : "anthropic→openai"} ${refuse ? "refused" : "translated"}`);
      if (refuse) {
        if (res.ok) return `expected a refusal (${refuse}), got a translation`;
        if (res.status !== 400) return `refusal status ${res.status}`;
        return null;
      }
      if (!res.ok) return `refused a valid request: ${res.code} ${res.message}`;
      const out = JSON.parse(res.text);
      const errors = schemaErrors(toAnthropic ? "anthropicRequest" : "openaiRequest", out);
      if (errors) return `translated request invalid: ${errors}`;
      if (toAnthropic) {
        const problem = messagesProblem(out);
        if (problem) return `Anthropic would refuse the translation: ${problem}`;
      }
      if (r.chance(0.5)) {
        // the same bytes mutated: a translation or a 400, never a trap
        const mutated = mutate(r, Buffer.from(JSON.stringify(body)));
        tr.begin(toAnthropic ? "openai_anthropic" : "anthropic_openai");
        const m = tr.request(mutated);
        count(m.ok ? "mutated, translated" : "mutated, refused");
        if (!m.ok && m.status !== 400) return `mutated request: status ${m.status}`;
        if (m.ok) JSON.parse(m.text);
      }
      return null;
    }
    const fromAnthropic = kind < 8;
    const pair = fromAnthropic ? "openai_anthropic" : "anthropic_openai";
    const input = Buffer.from(fromAnthropic ? anthropicStream(r) : openaiStream(r));
    const request = fromAnthropic
      ? { model: "m", stream: true, stream_options: { include_usage: r.chance(0.5) }, messages: [{ role: "user", content: "x" }] }
      : { model: "m", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] };
    const translate = (pieces) => {
      tr.begin(pair);
      tr.request(request);
      tr.responseHeaders(200, "text/event-stream");
      return tr.stream(pieces);
    };
    const whole = translate([input]);
    count(`${fromAnthropic ? "anthropic" : "openai"} stream${whole.finished ? "" : " (unfinished)"}`);
    for (const data of dataOf(whole.text)) {
      const event = JSON.parse(data);
      const root = fromAnthropic ? (event.error ? "openaiError" : "openaiChunk") : (event.type === "error" ? "anthropicError" : "anthropicEvent");
      const errors = schemaErrors(root, event);
      if (errors) return `translated event invalid: ${errors}: ${data.slice(0, 200)}`;
    }
    const longest = Math.max(...input.toString("utf8").split(/\r?\n\r?\n/).map((e) => Buffer.byteLength(e) + 4));
    const splits = r.chance(0.05) ? Array.from({ length: input.length - 1 }, (_, i) => i + 1) : Array.from({ length: 8 }, () => 1 + r.int(input.length - 1));
    for (const at of splits) {
      const s = translate([input.subarray(0, at), input.subarray(at)]);
      if (s.text !== whole.text) return `split at byte ${at} changed the output`;
      if (s.held > longest) return `held ${s.held} bytes, more than one event (${longest})`;
    }
    const pieces = [];
    for (let at = 0; at < input.length;) {
      const n = 1 + r.int(64);
      pieces.push(input.subarray(at, at + n));
      at += n;
    }
    if (!isDeepStrictEqual(translate(pieces).text, whole.text)) return "random split changed the output";
    return null;
  } catch (err) {
    return `threw: ${err?.message ?? err}`;
  }
}

/** Runs `cases` translation cases from `start`: { failures: [{ index, message }], stats }. */
export function fuzzTranslation({ seed, cases, start = 0, maxFailures = 20, translator = new Translator() }) {
  const failures = [];
  const stats = { cases };
  let tr = translator;
  for (let i = start; i < start + cases && failures.length < maxFailures; i++) {
    const message = runTranslationCase(tr, seed, i, stats);
    if (message !== null) {
      failures.push({ index: i, message });
      // a trap leaves the instance unusable: go on with a fresh one
      if (message.startsWith("threw")) tr = new Translator();
    }
  }
  return { failures, stats };
}
