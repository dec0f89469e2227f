// Helpers for the live-signal tests: an emulated Envoy process with several workers, upstream
// answers with controlled timing (streams, whole JSON answers, Envoy's own replies), and a reader
// for the per-model statistics record the plugin keeps in shared data (assembly/live/record.ts).
import { EnvoyProcess, type ProxyWasmHost, type RequestResult, type UpstreamAnswer } from "../host/index.ts";
import { ENVOY_WASM, type Json } from "./helpers.ts";

export const VM_ID = "router";

export interface Gateway {
  proc: EnvoyProcess;
  workers: ProxyWasmHost[];
}

function upstreamsOf(cfg: Json): string[] {
  return [...new Set<string>((cfg.models ?? []).map((m: Json) => m.upstream))];
}

/** Boots an emulated `envoy --concurrency N` (canary, main thread, N workers) with `cfg`. */
export async function gateway(cfg: Json, workers = 2): Promise<Gateway> {
  const proc = new EnvoyProcess();
  const ws = await proc.start({ wasm: ENVOY_WASM, workers, vmId: VM_ID, configuration: JSON.stringify(cfg), clusters: upstreamsOf(cfg) });
  return { proc, workers: ws };
}

export interface ChatOptions {
  stream?: boolean;
  maxTokens?: number;
  extra?: Json;
  clientAbortAt?: number;
  bytes?: number; // prompt bytes
}

export function chatBody(model: string, o: ChatOptions = {}): string {
  const content = o.bytes ? "x".repeat(o.bytes) : "hello";
  return JSON.stringify({
    model,
    messages: [{ role: "user", content }],
    ...(o.stream ? { stream: true } : {}),
    ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : {}),
    ...(o.extra ?? {}),
  });
}

type Answer = UpstreamAnswer | { envoy: string; at?: number } | ((a: { attempt: number; cluster: string; host: string }) => any);

/** One chat request through worker `w`, answered by `answer`. */
export function chat(w: ProxyWasmHost, model: string, answer: Answer, o: ChatOptions = {}): RequestResult {
  return w.request({
    method: "POST",
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    body: chatBody(model, o),
    response: answer as any,
    clientAbortAt: o.clientAbortAt,
  });
}

/** The catalog model the plugin chose for a request. */
export const modelOf = (r: RequestResult): string | undefined => r.finalHeaders.first("x-llm-model");

export interface StreamSpec {
  headersAt?: number;
  ttftMs: number;           // first event
  tokens: number;           // one event per token
  spanMs: number;           // from the first event to the usage event
  usage?: boolean | number; // false: no usage chunk; a number: the usage value to report
}

/** An SSE answer: one token event per token spread over spanMs after ttftMs, then usage, then [DONE]. */
export function streamAnswer(s: StreamSpec): UpstreamAnswer {
  const body: Array<{ at: number; data: string }> = [];
  for (let i = 0; i < s.tokens; i++) {
    const at = s.ttftMs + (s.tokens > 1 ? Math.floor((i * s.spanMs) / s.tokens) : 0);
    body.push({ at, data: `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i}"}}]}\n\n` });
  }
  const end = s.ttftMs + s.spanMs;
  const usage = s.usage === undefined || s.usage === true ? s.tokens : s.usage;
  const tail = usage === false ? "data: [DONE]\n\n" : `data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":${usage},"total_tokens":${3 + (usage as number)}}}\n\ndata: [DONE]\n\n`;
  body.push({ at: end, data: tail });
  return { status: 200, headers: { "content-type": "text/event-stream" }, headersAt: s.headersAt ?? Math.min(s.ttftMs, 10), body };
}

/** A whole JSON answer arriving `durationMs` after the request, with `completion_tokens` usage. */
export function jsonAnswer(durationMs: number, tokens: number | null, status = 200): UpstreamAnswer {
  const usage = tokens === null ? "" : `,"usage":{"prompt_tokens":3,"completion_tokens":${tokens},"total_tokens":${tokens + 3}}`;
  return {
    status,
    headers: { "content-type": "application/json" },
    headersAt: durationMs,
    body: [{ at: durationMs, data: `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]${usage}}` }],
  };
}

export const failure = (status: number, headers: Record<string, string> = {}): UpstreamAnswer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  headersAt: 5,
  body: [{ at: 5, data: `{"error":{"message":"nope","type":"server_error","code":null}}` }],
});

export interface DecayedMean {
  weight: number;
  mean: number;
  at: number;
}

export interface LiveRecord {
  open: boolean;
  cause: number;
  status: number;
  ttft: DecayedMean;
  tps: DecayedMean;
  failure: DecayedMean;
  consecutive: number;
  cooldownUntil: number;
  cooldownMs: number;
  level: number;
  leaseUntil: number;
  retryAfterUntil: number;
  lastSampleAt: number;
  openedAt: number;
}

export function statisticsKey(upstream: string, upstreamModel: string): string {
  return `model-router/live/v1/${Buffer.byteLength(upstream)}/${upstream}/${upstreamModel}`;
}

export function decodeRecord(v: Uint8Array): LiveRecord {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  if (v.byteLength !== 144 || dv.getUint32(0, true) !== 0x31766c6d) throw new Error("not a v1 live record");
  const f = (o: number) => dv.getFloat64(o, true);
  const mean = (o: number): DecayedMean => ({ weight: f(o), mean: f(o + 8), at: f(o + 16) });
  return {
    open: v[4] === 1,
    cause: v[5],
    status: dv.getUint16(6, true),
    ttft: mean(8),
    tps: mean(32),
    failure: mean(56),
    consecutive: f(80),
    cooldownUntil: f(88),
    cooldownMs: f(96),
    level: f(104),
    leaseUntil: f(112),
    retryAfterUntil: f(120),
    lastSampleAt: f(128),
    openedAt: f(136),
  };
}

/** The shared statistics of the catalog model `name` (upstream `up-<name>` as in helpers.model). */
export function record(g: Gateway, name: string, upstream = `up-${name}`): LiveRecord | undefined {
  const v = g.proc.shared.get(VM_ID, statisticsKey(upstream, name));
  return v ? decodeRecord(v.value) : undefined;
}

/** The process wall clock in ms. */
export const wallMs = (g: Gateway): number => Number(g.proc.clock.now() / 1_000_000n);

/** Log lines of every VM (not the canary) at `level` or above that contain `text`. */
export function logLines(g: Gateway, text: string, level = 2): string[] {
  return g.proc.logs.filter((l) => !l.canary && l.level >= level && l.message.includes(text)).map((l) => l.message);
}

/** The estimate routing reads, exposed through a route whose limit no model meets. */
export function estimates(w: ProxyWasmHost, model: string): { ttftMs: number; tokensPerSecond: number } {
  const ttft = /ttftMs (\d+) > maxTtftMs/.exec(errorMessage(chat(w, `${model}-ttft`, { status: 200 })));
  const tps = /tokensPerSecond (\d+) < minTokensPerSecond/.exec(errorMessage(chat(w, `${model}-tps`, { status: 200 })));
  return { ttftMs: Number(ttft?.[1]), tokensPerSecond: Number(tps?.[1]) };
}

function errorMessage(r: RequestResult): string {
  return r.localResponse?.json()?.error?.message ?? `(no local reply: ${r.outcome}, model ${modelOf(r)})`;
}

/** Routes that expose a model's estimates in their no-candidate message (see estimates()). */
export function estimateRoutes(models: string[]): Json {
  const routes: Json = {};
  for (const m of models) {
    routes[`${m}-ttft`] = { strategy: "price", models: [m], maxTtftMs: 0 };
    routes[`${m}-tps`] = { strategy: "price", models: [m], minTokensPerSecond: 1e9 };
  }
  return routes;
}

export const log1p = Math.log1p;

/** The estimate the plugin computes: decayed mean blended with the table value as a prior. */
export function blend(prior: number, m: DecayedMean, nowMs: number, halfLifeMs: number, priorWeight: number): number {
  const age = nowMs - m.at;
  const w = m.weight * (age > 0 ? Math.pow(2, -age / halfLifeMs) : 1);
  return (priorWeight * prior + w * m.mean) / (priorWeight + w);
}
