// The mock provider's Anthropic Messages API: POST …/messages (JSON and SSE), checked the way
// Anthropic's API checks a request, so an end-to-end test through it shows that a translated
// request is one Anthropic would take.
//
// Checks (each answers 400 invalid_request_error in Anthropic's shape, with a message in the API's
// wording): the key in `x-api-key` or `Authorization: Bearer` (401 authentication_error when
// missing, or not the configured key),
// `anthropic-version`, a JSON object body, no member the API does not have, `model`, `max_tokens`
// (a whole number ≥ 1), `messages` (non-empty; roles user and assistant alternating — today's API
// combines consecutive same-role turns, older versions and other hosts refuse them: the mock keeps
// the strict rule), every content block's shape (text non-empty, image and document sources,
// tool_use only in assistant turns with an id and an input object, tool_result only in user turns,
// first in their turn, answering the previous assistant turn's tool_use ids and all of them),
// `system`, `tools` (name, input_schema of type object), `tool_choice` (auto, any, tool with a
// declared name, none), `temperature` (0..1), `top_p`, `top_k`, `stop_sequences`, `stream`,
// `metadata`.
// Answers: text from the mock's words (stop_reason max_tokens when it used all of max_tokens, else
// end_turn), or a tool_use block with input {} when tool_choice forces a tool (any, tool); usage
// with cache_read_input_tokens (the cachedTokens knob) and cache_creation_input_tokens (half the
// prompt when a block carries cache_control and nothing was read). Streams: message_start,
// content_block_start, ping, content_block_delta per token (text_delta or input_json_delta),
// content_block_stop, message_delta (stop_reason, usage), message_stop.
// Knobs as for chat: failureRate / failureStatus answer Anthropic's error for that status (529:
// overloaded_error), failureMode reset / midstream, and "error-event": a 200 stream that sends an
// `error` event (overloaded_error) after its first delta.

const ERROR_TYPES = {
  400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
  404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error",
  529: "overloaded_error",
};
const TOP_FIELDS = new Set([
  "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p", "top_k",
  "tools", "tool_choice", "thinking", "service_tier", "container", "context_management", "mcp_servers", "inference_geo",
  "output_config", "cache_control", "diagnostics",
]);
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

export function anthropicErrorType(status) {
  return ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

function anthropicError(status, message, requestId) {
  return JSON.stringify({ type: "error", error: { type: anthropicErrorType(status), message }, request_id: requestId });
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The first problem Anthropic's API would find in this request, or null. */
export function messagesProblem(body) {
  if (!isObject(body)) return "Request body must be a JSON object";
  for (const k of Object.keys(body)) if (!TOP_FIELDS.has(k)) return `${k}: Extra inputs are not permitted`;
  if (typeof body.model !== "string" || body.model === "") return "model: Field required";
  if (body.max_tokens === undefined) return "max_tokens: Field required";
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return "max_tokens: Input should be a valid integer greater than or equal to 1";
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "messages: Field required (a non-empty list)";
  const problem = systemProblem(body.system) ?? toolsProblem(body.tools, body.tool_choice);
  if (problem) return problem;
  if (body.temperature !== undefined && (typeof body.temperature !== "number" || body.temperature < 0 || body.temperature > 1)) return "temperature: Input should be less than or equal to 1";
  for (const k of ["top_p", "top_k"]) if (body[k] !== undefined && typeof body[k] !== "number") return `${k}: Input should be a valid number`;
  if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== "string"))) return "stop_sequences: Input should be a valid list of strings";
  if (body.stream !== undefined && typeof body.stream !== "boolean") return "stream: Input should be a valid boolean";
  if (body.metadata !== undefined && (!isObject(body.metadata) || Object.keys(body.metadata).some((k) => k !== "user_id") || (body.metadata.user_id !== undefined && body.metadata.user_id !== null && typeof body.metadata.user_id !== "string"))) return "metadata: only user_id (a string) is allowed";
  let previous = null;
  let pendingToolUses = [];
  for (let i = 0; i < body.messages.length; i++) {
    const m = body.messages[i];
    const at = `messages.${i}`;
    if (!isObject(m)) return `${at}: Input should be a valid dictionary`;
    for (const k of Object.keys(m)) if (k !== "role" && k !== "content") return `${at}.${k}: Extra inputs are not permitted`;
    if (m.role !== "user" && m.role !== "assistant") return `${at}.role: Input should be 'user' or 'assistant'`;
    if (m.role === previous) return `${at}: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`;
    previous = m.role;
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
    if (!Array.isArray(blocks)) return `${at}.content: Input should be a valid string or list`;
    const last = i === body.messages.length - 1;
    if (blocks.length === 0 && !(last && m.role === "assistant")) return `${at}: all messages must have non-empty content except for the optional final assistant message`;
    const answered = new Set();
    let seenOther = false;
    for (let j = 0; j < blocks.length; j++) {
      const b = blocks[j];
      const p = blockProblem(b, m.role, `${at}.content.${j}`);
      if (p) return p;
      if (b.type === "tool_result") {
        if (seenOther) return `${at}.content.${j}: tool_result blocks must come first in a user message, before any other content`;
        answered.add(b.tool_use_id);
      } else {
        seenOther = true;
      }
    }
    if (m.role === "user") {
      for (const id of answered) if (!pendingToolUses.includes(id)) return `${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      const missing = pendingToolUses.filter((id) => !answered.has(id));
      if (missing.length) return `${at}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      pendingToolUses = [];
    } else {
      pendingToolUses = blocks.filter((b) => b.type === "tool_use").map((b) => b.id);
    }
  }
  return null;
}

function textBlockProblem(b, at) {
  if (typeof b.text !== "string") return `${at}.text: Field required`;
  if (b.text === "") return `${at}: text content blocks must be non-empty`;
  return null;
}

function sourceProblem(source, at, document) {
  if (!isObject(source)) return `${at}.source: Field required`;
  if (source.type === "base64") {
    if (typeof source.data !== "string" || source.data === "") return `${at}.source.data: Field required`;
    if (document ? source.media_type !== "application/pdf" : !IMAGE_TYPES.has(source.media_type)) return `${at}.source.media_type: Input should be ${document ? "'application/pdf'" : "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"}`;
    return null;
  }
  if (source.type === "url") return typeof source.url === "string" && /^https?:\/\//.test(source.url) ? null : `${at}.source.url: Input should be a valid URL`;
  if (document && source.type === "text") return typeof source.data === "string" ? null : `${at}.source.data: Field required`;
  return `${at}.source.type: Input tag '${source.type}' found using 'type' does not match any of the expected tags`;
}

function blockProblem(b, role, at) {
  if (!isObject(b)) return `${at}: Input should be a valid dictionary`;
  switch (b.type) {
    case "text": return textBlockProblem(b, at);
    case "image": return role === "user" ? sourceProblem(b.source, at, false) : `${at}: image blocks are allowed in user messages only`;
    case "document": return role === "user" ? sourceProblem(b.source, at, true) : `${at}: document blocks are allowed in user messages only`;
    case "tool_use":
      if (role !== "assistant") return `${at}: tool_use blocks are allowed in assistant messages only`;
      if (typeof b.id !== "string" || !TOOL_ID.test(b.id)) return `${at}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
      if (typeof b.name !== "string" || b.name === "") return `${at}.name: Field required`;
      if (!isObject(b.input)) return `${at}.input: Input should be a valid dictionary`;
      return null;
    case "tool_result": {
      if (role !== "user") return `${at}: tool_result blocks are allowed in user messages only`;
      if (typeof b.tool_use_id !== "string" || !TOOL_ID.test(b.tool_use_id)) return `${at}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
      if (b.is_error !== undefined && typeof b.is_error !== "boolean") return `${at}.is_error: Input should be a valid boolean`;
      if (b.content === undefined || typeof b.content === "string") return null;
      if (!Array.isArray(b.content)) return `${at}.content: Input should be a valid string or list`;
      for (let k = 0; k < b.content.length; k++) {
        const c = b.content[k];
        const p = !isObject(c) ? `${at}.content.${k}: Input should be a valid dictionary`
          : c.type === "text" ? textBlockProblem(c, `${at}.content.${k}`)
          : c.type === "image" ? sourceProblem(c.source, `${at}.content.${k}`, false)
          : `${at}.content.${k}.type: Input tag '${c.type}' found using 'type' does not match any of the expected tags`;
        if (p) return p;
      }
      return null;
    }
    case "thinking":
    case "redacted_thinking":
      return role === "assistant" ? null : `${at}: thinking blocks are allowed in assistant messages only`;
    default:
      return `${at}.type: Input tag '${b.type}' found using 'type' does not match any of the expected tags`;
  }
}

function systemProblem(system) {
  if (system === undefined || typeof system === "string") return null;
  if (!Array.isArray(system)) return "system: Input should be a valid string or list";
  for (let i = 0; i < system.length; i++) {
    if (!isObject(system[i]) || system[i].type !== "text") return `system.${i}.type: Input should be 'text'`;
    const p = textBlockProblem(system[i], `system.${i}`);
    if (p) return p;
  }
  return null;
}

function toolsProblem(tools, choice) {
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return "tools: Input should be a valid list";
    for (let i = 0; i < tools.length; i++) {
      const t = tools[i];
      if (!isObject(t)) return `tools.${i}: Input should be a valid dictionary`;
      if (t.type !== undefined && t.type !== null && t.type !== "custom") continue; // server tools: Anthropic's own
      if (typeof t.name !== "string" || !TOOL_NAME.test(t.name)) return `tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      if (!isObject(t.input_schema) || t.input_schema.type !== "object") return `tools.${i}.input_schema.type: Input should be 'object'`;
      for (const k of Object.keys(t)) if (!["type", "name", "description", "input_schema", "cache_control", "strict"].includes(k)) return `tools.${i}.${k}: Extra inputs are not permitted`;
    }
  }
  if (choice === undefined) return null;
  if (!isObject(choice) || !["auto", "any", "tool", "none"].includes(choice.type)) return "tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'";
  if (choice.type === "tool" && !(tools ?? []).some((t) => t.name === choice.name)) return `tool_choice.name: tool '${choice.name}' is not among the tools`;
  if (choice.disable_parallel_tool_use !== undefined && typeof choice.disable_parallel_tool_use !== "boolean") return "tool_choice.disable_parallel_tool_use: Input should be a valid boolean";
  return null;
}

const hasCacheControl = (v) => Array.isArray(v) ? v.some(hasCacheControl) : isObject(v) && (v.cache_control !== undefined || Object.values(v).some(hasCacheControl));

/**
 * Handles POST …/messages. `m` is the mock's context: { name, knobs, apiKey, log, sleep, words,
 * tokenCount, promptTokens, next (sequence), isClosed }.
 */
export async function handleMessages(m, req, res, entry) {
  const requestId = `req_mock${m.name.replace(/[^a-zA-Z0-9]/g, "")}${m.next()}`;
  const headers = { "content-type": "application/json", "x-mock-provider": m.name, "request-id": requestId };
  const fail = (status, message) => {
    m.log(`[${m.name}] POST ${req.url} -> ${status} (${message})`);
    const text = anthropicError(status, message, requestId);
    res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  // Anthropic documents x-api-key; its Python SDK 2.x sends the key as Authorization: Bearer: both are taken.
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  const key = req.headers["x-api-key"] ?? bearer?.[1];
  if (typeof key !== "string" || key === "") return fail(401, "x-api-key header is required");
  if (m.apiKey !== null && key !== m.apiKey) return fail(401, "invalid x-api-key");
  if (!req.headers["anthropic-version"]) return fail(400, "anthropic-version: header is required");
  const failing = m.knobs.failureRate > 0 && Math.random() < m.knobs.failureRate;
  if (failing && m.knobs.failureMode === "reset") {
    m.log(`[${m.name}] POST ${req.url} -> connection closed (injected failure)`);
    req.socket.destroy();
    return;
  }
  if (failing && m.knobs.failureMode === "status") {
    const status = m.knobs.failureStatus;
    return fail(status, status === 529 ? "Overloaded" : `mock provider ${m.name}: injected failure`);
  }
  let body;
  try {
    body = JSON.parse(entry.body.toString("utf8"));
  } catch {
    return fail(400, "There was an error parsing the body of your request as JSON");
  }
  const problem = messagesProblem(body);
  if (problem) return fail(400, problem);

  const id = `msg_mock${m.name.replace(/[^a-zA-Z0-9]/g, "")}${m.next()}`;
  const n = m.tokenCount(body);
  const prompt = m.promptTokens(entry.body);
  const cacheRead = Math.min(m.knobs.cachedTokens, prompt);
  const cacheWrite = cacheRead === 0 && hasCacheControl(body) ? Math.floor(prompt / 2) : 0;
  const input = prompt - cacheRead - cacheWrite;
  const usage = (output) => ({
    input_tokens: input, output_tokens: output, cache_creation_input_tokens: cacheWrite, cache_read_input_tokens: cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 }, server_tool_use: null,
    service_tier: "standard", inference_geo: "not_available",
  });
  const forced = body.tool_choice?.type === "any" ? body.tools?.find((t) => typeof t.name === "string") : body.tool_choice?.type === "tool" ? body.tools.find((t) => t.name === body.tool_choice.name) : undefined;
  const tokens = Array.from({ length: n }, (_, i) => (i < m.words.length ? m.words[i] : ` ${i}`));
  const stopReason = forced ? "tool_use" : n === body.max_tokens ? "max_tokens" : "end_turn";
  const block = forced
    ? { type: "tool_use", id: `toolu_mock${m.next()}`, name: forced.name, input: {}, caller: { type: "direct" } }
    : { type: "text", text: tokens.join(""), citations: null };
  const message = (content, stop, output) => ({
    id, type: "message", role: "assistant", model: body.model, content, stop_reason: stop, stop_sequence: null,
    stop_details: null, container: null, usage: usage(output),
  });
  m.log(`[${m.name}] POST ${req.url} model=${body.model}${body.stream ? " stream" : ""} -> 200`);
  const gap = m.knobs.tokensPerSecond > 0 ? 1000 / m.knobs.tokensPerSecond : 0;

  if (body.stream !== true) {
    await m.sleep(m.knobs.ttftMs + (gap > 0 && !forced ? n * gap : 0));
    if (failing && m.knobs.failureMode !== "status") {
      res.writeHead(200, { ...headers, "content-length": "1000" });
      res.write('{"id":"');
      await m.sleep(20);
      res.destroy();
      return;
    }
    const text = JSON.stringify(message([block], stopReason, forced ? 12 : n));
    res.writeHead(200, { ...headers, "content-length": Buffer.byteLength(text), "x-mock-model": body.model });
    return res.end(text);
  }

  res.writeHead(200, { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-mock-model": body.model });
  res.flushHeaders();
  let gone = false;
  res.on("close", () => { gone = true; });
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  await m.sleep(m.knobs.ttftMs);
  event("message_start", { message: message([], null, 1) });
  event("content_block_start", { index: 0, content_block: forced ? { ...block, input: {} } : { type: "text", text: "", citations: null } });
  event("ping", {});
  const pieces = forced ? ["", "{}"] : tokens;
  for (let i = 0; i < pieces.length && !gone && !m.isClosed(); i++) {
    if (i > 0) await m.sleep(gap);
    event("content_block_delta", { index: 0, delta: forced ? { type: "input_json_delta", partial_json: pieces[i] } : { type: "text_delta", text: pieces[i] } });
    if (failing && m.knobs.failureMode === "midstream") {
      await m.sleep(20);
      m.log(`[${m.name}] POST ${req.url} -> stream cut after the first event (injected failure)`);
      res.destroy();
      return;
    }
    if (failing && m.knobs.failureMode === "error-event") {
      event("error", { error: { type: "overloaded_error", message: "Overloaded" }, request_id: null });
      res.end();
      return;
    }
  }
  if (gone) return;
  event("content_block_stop", { index: 0 });
  const output = forced ? 12 : n;
  event("message_delta", {
    delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null, container: null },
    usage: { input_tokens: input, cache_creation_input_tokens: cacheWrite, cache_read_input_tokens: cacheRead, output_tokens: output, server_tool_use: null },
  });
  event("message_stop", {});
  res.end();
}
