// Issue 7, the plugin's side, through the test host for BOTH builds: routing headers are the
// plugin's alone on every request; an alias never reaches a provider whatever the content type or
// path spelling; limits answer early and in JSON; endpoint-aware candidates; GET /v1/models.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type HostMode, ProxyWasmHost, type RequestOptions, type RequestResult } from "../host/index.ts";
import { chosen, ENVOY_WASM, err, errorLines, HIGRESS_WASM, type Json, model, ROUTER_JSON, router, user } from "./helpers.ts";

// Table routing: these tests are about which requests are handled, not about live estimates (whose
// exploration would send a share of requests elsewhere).
const shipped = { ...JSON.parse(readFileSync(ROUTER_JSON, "utf8")), live: false };
const CLOCK_NS = 1_750_000_000_123_456_789n; // 2025-06-15, in ns: `created` is whole seconds of it

const builds: Array<[string, string, HostMode]> = [
  ["envoy.wasm", ENVOY_WASM, "envoy-allow-stop-iteration"],
  ["higress.wasm", HIGRESS_WASM, "higress"],
];

const CHAT = "/v1/chat/completions";
const body = (m: string, extra: Json = {}) => JSON.stringify({ model: m, ...user("hello there"), ...extra });

for (const [label, wasm, mode] of builds) {
  const load = (cfg: Json, opts: Record<string, unknown> = {}) => router(cfg, { wasm, mode, now: () => CLOCK_NS, ...opts });
  // A raw request: no content type unless given (the `send` helper always adds application/json).
  const post = (h: ProxyWasmHost, b: string | undefined, o: Partial<RequestOptions> = {}) => h.request({ method: "POST", path: CHAT, body: b, ...o });

  describe(`${label}: routing headers are the plugin's alone`, () => {
    let h: ProxyWasmHost;
    beforeAll(async () => {
      h = await load(shipped);
      expect(h.configured).toBe(true);
    });

    const spoof = { "x-llm-upstream": "groq", "x-llm-model": "llama-3.1-8b", "x-keep": "yes" };
    const unhandled: Array<[string, Partial<RequestOptions>]> = [
      ["GET /v1/files", { method: "GET", path: "/v1/files" }],
      ["GET /v1/models/unknown-id", { method: "GET", path: "/v1/models/unknown-id" }],
      ["DELETE /v1/chat/completions", { method: "DELETE", path: CHAT }],
      ["POST to an unhandled path", { method: "POST", path: "/v1/audio/speech", headers: { "content-type": "application/json", ...spoof }, body: body("auto") }],
      ["POST /v1/chat/completions/extra", { method: "POST", path: "/v1/chat/completions/extra", headers: { "content-type": "text/plain", ...spoof }, body: body("auto") }],
      ["POST with an encoded '?'", { method: "POST", path: "/v1/chat/completions%3Fx", headers: spoof, body: body("auto") }],
    ];
    it.each(unhandled)("%s: client copies removed, request not held", (_n, o) => {
      const r = h.request({ headers: spoof, ...o });
      expect(r.returns[0]).toMatchObject({ callback: "on_request_headers", raw: 0 });
      expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
      expect(r.finalHeaders.first("x-llm-model")).toBeUndefined();
      expect(r.finalHeaders.first("x-keep")).toBe("yes");
      // the test host has only the cluster_header route: with the header gone nothing matches
      expect(r.outcome).toBe("no-cluster");
      expect(r.setProperties.set_decoder_buffer_limit).toBeUndefined();
    });

    it("every copy of a repeated header goes", () => {
      const r = h.request({ method: "GET", path: "/v1/files", headers: [["x-llm-upstream", "groq"], ["x-llm-upstream", "openai"], ["x-llm-model", "a"]] });
      expect(r.finalHeaders.all("x-llm-upstream")).toEqual([]);
      expect(r.finalHeaders.all("x-llm-model")).toEqual([]);
    });

    it("a request without routing headers is not touched at all (no header edit, no re-route)", () => {
      const r = h.request({ method: "GET", path: "/v1/files", headers: { "x-keep": "yes" } });
      expect(r.routeCacheClears).toBe(0);
      // one request callback (the response-headers callback, for the router's 404, returns at once)
      expect(r.returns.filter((x) => x.callback.startsWith("on_request"))).toHaveLength(1);
      expect(r.finalHeaders.first("x-keep")).toBe("yes");
    });

    it("the header names of every _rules_ entry are removed on every request, whichever config serves it", async () => {
      const cfg = {
        models: [model("A")],
        _rules_: [{ _match_domain_: ["r.com"], upstreamHeader: "x-rule-upstream", modelHeader: "x-rule-model", models: [model("R")] }],
      };
      const r = await load(cfg);
      const spoofAll = { "x-llm-upstream": "up-A", "x-llm-model": "A", "x-rule-upstream": "up-R", "x-rule-model": "R" };
      for (const authority of ["g.com", "r.com"]) {
        for (const o of [{ method: "GET", path: "/v1/files" }, { method: "POST", path: CHAT, body: body("x"), headers: { "content-type": "application/json", ...spoofAll } }]) {
          const res = r.request({ authority, headers: spoofAll, ...o });
          for (const name of Object.keys(spoofAll)) expect(res.finalHeaders.first(name), `${authority} ${o.method} ${name}`).toBeUndefined();
        }
      }
      // and the rule still routes with its own names
      const routed = r.request({ authority: "r.com", method: "POST", path: CHAT, headers: { "content-type": "application/json", ...spoofAll }, body: body("R") });
      expect(routed.finalHeaders.all("x-rule-model")).toEqual(["R"]);
      expect(routed.finalHeaders.first("x-llm-model")).toBeUndefined();
    });

    it("more routing header names than the 64 the header read tracks are all removed too", async () => {
      const rules = Array.from({ length: 40 }, (_, i) => ({ _match_domain_: [`r${i}.com`], upstreamHeader: `x-up-${i}`, modelHeader: `x-model-${i}` }));
      const r = await load({ models: [model("A")], _rules_: rules });
      const spoofAll: Record<string, string> = { "x-llm-upstream": "up-A", "x-keep": "yes" };
      for (let i = 0; i < 40; i++) Object.assign(spoofAll, { [`x-up-${i}`]: "up-A", [`x-model-${i}`]: "A" });
      const res = r.request({ method: "GET", path: "/v1/files", headers: spoofAll });
      expect(res.finalHeaders.entries.filter(([k]) => k.startsWith("x-up-") || k.startsWith("x-model-") || k === "x-llm-upstream")).toEqual([]);
      expect(res.finalHeaders.first("x-keep")).toBe("yes");
    });

    it("also when the global configuration is disabled and no rule matches", async () => {
      const r = await load({ _rules_: [{ _match_domain_: ["r.com"], upstreamHeader: "x-rule-upstream", models: [model("R")] }] });
      const res = r.request({ authority: "g.com", method: "GET", path: "/", headers: { "x-rule-upstream": "up-R", "x-llm-model": "R" } });
      expect(res.finalHeaders.first("x-rule-upstream")).toBeUndefined();
      expect(res.finalHeaders.first("x-llm-model")).toBeUndefined();
    });
  });

  describe(`${label}: an alias never reaches a provider`, () => {
    let h: ProxyWasmHost;
    beforeAll(async () => {
      h = await load(shipped);
    });

    const types: Array<[string, string | undefined]> = [
      ["text/plain (what fetch() sends for a string)", "text/plain;charset=UTF-8"],
      ["form-urlencoded (what curl -d sends)", "application/x-www-form-urlencoded"],
      ["no content type", undefined],
      ["text/json", "text/json"],
      ["application/vnd.api+json", "application/vnd.api+json"],
      ["multipart/form-data", "multipart/form-data; boundary=x"],
      ["application/json, odd case and spacing", "  Application/JSON ; charset=utf-8"],
    ];
    it.each(types)("%s: a JSON object body is routed", (_n, ct) => {
      const r = post(h, body("auto"), { headers: ct === undefined ? {} : { "content-type": ct } });
      expect(r.outcome, r.localResponse?.text).toBe("upstream");
      expect(chosen(r)).toBe("gpt-4o-mini");
      expect(JSON.parse(r.upstream!.text).model).toBe("gpt-4o-mini");
      // a provider parses the body as JSON only if it is labelled so
      const json = ct !== undefined && /^\s*[a-z]+\/([a-z.]+\+)?json\s*(;|$)/i.test(ct);
      expect(r.upstream!.header("content-type")).toBe(json ? ct : "application/json");
    });

    it("a JSON object body with a model the router does not know passes through untouched", () => {
      const b = body("someone-elses-model");
      const r = post(h, b, { headers: { "content-type": "text/plain", "x-llm-upstream": "openai" } });
      expect(r.finalBody).toEqual(new TextEncoder().encode(b));
      expect(r.finalHeaders.first("content-type")).toBe("text/plain");
      expect(chosen(r)).toBeUndefined();
    });

    const notObjects: Array<[string, string, string | undefined]> = [
      ["a form body (curl -d)", "model=auto&messages=hello", "application/x-www-form-urlencoded"],
      ["plain text", "please route me", "text/plain"],
      ["a JSON array", '[{"model":"auto"}]', "text/plain"],
      ["broken JSON, no content type", '{"model":"auto",', undefined],
      ["a JSON string", '"auto"', "application/octet-stream"],
    ];
    it.each(notObjects)("%s without a JSON content type → 415 unsupported_media_type", (_n, b, ct) => {
      const r = post(h, b, { headers: ct === undefined ? {} : { "content-type": ct } });
      const e = err(r);
      expect(e).toMatchObject({ status: 415, code: "unsupported_media_type", type: "invalid_request_error" });
      expect(e.message).toContain("Content-Type: application/json");
      expect(e.message).toContain(ct === undefined ? "no Content-Type" : `"${ct}"`);
      expect(r.localResponse!.header("content-type")).toBe("application/json");
      expect(r.upstream).toBeUndefined();
    });

    it("the same bodies with a JSON content type keep their 400 invalid_json", () => {
      for (const ct of ["application/json", "text/json"]) {
        expect(err(post(h, "model=auto", { headers: { "content-type": ct } }))).toMatchObject({ status: 400, code: "invalid_json" });
      }
    });

    it("a JSON object that is wrong in itself gets its own 400 whatever the content type", () => {
      expect(err(post(h, '{"messages":[]}', { headers: { "content-type": "text/plain" } }))).toMatchObject({ status: 400, code: "missing_model" });
      expect(err(post(h, '{"model":1}'))).toMatchObject({ status: 400, code: "invalid_model" });
    });

    it.each(["gzip", "br", "deflate", "zstd", "gzip, identity", "x-unknown"])("Content-Encoding %s → 415 unsupported_content_encoding before the body", (enc) => {
      const r = post(h, body("auto"), { headers: { "content-type": "application/json", "content-encoding": enc } });
      const e = err(r);
      expect(e).toMatchObject({ status: 415, code: "unsupported_content_encoding" });
      expect(e.message).toContain(`"${enc}"`);
      expect(r.bodyCallbacks).toBe(0);
    });

    it.each(["identity", " Identity ", ""])("Content-Encoding %j is readable", (enc) => {
      const r = post(h, body("fast"), { headers: { "content-type": "application/json", "content-encoding": enc } });
      expect(chosen(r)).toBe("llama-3.1-8b");
    });

    const spellings = [
      "/v1/chat/completions/",
      "/v1/chat/completions//",
      "/v1/chat/completions/?stream=1",
      "/v1/chat/completions#x",
      "/v1/chat/%63ompletions",
      "/v1/chat/%63%6F%6d%70letions",
      "/v1/chat%2Fcompletions",
      "/v1/chat%2fcompletions/",
      "/v1/%zz/chat/completions",
      "/proxy/openai/v1/chat/completions",
    ];
    it.each(spellings)("path %s is handled like /v1/chat/completions", (path) => {
      const r = post(h, body("fast"), { path, headers: { "content-type": "application/json", "x-llm-upstream": "openai" } });
      expect(r.returns[0].raw, path).toBe(1);
      expect(r.upstream?.cluster, r.localResponse?.text).toBe("groq");
      // the path is forwarded as the client sent it
      expect(r.finalHeaders.first(":path")).toBe(path);
    });

    it("the longest configured suffix decides which path a request is for", async () => {
      const c = await load({
        paths: ["/completions", "/chat/completions"],
        models: [model("legacy", { endpoints: ["/completions"] }), model("chat", { endpoints: ["/chat/completions"], price: { input: 9, output: 9 } })],
        routes: { auto: { strategy: "price" } },
      });
      expect(chosen(post(c, body("auto"), { path: "/v1/chat/completions" }))).toBe("chat");
      expect(chosen(post(c, body("auto"), { path: "/v1/completions" }))).toBe("legacy");
    });
  });

  describe(`${label}: limits answer early and in JSON`, () => {
    let h: ProxyWasmHost;
    beforeAll(async () => {
      h = await load({ ...shipped, maxBodyBytes: 1000 });
    });
    const sized = (n: number) => {
      const head = '{"model":"fast","pad":"';
      return head + "x".repeat(n - head.length - 2) + '"}';
    };

    it("content-length over maxBodyBytes → the JSON 413 from the headers callback, no body callback", () => {
      const r = post(h, sized(1001), { headers: { "content-type": "application/json" } });
      expect(err(r)).toMatchObject({ status: 413, code: "request_too_large" });
      expect(r.localResponse!.header("content-type")).toBe("application/json");
      expect(r.bodyCallbacks).toBe(0);
      expect(r.returns.filter((x) => x.callback.startsWith("on_request"))).toHaveLength(1);
      // a declared length alone is enough (the body may never come)
      const declared = h.request({ method: "POST", path: CHAT, headers: { "content-type": "text/plain", "content-length": "99999999999999999999999" }, body: "{}", contentLength: false });
      expect(err(declared)).toMatchObject({ status: 413, code: "request_too_large" });
    });

    it("exactly maxBodyBytes is routed; over it without a content-length is caught while buffering", () => {
      expect(chosen(post(h, sized(1000), { headers: { "content-type": "application/json" } }))).toBe("llama-3.1-8b");
      const chunked = post(h, sized(1001), { headers: { "content-type": "application/json" }, contentLength: false, chunkSize: 100 });
      expect(err(chunked)).toMatchObject({ status: 413, code: "request_too_large" });
      expect(chunked.bodyCallbacks).toBeGreaterThan(0);
      // 16 KiB chunks (HTTP/2 DATA frames): the crossing chunk still reaches the plugin, also on
      // Higress, whose decoder buffer limit the plugin sets above maxBodyBytes
      const frames = post(h, sized(40_000), { headers: { "content-type": "application/json" }, contentLength: false, chunkSize: 16384 });
      expect(frames.localResponse?.source).toBe("plugin");
      expect(err(frames)).toMatchObject({ status: 413, code: "request_too_large" });
    });

    const empties: Array<[string, Partial<RequestOptions>]> = [
      ["no body (the headers end the stream)", {}],
      ["content-length: 0", { headers: { "content-type": "application/json", "content-length": "0" } }],
      ["an empty DATA frame ending the stream (HTTP/2 clients)", { body: "", contentLength: false }],
      ["trailers only", { trailers: { "x-checksum": "1" } }],
      ["an empty DATA frame, then trailers", { chunks: [""], trailers: { "x-checksum": "1" } }],
    ];
    it.each(empties)("%s → 400 missing_body", (_n, o) => {
      const r = h.request({ method: "POST", path: CHAT, headers: { "content-type": "application/json" }, ...o });
      expect(err(r)).toMatchObject({ status: 400, code: "missing_body" });
      expect(r.upstream).toBeUndefined();
    });
  });

  describe(`${label}: endpoint-aware candidates`, () => {
    let h: ProxyWasmHost;
    beforeAll(async () => {
      h = await load(shipped);
    });
    const embedBody = (m: string, input = "the quick brown fox") => JSON.stringify({ model: m, input });

    it("auto and embed on /v1/embeddings pick the embedding model", () => {
      for (const alias of ["auto", "embed", "fast", "bulk"]) {
        const r = post(h, embedBody(alias), { path: "/v1/embeddings", headers: { "content-type": "application/json" } });
        expect(chosen(r), alias).toBe("text-embedding-3-small");
        expect(r.upstream!.cluster).toBe("openai");
      }
    });

    it("no alias on a chat path ever picks the embedding model", () => {
      for (const alias of Object.keys(shipped.routes).filter((a) => a !== "embed")) {
        for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/responses"]) {
          const r = post(h, body(alias), { path, headers: { "content-type": "application/json" } });
          expect(chosen(r), `${alias} ${path}`).not.toBe("text-embedding-3-small");
        }
      }
    });

    it("embed on /v1/chat/completions → 400 model_not_available saying the model does not serve the path", () => {
      const e = err(post(h, body("embed"), { headers: { "content-type": "application/json" } }));
      expect(e).toMatchObject({ status: 400, code: "model_not_available" });
      expect(e.message).toBe('no model can serve this request (route "embed"): text-embedding-3-small: does not serve /chat/completions');
    });

    it("an embedding request counts no output tokens against the context window", () => {
      // 8000 input tokens: fits 8191 only without the 512 default output tokens
      const r = post(h, embedBody("embed", "abcd".repeat(7999)), { path: "/v1/embeddings", headers: { "content-type": "application/json" } });
      expect(chosen(r), r.localResponse?.text).toBe("text-embedding-3-small");
    });

    it("a concrete model is sent where the client asked (no filtering)", () => {
      const r = post(h, embedBody("gpt-4o-mini"), { path: "/v1/embeddings", headers: { "content-type": "application/json" } });
      expect(chosen(r)).toBe("gpt-4o-mini");
    });

    it("without /embeddings in paths, a model serves every path by default", async () => {
      const c = await load({ paths: ["/llm", "/embeddings2"], models: [model("A")], routes: { r: { strategy: "price" } } });
      expect(chosen(post(c, body("r"), { path: "/api/llm" }))).toBe("A");
      expect(chosen(post(c, body("r"), { path: "/api/embeddings2" }))).toBe("A");
    });

    const badEndpoints: Array<[string, Json, string]> = [
      ["a typo", { models: [model("e", { endpoints: ["/embedding"] })] }, 'models[0].endpoints[0]: "/embedding" is not a handled path (did you mean "/embeddings"?)'],
      ["nothing close", { models: [model("e", { endpoints: ["/audio/speech"] })] }, 'models[0].endpoints[0]: "/audio/speech" is not a handled path; expected one of "/chat/completions", "/completions", "/responses", "/messages", "/embeddings"'],
      ["an empty list", { models: [model("e", { endpoints: [] })] }, "models[0].endpoints: expected at least one path the model serves"],
      ["not a list", { models: [model("e", { endpoints: "/embeddings" })] }, "models[0].endpoints: expected an array of strings"],
      ["not in the configured paths", { paths: ["/chat/completions"], models: [model("e", { endpoints: ["/embeddings"] })] }, 'models[0].endpoints[0]: "/embeddings" is not a handled path; expected one of "/chat/completions"'],
      ["a rule whose paths drop a global model's endpoint", { models: [model("e", { endpoints: ["/embeddings"] })], _rules_: [{ _match_domain_: ["r.com"], paths: ["/chat/completions"] }] }, '_rules_[0].models[0].endpoints[0]: "/embeddings" is not a handled path; expected one of "/chat/completions"'],
    ];
    it.each(badEndpoints)("endpoints: %s is a configuration error naming the field", async (_n, cfg, line) => {
      const c = await load(cfg, { logLevel: 0 });
      expect(c.configured).toBe(false);
      expect(errorLines(c)).toEqual([`model-router: invalid configuration: ${line}`]);
    });
  });

  describe(`${label}: GET /v1/models`, () => {
    let h: ProxyWasmHost;
    beforeAll(async () => {
      h = await load(shipped);
    });
    const get = (host: ProxyWasmHost, path: string, o: Partial<RequestOptions> = {}) => host.request({ method: "GET", path, ...o });
    const created = Number(CLOCK_NS / 1_000_000_000n);
    const expected = [
      ...Object.keys(shipped.routes).map((id) => ({ id, object: "model", created, owned_by: "model-router" })),
      ...shipped.models.map((m: Json) => ({ id: m.name, object: "model", created, owned_by: m.upstream })),
    ];

    it.each(["/v1/models", "/v1/models/", "/v1/models?limit=5", "/models"])("%s lists the aliases, then the catalog models", (path) => {
      const r = get(h, path, { headers: { "x-llm-upstream": "groq" } });
      expect(r.outcome).toBe("local");
      expect(r.localResponse!.status).toBe(200);
      expect(r.localResponse!.header("content-type")).toBe("application/json");
      expect(r.localResponse!.json()).toEqual({ object: "list", data: expected });
      expect(r.upstream).toBeUndefined();
    });

    it("GET /v1/models/<alias or model> answers that entry", () => {
      for (const entry of expected) {
        const r = get(h, `/v1/models/${encodeURIComponent(entry.id)}`);
        expect(r.localResponse?.status, entry.id).toBe(200);
        expect(r.localResponse!.json()).toEqual(entry);
      }
    });

    it("ids with a slash or characters JSON escapes work", async () => {
      const c = await load({ models: [model("meta-llama/Llama-3.1-8B"), model('we"ird\\name')], routes: { "a/b": { strategy: "price" } } });
      for (const path of ["/v1/models/meta-llama/Llama-3.1-8B", "/v1/models/meta-llama%2FLlama-3.1-8B"]) {
        expect(get(c, path).localResponse?.json().id, path).toBe("meta-llama/Llama-3.1-8B");
      }
      expect(get(c, "/v1/models/a/b").localResponse?.json()).toMatchObject({ id: "a/b", owned_by: "model-router" });
      expect(get(c, `/v1/models/${encodeURIComponent('we"ird\\name')}`).localResponse?.json().id).toBe('we"ird\\name');
      expect(get(c, "/v1/models").localResponse!.json().data.map((d: Json) => d.id)).toEqual(["a/b", "meta-llama/Llama-3.1-8B", 'we"ird\\name']);
    });

    it("an unknown id, other methods and listModels: false pass through (routing headers still removed)", async () => {
      for (const r of [get(h, "/v1/models/gpt-5", { headers: { "x-llm-upstream": "groq" } }), h.request({ method: "POST", path: "/v1/models", headers: { "x-llm-upstream": "groq" } })]) {
        expect(r.returns[0].raw).toBe(0);
        expect(r.localResponse?.source).not.toBe("plugin");
        expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
      }
      const off = await load({ ...shipped, listModels: false });
      const r = get(off, "/v1/models");
      expect(r.returns[0].raw).toBe(0);
      expect(r.localResponse?.source).not.toBe("plugin");
    });

    it("each _rules_ entry lists its own aliases", async () => {
      const c = await load({ models: [model("A")], routes: { g: { strategy: "price" } }, _rules_: [{ _match_domain_: ["r.com"], routes: { r: { strategy: "price" } } }] });
      const ids = (authority: string) => get(c, "/v1/models", { authority }).localResponse!.json().data.map((d: Json) => d.id);
      expect(ids("g.com")).toEqual(["g", "A"]);
      expect(ids("r.com")).toEqual(["r", "A"]);
    });

    it("listModels must be a boolean", async () => {
      const c = await load({ ...shipped, listModels: "no" }, { logLevel: 0 });
      expect(errorLines(c)).toEqual(["model-router: invalid configuration: listModels: expected true or false"]);
    });
  });
}

describe("higress.wasm: a spoofed routing header on a GET is removed", () => {
  it("x-higress-llm-model and the upstream header are gone before Higress re-selects the route", async () => {
    const cfg = { ...shipped, modelHeader: "x-higress-llm-model" };
    const h = await ProxyWasmHost.load({ wasm: HIGRESS_WASM, mode: "higress", configuration: JSON.stringify(cfg), clusters: ["openai", "groq", "deepseek"] });
    const r: RequestResult = h.request({ method: "GET", path: "/v1/files", headers: { "x-higress-llm-model": "gpt-4o", "x-llm-upstream": "groq" } });
    expect(r.returns[0].raw).toBe(0);
    expect(r.finalHeaders.first("x-higress-llm-model")).toBeUndefined();
    expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
    // Higress re-routes after a header edit: the spoofed value cannot have picked the route
    expect(r.routeCacheClears).toBeGreaterThan(0);
    expect(r.outcome).toBe("no-cluster");
  });
});

describe("configuration of paths", () => {
  const cases: Array<[string, unknown, string]> = [
    ["a trailing slash", ["/chat/completions/"], "paths[0]: expected a path suffix without a trailing '/'"],
    ["a query", ["/chat?x"], "paths[0]: expected a plain path suffix (no '?', '#' or '%')"],
    ["an escape", ["/chat%2Fcompletions"], "paths[0]: expected a plain path suffix (no '?', '#' or '%')"],
    ["a duplicate", ["/a", "/a"], 'paths[1]: "/a" is listed twice'],
    ["too many", Array.from({ length: 33 }, (_, i) => `/p${i}`), "paths: expected at most 32 path suffixes"],
  ];
  it.each(cases)("%s is refused", async (_n, paths, line) => {
    const h = await router({ models: [model("A")], paths }, { logLevel: 0 });
    expect(h.configured).toBe(false);
    expect(errorLines(h)).toEqual([`model-router: invalid configuration: ${line}`]);
  });
});

// Envoy's own 413 (its buffer limit, when one read brings more than 1 MiB past a body the plugin
// was still reading) gets the plugin's JSON from the generated bootstrap's local-reply mappers.
describe("Envoy's own 413 in the generated bootstrap", () => {
  const tooLarge = async (json: Json) => {
    const { buildBootstrap } = await import("../../cli/lib/envoy.mjs");
    const bootstrap = buildBootstrap({ json, text: JSON.stringify(json) });
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const mapper = hcm.local_reply_config.mappers.find((m: any) => m.filter.status_code_filter?.comparison.value.default_value === 413);
    return mapper?.body_format_override;
  };
  const providers = { "up-A": { baseUrl: "http://a.test/v1", auth: "none" } };
  it("reads like the plugin's 413, naming the limit when there is one", async () => {
    const one = await tooLarge({ models: [model("A")], providers, maxBodyBytes: 65536 });
    expect(one.content_type).toBe("application/json");
    expect(one.json_format.error).toEqual({ message: "request body is larger than 65536 bytes", type: "invalid_request_error", param: null, code: "request_too_large" });
    const h = await router({ models: [model("A")], routes: { r: { strategy: "price" } }, maxBodyBytes: 65536 });
    expect(err(h.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: "x".repeat(65537) })).message).toBe(one.json_format.error.message);
  });
  it("names no number when a rule has another limit", async () => {
    const two = await tooLarge({ models: [model("A")], providers, maxBodyBytes: 65536, _rules_: [{ _match_domain_: ["big.test"], maxBodyBytes: 1048576 }] });
    expect(two.json_format.error.message).toBe("request body is larger than this route accepts");
  });
});
