// The limits the generated bootstrap sets, through real Envoy: the plugin's JSON 413 is the only
// 413, a stalled upload is cut by the request timeout while a long streamed answer is not, gzip
// bodies are decompressed before the plugin and a bomb stops near maxBodyBytes, silent connections
// are closed, and stalled uploads that fill the heap go first while other clients are served.
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { connect } from "node:net";
import { createGzip, gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bufferLimit, FIRST_BYTES_TIMEOUT_SECONDS, MAX_INFLATE_RATIO, READ_BUFFER_BYTES } from "../../cli/lib/envoy.mjs";
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

/** gzip of a chat body holding `bytes` letters, streamed (the raw body is never built). */
function gzipOfRepeated(bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const z = createGzip({ level: 9 });
    const out: Buffer[] = [];
    z.on("data", (c: Buffer) => out.push(c));
    z.on("end", () => resolve(Buffer.concat(out)));
    z.write('{"model":"auto","messages":[{"role":"user","content":"');
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        left -= piece.length;
        if (!z.write(piece)) return void z.once("drain", pump);
      }
      z.end('"}]}');
    };
    pump();
  });
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

// Compressed while the gateways start (a few seconds of CPU).
const BOMB = gzipOfRepeated(1024 * 1024 * 1024);

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

    it("a decompression bomb stops inflating near maxBodyBytes: the JSON 413, nothing forwarded", async () => {
      // 1 GiB of one letter gzips to about 1 MB: read whole and inflated at Envoy's default 100:1 it
      // became 104 MB before the 413, far past the bound below.
      const inflated = async () => {
        const stats = await send(gw().adminUrl, { path: "/stats?format=json&filter=decompressor.*request.total_uncompressed_bytes" });
        return Number(JSON.parse(stats.text).stats[0]?.value ?? 0);
      };
      const before = await inflated();
      // Chunked: a declared content-length over maxBodyBytes would be refused before any inflating.
      const head = "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n";
      const reply = await rawRequest(gw().port, head, chunked(await BOMB, 1024 * 1024));
      expect(reply.status, reply.body).toBe(413);
      expect(JSON.parse(reply.body).error.code).toBe("request_too_large");
      // The body's limit, plus what one call of the decompressor may add: one read (with a margin for
      // what arrives with the headers), inflated at zlib's ceiling.
      expect((await inflated()) - before).toBeLessThanOrEqual(bufferLimit(MAX_BODY) + MAX_INFLATE_RATIO * 1.25 * READ_BUFFER_BYTES);
      expect(gw().received()).toHaveLength(0);
    });

    it("a valid body gzipped over 300:1, within maxBodyBytes, is routed whole (no inflate-ratio cut, no invalid_json)", async () => {
      const json = chatOfSize("best", MAX_BODY - 16);
      const compressed = gzipSync(json, { level: 9 });
      expect(json.length / compressed.length).toBeGreaterThan(300);
      const reply = await send(gw().url, {
        method: "POST",
        path: "/v1/chat/completions",
        body: compressed,
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      expect(reply.status, reply.text).toBe(200);
      const [got] = gw().received();
      const sent = JSON.parse(json.toString());
      const forwarded = JSON.parse(got.request.body.toString());
      expect(forwarded.model).not.toBe("best");
      expect({ ...forwarded, model: sent.model }).toEqual(sent);
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

describe("overload: stalled uploads that fill the heap go first, other clients keep being served", () => {
  // A small heap budget: the gateway's own baseline (about 10 MB with the plugin loaded) plus 54 MiB.
  const HEAP_MB = 64;
  const UPLOAD = 6 * 1024 * 1024;
  const COUNT = 20; // 120 MiB if Envoy held them all
  let gw: Gateway | undefined;
  beforeAll(async () => {
    gw = await startGateway({ pluginConfig: readRouterConfig(), generator: { maxHeapBytes: HEAP_MB * 1024 * 1024 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach((ctx) => printLogOnFailure(ctx, () => gw));

  const allocated = async () => Number(JSON.parse((await send(gw!.adminUrl, { path: "/memory" })).text).allocated);
  const fast = () => postJson(gw!, "/v1/chat/completions", JSON.stringify({ model: "fast", messages: [] }));

  /** Opens one stalled upload (declares UPLOAD + 1 KiB, sends UPLOAD, then nothing); `ended` says how it ended. */
  function stallHttp1(): { ended: () => string | null; close: () => void } {
    const socket = connect(gw!.port, "127.0.0.1");
    let got = "";
    let ended: string | null = null;
    socket.on("data", (d) => (got += d.toString()));
    socket.on("error", () => {});
    socket.on("close", () => (ended = /^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? "reset"));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: ${UPLOAD + 1024}\r\n\r\n`);
    socket.write(Buffer.alloc(UPLOAD, 0x20));
    return { ended: () => ended, close: () => socket.destroy() };
  }

  function stallHttp2(): { ended: () => string | null; close: () => void } {
    const session = http2.connect(gw!.url);
    session.on("error", () => {});
    let ended: string | null = null;
    let status = 0;
    const req = session.request({ ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", "content-length": String(UPLOAD + 1024) });
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("error", () => {});
    req.on("close", () => (ended = status ? String(status) : "reset"));
    req.resume();
    req.write(Buffer.alloc(UPLOAD, 0x20));
    return { ended: () => ended, close: () => session.destroy() };
  }

  for (const [protocol, stall] of [["HTTP/1.1", stallHttp1], ["HTTP/2", stallHttp2]] as const) {
    it(`${protocol}: the gateway ends stalled ones (408 or reset) until a client is served, while the attacker holds on; the heap stays bounded`, async () => {
      const uploads: ReturnType<typeof stallHttp1>[] = [];
      let peak = 0;
      try {
        for (let i = 0; i < COUNT; i++) {
          uploads.push(stall());
          await new Promise((r) => setTimeout(r, 100));
          peak = Math.max(peak, await allocated());
        }
        // The attacker never closes anything: whatever ends an upload is the gateway. It ends stalled
        // ones until the heap is out of pressure (the rest wait for the request timeout).
        let served = 0;
        const cut = () => uploads.some((u) => u.ended() === "408" || u.ended() === "reset");
        for (let i = 0; i < 40 && (served !== 200 || !cut()); i++) {
          await new Promise((r) => setTimeout(r, 250));
          peak = Math.max(peak, await allocated());
          if (served !== 200) served = (await fast()).status;
        }
        expect(served).toBe(200);
        expect(gw!.envoy.exitCode()).toBeUndefined();
        const ends = uploads.map((u) => u.ended());
        const ended = ends.filter((e) => e !== null);
        expect(ended.filter((e) => e !== "503").length, JSON.stringify(ends)).toBeGreaterThan(0);
        // Each ended with the JSON 408 (stalled), Envoy's 503 (arrived at saturation) or a reset.
        for (const e of ended) expect(["408", "503", "reset"]).toContain(e);
        expect(peak).toBeLessThan((HEAP_MB + 24) * 1024 * 1024);
      } finally {
        for (const u of uploads) u.close();
      }
      // Only the served client's request reached a provider: nothing stalled was forwarded.
      for (const r of gw!.received()) expect(r.request.body.length).toBeLessThan(1024);
    });
  }
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

  it(`connections that never send a byte are closed within ${FIRST_BYTES_TIMEOUT_SECONDS} s: holding every slot locks clients out only that long`, async () => {
    const silent: ReturnType<typeof connect>[] = [];
    const closedAt: number[] = [];
    const started = Date.now();
    try {
      for (let i = 0; i < LIMIT; i++) {
        const s = connect(gw!.port, "127.0.0.1");
        s.on("error", () => {});
        s.on("close", () => closedAt.push(Date.now() - started));
        silent.push(s);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect((await openAndAsk()).status).toBe(0); // every slot is held
      let served = 0;
      while (served !== 404 && Date.now() - started < (FIRST_BYTES_TIMEOUT_SECONDS + 3) * 1000) {
        await new Promise((r) => setTimeout(r, 250));
        const c = await openAndAsk();
        served = c.status;
        c.socket.destroy();
      }
      expect(served).toBe(404); // the gateway's own JSON 404: served
      expect(closedAt).toHaveLength(LIMIT);
      for (const at of closedAt) expect(at).toBeLessThan((FIRST_BYTES_TIMEOUT_SECONDS + 2) * 1000);
    } finally {
      for (const s of silent) s.destroy();
    }
  });

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
