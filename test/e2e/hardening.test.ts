// Issue 7 through real Envoy 1.40, with NO `internal_only_headers` in the route configuration: the
// plugin alone keeps clients from choosing the upstream (HTTP/1.1 and HTTP/2), routes aliases
// whatever the content type or path spelling, answers limits early in JSON, keeps embedding and
// chat models apart, and answers GET /v1/models itself. Also: what Envoy 1.40 really answers when
// cluster_header names a cluster that does not exist.
import { connect as h2connect, type IncomingHttpHeaders as H2Headers } from "node:http2";
import { connect as tcpConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { type Gateway, hcmOf, postJson, readRouterConfig, send, useGateway } from "./harness";

// Table routing: these tests expect the models the table picks (live estimates would follow the mocks).
const router = { ...readRouterConfig(), live: false };

function withoutInternalOnlyHeaders(cfg: any): void {
  const routeConfig = hcmOf(cfg).route_config;
  delete routeConfig.internal_only_headers;
}

// Unrouted requests go to openai (`--default-provider openai`), so that a request the plugin does not
// route still reaches a provider and the test can see which routing headers arrived there.
const gw = useGateway({ pluginConfig: router, generator: { defaultProvider: "openai" }, mutate: withoutInternalOnlyHeaders });

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16, ...extra });
const SPOOF = { "x-llm-upstream": "groq", "x-llm-model": "llama-3.1-8b" };

/** The one request the mocks received during this test. */
function onlyReceived(g: Gateway) {
  const all = g.received();
  expect(all.map((r) => `${r.provider} ${r.request.method} ${r.request.path}`)).toHaveLength(1);
  return all[0];
}

// ---- HTTP/2 (prior knowledge, as gRPC-style clients and many SDK transports speak it)

interface H2Reply {
  status: number;
  headers: H2Headers;
  text: string;
  json(): any;
}

/** `open`: write the body but never end the stream (an upload still in progress). */
function h2request(
  url: string,
  headers: Record<string, string>,
  opts: { body?: string; trailers?: Record<string, string>; open?: boolean } = {},
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const client = h2connect(url);
    client.on("error", reject);
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`HTTP/2 request ${headers[":path"]} timed out`));
    }, 15_000);
    const req = client.request(headers, { endStream: false, waitForTrailers: opts.trailers !== undefined });
    if (opts.trailers) req.on("wantTrailers", () => req.sendTrailers(opts.trailers!));
    let responseHeaders: H2Headers = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => (responseHeaders = h));
    req.on("data", (d: Buffer) => chunks.push(d));
    const done = () => {
      clearTimeout(timer);
      client.destroy();
      const text = Buffer.concat(chunks).toString("utf8");
      resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, text, json: () => JSON.parse(text) });
    };
    req.on("error", (e) => {
      // a reset after a complete answer (the upload was cut short) still leaves the answer
      if (responseHeaders[":status"] !== undefined) return done();
      clearTimeout(timer);
      client.destroy();
      reject(e);
    });
    req.on("end", done);
    if (opts.open) req.write(opts.body ?? "");
    // no body: an empty DATA frame carries END_STREAM (or the trailers do)
    else req.end(opts.body);
  });
}

// ---- HTTP/1.1 on a raw socket: headers and only the start of a body

function partialUpload(port: number, head: string, bodyStart: string, waitMs = 10_000): Promise<{ raw: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let raw = "";
    let closed = false;
    const timer = setTimeout(() => finish(), waitMs);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw, closed });
    };
    socket.on("error", reject);
    socket.on("data", (d) => {
      raw += d.toString("utf8");
      const final = raw.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, "");
      const split = final.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)/i.exec(final)?.[1];
      if (split >= 0 && length !== undefined && final.length >= split + 4 + Number(length)) finish();
    });
    socket.on("end", () => {
      closed = true;
      finish();
    });
    socket.write(head + bodyStart);
  });
}

/** The final response of a raw HTTP/1.1 exchange (interim 1xx responses skipped). */
function parseRaw(raw: string) {
  while (/^HTTP\/1\.1 1\d\d /.test(raw)) raw = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  const split = raw.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = raw.slice(0, split).split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine.split(" ")[1]), headers, body: raw.slice(split + 4) };
}

describe("the shipped route configuration minus internal_only_headers", () => {
  it("really has no internal_only_headers (the plugin alone must stop spoofing)", async () => {
    const dump = await send(gw().adminUrl, { path: "/config_dump?resource=static_route_configs" });
    expect(dump.status).toBe(200);
    expect(dump.text).toContain("llm_routes");
    expect(dump.text).not.toContain("internal_only_headers");
  });
});

describe("routing headers are the plugin's alone (HTTP/1.1)", () => {
  const unhandled: Array<[string, { method: string; path: string; headers?: Record<string, string>; body?: string }]> = [
    ["GET", { method: "GET", path: "/v1/files" }],
    ["a POST to a path the plugin does not handle", { method: "POST", path: "/v1/audio/speech", headers: { "content-type": "application/json" }, body: chat("auto") }],
    ["a DELETE on a handled path", { method: "DELETE", path: "/v1/chat/completions" }],
  ];
  for (const [name, req] of unhandled) {
    it(`${name} with spoofed headers reaches the default provider without them`, async () => {
      const reply = await send(gw().url, { ...req, headers: { ...req.headers, ...SPOOF } });
      expect(reply.status).toBe(404); // the mock's own "unknown URL" answer
      const got = onlyReceived(gw());
      expect(got.cluster).toBe("openai");
      expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
      expect(got.request.headers["x-llm-model"]).toBeUndefined();
    });
  }

  const spellings = ["/v1/chat/completions/", "/v1/chat/%63ompletions", "/v1/chat%2Fcompletions", "/v1/chat/completions/?trace=1"];
  for (const path of spellings) {
    it(`${path} with an alias and spoofed headers is routed by the plugin, not by the client`, async () => {
      await send(gw().url, { method: "POST", path, headers: { "content-type": "application/json", ...SPOOF }, body: chat("best") });
      const got = onlyReceived(gw());
      expect(got.cluster).toBe("openai");
      expect(JSON.parse(got.request.body.toString()).model).toBe("gpt-4o");
      // Envoy routed on the plugin's headers, then removed them: the provider sees neither copy
      expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
      expect(got.request.headers["x-llm-model"]).toBeUndefined();
    });
  }

  it("a text/plain JSON body naming a model the router does not know passes through without the spoofed headers", async () => {
    const body = chat("someone-elses-model");
    const reply = await send(gw().url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "text/plain", ...SPOOF }, body });
    expect(reply.status, reply.text).toBe(200);
    const got = onlyReceived(gw());
    expect(got.cluster).toBe("openai");
    expect(got.request.body.toString()).toBe(body);
    expect(got.request.headers["content-type"]).toBe("text/plain");
    expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
    expect(got.request.headers["x-llm-model"]).toBeUndefined();
  });

  it("a non-JSON content type with spoofed headers cannot pick the upstream either", async () => {
    const reply = await send(gw().url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "text/plain", ...SPOOF }, body: "hello" });
    expect(reply.status).toBe(415);
    expect(gw().received()).toHaveLength(0);
  });
});

describe("routing headers are the plugin's alone (HTTP/2)", () => {
  it("a GET with spoofed headers reaches the default provider without them", async () => {
    const reply = await h2request(gw().url, { ":method": "GET", ":path": "/v1/files", ...SPOOF });
    expect(reply.status).toBe(404);
    const got = onlyReceived(gw());
    expect(got.cluster).toBe("openai");
    expect(got.request.headers["x-llm-upstream"]).toBeUndefined();
    expect(got.request.headers["x-llm-model"]).toBeUndefined();
  });

  it("an alias with spoofed headers on a percent-encoded path is routed by the plugin", async () => {
    const reply = await h2request(
      gw().url,
      { ":method": "POST", ":path": "/v1/chat/%63ompletions", "content-type": "text/plain", ...SPOOF },
      { body: chat("fast") },
    );
    expect(reply.status, reply.text).toBe(200); // Envoy normalises the path (normalize_path) before the provider
    const got = onlyReceived(gw());
    expect(got.cluster).toBe("groq");
    expect(got.request.headers["x-llm-model"]).toBeUndefined();
    expect(got.request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(got.request.body.toString()).model).toBe("llama-3.1-8b-instant");
  });

  it("an alias on the canonical path is answered by the chosen provider", async () => {
    const reply = await h2request(gw().url, { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", ...SPOOF }, { body: chat("best") });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.json().model).toBe("gpt-4o");
    expect(onlyReceived(gw()).cluster).toBe("openai");
  });

  it("an empty body (empty DATA frame with END_STREAM) → 400 missing_body", async () => {
    const reply = await h2request(gw().url, { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" });
    expect(reply.status).toBe(400);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(reply.json().error.code).toBe("missing_body");
    expect(gw().received()).toHaveLength(0);
  });

  it("trailers and no body → 400 missing_body", async () => {
    const reply = await h2request(gw().url, { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" }, { trailers: { "x-checksum": "0" } });
    expect(reply.status).toBe(400);
    expect(reply.json().error.code).toBe("missing_body");
  });

  it("a body with trailers is routed", async () => {
    const reply = await h2request(gw().url, { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" }, { body: chat("fast"), trailers: { "x-checksum": "0" } });
    expect(reply.status, reply.text).toBe(200);
    expect(onlyReceived(gw()).cluster).toBe("groq");
  });
});

describe("an alias never reaches a provider", () => {
  const types: Array<[string, string | undefined, string]> = [
    ["text/plain (fetch() with a string body)", "text/plain;charset=UTF-8", "application/json"],
    ["application/x-www-form-urlencoded (curl -d)", "application/x-www-form-urlencoded", "application/json"],
    ["no content type", undefined, "application/json"],
    ["text/json", "text/json", "text/json"],
  ];
  for (const [name, type, forwarded] of types) {
    it(`${name}: a JSON body with "auto" is routed`, async () => {
      const reply = await send(gw().url, { method: "POST", path: "/v1/chat/completions", headers: type ? { "content-type": type } : {}, body: chat("auto") });
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json().model).toBe("gpt-4o-mini");
      const got = onlyReceived(gw());
      expect(got.cluster).toBe("openai");
      expect(got.request.headers["content-type"]).toBe(forwarded);
      expect(JSON.parse(got.request.body.toString()).model).toBe("gpt-4o-mini");
    });
  }

  it("a trailing-slash path with no content type is routed too", async () => {
    await send(gw().url, { method: "POST", path: "/v1/chat/completions/", body: chat("bulk") });
    const got = onlyReceived(gw());
    expect(got.cluster).toBe("groq");
    expect(JSON.parse(got.request.body.toString()).model).toBe("llama-3.1-8b-instant");
  });

  const notJson: Array<[string, string | undefined, string]> = [
    ["a form body (curl -d model=auto)", "application/x-www-form-urlencoded", "model=auto&messages=hi"],
    ["plain text", "text/plain", "route me please"],
    ["a JSON array without a content type", undefined, '[{"model":"auto"}]'],
  ];
  for (const [name, type, body] of notJson) {
    it(`${name} → 415 unsupported_media_type telling to send application/json`, async () => {
      const reply = await send(gw().url, { method: "POST", path: "/v1/chat/completions", headers: type ? { "content-type": type } : {}, body });
      expect(reply.status).toBe(415);
      expect(reply.headers["content-type"]).toBe("application/json");
      const error = reply.json().error;
      expect(error).toMatchObject({ code: "unsupported_media_type", type: "invalid_request_error" });
      expect(error.message).toContain("Content-Type: application/json");
      expect(gw().received()).toHaveLength(0);
    });
  }

  it("a Content-Encoding the plugin cannot read → 415 unsupported_content_encoding", async () => {
    // "compress" (LZW): no Envoy decompressor handles it, so it always reaches the plugin encoded
    const reply = await postJson(gw(), "/v1/chat/completions", chat("auto"), { "content-encoding": "compress" });
    expect(reply.status).toBe(415);
    expect(reply.json().error.code).toBe("unsupported_content_encoding");
    expect(gw().received()).toHaveLength(0);
  });
});

describe("limits answer early and in JSON", () => {
  it("content-length over maxBodyBytes gets the JSON 413 before the body is uploaded", async () => {
    const declared = router.maxBodyBytes * 2;
    const head =
      "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n" +
      `content-length: ${declared}\r\n\r\n`;
    const started = Date.now();
    // only 40 bytes of the declared 20 MiB are ever sent
    const { raw } = await partialUpload(gw().port, head, '{"model":"auto","messages":[{"role":"us');
    const elapsed = Date.now() - started;
    const reply = parseRaw(raw);
    expect(reply.status, raw).toBe(413);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(reply.body).error.code).toBe("request_too_large");
    expect(elapsed).toBeLessThan(5_000);
    expect(gw().received()).toHaveLength(0);
  });

  it("with Expect: 100-continue (curl for big uploads) the JSON 413 follows Envoy's 100 before any byte is sent", async () => {
    const head =
      "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n" +
      `content-length: ${router.maxBodyBytes + 1}\r\nexpect: 100-continue\r\n\r\n`;
    const { raw } = await partialUpload(gw().port, head, "");
    const reply = parseRaw(raw);
    expect(reply.status, raw).toBe(413);
    expect(JSON.parse(reply.body).error.code).toBe("request_too_large");
    expect(gw().received()).toHaveLength(0);
  });

  it("over HTTP/2 too: the declared length is enough, while the upload is still open", async () => {
    const reply = await h2request(
      gw().url,
      { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", "content-length": String(router.maxBodyBytes + 1) },
      { body: '{"model":"auto",', open: true },
    );
    expect(reply.status, reply.text).toBe(413);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(reply.json().error.code).toBe("request_too_large");
    expect(gw().received()).toHaveLength(0);
  });
});

describe("endpoint-aware candidates", () => {
  for (const alias of ["auto", "embed"]) {
    it(`/v1/embeddings with "${alias}" goes to the embedding model`, async () => {
      const reply = await postJson(gw(), "/v1/embeddings", JSON.stringify({ model: alias, input: ["one", "two"] }));
      expect(reply.status, reply.text).toBe(200);
      expect(reply.json().object).toBe("list");
      expect(reply.json().model).toBe("text-embedding-3-small");
      const got = onlyReceived(gw());
      expect(got.cluster).toBe("openai");
      expect(JSON.parse(got.request.body.toString()).model).toBe("text-embedding-3-small");
    });
  }

  it("chat aliases never pick the embedding model, and embed on chat says why it cannot serve", async () => {
    for (const alias of ["auto", "cheap", "fast", "bulk", "best", "mix"]) {
      const reply = await postJson(gw(), "/v1/chat/completions", chat(alias));
      expect(reply.status, `${alias}: ${reply.text}`).toBe(200);
      expect(reply.json().model).not.toBe("text-embedding-3-small");
    }
    gw().resetRequests();
    const reply = await postJson(gw(), "/v1/chat/completions", chat("embed"));
    expect(reply.status).toBe(400);
    expect(reply.json().error.code).toBe("model_not_available");
    expect(reply.json().error.message).toContain("text-embedding-3-small: does not serve /chat/completions");
    expect(gw().received()).toHaveLength(0);
  });
});

describe("GET /v1/models is answered by the plugin", () => {
  const aliases = Object.keys(router.routes);
  const models = router.models.map((m: any) => m.name);

  for (const path of ["/v1/models", "/v1/models/?limit=3"]) {
    it(`${path} lists the aliases, then the catalog models, in OpenAI's format`, async () => {
      const reply = await send(gw().url, { path, headers: SPOOF });
      expect(reply.status).toBe(200);
      expect(reply.headers["content-type"]).toBe("application/json");
      const list = reply.json();
      expect(list.object).toBe("list");
      expect(list.data.map((d: any) => d.id)).toEqual([...aliases, ...models]);
      for (const d of list.data) {
        expect(d.object).toBe("model");
        expect(Number.isInteger(d.created)).toBe(true);
        expect(d.owned_by).toBe(aliases.includes(d.id) ? "model-router" : router.models.find((m: any) => m.name === d.id).upstream);
      }
      expect(gw().received()).toHaveLength(0);
    });
  }

  it("GET /v1/models/<id> answers one entry; an unknown id goes to the default provider", async () => {
    const one = await send(gw().url, { path: "/v1/models/embed" });
    expect(one.json()).toMatchObject({ id: "embed", object: "model", owned_by: "model-router" });
    const model = await h2request(gw().url, { ":method": "GET", ":path": "/v1/models/deepseek-chat" });
    expect(model.json()).toMatchObject({ id: "deepseek-chat", owned_by: "deepseek" });
    expect(gw().received()).toHaveLength(0);
    const unknown = await send(gw().url, { path: "/v1/models/gpt-5", headers: SPOOF });
    expect(unknown.status).toBe(404); // the mock's answer
    expect(onlyReceived(gw()).request.headers["x-llm-upstream"]).toBeUndefined();
  });
});

describe("cluster_header naming a cluster that does not exist (what `llm-router check` prevents)", () => {
  // A hand-written Envoy configuration in the style many operators write: one route that takes the
  // cluster from the plugin's header. The plugin configuration names its upstreams as plain cluster
  // names (no `providers`), and one of them does not exist.
  const { providers: _providers, ...withoutProviders } = router;
  const ghost = { ...router.models[0], name: "ghost-model", upstream: "no-such-cluster" };
  const broken = useGateway({
    pluginConfig: { ...withoutProviders, models: [...router.models, ghost] },
    mutate: (cfg) => {
      withoutInternalOnlyHeaders(cfg);
      const vhost = hcmOf(cfg).route_config.virtual_hosts[0];
      vhost.routes = [
        { name: "header_not_required", match: { prefix: "/no-header-route" }, route: { cluster_header: "x-llm-upstream" } },
        { name: "by_cluster_header", match: { prefix: "/" }, route: { cluster_header: "x-llm-upstream", timeout: "0s" } },
      ];
    },
  });

  it("Envoy 1.40 answers 503 with an empty body and response flag NC, not 404", async () => {
    const reply = await postJson(broken(), "/v1/chat/completions", chat("ghost-model"));
    expect(reply.status).toBe(503);
    expect(reply.body.length).toBe(0);
    expect(broken().received()).toHaveLength(0);
    // the access log line of this request carries NC (no cluster)
    const deadline = Date.now() + 3_000;
    const line = /"POST \/v1\/chat\/completions HTTP\/1\.1" 503 flags=NC route=by_cluster_header cluster=- /;
    while (!line.test(broken().envoy.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(broken().envoy.log()).toMatch(line);
    expect(broken().envoy.log()).toMatch(/details=cluster_not_found/);
  });

  it("a cluster_header route without the header at all answers the same 503", async () => {
    const reply = await send(broken().url, { path: "/no-header-route" });
    expect(reply.status).toBe(503);
    expect(reply.body.length).toBe(0);
    expect(broken().received()).toHaveLength(0);
  });
});
