// The limits the generated bootstrap sets, through real Envoy: the plugin's JSON 413 is the only
// 413, a stalled upload is cut by the request timeout while a long streamed answer is not, gzip
// bodies are decompressed before the plugin, and a flood of held bodies is refused, not fatal.
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postJson, printLogOnFailure, readRouterConfig, send, sseData, startGateway, useGateway, type Gateway } from "./harness";

const MAX_BODY = 64 * 1024;
const REQUEST_TIMEOUT_S = 2;

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  closed: boolean;
  error?: string;
}

function parseRaw(text: string): Omit<RawReply, "closed" | "error"> {
  const end = text.indexOf("\r\n\r\n");
  const head = end >= 0 ? text.slice(0, end) : text;
  const [statusLine, ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1] ?? 0), headers, body: end >= 0 ? text.slice(end + 4) : "" };
}

/**
 * Sends a request on a raw connection, written in `pieces` (each after `gapMs`), and reads the
 * answer until Envoy closes the connection or `waitMs` passes. Write errors are ignored: Envoy may
 * answer and close before the client has finished sending, which is the point of some tests.
 */
function rawRequest(port: number, head: string, pieces: Buffer[], opts: { gapMs?: number; waitMs?: number } = {}): Promise<RawReply & { ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let error: string | undefined;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseRaw(data), closed, error, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 10_000);
    socket.on("data", (d) => {
      data += d.toString("latin1");
      // a complete answer with a content-length is enough (keep-alive may keep the socket open)
      const r = parseRaw(data);
      const len = Number(r.headers["content-length"] ?? NaN);
      if (r.status && Number.isFinite(len) && Buffer.byteLength(r.body, "latin1") >= len && !opts.waitMs) finish(false);
    });
    socket.on("error", (e) => (error = e.message));
    socket.on("close", () => finish(true));
    socket.write(head);
    let i = 0;
    const next = () => {
      if (settled || socket.destroyed || i >= pieces.length) return;
      socket.write(pieces[i++], () => {});
      if (opts.gapMs) setTimeout(next, opts.gapMs);
      else next();
    };
    next();
  });
}

function chatOfSize(model: string, size: number): Buffer {
  const head = `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"metadata":{"blob":"`;
  const tail = `"}}`;
  return Buffer.from(head + "z".repeat(size - head.length - tail.length) + tail);
}

function chunked(body: Buffer, pieceSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += pieceSize) {
    const piece = body.subarray(at, at + pieceSize);
    out.push(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]));
  }
  out.push(Buffer.from("0\r\n\r\n"));
  return out;
}

const requestHead = (framing: string) =>
  `POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`;

describe("limits of the generated bootstrap", () => {
  const gw = useGateway({
    // table routing: the gzip test expects the model the table picks for `fast`
    pluginConfig: { ...readRouterConfig(), maxBodyBytes: MAX_BODY, live: false },
    generator: { requestTimeoutSeconds: REQUEST_TIMEOUT_S },
  });

  describe("every 413 a client can get is the JSON request_too_large (the plugin's, or Envoy's own through the local-reply mapper)", () => {
    const overs = [1, 100, 16 * 1024, 300 * 1024, 2 * 1024 * 1024];
    for (const over of overs) {
      for (const framing of ["content-length", "chunked"] as const) {
        it(`maxBodyBytes + ${over} bytes, ${framing}, 8 times`, async () => {
          const body = chatOfSize("auto", MAX_BODY + over);
          for (let round = 0; round < 8; round++) {
            const head = requestHead(framing === "chunked" ? "transfer-encoding: chunked" : `content-length: ${body.length}`);
            const pieces = framing === "chunked" ? chunked(body, [1000, 8192, 65536][round % 3]) : [body];
            const reply = await rawRequest(gw().port, head, pieces);
            expect(reply.status, `round ${round}: ${reply.body.slice(0, 200)} ${reply.error ?? ""}`).toBe(413);
            expect(reply.headers["content-type"]).toMatch(/^application\/json/);
            expect(JSON.parse(reply.body).error.code).toBe("request_too_large");
          }
          expect(gw().received()).toHaveLength(0);
        });
      }
    }

    for (const withLength of [true, false]) {
      it(`HTTP/2 (h2c), ${withLength ? "with" : "without"} content-length, just over the limit, 8 times`, async () => {
        const body = chatOfSize("auto", MAX_BODY + 1);
        const session = http2.connect(gw().url);
        try {
          for (let round = 0; round < 8; round++) {
            const reply = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
              const headers: Record<string, string> = { ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" };
              if (withLength) headers["content-length"] = String(body.length);
              const req = session.request(headers);
              let status = 0;
              let type = "";
              let text = "";
              req.on("response", (h) => {
                status = Number(h[":status"]);
                type = String(h["content-type"] ?? "");
              });
              req.on("data", (d) => (text += d));
              req.on("end", () => resolve({ status, type, text }));
              req.on("error", reject);
              // in pieces, as a client streaming its upload would
              for (let at = 0; at < body.length; at += 16384) req.write(body.subarray(at, at + 16384));
              req.end();
            });
            expect(reply.status, `round ${round}: ${reply.text.slice(0, 200)}`).toBe(413);
            expect(reply.type).toMatch(/^application\/json/);
            expect(JSON.parse(reply.text).error.code).toBe("request_too_large");
          }
        } finally {
          session.close();
        }
        expect(gw().received()).toHaveLength(0);
      });
    }

    it("a body of exactly maxBodyBytes is routed, both framings", async () => {
      const body = chatOfSize("best", MAX_BODY);
      for (const framing of ["content-length", "chunked"]) {
        const head = requestHead(framing === "chunked" ? "transfer-encoding: chunked" : `content-length: ${body.length}`);
        const reply = await rawRequest(gw().port, head, framing === "chunked" ? chunked(body, 4096) : [body]);
        expect(reply.status, reply.body.slice(0, 300)).toBe(200);
      }
      expect(gw().received()).toHaveLength(2);
    });
  });

  describe("request timeout", () => {
    it(`a trickled upload is closed after ${REQUEST_TIMEOUT_S} s with 408, and nothing reaches a provider`, async () => {
      const body = chatOfSize("auto", 4000);
      // 40 pieces of 100 bytes every 200 ms would take 8 s: each piece keeps the idle timer alive.
      const pieces = Array.from({ length: 40 }, (_, i) => body.subarray(i * 100, (i + 1) * 100));
      const reply = await rawRequest(gw().port, requestHead(`content-length: ${body.length}`), pieces, { gapMs: 200, waitMs: 8_000 });
      expect(reply.status, reply.body).toBe(408);
      expect(reply.headers["content-type"]).toMatch(/^application\/json/);
      expect(JSON.parse(reply.body).error.code).toBe("request_timeout");
      expect(reply.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_S * 1000 - 200);
      expect(reply.ms).toBeLessThan(REQUEST_TIMEOUT_S * 1000 + 2_000);
      expect(reply.closed).toBe(true);
      expect(gw().received()).toHaveLength(0);
    });

    it(`a streamed answer lasting well over ${REQUEST_TIMEOUT_S} s is not cut`, async () => {
      // openai mock: first token after 200 ms, then 10 tokens/s: 40 tokens take about 4.2 s
      gw().providers["openai-1"].setKnobs({ ttftMs: 200, tokensPerSecond: 10 });
      gw().providers["openai-2"].setKnobs({ ttftMs: 200, tokensPerSecond: 10 });
      const started = Date.now();
      const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model: "best", stream: true, max_tokens: 40, messages: [] }), {}, 20_000);
      const elapsed = Date.now() - started;
      expect(reply.status, reply.text).toBe(200);
      expect(elapsed).toBeGreaterThan(REQUEST_TIMEOUT_S * 1000 + 1_500);
      const events = sseData(reply.text);
      expect(events[events.length - 1]).toBe("[DONE]");
      const tokens = events.slice(0, -1).map((e) => JSON.parse(e)).filter((o) => o.choices[0]?.delta?.content !== undefined);
      expect(tokens).toHaveLength(40);
    });
  });

  describe("compressed request bodies", () => {
    it("a gzip body is decompressed by Envoy before the plugin and routed like any other", async () => {
      const json = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "compressed hello" }] });
      const reply = await send(gw().url, {
        method: "POST",
        path: "/v1/chat/completions",
        body: gzipSync(json),
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      expect(reply.status, reply.text).toBe(200);
      const [got] = gw().received();
      expect(got.cluster).toBe("groq");
      expect(got.request.headers["content-encoding"]).toBeUndefined();
      expect(got.request.body.toString()).toBe(json.replace('"model":"fast"', '"model":"llama-3.1-8b-instant"'));
    });

    it("a gzip body that inflates past maxBodyBytes gets the JSON 413", async () => {
      // ordinary text compresses about 1.3:1 here (random base64), well under the inflate-ratio cap
      const text = randomBytes(MAX_BODY * 2).toString("base64");
      const json = JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], metadata: { blob: text } });
      const reply = await send(gw().url, {
        method: "POST",
        path: "/v1/chat/completions",
        body: gzipSync(json),
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      expect(reply.status, reply.text).toBe(413);
      expect(reply.json().error.code).toBe("request_too_large");
      expect(gw().received()).toHaveLength(0);
    });

    it("a decompression bomb is cut by Envoy's inflate-ratio cap and refused, never forwarded", async () => {
      // 4 MiB of one repeated byte gzips to a few KiB: far over the 100:1 cap
      const reply = await send(gw().url, {
        method: "POST",
        path: "/v1/chat/completions",
        body: gzipSync(chatOfSize("auto", 4 * 1024 * 1024)),
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      expect([400, 413]).toContain(reply.status);
      expect(reply.headers["content-type"]).toMatch(/^application\/json/);
      expect(gw().received()).toHaveLength(0);
    });
  });
});

describe("a provider that cannot be reached", () => {
  const gw = useGateway();

  it("gets Envoy's 503 in the OpenAI error format, after the retries (a model without fallbacks)", async () => {
    for (const p of Object.values(gw().providers).filter((p) => gw().clusterOf[p.name] === "groq")) await p.close();
    const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model: "llama-3.1-8b", messages: [] }));
    expect(reply.status).toBe(503);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    const err = reply.json().error;
    expect(err.code).toBe("provider_unavailable");
    expect(err.type).toBe("server_error");
    expect(err.message).toMatch(/connection/);
  });

  it("an alias goes on to its fallback on another provider", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model: "fast", messages: [] }));
    expect(reply.status, reply.text).toBe(200);
    expect(reply.headers["x-llm-served-model"]).toBe("gpt-4o-mini");
  });
});

describe("overload: a flood of held request bodies", () => {
  // A small heap budget: the gateway's own baseline (about 10 MB with the plugin loaded) plus 48 MiB.
  const HEAP_MB = 64;
  const UPLOAD = 6 * 1024 * 1024;
  let gw: Gateway | undefined;
  beforeAll(async () => {
    gw = await startGateway({ pluginConfig: readRouterConfig(), generator: { maxHeapBytes: HEAP_MB * 1024 * 1024 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach((ctx) => printLogOnFailure(ctx, () => gw));

  it("is refused with 503 gateway_overloaded; Envoy stays up, its heap bounded, and serves again once they end", async () => {
    const g = gw!;
    const allocated = async () => Number(JSON.parse((await send(g.adminUrl, { path: "/memory" })).text).allocated);
    const sockets: ReturnType<typeof connect>[] = [];
    const answers: string[] = [];
    let peak = 0;
    try {
      // 20 uploads of 6 MiB each, never finished: 120 MiB if Envoy held them all.
      for (let i = 0; i < 20; i++) {
        const socket = connect(g.port, "127.0.0.1");
        let got = "";
        socket.on("data", (d) => (got += d.toString()));
        socket.on("error", () => {});
        socket.on("close", () => answers.push(got));
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: ${UPLOAD + 1024}\r\n\r\n`);
        socket.write(Buffer.alloc(UPLOAD, 0x20));
        sockets.push(socket);
        await new Promise((r) => setTimeout(r, 250));
        peak = Math.max(peak, await allocated());
      }
      const during = await postJson(g, "/v1/chat/completions", JSON.stringify({ model: "fast", messages: [] }));
      expect(during.status).toBe(503);
      expect(during.json().error.code).toBe("gateway_overloaded");
      const refused = answers.filter((a) => a.startsWith("HTTP/1.1 503"));
      expect(refused.length).toBeGreaterThan(0);
      expect(g.envoy.exitCode()).toBeUndefined();
      // Held bodies stop growing the heap once new requests are refused (one more in flight at most).
      expect(peak).toBeLessThan((HEAP_MB + 24) * 1024 * 1024);
    } finally {
      for (const s of sockets) s.destroy();
    }
    // Once the held uploads are gone, the gateway serves again.
    let after = 0;
    for (let i = 0; i < 40 && after !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = (await postJson(g, "/v1/chat/completions", JSON.stringify({ model: "fast", messages: [] }))).status;
    }
    expect(after).toBe(200);
  });
});

describe("connection limit", () => {
  const LIMIT = 4;
  let gw: Gateway | undefined;
  beforeAll(async () => {
    gw = await startGateway({ pluginConfig: readRouterConfig(), generator: { maxConnections: LIMIT } });
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach((ctx) => printLogOnFailure(ctx, () => gw));

  /** Opens a keep-alive connection and completes one request on it; resolves with the status (0: refused). */
  function openAndAsk(): Promise<{ socket: ReturnType<typeof connect>; status: number }> {
    return new Promise((resolve) => {
      const socket = connect(gw!.port, "127.0.0.1");
      let data = "";
      const done = (status: number) => resolve({ socket, status });
      socket.on("data", (d) => {
        data += d.toString();
        const m = /^HTTP\/1\.1 (\d+)/.exec(data);
        if (m && data.includes("\r\n\r\n")) done(Number(m[1]));
      });
      socket.on("error", () => done(0));
      socket.on("close", () => done(0));
      socket.write("GET /v1/files HTTP/1.1\r\nhost: gw\r\n\r\n");
    });
  }

  it(`the ${LIMIT + 1}th concurrent client connection is refused; once one closes, a new one is served`, async () => {
    const open: ReturnType<typeof connect>[] = [];
    try {
      for (let i = 0; i < LIMIT; i++) {
        const c = await openAndAsk();
        expect(c.status, `connection ${i + 1}`).toBe(404); // the gateway's own JSON 404: served
        open.push(c.socket);
      }
      const over = await openAndAsk();
      expect(over.status).toBe(0);
      open.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 300));
      const again = await openAndAsk();
      expect(again.status).toBe(404);
      open.push(again.socket);
    } finally {
      for (const s of open) s.destroy();
    }
  });
});
