// The mock provider's prompt cache: which part of a request's prompt a real provider would have
// served from its cache, given what that model was sent recently (plain Node ESM, no dependencies).
//
// A provider caches the prompt as it tokenises it: the tools first, then the system prompt, then the
// messages in order. This module renders a request body in that order (each tool, system block and
// message as its JSON text) and counts tokens with the mock's own approximation (4 bytes a token).
//
//   automatic (OpenAI, and the default): a prompt of at least 1024 tokens is cached; a later prompt
//     that starts with the same tokens is served from the cache in blocks: the first 1024 tokens,
//     then each further 128 (OpenAI: "cache hits ... in 128-token increments"). Reported as
//     usage.prompt_tokens_details.cached_tokens (chat) or usage.input_tokens_details.cached_tokens
//     (Responses), counted within prompt_tokens / input_tokens.
//   explicit (Anthropic Messages): only prefixes ending at a block marked `cache_control` are
//     written; a request reads the longest written prefix that ends at one of its block boundaries
//     at or up to 20 blocks before one of its breakpoints, and writes the rest up to its last
//     breakpoint. Prefixes shorter than 1024 tokens are not cached. Reported as
//     usage.cache_read_input_tokens and usage.cache_creation_input_tokens, which input_tokens leaves out.
//
// Entries are per model (caches are per model) and expire ttlMs after they were last written or
// read; at most maxEntries are kept (the least recently used go first).
import { createHash } from "node:crypto";

export const BYTES_PER_TOKEN = 4;
export const AUTOMATIC = { minTokens: 1024, stepTokens: 128 };
export const EXPLICIT = { minTokens: 1024, lookbackBlocks: 20 };

const tokens = (bytes) => Math.floor(bytes / BYTES_PER_TOKEN);
const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));

/**
 * A request body as a provider would tokenise it: blocks in order, each with its bytes and whether it
 * carries a cache_control breakpoint. api: "chat" | "completions" | "responses" | "anthropic".
 * @returns {{bytes: Buffer, breakpoint: boolean}[]}
 */
export function promptBlocks(api, body) {
  const blocks = [];
  const add = (v, breakpoint = false) => blocks.push({ bytes: Buffer.from(text(v)), breakpoint });
  const withoutBreakpoint = (v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !("cache_control" in v)) return v;
    const { cache_control: _, ...rest } = v;
    return rest;
  };
  const marked = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && v.cache_control != null;
  for (const tool of Array.isArray(body.tools) ? body.tools : []) add(withoutBreakpoint(tool), marked(tool));
  for (const fn of Array.isArray(body.functions) ? body.functions : []) add(fn);
  if (api === "anthropic") {
    if (typeof body.system === "string") add(body.system);
    else for (const b of Array.isArray(body.system) ? body.system : []) add(withoutBreakpoint(b), marked(b));
    for (const m of Array.isArray(body.messages) ? body.messages : []) {
      if (!Array.isArray(m?.content)) { add({ role: m?.role, content: m?.content }); continue; }
      add({ role: m.role });
      for (const b of m.content) add(withoutBreakpoint(b), marked(b));
    }
    return blocks;
  }
  if (api === "responses") {
    if (body.instructions != null) add(body.instructions);
    for (const item of Array.isArray(body.input) ? body.input : body.input == null ? [] : [body.input]) add(item);
    return blocks;
  }
  if (api === "completions") {
    for (const p of Array.isArray(body.prompt) ? body.prompt : [body.prompt ?? ""]) add(p);
    return blocks;
  }
  for (const m of Array.isArray(body.messages) ? body.messages : []) add(m);
  return blocks;
}

/**
 * @param {{ttlMs?: number | (() => number), maxEntries?: number, now?: () => number}} [options]
 */
export function createPromptCache(options = {}) {
  const ttl = typeof options.ttlMs === "function" ? options.ttlMs : () => options.ttlMs ?? 300_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? (() => Date.now());
  const entries = new Map(); // `${model}\n${prefix hash}` -> expiry (ms); insertion order = recency

  const alive = (k) => {
    const until = entries.get(k);
    if (until === undefined) return false;
    if (until < now()) { entries.delete(k); return false; }
    return true;
  };
  const touch = (k) => {
    entries.delete(k);
    entries.set(k, now() + ttl());
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value);
  };
  // Hashes of every prefix ending at a block boundary: hashes[i] covers blocks 0..i.
  const chain = (model, parts) => {
    let h = createHash("sha256").update(model).digest();
    return parts.map((p) => (h = createHash("sha256").update(h).update(p).digest()).toString("hex")).map((x) => `${model}\n${x}`);
  };

  /** Automatic prefix caching: the prompt cut into the first minTokens, then stepTokens each. */
  function automatic(model, blocks) {
    const all = Buffer.concat(blocks.map((b) => b.bytes));
    const total = tokens(all.length);
    if (total < AUTOMATIC.minTokens) return { cachedTokens: 0, cacheWriteTokens: 0 };
    const ends = [];
    for (let t = AUTOMATIC.minTokens; t <= total; t += AUTOMATIC.stepTokens) ends.push(t);
    const keys = chain(model, ends.map((t, i) => all.subarray(i === 0 ? 0 : ends[i - 1] * BYTES_PER_TOKEN, t * BYTES_PER_TOKEN)));
    let hit = 0;
    while (hit < keys.length && alive(keys[hit])) hit++;
    const cachedTokens = hit === 0 ? 0 : ends[hit - 1];
    keys.forEach(touch);
    return { cachedTokens, cacheWriteTokens: 0 }; // automatic caching bills no write
  }

  /** Explicit breakpoints: read at or before a breakpoint, write up to the last one. */
  function explicit(model, blocks) {
    const ends = [];
    let bytes = 0;
    for (const b of blocks) ends.push(tokens((bytes += b.bytes.length)));
    const keys = chain(model, blocks.map((b) => b.bytes));
    const breakpoints = blocks.flatMap((b, i) => (b.breakpoint ? [i] : []));
    if (breakpoints.length === 0) return { cachedTokens: 0, cacheWriteTokens: 0 };
    let read = -1;
    for (const bp of breakpoints) {
      for (let j = bp; j >= 0 && j > bp - EXPLICIT.lookbackBlocks; j--) {
        if (ends[j] >= EXPLICIT.minTokens && j > read && alive(keys[j])) { read = j; break; }
      }
    }
    const cachedTokens = read < 0 ? 0 : ends[read];
    if (read >= 0) touch(keys[read]);
    const last = breakpoints[breakpoints.length - 1];
    let cacheWriteTokens = 0;
    for (const bp of breakpoints) if (ends[bp] >= EXPLICIT.minTokens && bp > read) touch(keys[bp]);
    if (ends[last] >= EXPLICIT.minTokens && last > read) cacheWriteTokens = ends[last] - cachedTokens;
    return { cachedTokens, cacheWriteTokens };
  }

  return {
    /**
     * What `model` would serve from its cache for this request body (cachedTokens) and write to it at
     * a premium (cacheWriteTokens: explicit caching only); the cache then holds this prompt too.
     * @returns {{cachedTokens: number, cacheWriteTokens: number}}
     */
    observe(model, api, body) {
      const blocks = promptBlocks(api, body);
      return api === "anthropic" ? explicit(model, blocks) : automatic(model, blocks);
    },
    get size() { return entries.size; },
    clear() { entries.clear(); },
  };
}

/**
 * Writes a cache result into a usage object in the provider's shape:
 *   "chat": prompt_tokens_details.cached_tokens (within prompt_tokens);
 *   "responses": input_tokens_details.cached_tokens (within input_tokens);
 *   "anthropic": cache_read_input_tokens and cache_creation_input_tokens, taken out of input_tokens.
 */
export function applyCacheUsage(usage, { cachedTokens, cacheWriteTokens }, shape) {
  if (shape === "anthropic") {
    const input = usage.input_tokens ?? 0;
    const read = Math.min(cachedTokens, input);
    const write = Math.min(cacheWriteTokens, input - read);
    usage.input_tokens = input - read - write;
    usage.cache_read_input_tokens = read;
    usage.cache_creation_input_tokens = write;
    return usage;
  }
  if (shape === "responses") {
    usage.input_tokens_details = { ...usage.input_tokens_details, cached_tokens: Math.min(cachedTokens, usage.input_tokens ?? 0) };
    return usage;
  }
  usage.prompt_tokens_details = { ...usage.prompt_tokens_details, cached_tokens: Math.min(cachedTokens, usage.prompt_tokens ?? 0) };
  return usage;
}
