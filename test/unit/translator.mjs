// The API translation modules (assembly/api) compiled alone through test/unit/entries/translate-entry.ts,
// with the plugin's compiler settings (minimal runtime, SIMD, no abort import: an abort traps), and
// wrapped for JavaScript. Plain ESM: the unit tests, the fuzzer and the golden-file tools share it.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PAIRS = { openai_anthropic: 1, anthropic_openai: 2 };
export const MODES = ["pass", "json", "stream", "error", "unreadable"];

let compiled = null;

/** The entry's bytes, compiled once per process (into a private file: test files compile in parallel). */
export function translatorWasm() {
  if (compiled) return compiled;
  const dir = join(tmpdir(), `llm-router-translate-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "translate.wasm");
  // cwd entries/: the plugin's asconfig.json (its abort handler and entries) must not apply here
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), ["translate-entry.ts", "-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "-o", out],
    { cwd: join(ROOT, "test", "unit", "entries"), stdio: ["ignore", "ignore", "pipe"] });
  compiled = readFileSync(out);
  rmSync(dir, { recursive: true, force: true });
  return compiled;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

/** One instance of the translation modules (one Wasm memory), with byte-level helpers. */
export class Translator {
  constructor(wasm = translatorWasm()) {
    this.instance = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
    this.e = this.instance.exports;
    this.e._initialize?.();
    this.blocks = [];
    this.setTarget({});
  }

  get memoryBytes() { return this.e.memory.buffer.byteLength; }

  put(data) {
    const b = typeof data === "string" ? enc.encode(data) : data;
    const p = this.e.alloc(Math.max(b.length, 1));
    new Uint8Array(this.e.memory.buffer, p, b.length).set(b);
    this.blocks.push(p);
    return [p, b.length];
  }

  /** Frees the blocks put since the last release (the caller's inputs). */
  release() {
    for (const p of this.blocks) this.e.free(p);
    this.blocks = [];
  }

  bytes(p, n) { return new Uint8Array(this.e.memory.buffer, p, n).slice(); }
  text(p, n) { return dec.decode(this.bytes(p, n)); }
  out() { return this.bytes(this.e.outPtr(), this.e.outLen()); }
  outText() { return dec.decode(this.out()); }

  /** The attempt's model: upstream id, name for messages, default output budget. */
  setTarget({ id = "claude-sonnet-4-5", name = "claude-sonnet", defaultMaxTokens = 4096 }) {
    const [lp, ll] = this.put(JSON.stringify(id));
    const [np, nl] = this.put(name);
    this.e.setTarget(lp, ll, np, nl, BigInt(defaultMaxTokens));
    this.release();
  }

  begin(pair, now = 1767225600) {
    this.e.begin(typeof pair === "string" ? PAIRS[pair] : pair, BigInt(now));
  }

  /** Translates a request body (object or raw string/bytes): { ok, text, body } or { ok: false, status, code, message }. */
  request(body) {
    const [p, n] = this.put(typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body));
    const ok = this.e.request(p, n);
    this.release();
    if (ok) {
      const text = this.outText();
      return { ok: true, text, bytes: this.out(), stream: this.e.stream() !== 0 };
    }
    const [code, ...rest] = this.text(this.e.errorPtr(), this.e.errorLen()).split("\n");
    return { ok: false, status: this.e.errorStatus(), code, message: rest.join("\n") };
  }

  responseHeaders(status, contentType, contentEncoding) {
    const [cp, cn] = contentType === undefined ? [0, 0] : this.put(contentType);
    const [ep, en] = contentEncoding === undefined ? [0, 0] : this.put(contentEncoding);
    const mode = MODES[this.e.responseHeaders(status, cp, cn, ep, en)];
    this.release();
    return mode;
  }

  /** A whole buffered body: { ok, text }. */
  responseBody(body) {
    const [p, n] = this.put(typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body));
    const ok = this.e.responseBody(p, n) !== 0;
    this.release();
    return { ok, text: this.outText() };
  }

  /** One chunk of a stream: the translated bytes it gives. */
  streamChunk(chunk, endOfStream) {
    const [p, n] = this.put(chunk);
    this.e.streamChunk(p, n, endOfStream ? 1 : 0);
    this.release();
    return this.out();
  }

  /** A stream fed in the given pieces (strings or bytes); the translated text and the most bytes ever held. */
  stream(pieces) {
    const out = [];
    let held = 0;
    pieces.forEach((piece, i) => {
      out.push(this.streamChunk(piece, i === pieces.length - 1));
      held = Math.max(held, Number(this.e.heldBytes()));
    });
    return { text: dec.decode(Buffer.concat(out.map((b) => Buffer.from(b)))), held, finished: this.e.streamFinished() !== 0 };
  }

  /** The gateway's own error in a client's shape (0 OpenAI, 1 Anthropic). */
  clientError(client, status, code, message) {
    const [cp, cn] = this.put(code);
    const [mp, mn] = this.put(message);
    this.e.clientError(client, status, cp, cn, mp, mn);
    this.release();
    return this.text(this.e.scratchPtr(), this.e.scratchLen());
  }

  /** What the response usage scanner reads from these chunks. */
  usage(chunks) {
    this.e.usageReset();
    for (const c of chunks) {
      const [p, n] = this.put(c);
      this.e.usageFeed(p, n);
      this.release();
    }
    this.e.usageFinish();
    return { input: Number(this.e.usageInput()), cached: Number(this.e.usageCached()), output: Number(this.e.usageOutput()) };
  }
}
