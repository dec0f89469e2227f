// The prefix key (assembly/affinity/prefix_hash.ts, docs/affinity.md): the Wasm hash against its
// JavaScript reference, fed in any pieces; and the keys of real conversation shapes (OpenAI chat
// `messages`, Anthropic `system` + `messages` with moving cache_control breakpoints, Responses
// `input` items), fed the spans the body scan will pass, so that turn N+1's previous key is turn N's
// key for chat and for agent loops.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RefHasher, refCombine, refHashBytes } from "./prefix-hash-reference";

const ROOT = join(__dirname, "..", "..");
const OUT = join(ROOT, "build", "test-prefix-hash.wasm");

interface Entry {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  bytesHash(p: number, n: number): bigint;
  hasherReset(): void; hasherFeed(p: number, n: number): void; hasherEndUnit(tag: number): void; hasherFinish(seed: bigint): bigint;
  keyReset(body: number): void; keyConsumer(h: bigint): void; keyHead(start: number, end: number, part: number): void;
  keyLeaveOut(start: number, end: number): void; keyMessage(start: number, end: number, fromModel: number): void; keyFinish(): void;
  keyHas(): number; keyValue(): bigint; keyHasPrevious(): number; keyPrevious(): bigint;
}
let e: Entry;
let scratch = 0;
let scratchSize = 0;

/** Copies bytes into the entry's memory (one growing block, reused). */
function put(bytes: Uint8Array): number {
  if (bytes.length > scratchSize) { scratchSize = Math.max(bytes.length, 1 << 16); scratch = e.alloc(scratchSize); }
  new Uint8Array(e.memory.buffer, scratch, bytes.length).set(bytes);
  return scratch;
}

beforeAll(() => {
  mkdirSync(join(ROOT, "build"), { recursive: true });
  // cwd entries/: the plugin's asconfig.json must not apply here
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), ["prefix-hash-entry.ts", "-O3", "--runtime", "incremental", "--enable", "simd", "--use", "abort=", "-o", OUT], { cwd: join(ROOT, "test", "unit", "entries") });
  const raw = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(OUT)), {}).exports as Record<string, any>;
  // Wasm's i64 reaches JavaScript as a signed BigInt: compare as unsigned, like the reference
  const unsigned = (f: (...a: any[]) => bigint) => (...a: any[]) => BigInt.asUintN(64, f(...a));
  e = { ...raw, bytesHash: unsigned(raw.bytesHash), hasherFinish: unsigned(raw.hasherFinish), keyValue: unsigned(raw.keyValue), keyPrevious: unsigned(raw.keyPrevious) } as unknown as Entry;
}, 60_000);

let seed = 0x2545f491;
const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => 1 + rnd(255));
/** Cut points splitting [0, n) into random pieces. */
function pieces(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = 0; at < n;) { const len = Math.min(n - at, 1 + rnd(rnd(2) ? 7 : 150)); out.push([at, at + len]); at += len; }
  return out;
}

describe("the prefix hash against its JavaScript reference", () => {
  it("gives the reference's value for every length from 0 to 300 bytes and for 4 and 16 KB", () => {
    for (const n of [...Array.from({ length: 301 }, (_, i) => i), 4096, 4095, 16384, 16385]) {
      const bytes = randomBytes(n);
      expect(e.bytesHash(put(bytes), n), `${n} bytes`).toBe(refHashBytes(bytes));
    }
  });

  it("gives the same value whatever pieces a unit is fed in, and units and tags count", () => {
    for (let trial = 0; trial < 200; trial++) {
      const units = Array.from({ length: 1 + rnd(5) }, () => randomBytes(rnd(400)));
      const tags = units.map(() => rnd(5));
      const ref = new RefHasher();
      e.hasherReset();
      units.forEach((u, i) => {
        ref.feed(u);
        ref.endUnit(tags[i]);
        const p = put(u);
        for (const [a, b] of pieces(u.length)) e.hasherFeed(p + a, b - a);
        e.hasherEndUnit(tags[i]);
      });
      expect(e.hasherFinish(7n)).toBe(ref.state.finish(7n));
    }
    // The same bytes as one unit and as two are different inputs.
    const ab = randomBytes(100);
    const one = new RefHasher(); one.feed(ab); one.endUnit(0);
    const two = new RefHasher(); two.feed(ab.subarray(0, 50)); two.endUnit(0); two.feed(ab.subarray(50)); two.endUnit(0);
    expect(one.state.finish(0n)).not.toBe(two.state.finish(0n));
  });

  it("tells apart a quarter of a million near-duplicates (one byte changed, two bytes swapped)", () => {
    const base = Uint8Array.from(Buffer.from(JSON.stringify({ role: "tool", content: "x".repeat(50) + "The file contains 1234 lines; budget analysis on line 17, totals on line 905. ".repeat(25) })));
    const seen = new Set<bigint>();
    const texts = new Set<string>();
    const p = put(base);
    const mem = () => new Uint8Array(e.memory.buffer, p, base.length);
    for (let i = 0; i < base.length; i++) {
      for (const delta of [1, 2, 3, 16, 32, 64, 128]) {
        const m = mem();
        const was = m[i];
        m[i] = (was + delta) & 0xff || 1;
        seen.add(e.bytesHash(p, base.length));
        texts.add(Buffer.from(m).toString("latin1"));
        m[i] = was;
      }
      const j = (i + 1 + rnd(base.length - 1)) % base.length;
      if (base[i] !== base[j]) {
        const m = mem();
        [m[i], m[j]] = [m[j], m[i]];
        seen.add(e.bytesHash(p, base.length));
        texts.add(Buffer.from(m).toString("latin1"));
        [m[i], m[j]] = [m[j], m[i]];
      }
    }
    expect(texts.size).toBeGreaterThan(15_000);
    expect(seen.size).toBe(texts.size);
  });
});

// ---- the keys of conversations ---------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const HEAD_PARTS: Record<string, number> = { tools: 1, functions: 2, system: 3, instructions: 4 };

/** JSON text of a value and the byte ranges of its `cache_control` members (with their comma). */
function serialize(v: Json, base: number, cuts: Array<[number, number]>): string {
  if (Array.isArray(v)) {
    let s = "[";
    v.forEach((x, i) => { if (i) s += ","; s += serialize(x, base + Buffer.byteLength(s), cuts); });
    return s + "]";
  }
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  let s = "{";
  Object.entries(v).forEach(([k, x], i) => {
    const start = base + Buffer.byteLength(s);
    if (i) s += ",";
    s += JSON.stringify(k) + ":";
    s += serialize(x, base + Buffer.byteLength(s), cuts);
    if (k === "cache_control") {
      // the member and the comma before it, or (first member) the comma after it
      const end = base + Buffer.byteLength(s);
      cuts.push(i ? [start, end] : [start + 1, end + (Object.keys(v).length > 1 ? 1 : 0)]);
    }
  });
  return s + "}";
}

/** What the model wrote: an assistant message, a Responses `*_call` or `reasoning` item. */
function fromModel(item: Json): boolean {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return false;
  if (item.role === "assistant") return true;
  return item.role === undefined && typeof item.type === "string" && (item.type.endsWith("_call") || item.type === "reasoning");
}

/** Notes a request body's spans the way the body scan will, and returns its keys (checked against the reference). */
function keysOf(body: Record<string, Json>, consumer?: string): { key: bigint | null; previous: bigint | null } {
  let text = "{";
  const heads: Array<{ part: number; start: number; end: number }> = [];
  const items: Array<{ start: number; end: number; model: boolean }> = [];
  const cuts: Array<[number, number]> = [];
  Object.entries(body).forEach(([k, v], i) => {
    if (i) text += ",";
    text += JSON.stringify(k) + ":";
    const at = Buffer.byteLength(text);
    const valueText = serialize(v, at, cuts);
    if (k in HEAD_PARTS) heads.push({ part: HEAD_PARTS[k], start: at, end: at + Buffer.byteLength(valueText) });
    if ((k === "messages" || k === "input") && Array.isArray(v)) {
      let off = at + 1;
      v.forEach((item, j) => {
        if (j) off += 1;
        const len = Buffer.byteLength(serialize(item, 0, []));
        items.push({ start: off, end: off + len, model: fromModel(item) });
        off += len;
      });
    } else if (k === "input" && typeof v === "string") items.push({ start: at, end: at + Buffer.byteLength(valueText), model: false });
    text += valueText;
  });
  text += "}";
  const bytes = Buffer.from(text);
  expect(JSON.parse(text)).toEqual(body);
  const consumerHash = consumer === undefined ? 0n : e.bytesHash(put(Buffer.from(consumer)), Buffer.byteLength(consumer));
  const p = put(bytes);
  e.keyReset(p);
  if (consumer !== undefined) e.keyConsumer(consumerHash);
  for (const h of heads) e.keyHead(h.start, h.end, h.part);
  for (const it of items) e.keyMessage(it.start, it.end, it.model ? 1 : 0);
  for (const [a, b] of [...cuts].sort((x, y) => x[0] - y[0])) e.keyLeaveOut(a, b);
  e.keyFinish();

  // the reference, from the definition: head members in body order; the conversation's bytes from its
  // first item to the end of its last client item (and to the end of the client item before the last
  // model turn), cache_control members left out
  const kept = (from: number, to: number) => {
    const parts: Buffer[] = [];
    for (const [a, b] of [...cuts].sort((x, y) => x[0] - y[0])) {
      if (b <= from || a >= to) continue;
      if (a > from) parts.push(bytes.subarray(from, a));
      from = Math.min(b, to);
    }
    if (to > from) parts.push(bytes.subarray(from, to));
    return Buffer.concat(parts);
  };
  const head = new RefHasher();
  for (const h of heads) { head.feed(kept(h.start, h.end)); head.endUnit(h.part); }
  let inputEnd = -1, previousEnd = -1, beforeModel = -1, sawModel = false, inModel = false;
  for (const it of items) {
    if (it.model) { if (inputEnd >= 0 && !inModel) { beforeModel = inputEnd; sawModel = true; } inModel = true; }
    else { inModel = false; inputEnd = it.end; previousEnd = sawModel ? beforeModel : -1; }
  }
  const region = (end: number) => { const h = new RefHasher(); h.feed(kept(items[0].start, end)); h.endUnit(0); return h.state; };
  const has = e.keyHas() !== 0;
  expect(has).toBe(inputEnd >= 0 && cuts.length <= 16);
  const key = has ? e.keyValue() : null;
  if (key !== null) expect(key).toBe(refCombine(consumerHash, head.state, region(inputEnd)));
  const prev = e.keyHasPrevious() !== 0 ? e.keyPrevious() : null;
  expect(prev !== null).toBe(has && previousEnd >= 0);
  if (prev !== null) expect(prev).toBe(refCombine(consumerHash, head.state, region(previousEnd)));
  return { key, previous: prev };
}

const SYSTEM = "You are a careful assistant for an engineering team. " + "Answer precisely and cite the files you read. ".repeat(40);
const TOOLS: Json = [
  { type: "function", function: { name: "read_file", description: "Read a file of the repository", parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } } },
  { type: "function", function: { name: "grep", description: "Search the repository", parameters: { type: "object", properties: { pattern: { type: "string" } }, required: ["pattern"] } } },
];
const ANTHROPIC_TOOLS: Json = [
  { name: "read_file", description: "Read a file of the repository", input_schema: { type: "object", properties: { path: { type: "string" } } } },
  { name: "grep", description: "Search the repository", input_schema: { type: "object", properties: { pattern: { type: "string" } } }, cache_control: { type: "ephemeral" } },
];
const RESPONSES_TOOLS: Json = [{ type: "function", name: "read_file", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } }];

/** Turn after turn of one conversation: every request's previous key is the request before it's key. */
function expectChain(turns: Array<Record<string, Json>>, consumer?: string): bigint[] {
  const keys = turns.map((t) => keysOf(t, consumer));
  expect(keys[0].previous).toBeNull();
  for (let i = 1; i < keys.length; i++) {
    expect(keys[i].previous, `turn ${i + 1}'s previous key is turn ${i}'s key`).toBe(keys[i - 1].key);
    expect(keys[i].key).not.toBe(keys[i - 1].key);
  }
  return keys.map((k) => k.key!);
}

describe("the key of a conversation, turn after turn", () => {
  it("OpenAI chat: turn N+1 (turn N's messages, the answer, a new user message) finds turn N", () => {
    const messages: Json[] = [{ role: "system", content: SYSTEM }];
    const turns: Array<Record<string, Json>> = [];
    for (let n = 1; n <= 6; n++) {
      messages.push({ role: "user", content: `Question ${n}: what does module ${n} do?` });
      turns.push({ model: "auto", messages: [...messages], stream: true });
      messages.push({ role: "assistant", content: `Module ${n} routes requests.`, refusal: null });
    }
    expectChain(turns);
  });

  it("OpenAI chat agent loop: tool_calls and tool results appended step by step (parallel calls too)", () => {
    const messages: Json[] = [{ role: "system", content: SYSTEM }, { role: "user", content: "Find where the budget is checked." }];
    const turns: Array<Record<string, Json>> = [{ model: "auto", tools: TOOLS, messages: [...messages] }];
    for (let step = 1; step <= 5; step++) {
      const calls = step === 3 ? 2 : 1;
      messages.push({ role: "assistant", content: null, tool_calls: Array.from({ length: calls }, (_, c) => ({ id: `call_${step}_${c}`, type: "function", function: { name: "grep", arguments: JSON.stringify({ pattern: `budget ${step} ${c}` }) } })) });
      for (let c = 0; c < calls; c++) messages.push({ role: "tool", tool_call_id: `call_${step}_${c}`, content: `src/budget_${step}_${c}.ts:${step * 10}: if (spent > limit) refuse();` });
      turns.push({ model: "auto", tools: TOOLS, messages: [...messages] });
    }
    expectChain(turns);
  });

  it("Anthropic Messages: system and tools first, the cache_control breakpoint moving to the newest message", () => {
    const history: Json[] = [];
    const turns: Array<Record<string, Json>> = [];
    for (let n = 1; n <= 5; n++) {
      const user = { role: "user", content: [{ type: "text", text: `Step ${n}: read the next file.`, cache_control: { type: "ephemeral" } }] };
      // earlier user messages are resent without their breakpoint, as clients move it forward
      const resent = history.map((m: any) => m.role === "user" ? { role: "user", content: m.content.map((b: any) => { const { cache_control: _, ...rest } = b; return rest; }) } : m);
      turns.push({ model: "auto", max_tokens: 1024, system: [{ type: "text", text: SYSTEM, cache_control: { type: "ephemeral" } }], tools: ANTHROPIC_TOOLS, messages: [...resent, user] });
      history.push(user);
      history.push({ role: "assistant", content: [{ type: "tool_use", id: `toolu_${n}`, name: "read_file", input: { path: `src/${n}.ts` } }] });
      history.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${n}`, content: `export const value${n} = ${n};` }] });
    }
    // Turn n+1 carries turn n's messages, the tool_use answer and a tool_result + a new user message:
    // its previous key is turn n's key although turn n's last block carried cache_control.
    const keys = turns.map((t) => keysOf(t));
    for (let i = 1; i < keys.length; i++) expect(keys[i].previous).toBe(keysOf({ ...turns[i], messages: (turns[i].messages as Json[]).slice(0, -3) }).key);
    // and the trimmed request is turn n itself, breakpoint aside
    for (let i = 1; i < keys.length; i++) expect(keys[i].previous).toBe(keys[i - 1].key);
  });

  it("Responses API: instructions, function_call and function_call_output items, reasoning items", () => {
    const input: Json[] = [{ role: "user", content: [{ type: "input_text", text: "Read src/a.ts and summarise it." }] }];
    const turns: Array<Record<string, Json>> = [{ model: "auto", instructions: SYSTEM, tools: RESPONSES_TOOLS, input: [...input] }];
    for (let step = 1; step <= 4; step++) {
      input.push({ type: "reasoning", id: `rs_${step}`, summary: [] });
      input.push({ type: "function_call", id: `fc_${step}`, call_id: `call_${step}`, name: "read_file", arguments: `{"path":"src/${step}.ts"}` });
      input.push({ type: "function_call_output", call_id: `call_${step}`, output: `line ${step}` });
      turns.push({ model: "auto", instructions: SYSTEM, tools: RESPONSES_TOOLS, input: [...input] });
    }
    input.push({ role: "assistant", content: [{ type: "output_text", text: "It exports four values." }] });
    input.push({ role: "user", content: "Thanks. Now src/b.ts." });
    turns.push({ model: "auto", instructions: SYSTEM, tools: RESPONSES_TOOLS, input: [...input] });
    expectChain(turns);
  });

  it("a string `input` has a key and no previous turn; a body without input has no key", () => {
    const k = keysOf({ model: "auto", input: "Summarise this." });
    expect(k.key).not.toBeNull();
    expect(k.previous).toBeNull();
    expect(keysOf({ model: "auto", prompt: "Once upon a time" }).key).toBeNull();
    expect(keysOf({ model: "auto", messages: [] }).key).toBeNull();
  });

  it("a request with more cache_control members than the key notes (16) has no key", () => {
    const block = (i: number) => ({ type: "text", text: `part ${i}`, cache_control: { type: "ephemeral" } });
    const body = (n: number) => ({ model: "auto", messages: [{ role: "user", content: Array.from({ length: n }, (_, i) => block(i)) }] });
    expect(keysOf(body(16)).key).not.toBeNull();
    expect(keysOf(body(17)).key).toBeNull();
  });
});

describe("what the key covers", () => {
  const base = (extra: Record<string, Json> = {}, messages?: Json[]): Record<string, Json> => ({
    model: "auto", tools: TOOLS,
    messages: messages ?? [{ role: "system", content: SYSTEM }, { role: "user", content: "Hello" }, { role: "assistant", content: "Hi" }, { role: "user", content: "Go on" }],
    ...extra,
  });

  it("a trailing assistant prefill is not part of the key; sampling fields and member order are not either", () => {
    const k = keysOf(base()).key;
    const msgs = (base().messages as Json[]);
    expect(keysOf(base({}, [...msgs, { role: "assistant", content: "Sure, " }])).key).toBe(k);
    expect(keysOf(base({ temperature: 0.2, max_tokens: 100, stream: true })).key).toBe(k);
    const { tools, ...rest } = base();
    expect(keysOf({ ...rest, tools }).key).toBe(k); // tools after messages in the body
  });

  it("tools, the system prompt, any message and the consumer each change it", () => {
    const k = keysOf(base()).key;
    expect(keysOf(base({ tools: [(TOOLS as Json[])[0]] })).key).not.toBe(k);
    expect(keysOf(base({}, [{ role: "system", content: SYSTEM + "!" }, ...(base().messages as Json[]).slice(1)])).key).not.toBe(k);
    expect(keysOf(base({}, [...(base().messages as Json[]).slice(0, 2), { role: "assistant", content: "Hi!" }, (base().messages as Json[])[3]])).key).not.toBe(k);
    // the same bytes as `system` and as `instructions` are different prompts
    expect(keysOf({ model: "auto", system: "Be brief.", messages: [{ role: "user", content: "x" }] }).key)
      .not.toBe(keysOf({ model: "auto", instructions: "Be brief.", messages: [{ role: "user", content: "x" }] }).key);
  });

  it("different consumers with the same prompt never share a key; the same consumer does", () => {
    const alice = keysOf(base(), "alice");
    const bob = keysOf(base(), "bob");
    const none = keysOf(base());
    expect(alice.key).not.toBe(bob.key);
    expect(alice.key).not.toBe(none.key);
    expect(alice.previous).not.toBe(bob.previous);
    expect(keysOf(base(), "alice").key).toBe(alice.key);
  });
});
