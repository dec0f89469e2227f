// The API translation modules (assembly/api) against the golden files of test/golden/translation
// (each reviewed against the providers' API references: see its README), and what every stream
// translation must hold whatever the split of its events across chunks: the same output, at most
// one event held. Also: the response-headers decision, the gateway's own errors in each client's
// shape, what the usage scanner reads from translated answers, inputs that must never trap, and a
// warm translator that allocates nothing more.
//   UPDATE_GOLDEN=1 npx vitest run test/unit/translation.test.ts   rewrites the expected outputs
//   (review every change against the references before committing it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without type declarations
import { ROOT, Translator } from "./translator.mjs";

const GOLDEN = join(ROOT, "test", "golden", "translation");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const PAIRS = ["openai_anthropic", "anthropic_openai"] as const;
let tr: any;

beforeAll(() => {
  tr = new Translator();
}, 120_000);

function cases(pair: string, kind: string): Array<{ name: string; file: string; spec: any }> {
  const dir = join(GOLDEN, pair, kind);
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => ({ name: f.replace(/\.json$/, ""), file: join(dir, f), spec: JSON.parse(readFileSync(join(dir, f), "utf8")) }));
}

function save(file: string, spec: any): void {
  writeFileSync(file, JSON.stringify(spec, null, 2) + "\n");
}

function translateRequest(pair: string, spec: any): any {
  tr.setTarget(spec.target ?? {});
  tr.begin(pair);
  return tr.request(spec.requestText ?? spec.request);
}

/** A stream golden's input, translated after its request, in the given pieces. */
function translateStream(pair: string, spec: any, pieces: (text: Buffer) => Buffer[]): { text: string; held: number; finished: boolean } {
  tr.setTarget({});
  tr.begin(pair);
  expect(translateRequest(pair, spec).ok).toBe(true);
  expect(tr.responseHeaders(200, "text/event-stream; charset=utf-8")).toBe("stream");
  return tr.stream(pieces(spec.input));
}

/** The events of an SSE text, each as its lines. */
const eventsOf = (sse: string) => sse.split(/\r?\n\r?\n/).filter((e) => e.trim() !== "");

for (const pair of PAIRS) {
  describe(`${pair}: requests (golden)`, () => {
    for (const c of cases(pair, "request")) {
      it(`${c.name}: ${c.spec.about}`, () => {
        const r = translateRequest(pair, c.spec);
        if (UPDATE) {
          delete c.spec.expected;
          delete c.spec.error;
          if (r.ok) c.spec.expected = JSON.parse(r.text);
          else c.spec.error = { status: r.status, code: r.code, message: r.message };
          save(c.file, c.spec);
          return;
        }
        if (c.spec.error) {
          expect(r.ok, r.text).toBe(false);
          expect({ status: r.status, code: r.code, message: r.message }).toEqual(c.spec.error);
          return;
        }
        expect(r.ok, r.message).toBe(true);
        expect(JSON.parse(r.text)).toEqual(c.spec.expected);
      });
    }
  });

  describe(`${pair}: responses (golden)`, () => {
    for (const c of cases(pair, "response")) {
      it(`${c.name}: ${c.spec.about}`, () => {
        tr.begin(pair);
        const mode = tr.responseHeaders(c.spec.status, c.spec.contentType);
        expect(mode).toBe(c.spec.status >= 400 ? "error" : "json");
        const r = tr.responseBody(c.spec.responseText ?? c.spec.response);
        if (UPDATE) {
          c.spec.expected = JSON.parse(r.text);
          save(c.file, c.spec);
          return;
        }
        expect(r.ok).toBe(true);
        expect(JSON.parse(r.text)).toEqual(c.spec.expected);
      });
    }
  });

  describe(`${pair}: streams (golden), whatever the split`, () => {
    for (const c of cases(pair, "stream")) {
      const input = readFileSync(c.file.replace(/\.json$/, ".in.sse"));
      const expectedFile = c.file.replace(/\.json$/, ".out.sse");
      const spec = { ...c.spec, input };
      const longestEvent = Math.max(...eventsOf(input.toString("utf8")).map((e) => Buffer.byteLength(e) + 4));

      it(`${c.name}: ${c.spec.about}`, () => {
        const whole = translateStream(pair, spec, (b) => [b]);
        if (UPDATE) {
          writeFileSync(expectedFile, whole.text);
          return;
        }
        expect(whole.text).toBe(readFileSync(expectedFile, "utf8"));
        expect(whole.held).toBe(0);
      });

      it(`${c.name}: split in two at every byte, one byte at a time, and at random: the same events, at most one event held`, () => {
        if (UPDATE) return;
        const expected = readFileSync(expectedFile, "utf8");
        for (let at = 1; at < input.length; at++) {
          const r = translateStream(pair, spec, (b) => [b.subarray(0, at), b.subarray(at)]);
          if (r.text !== expected) expect(r.text, `split at byte ${at}`).toBe(expected);
          expect(r.held).toBeLessThanOrEqual(longestEvent);
        }
        const bytes = translateStream(pair, spec, (b) => Array.from(b, (x) => Buffer.from([x])));
        expect(bytes.text).toBe(expected);
        let seed = 7;
        for (let round = 0; round < 50; round++) {
          const r = translateStream(pair, spec, (b) => {
            const pieces: Buffer[] = [];
            for (let at = 0; at < b.length;) {
              seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
              const n = 1 + (seed % 97);
              pieces.push(b.subarray(at, at + n));
              at += n;
            }
            return pieces;
          });
          expect(r.text).toBe(expected);
          expect(r.held).toBeLessThanOrEqual(longestEvent);
        }
      });
    }
  });
}

describe("usage: the response usage scanner reads the same counts from the provider's answer and from its translation", () => {
  for (const pair of PAIRS) {
    for (const c of cases(pair, "response").filter((c) => c.spec.status === 200)) {
      it(`${pair} ${c.name}`, () => {
        const original = JSON.stringify(c.spec.response);
        const translated = JSON.stringify(c.spec.expected);
        const before = tr.usage([original]);
        const after = tr.usage([translated]);
        expect(after).toEqual(before);
        expect(before.input).toBeGreaterThan(0);
        expect(before.output).toBeGreaterThan(0);
      });
    }
    for (const c of cases(pair, "stream")) {
      const expectedFile = c.file.replace(/\.json$/, ".out.sse");
      if (!existsSync(expectedFile)) continue;
      const out = readFileSync(expectedFile, "utf8");
      const input = readFileSync(c.file.replace(/\.json$/, ".in.sse"), "utf8");
      // a provider stream that reported its usage, translated to the end
      const complete = /message_stop|\[DONE\]/.test(out) && /usage/.test(input) && /usage/.test(out);
      if (!complete) continue;
      it(`${pair} stream ${c.name}`, () => {
        const before = tr.usage([input]);
        const after = tr.usage(eventsOf(out).map((e) => e + "\n\n"));
        expect(after.input).toBe(before.input);
        expect(after.cached).toBe(before.cached);
        expect(after.output).toBe(before.output);
      });
    }
  }
});

describe("the response headers decide what is translated", () => {
  it("by status, content type and content encoding", () => {
    tr.begin("openai_anthropic");
    tr.request({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(tr.responseHeaders(200, "application/json")).toBe("json");
    expect(tr.responseHeaders(200, "Application/JSON; charset=utf-8")).toBe("json");
    expect(tr.responseHeaders(200, " text/event-stream ; charset=utf-8")).toBe("stream");
    expect(tr.responseHeaders(529, "application/json")).toBe("error");
    expect(tr.responseHeaders(404, "text/html")).toBe("error");
    expect(tr.responseHeaders(200, "application/json", "gzip")).toBe("unreadable");
    expect(tr.responseHeaders(200, "application/json", "identity")).toBe("json");
    expect(tr.responseHeaders(204, undefined)).toBe("pass");
    expect(tr.responseHeaders(304, undefined)).toBe("pass");
    // no content type: what the request asked for
    expect(tr.responseHeaders(200, undefined)).toBe("json");
    tr.begin("anthropic_openai");
    tr.request({ model: "m", max_tokens: 5, stream: true, messages: [{ role: "user", content: "x" }] });
    expect(tr.responseHeaders(200, undefined)).toBe("stream");
    tr.begin(0);
    expect(tr.responseHeaders(200, "application/json")).toBe("pass");
  });

  it("a JSON answer that is not one: a 502 in the client's shape", () => {
    tr.begin("anthropic_openai");
    tr.responseHeaders(200, "application/json");
    const r = tr.responseBody("<html>oops</html>");
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.text)).toEqual({ type: "error", error: { type: "api_error", message: "the provider's answer is not a JSON object" }, request_id: null });
    tr.begin("openai_anthropic");
    tr.responseHeaders(200, "application/json");
    const o = tr.responseBody("[1]");
    expect(o.ok).toBe(false);
    expect(JSON.parse(o.text).error.message).toBe("the provider's answer is not a JSON object");
  });
});

describe("the gateway's own errors in the client's shape", () => {
  it("Anthropic: {type: error, error: {type, message}, request_id}, the type by status as Anthropic documents it", () => {
    const types: Record<number, string> = {
      400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error", 404: "not_found_error",
      408: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error",
      503: "api_error", 504: "timeout_error", 529: "overloaded_error",
    };
    for (const [status, type] of Object.entries(types)) {
      const body = JSON.parse(tr.clientError(1, Number(status), "x", `no model can serve "this" \n request`));
      expect(body).toEqual({ type: "error", error: { type, message: `no model can serve "this" \n request` }, request_id: null });
    }
  });

  it("OpenAI: {error: {message, type, code}}", () => {
    expect(JSON.parse(tr.clientError(0, 413, "request_too_large", "body over 1 MiB"))).toEqual({
      error: { message: "body over 1 MiB", type: "invalid_request_error", code: "request_too_large" },
    });
  });
});

describe("inputs that must never trap", () => {
  it("bodies that are not requests, broken JSON, deep nesting, invalid UTF-8: a 400, never a trap", () => {
    const bad: Array<string | Uint8Array> = [
      "", "null", "[]", "{", "{\"messages\":", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}", "{\"messages\":{}}",
      "{\"messages\":[1,2]}", "{\"messages\":[{\"role\":1}]}", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
      "[".repeat(300) + "]".repeat(300), "{\"a\":" + "[".repeat(255) + "]".repeat(255) + "}",
      new Uint8Array([0x7b, 0x22, 0xc0, 0x80, 0x22, 0x3a, 0x31, 0x7d]), "{\"max_tokens\":-1,\"messages\":[]}",
      "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"\\u0000\"}}]}]}",
    ];
    for (const pair of PAIRS) {
      for (const body of bad) {
        tr.begin(pair);
        const r = tr.request(body);
        expect(r.ok, `${pair}: ${String(body).slice(0, 60)}`).toBe(false);
        expect(r.status).toBe(400);
      }
    }
  });

  it("streams of garbage, huge events and blank lines: no trap, bounded holding", () => {
    for (const pair of PAIRS) {
      tr.begin(pair);
      tr.request(pair === "openai_anthropic" ? { model: "m", stream: true, messages: [{ role: "user", content: "x" }] } : { model: "m", max_tokens: 1, stream: true, messages: [{ role: "user", content: "x" }] });
      tr.responseHeaders(200, "text/event-stream");
      const pieces = ["\n".repeat(100_000), "data: {not json}\n\n", "event: x\n\n", ": comment\n\n", "data: [DONE]\n\n", "data: " + "x".repeat(2 << 20)];
      const r = tr.stream(pieces);
      expect(r.held).toBeLessThanOrEqual(1 << 20);
      expect(tr.e.streamFailed()).toBe(1);
    }
  });
});

describe("memory", () => {
  it("a warm translator allocates nothing more: 5000 requests, answers and streams leave the Wasm memory as it was", () => {
    const request = JSON.parse(readFileSync(join(GOLDEN, "openai_anthropic", "request", "tool-round-trip.json"), "utf8")).request;
    const aRequest = JSON.parse(readFileSync(join(GOLDEN, "anthropic_openai", "request", "tool-round-trip.json"), "utf8")).request;
    const stream = readFileSync(join(GOLDEN, "openai_anthropic", "stream", "tool-use.in.sse"));
    const round = () => {
      tr.begin("openai_anthropic");
      expect(tr.request(request).ok).toBe(true);
      tr.responseHeaders(200, "text/event-stream");
      tr.stream([stream.subarray(0, 333), stream.subarray(333)]);
      tr.begin("anthropic_openai");
      expect(tr.request(aRequest).ok).toBe(true);
    };
    for (let i = 0; i < 200; i++) round();
    tr.e.collect();
    const before = tr.memoryBytes;
    for (let i = 0; i < 5000; i++) round();
    expect(tr.memoryBytes).toBe(before);
  });
});
