// Shared helpers for the plugin suite: load a build into the emulated host with a config,
// send OpenAI-style requests, and read what a user would check (status, error code, routed model).
import { expect } from "vitest";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type LoadOptions, ProxyWasmHost, type RequestOptions, type RequestResult } from "../host/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ENVOY_WASM = join(root, "build", "envoy.wasm");
export const HIGRESS_WASM = join(root, "build", "higress.wasm");
export const ROUTER_JSON = join(root, "config", "router.json");

export type Json = Record<string, any>;

/** A catalog model with neutral defaults; override what the test is about. */
export function model(name: string, over: Json = {}): Json {
  return {
    name,
    upstream: `up-${name}`,
    price: { input: 1, output: 1 },
    ttftMs: 100,
    tokensPerSecond: 100,
    contextWindow: 1_000_000,
    ...over,
  };
}

function upstreams(cfg: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(cfg)) for (const x of cfg) upstreams(x, out);
  else if (cfg && typeof cfg === "object") {
    for (const [k, v] of Object.entries(cfg)) {
      if (k === "upstream" && typeof v === "string") out.add(v);
      else upstreams(v, out);
    }
  }
  return out;
}

/** Loads the plugin with `cfg` (object → JSON, string → as is; an object without `live` gets
 *  `live: false`). Clusters = every upstream in cfg. */
export async function router(cfg: Json | string, opts: Partial<LoadOptions> = {}): Promise<ProxyWasmHost> {
  // Table routing unless a test is about live signals: live routing explores a random 2 % of
  // requests on a fresh gateway, which a test of the table's choices must not depend on.
  if (typeof cfg !== "string" && !("live" in cfg)) cfg = { ...cfg, live: false };
  const configuration = typeof cfg === "string" ? cfg : JSON.stringify(cfg);
  const clusters = typeof cfg === "string" ? [] : [...upstreams(cfg)];
  return ProxyWasmHost.load({
    wasm: ENVOY_WASM,
    mode: "envoy-allow-stop-iteration",
    ...opts,
    configuration,
    clusters: [...clusters, ...(opts.clusters ?? [])],
  });
}

export function send(host: ProxyWasmHost, body: Json | string | Uint8Array | undefined, opts: Partial<RequestOptions> = {}): RequestResult {
  return host.request({
    method: "POST",
    path: "/v1/chat/completions",
    ...opts,
    headers: { "content-type": "application/json", ...((opts.headers as Record<string, string>) ?? {}) },
    body: body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

/** The catalog model name the plugin chose (modelHeader on the forwarded request). */
export function chosen(r: RequestResult, modelHeader = "x-llm-model"): string | undefined {
  return r.finalHeaders.first(modelHeader);
}

/** {status, code, message, type} of a local reply (throws if there was none). */
export function err(r: RequestResult): { status: number; code: string; message: string; type: string } {
  if (!r.localResponse) throw new Error(`expected a local reply, got ${r.outcome} (model ${chosen(r)})`);
  const j = r.localResponse.json();
  return { status: r.localResponse.status, code: j?.error?.code, message: j?.error?.message, type: j?.error?.type };
}

export const user = (content: string) => ({ messages: [{ role: "user", content }] });

export const errorLines = (host: ProxyWasmHost) => host.logs.filter((l) => l.level === 4).map((l) => l.message);

const CONFIG_ERROR_PREFIX = "model-router: invalid configuration: ";

/** Loads `cfg`, checks the plugin refused it with exactly one ERROR line, and returns what that
 *  line says after "model-router: invalid configuration: " (the field path and the problem). */
export async function rejected(cfg: Json | string): Promise<string> {
  const h = await router(cfg, { logLevel: 0 });
  expect(h.configured).toBe(false);
  const lines = errorLines(h);
  expect(lines, JSON.stringify(h.logs)).toHaveLength(1);
  expect(lines[0].startsWith(CONFIG_ERROR_PREFIX)).toBe(true);
  return lines[0].slice(CONFIG_ERROR_PREFIX.length);
}
