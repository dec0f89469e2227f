// The mock provider's OpenAI Responses API: POST …/responses, JSON and SSE, with usage.
// Checks what the API checks first (a JSON object with a string `model`, and an `input` string or
// list); answers a `response` object with one assistant message of output_text from the mock's
// words (status "incomplete" with incomplete_details.reason max_output_tokens when it used all of
// max_output_tokens), usage with input_tokens_details.cached_tokens (the cachedTokens knob) and
// output_tokens_details. Streams: response.created, response.in_progress,
// response.output_item.added, response.content_part.added, response.output_text.delta per token,
// response.output_text.done, response.content_part.done, response.output_item.done,
// response.completed (or response.incomplete), each with its sequence_number.
// Errors and injected failures in OpenAI's error shape, as for chat.

function openaiError(message, type, code) {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/** Handles POST …/responses (the context `m` as for handleMessages in messages.mjs, plus credentialOf). */
export async function handleResponses(m, req, res, entry) {
  const headers = { "content-type": "application/json", "x-mock-provider": m.name };
  const send = (status, text, extra = {}) => {
    res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(text), ...extra });
    res.end(text);
  };
  if (m.apiKey !== null && m.credentialOf(req.headers) !== m.apiKey) {
    return send(401, openaiError("mock provider: incorrect API key provided", "invalid_request_error", "invalid_api_key"));
  }
  const failing = m.knobs.failureRate > 0 && Math.random() < m.knobs.failureRate;
  if (failing && m.knobs.failureMode === "reset") {
    req.socket.destroy();
    return;
  }
  if (failing && m.knobs.failureMode === "status") {
    const status = m.knobs.failureStatus;
    const [code, type] = status === 429 ? ["rate_limit_exceeded", "requests"] : status >= 500 ? ["server_error", "server_error"] : ["invalid_request_error", "invalid_request_error"];
    m.log(`[${m.name}] POST ${req.url} -> ${status} (injected failure)`);
    return send(status, openaiError(`mock provider ${m.name}: injected failure`, type, code));
  }
  let body;
  try {
    body = JSON.parse(entry.body.toString("utf8"));
  } catch {
    return send(400, openaiError("mock provider: request body is not valid JSON", "invalid_request_error", "invalid_json"));
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return send(400, openaiError("mock provider: body must be a JSON object", "invalid_request_error", "invalid_json"));
  if (typeof body.model !== "string") return send(400, openaiError("Missing required parameter: 'model'.", "invalid_request_error", "missing_required_parameter"));
  if (body.input !== undefined && typeof body.input !== "string" && !Array.isArray(body.input)) return send(400, openaiError("Invalid type for 'input': expected a string or an array.", "invalid_request_error", "invalid_type"));
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null && !(Number.isInteger(body.max_output_tokens) && body.max_output_tokens >= 16)) {
    return send(400, openaiError("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16.", "invalid_request_error", "integer_below_min_value"));
  }

  const seq = m.next();
  const id = `resp_mock${seq}`;
  const itemId = `msg_mock${seq}`;
  const created = Math.floor(Date.now() / 1000);
  const n = m.tokenCount(body);
  const tokens = Array.from({ length: n }, (_, i) => (i < m.words.length ? m.words[i] : ` ${i}`));
  const text = tokens.join("");
  const prompt = m.promptTokens(entry.body);
  const usage = {
    input_tokens: prompt, input_tokens_details: { cached_tokens: Math.min(m.knobs.cachedTokens, prompt) },
    output_tokens: n, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: prompt + n,
  };
  const incomplete = Number.isInteger(body.max_output_tokens) && n >= body.max_output_tokens;
  const message = (status, content) => ({ id: itemId, type: "message", status, role: "assistant", content });
  const part = (t) => ({ type: "output_text", text: t, annotations: [], logprobs: [] });
  const response = (status, output, withUsage) => ({
    id, object: "response", created_at: created, status, error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, model: body.model,
    output, parallel_tool_calls: body.parallel_tool_calls ?? true, previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null }, store: body.store ?? true, temperature: body.temperature ?? 1,
    text: { format: { type: "text" } }, tool_choice: body.tool_choice ?? "auto", tools: body.tools ?? [], top_p: body.top_p ?? 1,
    truncation: "disabled", usage: withUsage ? usage : null, user: body.user ?? null, metadata: body.metadata ?? {},
  });
  const finalStatus = incomplete ? "incomplete" : "completed";
  m.log(`[${m.name}] POST ${req.url} model=${body.model}${body.stream ? " stream" : ""} -> 200`);
  const gap = m.knobs.tokensPerSecond > 0 ? 1000 / m.knobs.tokensPerSecond : 0;

  if (body.stream !== true) {
    await m.sleep(m.knobs.ttftMs + (gap > 0 ? n * gap : 0));
    return send(200, JSON.stringify(response(finalStatus, [message("completed", [part(text)])], !m.knobs.omitUsage)), { "x-mock-model": body.model });
  }

  res.writeHead(200, { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache", "x-mock-model": body.model });
  res.flushHeaders();
  let gone = false;
  res.on("close", () => { gone = true; });
  let sequence = 0;
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
  await m.sleep(m.knobs.ttftMs);
  event("response.created", { response: response("in_progress", [], false) });
  event("response.in_progress", { response: response("in_progress", [], false) });
  event("response.output_item.added", { output_index: 0, item: message("in_progress", []) });
  event("response.content_part.added", { item_id: itemId, output_index: 0, content_index: 0, part: part("") });
  for (let i = 0; i < n && !gone && !m.isClosed(); i++) {
    if (i > 0) await m.sleep(gap);
    event("response.output_text.delta", { item_id: itemId, output_index: 0, content_index: 0, delta: tokens[i], logprobs: [] });
    if (failing && m.knobs.failureMode === "midstream") {
      await m.sleep(20);
      res.destroy();
      return;
    }
  }
  if (gone) return;
  event("response.output_text.done", { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] });
  event("response.content_part.done", { item_id: itemId, output_index: 0, content_index: 0, part: part(text) });
  event("response.output_item.done", { output_index: 0, item: message("completed", [part(text)]) });
  event(incomplete ? "response.incomplete" : "response.completed", { response: response(finalStatus, [message("completed", [part(text)])], !m.knobs.omitUsage) });
  res.end();
}
