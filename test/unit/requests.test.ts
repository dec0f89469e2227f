// Request handling against docs/behaviour.md: which requests are handled, client errors,
// byte-exact rewriting, chunking, header hygiene (spoofed routing headers, content-length), routing.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProxyWasmHost } from "../host/index.ts";
import { chosen, err, model, ROUTER_JSON, router, send, user } from "./helpers.ts";

const cfg = JSON.parse(readFileSync(ROUTER_JSON, "utf8"));
let h: ProxyWasmHost;
beforeAll(async () => {
  h = await router(cfg);
  expect(h.configured).toBe(true);
});

describe("local error replies", () => {
  const cases: Array<[string, string, string]> = [
    ["not JSON", "{bad", "invalid_json"],
    ["trailing garbage", '{"model":"fast"} x', "invalid_json"],
    ["two documents", '{"model":"fast"}{}', "invalid_json"],
    ["array", '[{"model":"fast"}]', "invalid_json"],
    ["string", '"fast"', "invalid_json"],
    ["number", "42", "invalid_json"],
    ["empty body", "", "missing_body"],
    ["BOM", '\uFEFF{"model":"fast"}', "invalid_json"],
    ["single quotes", "{'model':'fast'}", "invalid_json"],
    ["trailing comma", '{"model":"fast",}', "invalid_json"],
    ["bad escape", '{"model":"fa\\xst"}', "invalid_json"],
    ["lone surrogate pair half escapes are still valid JSON? no: raw control char", '{"model":"fa\u0001st"}', "invalid_json"],
    ["leading zero", '{"model":"fast","n":01}', "invalid_json"],
    ["no model", '{"messages":[]}', "missing_model"],
    ["nested model only", '{"x":{"model":"fast"},"messages":[{"model":"fast"}]}', "missing_model"],
    ["model number", '{"model":5}', "invalid_model"],
    ["model null", '{"model":null}', "invalid_model"],
    ["model array", '{"model":["fast"]}', "invalid_model"],
    ["model object", '{"model":{"name":"fast"}}', "invalid_model"],
    ["duplicate model", '{"model":"fast","model":"cheap"}', "duplicate_model"],
    ["duplicate model, same value", '{"model":"fast","model":"fast"}', "duplicate_model"],
    ["duplicate model spelt with escapes", '{"model":"fast","mod\\u0065l":"cheap"}', "duplicate_model"],
    ["duplicate model, escaped first", '{"\\u006dodel":"fast","model":"x"}', "duplicate_model"],
    ["max_tokens negative", '{"model":"fast","max_tokens":-1}', "invalid_max_tokens"],
    ["max_tokens fraction", '{"model":"fast","max_tokens":1.5}', "invalid_max_tokens"],
    ["max_tokens string", '{"model":"fast","max_tokens":"10"}', "invalid_max_tokens"],
    ["max_tokens bool", '{"model":"fast","max_tokens":true}', "invalid_max_tokens"],
    ["max_completion_tokens negative", '{"model":"fast","max_completion_tokens":-5}', "invalid_max_tokens"],
    ["max_output_tokens fraction", '{"model":"fast","max_output_tokens":2.5}', "invalid_max_tokens"],
    ["max_output_tokens object", '{"model":"fast","max_output_tokens":{}}', "invalid_max_tokens"],
  ];
  it.each(cases)("%s → 400 %s", (_name, body, code) => {
    const r = send(h, body);
    expect(r.outcome).toBe("local");
    expect(err(r)).toMatchObject({ status: 400, code });
  });

  it("invalid UTF-8 in the body → invalid_json", () => {
    const body = Buffer.concat([Buffer.from('{"model":"fast","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
    expect(err(send(h, body))).toMatchObject({ status: 400, code: "invalid_json" });
    const overlong = Buffer.concat([Buffer.from('{"model":"fast","x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    expect(err(send(h, overlong))).toMatchObject({ status: 400, code: "invalid_json" });
    const surrogate = Buffer.concat([Buffer.from('{"model":"fast","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    expect(err(send(h, surrogate))).toMatchObject({ status: 400, code: "invalid_json" });
  });

  it("nesting: 256 levels are fine, 257 are invalid_json", () => {
    const nest = (n: number) => `{"model":"fast","x":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;
    expect(send(h, nest(256)).outcome).toBe("upstream");
    expect(err(send(h, nest(257)))).toMatchObject({ status: 400, code: "invalid_json" });
  });

  it("null max_tokens counts as absent; 0 and large integers are accepted", () => {
    for (const v of ["null", "0", "100", "16384"]) {
      const r = send(h, `{"model":"fast","max_tokens":${v},"messages":[]}`);
      expect(r.outcome, v).toBe("upstream");
    }
  });

  it("handled request without a body → 400 missing_body", () => {
    const r = send(h, undefined);
    expect(err(r)).toMatchObject({ status: 400, code: "missing_body" });
    expect(r.upstream).toBeUndefined();
  });

  it("body over maxBodyBytes → 413 request_too_large (also when chunked)", async () => {
    const small = await router({ ...cfg, maxBodyBytes: 1000 });
    const body = JSON.stringify({ ...user("x".repeat(2000)), model: "fast" });
    expect(err(send(small, body))).toMatchObject({ status: 413, code: "request_too_large" });
    const chunked = send(small, body, { chunkSize: 100 });
    expect(err(chunked)).toMatchObject({ status: 413, code: "request_too_large" });
    expect(chunked.upstream).toBeUndefined();
    const exact = JSON.stringify({ model: "fast", pad: "" });
    const fits = JSON.stringify({ model: "fast", pad: "y".repeat(1000 - exact.length) });
    expect(fits.length).toBe(1000);
    expect(send(small, fits).outcome).toBe("upstream");
  });

  it("every local reply is JSON with the OpenAI error shape", () => {
    for (const body of ["{bad", '{"a":1}', '{"model":1}', '{"model":"fast","max_tokens":-1}']) {
      const r = send(h, body);
      expect(r.localResponse!.header("content-type")).toMatch(/^application\/json/);
      const j = r.localResponse!.json();
      expect(Object.keys(j)).toEqual(["error"]);
      expect(Object.keys(j.error).sort()).toEqual(["code", "message", "type"]);
      expect(j.error.type).toBe("invalid_request_error");
      expect(typeof j.error.message).toBe("string");
      expect(j.error.message.length).toBeGreaterThan(0);
    }
  });
});

describe("rewriting", () => {
  it("routes an alias: body model, model header and upstream header", () => {
    const r = send(h, { model: "fast", ...user("hi") });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.cluster).toBe("groq");
    expect(r.upstream!.header("x-llm-model")).toBe("llama-3.1-8b");
    expect(JSON.parse(r.upstream!.text).model).toBe("llama-3.1-8b-instant");
    expect(r.returns.at(-1)).toMatchObject({ callback: "on_request_body", raw: 0 });
  });

  it("changes only the model value bytes; whitespace, order, escapes and numbers stay", () => {
    const body = '{ "messages" : [ {"role":"user","content":"h\\u00e9llo \\"q\\" \\/ ✓"} ],\n  "model"  :\t"fast" , "temperature":1.50, "n":1e2, "z":null }';
    const r = send(h, body);
    expect(r.upstream!.text).toBe(body.replace('"fast"', '"llama-3.1-8b-instant"'));
  });

  it("replaces an escaped model value as a whole and honours an escaped key", () => {
    const body = '{"mod\\u0065l":"f\\u0061st","messages":[]}';
    const r = send(h, body);
    expect(r.outcome).toBe("upstream");
    expect(chosen(r)).toBe("llama-3.1-8b");
    expect(r.upstream!.text).toBe('{"mod\\u0065l":"llama-3.1-8b-instant","messages":[]}');
  });

  it("ignores nested model keys when rewriting", () => {
    const body = '{"metadata":{"model":"fast"},"messages":[{"role":"user","content":"x","model":"fast"}],"model":"fast"}';
    const r = send(h, body);
    expect(r.upstream!.text).toBe(body.slice(0, body.lastIndexOf('"fast"')) + '"llama-3.1-8b-instant"}');
  });

  it("a catalog model name is rewritten to its upstreamModel without filtering", () => {
    // 400k bytes of prompt exceed llama-3.1-8b's context window, but concrete names are not filtered.
    const r = send(h, { model: "llama-3.1-8b", ...user("x".repeat(600_000)) });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.cluster).toBe("groq");
    expect(chosen(r)).toBe("llama-3.1-8b");
    expect(JSON.parse(r.upstream!.text).model).toBe("llama-3.1-8b-instant");
  });

  it("a catalog model whose upstreamModel equals its name keeps the body byte-identical", () => {
    const body = '{"model" : "gpt-4o","messages":[]}';
    const r = send(h, body);
    expect(r.upstream!.text).toBe(body);
    expect(r.upstream!.header("x-llm-model")).toBe("gpt-4o");
    expect(r.upstream!.cluster).toBe("openai");
  });

  it("unknown model passes through: body untouched, Continue, no model header", () => {
    const body = '{"model":"some-other-model","messages":[]}';
    const r = send(h, body, { headers: { "x-llm-upstream": "openai" } });
    expect(r.returns.filter((x) => x.callback === "on_request_body").at(-1)).toMatchObject({ raw: 0 });
    expect(r.finalBody).toEqual(new TextEncoder().encode(body));
    expect(chosen(r)).toBeUndefined();
    // the client's upstream header was removed in the headers phase, so cluster_header finds none
    expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
    expect(r.outcome).toBe("no-cluster");
  });

  it("escapes and unicode in model names and upstreamModel", async () => {
    const u = await router({
      models: [model("modèle-✓", { upstream: "uni", upstreamModel: 'we"ird\\/ü\n' }), model("plain")],
      routes: { "alias-é": { strategy: "price", models: ["modèle-✓"] } },
    });
    for (const m of ["modèle-✓", "mod\\u00e8le-\\u2713", "alias-\\u00e9", "alias-é"]) {
      const r = send(u, `{"model":"${m}","messages":[]}`);
      expect(r.outcome, m).toBe("upstream");
      expect(r.upstream!.cluster).toBe("uni");
      expect(chosen(r)).toBe("modèle-✓");
      expect(JSON.parse(r.upstream!.text).model).toBe('we"ird\\/ü\n');
      expect(r.upstream!.text.startsWith('{"model":"')).toBe(true);
      expect(r.upstream!.text.endsWith('","messages":[]}')).toBe(true);
    }
  });
});

describe("chunked bodies and trailers", () => {
  const body = JSON.stringify({ messages: [{ role: "user", content: "héllo wörld ✓ ".repeat(50) }], model: "auto", stream: false });
  it("gives the same result for every chunk size", () => {
    const ref = send(h, body);
    expect(ref.outcome).toBe("upstream");
    for (const chunkSize of [1, 2, 3, 7, 13, 64, 100, 1000]) {
      const r = send(h, body, { chunkSize });
      expect(r.outcome, `chunk ${chunkSize}`).toBe("upstream");
      expect(r.upstream!.text).toBe(ref.upstream!.text);
      expect(r.upstream!.cluster).toBe(ref.upstream!.cluster);
      expect(r.upstream!.header("x-llm-model")).toBe(ref.upstream!.header("x-llm-model"));
      // every body callback before the last buffers
      expect(r.returns.filter((x) => x.callback === "on_request_body").slice(0, -1).every((x) => x.raw === 1)).toBe(true);
    }
  });
  it("errors are the same whatever the chunking", () => {
    for (const chunkSize of [1, 5, 50]) expect(err(send(h, '{"model":"fast","model":"x"}', { chunkSize })).code).toBe("duplicate_model");
  });
  it("processes the body when request trailers end the stream", () => {
    const r = h.request({ path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body, chunkSize: 50, trailers: { "x-t": "1" } });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.text).toBe(send(h, body).upstream!.text);
    const bad = h.request({ path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: "{bad", trailers: { "x-t": "1" } });
    expect(err(bad).code).toBe("invalid_json");
  });
});

describe("headers", () => {
  it("removes spoofed routing headers and sets exactly one of each", () => {
    const r = send(h, { model: "cheap", ...user("hi") }, { headers: { "x-llm-upstream": "groq", "x-llm-model": "evil" } });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.headerAll("x-llm-upstream")).toEqual([r.upstream!.cluster]);
    expect(r.upstream!.headerAll("x-llm-model")).toHaveLength(1);
    expect(r.upstream!.header("x-llm-model")).not.toBe("evil");
  });

  it("removes content-length so the rewritten body is not mis-framed", () => {
    const r = send(h, { model: "fast", ...user("hi") });
    expect(r.upstream!.header("content-length")).toBeUndefined();
    expect(r.contentLengthMismatch).toBe(false);
  });

  it("clears the route cache so the new upstream header decides the cluster", () => {
    const r = send(h, { model: "fast", ...user("hi") }, { headers: { "x-llm-upstream": "openai" } });
    expect(r.routeCacheClears).toBeGreaterThan(0);
    expect(r.upstream!.cluster).toBe("groq");
  });

  it("uses configured header names", async () => {
    const c = await router({ ...cfg, upstreamHeader: "x-up", modelHeader: "x-higress-llm-model" }, { clusterHeader: "x-up" });
    const r = send(c, { model: "fast", ...user("hi") }, { headers: { "x-up": "openai", "x-higress-llm-model": "spoof" } });
    expect(r.upstream!.cluster).toBe("groq");
    expect(r.upstream!.headerAll("x-higress-llm-model")).toEqual(["llama-3.1-8b"]);
    expect(r.upstream!.header("x-llm-model")).toBeUndefined();
  });
});

describe("requests the plugin does not handle", () => {
  const body = JSON.stringify({ model: "fast", ...user("hi") });
  const cases: Array<[string, { method?: string; path?: string }]> = [
    ["GET", { method: "GET" }],
    ["PUT", { method: "PUT" }],
    ["other path", { path: "/v1/files" }],
    ["path with extra suffix", { path: "/v1/chat/completions/extra" }],
    ["encoded query separator", { path: "/v1/chat/completions%3Fx" }],
  ];
  it.each(cases)("%s: Continue from headers, no buffering, body untouched, client routing headers removed", (_n, c) => {
    const headers: Record<string, string> = { "content-type": "application/json", "x-llm-upstream": "openai", "x-llm-model": "client", "x-other": "kept" };
    const r = h.request({ method: c.method ?? "POST", path: c.path ?? "/v1/chat/completions", headers, body, chunkSize: 10 });
    expect(r.returns[0]).toMatchObject({ callback: "on_request_headers", raw: 0 });
    expect(r.returns.slice(1).every((x) => x.raw === 0)).toBe(true);
    // the test host has no default route: without the client's x-llm-upstream nothing matches
    expect(r.outcome).toBe("no-cluster");
    expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
    expect(r.finalHeaders.first("x-llm-model")).toBeUndefined();
    expect(r.finalHeaders.first("x-other")).toBe("kept");
    expect(r.finalHeaders.first("content-length")).toBe(String(body.length));
    expect(r.rejectedHeaderMutations).toBe(0);
  });

  it("handles every default path suffix, ignores the query string, matches content-type case-insensitively", () => {
    for (const path of ["/v1/chat/completions", "/completions", "/v1/responses", "/v1/messages", "/v1/chat/completions?x=/y"]) {
      const r = h.request({ path, headers: { "content-type": "Application/JSON; charset=utf-8" }, body });
      expect(r.returns[0].raw, path).toBe(1);
      expect(r.outcome, path).toBe("upstream");
      expect(chosen(r), path).toBe("llama-3.1-8b");
    }
  });

  it("honours configured paths", async () => {
    const c = await router({ ...cfg, paths: ["/llm", "/embeddings"] });
    expect(send(c, body, { path: "/api/llm" }).returns[0].raw).toBe(1);
    expect(send(c, body, { path: "/v1/chat/completions", headers: { "x-llm-upstream": "openai" } }).returns[0].raw).toBe(0);
  });
});

describe("large bodies: only the body's start goes back to the host", () => {
  const cfg = { models: [model("A", { upstreamModel: "a-much-longer-upstream-model-id" }), model("B", { upstreamModel: "b" })], routes: { r: { strategy: "price", models: ["A"] }, s: { strategy: "price", models: ["B"] } } };
  const big = (modelName: string, first: boolean, bytes = 100_000) => {
    const text = "lorem ipsum ".repeat(Math.ceil(bytes / 12)).slice(0, bytes);
    return first ? `{"model":"${modelName}","messages":[{"role":"user","content":"${text}"}]}` : `{"messages":[{"role":"user","content":"${text}"}],"model":"${modelName}"}`;
  };
  const expected = (body: string, from: string, to: string) => body.replace(`"model":"${from}"`, `"model":"${to}"`);
  it.each([["grows", "r", "a-much-longer-upstream-model-id"], ["shrinks", "s", "b"]])("model first, value %s: the prefix is replaced, the body arrives intact", async (_n, alias, id) => {
    const h = await router(cfg);
    const body = big(alias, true);
    const r = send(h, body);
    expect(r.upstream?.text).toBe(expected(body, alias, id));
    const write = h.bufferWrites.at(-1)!;
    expect(write).toMatchObject({ type: 0, start: 0, status: 0 });
    expect(write.length).toBe(body.indexOf(`"${alias}"`) + alias.length + 2); // up to the end of the old value
    expect(write.size).toBeLessThan(100);
  });
  it("model last: the tail side moves and the whole body is written", async () => {
    const h = await router(cfg);
    const body = big("r", false);
    const r = send(h, body);
    expect(r.upstream?.text).toBe(expected(body, "r", "a-much-longer-upstream-model-id"));
    expect(h.bufferWrites.at(-1)!.length).toBe(Buffer.byteLength(body));
  });
  it("small bodies are written whole", async () => {
    const h = await router(cfg);
    const body = big("r", true, 2000);
    const r = send(h, body);
    expect(r.upstream?.text).toBe(expected(body, "r", "a-much-longer-upstream-model-id"));
    expect(h.bufferWrites.at(-1)!.length).toBe(Buffer.byteLength(body));
  });
  it("a host that replaces only whole buffers: the plugin falls back at once and stops trying", async () => {
    const h = await router(cfg, { wholeBufferReplaceOnly: true });
    const body = big("r", true);
    for (let i = 0; i < 3; i++) expect(send(h, body).upstream?.text).toBe(expected(body, "r", "a-much-longer-upstream-model-id"));
    const writes = h.bufferWrites.filter((w) => w.type === 0);
    expect(writes.map((w) => w.status)).toEqual([2, 0, 0, 0]); // one refusal, then whole bodies only
    expect(writes.slice(1).every((w) => w.length === Buffer.byteLength(body))).toBe(true);
  });
});
