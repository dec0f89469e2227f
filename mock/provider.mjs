// OpenAI-compatible mock provider (plain Node ESM, no dependencies).
//
// Library:
//   import { startMockProvider } from "./mock/provider.mjs";
//   const p = await startMockProvider({ port: 0, name: "openai-1", ttftMs: 200, tokensPerSecond: 80 });
//   p.url, p.port, p.requests, p.setKnobs({ failureRate: 1 }), await p.close();
//
// CLI (one instance):
//   node mock/provider.mjs --port 18001 --name openai-1 --ttft-ms 200 --tps 80 \
//        --failure-rate 0 --failure-status 503 [--host 127.0.0.1] [--quiet]
// CLI (several instances in one process, JSON array of option objects):
//   node mock/provider.mjs --instances '[{"name":"openai-1","port":18001,"ttftMs":200,"tokensPerSecond":80},
//                                        {"name":"groq","port":18004,"ttftMs":50,"tokensPerSecond":400}]'
//
// Endpoints, under any base path (a provider's `/v1`, Groq's `/openai/v1`, Azure's
// `/openai/deployments/<deployment>`...): POST .../chat/completions, POST .../completions (both stream
// as SSE with "stream":true), POST .../embeddings, GET .../models; anything else is a 404 OpenAI error.
// Also POST .../messages (Anthropic's Messages API: mock/messages.mjs, with Anthropic's checks and
// error shape) and POST .../responses (OpenAI's Responses API: mock/responses.mjs).
// With `apiKey` set (CLI --api-key) a request must carry it (Authorization: Bearer, api-key or
// x-api-key), as a real provider would, or it gets 401. A chat request that forces a tool
// (tool_choice "required" or a named function) is answered with a call to that tool.
// Control (on the mock's own port, never through a gateway, which forwards only API paths):
// POST /_mock/knobs with a JSON object of knobs changes them; POST /_mock/stop takes the mock down as
// a provider that went away would: it stops listening (connections are refused) and closes its idle
// connections, answers already being written finish and any further request on a connection still
// open is cut before an answer; with ?hard=1 every connection is cut at once, answers in progress
// included (a crash).
// Every answer carries the header `x-mock-provider: <name>`; completions also name the instance in
// `system_fingerprint` ("mock-<name>") and echo the received model in `model`. Embeddings honour
// encoding_format "base64" (little-endian float32, as OpenAI; the OpenAI SDKs ask for it by default).
// Knobs: ttftMs (delay before the first token / before a non-streaming answer), tokensPerSecond
// (spacing of streamed chunks, 0 = no spacing), failureRate (0..1, probability of failing a
// request), failureStatus, failureMode: how a failing request fails: "status" (answer
// failureStatus with an OpenAI error JSON), "reset" (close the connection before any response) or
// "midstream" (start a 200 answer, send its first chunk, then close the connection), cachedTokens
// (that many prompt tokens, at most all of them, reported as read from the provider's cache in
// usage.prompt_tokens_details.cached_tokens, as OpenAI does; 0 = no details), omitUsage (chat and
// completion answers without a usage object, as a stream without stream_options.include_usage),
// promptCache (emulate the provider's automatic prompt caching per model, mock/prompt-cache.mjs: a
// prompt prefix of at least 1024 tokens sent to that model within promptCacheTtlMs comes back as
// cached_tokens, in 128-token blocks; a fixed cachedTokens takes precedence), promptCacheTtlMs.
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { handleMessages } from "./messages.mjs";
import { handleResponses } from "./responses.mjs";
import { applyCacheUsage, createPromptCache } from "./prompt-cache.mjs";

const MAX_BODY = 64 * 1024 * 1024; // refuse absurd bodies instead of buffering forever
const MAX_TOKENS_STREAMED = 64; // bound on the number of generated tokens
const DEFAULT_TOKENS = 8;

const WORDS = ["Hello", " from", " the", " mock", " provider", ".", " This", " is", " token", " number"];

function sleep(ms) {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// "/chat/completions" before "/completions": the first suffix that matches names the API.
const POST_APIS = ["/chat/completions", "/completions", "/embeddings"];

function credentialOf(headers) {
  const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "");
  return bearer ? bearer[1] : headers["api-key"] ?? headers["x-api-key"] ?? null;
}

// A chat request that forces a tool (tool_choice "required" or a named function) gets a call to
// it with empty arguments, as a real model would answer: enough for clients to parse tool_calls.
function forcedToolCall(parsed) {
  const tools = Array.isArray(parsed.tools) ? parsed.tools.filter((t) => t?.type === "function" && t.function?.name) : [];
  if (tools.length === 0) return null;
  const choice = parsed.tool_choice;
  if (choice === "required") return { name: tools[0].function.name, arguments: "{}" };
  if (choice?.type === "function" && tools.some((t) => t.function.name === choice.function?.name)) return { name: choice.function.name, arguments: "{}" };
  return null;
}

function errorJson(message, type, code) {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

function errorTypeFor(status) {
  if (status === 429) return ["rate_limit_exceeded", "requests"];
  if (status === 401) return ["invalid_api_key", "invalid_request_error"];
  if (status >= 500) return ["server_error", "server_error"];
  return ["invalid_request_error", "invalid_request_error"];
}

function tokenCount(parsed) {
  const asked = [parsed?.max_tokens, parsed?.max_completion_tokens, parsed?.max_output_tokens].find(
    (v) => Number.isInteger(v) && v >= 0,
  );
  const n = asked === undefined ? DEFAULT_TOKENS : asked;
  return Math.max(1, Math.min(n, MAX_TOKENS_STREAMED));
}

/** The mock's embedding of the index-th input: 8 numbers, the same every time. */
export function embeddingOf(index) {
  return Array.from({ length: 8 }, (_, i) => Number(((index + 1) * 0.01 * (i + 1)).toFixed(4)));
}

// encoding_format "base64" (what the OpenAI SDKs ask for unless told otherwise): the vector as
// little-endian float32, base64-encoded, as OpenAI answers.
function float32Base64(vector) {
  const bytes = Buffer.alloc(4 * vector.length);
  vector.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
  return bytes.toString("base64");
}

function promptTokens(body) {
  return Math.max(1, Math.ceil(body.length / 4));
}

/**
 * Starts one mock provider. Resolves once it listens.
 * @param {{host?: string, port?: number, name?: string, ttftMs?: number, tokensPerSecond?: number,
 *          failureRate?: number, failureStatus?: number, log?: (line: string) => void}} [options]
 */
export async function startMockProvider(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const name = options.name ?? "mock";
  const knobs = {
    ttftMs: options.ttftMs ?? 0,
    tokensPerSecond: options.tokensPerSecond ?? 0,
    failureRate: options.failureRate ?? 0,
    failureStatus: options.failureStatus ?? 503,
    cachedTokens: options.cachedTokens ?? 0,
    omitUsage: options.omitUsage ?? false,
    failureMode: options.failureMode ?? "status",
    promptCache: options.promptCache ?? false,
    promptCacheTtlMs: options.promptCacheTtlMs ?? 300_000,
  };
  const promptCache = createPromptCache({ ttlMs: () => knobs.promptCacheTtlMs });
  const apiKey = options.apiKey ?? null;
  const log = options.log ?? (() => {});
  const requests = [];
  let closed = false;
  let seq = 0;

  // What the other APIs' handlers (messages.mjs, responses.mjs) use of this instance.
  const context = {
    name, knobs, apiKey, log, sleep, words: WORDS, tokenCount, promptTokens, credentialOf,
    next: () => ++seq, isClosed: () => closed,
  };

  let stopping = false;
  const server = createServer((req, res) => {
    // Down: a request on a connection still open gets no answer at all.
    if (stopping) {
      req.socket.destroy();
      return;
    }
    const chunks = [];
    let size = 0;
    let aborted = false;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        aborted = true;
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("error", () => {});
    req.on("end", () => {
      if (aborted) return;
      const body = Buffer.concat(chunks);
      const entry = {
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        body,
        receivedAt: Date.now(),
      };
      if (!(req.url ?? "").startsWith("/_mock/")) requests.push(entry);
      handle(req, res, entry).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json", "x-mock-provider": name });
          res.end(errorJson(String(err?.message ?? err), "server_error", "mock_internal"));
        } else {
          res.destroy();
        }
      });
    });
  });

  function send(res, status, bodyText, extra = {}) {
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(bodyText),
      "x-mock-provider": name,
      ...extra,
    });
    res.end(bodyText);
  }

  async function handle(req, res, entry) {
    const path = (req.url ?? "/").split("?")[0];
    const method = req.method ?? "GET";
    if (method === "POST" && path.startsWith("/_mock/")) return control(req, res, path, entry.body);
    if (method === "POST" && path.endsWith("/messages")) return handleMessages(context, req, res, entry);
    if (method === "POST" && path.endsWith("/responses")) return handleResponses(context, req, res, entry);
    const api = method === "POST" ? POST_APIS.find((a) => path.endsWith(a)) : method === "GET" && path.endsWith("/models") ? "/models" : undefined;
    if (!api) {
      log(`[${name}] ${method} ${req.url} -> 404`);
      return send(res, 404, errorJson(`Unknown request URL: ${method} ${path}`, "invalid_request_error", "unknown_url"));
    }
    if (apiKey !== null && credentialOf(req.headers) !== apiKey) {
      log(`[${name}] ${method} ${req.url} -> 401`);
      return send(res, 401, errorJson("mock provider: incorrect API key provided", "invalid_request_error", "invalid_api_key"));
    }
    const failing = knobs.failureRate > 0 && Math.random() < knobs.failureRate;
    if (failing && knobs.failureMode === "reset") {
      log(`[${name}] ${method} ${req.url} -> connection closed (injected failure)`);
      req.socket.destroy();
      return;
    }
    const cutAfterFirstChunk = failing && knobs.failureMode === "midstream";
    if (failing && !cutAfterFirstChunk) {
      const status = knobs.failureStatus;
      const [code, type] = errorTypeFor(status);
      log(`[${name}] ${method} ${req.url} -> ${status} (injected failure)`);
      return send(res, status, errorJson(`mock provider ${name}: injected failure`, type, code));
    }
    if (method === "GET") {
      log(`[${name}] GET ${req.url} -> 200`);
      const created = 1700000000;
      return send(
        res,
        200,
        JSON.stringify({
          object: "list",
          data: ["mock-model-a", "mock-model-b"].map((id) => ({ id, object: "model", created, owned_by: name })),
        }),
      );
    }

    let parsed;
    try {
      parsed = JSON.parse(entry.body.toString("utf8"));
    } catch {
      log(`[${name}] POST ${req.url} -> 400 (invalid JSON)`);
      return send(res, 400, errorJson("mock provider: request body is not valid JSON", "invalid_request_error", "invalid_json"));
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return send(res, 400, errorJson("mock provider: body must be a JSON object", "invalid_request_error", "invalid_json"));
    }
    const model = typeof parsed.model === "string" ? parsed.model : null;
    if (model === null) {
      return send(res, 400, errorJson("mock provider: you must provide a model parameter", "invalid_request_error", "missing_model"));
    }
    const id = `mock-${name}-${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    const fingerprint = `mock-${name}`;
    const stream = parsed.stream === true;
    log(`[${name}] POST ${req.url} model=${model}${stream ? " stream" : ""} -> 200`);

    if (api === "/embeddings") {
      await sleep(knobs.ttftMs);
      const inputs = Array.isArray(parsed.input) ? parsed.input : [parsed.input ?? ""];
      const base64 = parsed.encoding_format === "base64";
      const data = inputs.map((_, index) => {
        const vector = embeddingOf(index);
        return { object: "embedding", index, embedding: base64 ? float32Base64(vector) : vector };
      });
      const pt = promptTokens(entry.body);
      return send(res, 200, JSON.stringify({ object: "list", data, model, usage: { prompt_tokens: pt, total_tokens: pt } }), {
        "x-mock-model": model,
      });
    }

    const chat = api === "/chat/completions";
    const n = tokenCount(parsed);
    const tokens = Array.from({ length: n }, (_, i) => (i < WORDS.length ? WORDS[i] : ` ${i}`));
    const usage = { prompt_tokens: promptTokens(entry.body), completion_tokens: n, total_tokens: promptTokens(entry.body) + n };
    if (knobs.cachedTokens > 0) usage.prompt_tokens_details = { cached_tokens: Math.min(knobs.cachedTokens, usage.prompt_tokens) };
    else if (knobs.promptCache) applyCacheUsage(usage, promptCache.observe(model, chat ? "chat" : "completions", parsed), "chat");
    const withUsage = (answer) => (knobs.omitUsage ? { ...answer, usage: undefined } : answer);
    const gap = knobs.tokensPerSecond > 0 ? 1000 / knobs.tokensPerSecond : 0;

    const toolCall = chat && !stream ? forcedToolCall(parsed) : null;
    if (toolCall) {
      await sleep(knobs.ttftMs);
      const message = { role: "assistant", content: null, tool_calls: [{ id: `call_${id}`, type: "function", function: toolCall }] };
      const body = { id, object: "chat.completion", created, model, system_fingerprint: fingerprint, choices: [{ index: 0, message, logprobs: null, finish_reason: "tool_calls" }], usage };
      return send(res, 200, JSON.stringify(withUsage(body)), { "x-mock-model": model });
    }

    if (!stream && cutAfterFirstChunk) {
      await sleep(knobs.ttftMs);
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000", "x-mock-provider": name });
      res.write('{"id":"');
      await sleep(20);
      log(`[${name}] POST ${req.url} -> 200 cut after the first chunk (injected failure)`);
      res.destroy();
      return;
    }
    if (!stream) {
      await sleep(knobs.ttftMs + (gap > 0 ? n * gap : 0));
      const text = tokens.join("");
      const body = chat
        ? {
            id,
            object: "chat.completion",
            created,
            model,
            system_fingerprint: fingerprint,
            choices: [{ index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: "length" }],
            usage,
          }
        : {
            id,
            object: "text_completion",
            created,
            model,
            system_fingerprint: fingerprint,
            choices: [{ index: 0, text, logprobs: null, finish_reason: "length" }],
            usage,
          };
      return send(res, 200, JSON.stringify(withUsage(body)), { "x-mock-model": model });
    }

    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-mock-provider": name,
      "x-mock-model": model,
    });
    res.flushHeaders();
    let gone = false;
    res.on("close", () => {
      gone = true;
    });
    const event = (obj) => res.write(`data: ${typeof obj === "string" ? obj : JSON.stringify(obj)}\n\n`);
    const base = { id, object: chat ? "chat.completion.chunk" : "text_completion", created, model, system_fingerprint: fingerprint };
    await sleep(knobs.ttftMs);
    for (let i = 0; i < n && !gone && !closed; i++) {
      if (i > 0) await sleep(gap);
      const choice = chat
        ? { index: 0, delta: i === 0 ? { role: "assistant", content: tokens[i] } : { content: tokens[i] }, logprobs: null, finish_reason: null }
        : { index: 0, text: tokens[i], logprobs: null, finish_reason: null };
      event({ ...base, choices: [choice] });
      if (cutAfterFirstChunk) {
        await sleep(20);
        log(`[${name}] POST ${req.url} -> stream cut after the first event (injected failure)`);
        res.destroy();
        return;
      }
    }
    if (gone) return;
    await sleep(gap);
    const last = chat
      ? { index: 0, delta: {}, logprobs: null, finish_reason: "length" }
      : { index: 0, text: "", logprobs: null, finish_reason: "length" };
    event({ ...base, choices: [last] });
    if (!knobs.omitUsage) event({ ...base, choices: [], usage });
    event("[DONE]");
    res.end();
  }

  function control(req, res, path, body) {
    if (path === "/_mock/knobs") {
      let changes;
      try {
        changes = JSON.parse(body.toString("utf8") || "{}");
      } catch {
        return send(res, 400, errorJson("mock provider: knobs must be a JSON object", "invalid_request_error", "invalid_json"));
      }
      for (const key of Object.keys(knobs)) if (changes[key] !== undefined) knobs[key] = changes[key];
      log(`[${name}] knobs ${JSON.stringify(knobs)}`);
      return send(res, 200, JSON.stringify(knobs));
    }
    if (path === "/_mock/stop") {
      const hard = /[?&]hard=1(&|$)/.test(req.url ?? "");
      log(`[${name}] stopping on request${hard ? " (cutting every connection)" : ""}`);
      res.on("finish", () => stop(hard));
      return send(res, 200, JSON.stringify({ stopped: name, hard }), { connection: "close" });
    }
    return send(res, 404, errorJson(`mock provider: unknown control ${path}`, "invalid_request_error", "unknown_url"));
  }

  let stopped = null;
  function stop(hard = true) {
    stopping = true;
    closed = hard;
    stopped ??= new Promise((resolve) => server.close(() => resolve()));
    if (hard) server.closeAllConnections();
    else server.closeIdleConnections();
    return stopped;
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = server.address().port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    port,
    url: `http://${urlHost}:${port}`,
    name,
    requests,
    knobs,
    setKnobs(partial) {
      for (const key of Object.keys(knobs)) if (partial[key] !== undefined) knobs[key] = partial[key];
    },
    close: () => stop(true),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const one = {};
  let instances = null;
  let quiet = false;
  const num = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--host": one.host = value; i++; break;
      case "--port": one.port = num(flag, value); i++; break;
      case "--name": one.name = value; i++; break;
      case "--ttft-ms": one.ttftMs = num(flag, value); i++; break;
      case "--tps": one.tokensPerSecond = num(flag, value); i++; break;
      case "--failure-rate": one.failureRate = num(flag, value); i++; break;
      case "--failure-status": one.failureStatus = num(flag, value); i++; break;
      case "--failure-mode": one.failureMode = value; i++; break;
      case "--prompt-cache": one.promptCache = true; break;
      case "--prompt-cache-ttl-ms": one.promptCacheTtlMs = num(flag, value); i++; break;
      case "--api-key": one.apiKey = value; i++; break;
      case "--instances": instances = JSON.parse(value); i++; break;
      case "--quiet": quiet = true; break;
      case "-h":
      case "--help":
        return { help: true };
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (instances !== null && !Array.isArray(instances)) throw new Error("--instances needs a JSON array");
  // Flags given next to --instances act as defaults for every instance (e.g. --host 0.0.0.0).
  const list = instances === null ? [one] : instances.map((o) => ({ ...one, ...o }));
  return { list, quiet };
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`mock/provider.mjs: ${err.message}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(
      "usage: node mock/provider.mjs [--host H] [--port P] [--name N] [--ttft-ms MS] [--tps N] " +
        "[--failure-rate R] [--failure-status S] [--failure-mode status|reset|midstream] [--prompt-cache] [--prompt-cache-ttl-ms MS] [--api-key KEY] [--quiet]\n" +
        "       node mock/provider.mjs --instances '[{\"name\":\"a\",\"port\":18001,\"ttftMs\":200,\"tokensPerSecond\":80}]'",
    );
    return;
  }
  const log = parsed.quiet ? () => {} : (line) => console.log(line);
  const started = [];
  for (const opts of parsed.list) {
    try {
      const p = await startMockProvider({ ...opts, log });
      started.push(p);
      console.log(`mock provider ${p.name} listening on ${p.url}`);
    } catch (err) {
      console.error(`mock provider ${opts.name ?? "mock"}: cannot listen on ${opts.host ?? "127.0.0.1"}:${opts.port ?? 0}: ${err.message}`);
      await Promise.all(started.map((p) => p.close()));
      process.exit(1);
    }
  }
  const stop = async () => {
    await Promise.all(started.map((p) => p.close()));
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main();
}
