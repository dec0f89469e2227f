// Realistic OpenAI chat-completion request bodies of a target size (UTF-8 bytes), deterministic
// for a given seed: a system prompt and alternating user/assistant turns of English prose with
// the things real traffic carries (quotes, newlines, code, a little non-ASCII), plus the usual
// parameters. The model value is "auto" unless told otherwise.

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the of and to in is that for it as with was on be by this are or an from at which but not have has " +
  "model request response token latency gateway provider route upstream context window stream budget " +
  "function argument schema parse value string number object array cluster header body envoy filter " +
  "please explain summarise translate compare write refactor review document test deploy measure"
).split(" ");
const EXTRAS = ["café", "naïve", "über", "日本語", "😀", "→", "€", "\"quoted\"", "line\nbreak", "tab\there", "C:\\path\\file"];

function sentence(rnd) {
  const n = 6 + Math.floor(rnd() * 14);
  const w = [];
  for (let i = 0; i < n; i++) w.push(rnd() < 0.03 ? EXTRAS[Math.floor(rnd() * EXTRAS.length)] : WORDS[Math.floor(rnd() * WORDS.length)]);
  const s = w.join(" ");
  return s[0].toUpperCase() + s.slice(1) + (rnd() < 0.1 ? "?\n" : ". ");
}

export function prose(rnd, bytes) {
  let s = "";
  while (Buffer.byteLength(s) < bytes) s += sentence(rnd);
  return s;
}

/**
 * @param {number} size target size in bytes (the result is within a few bytes of it, never above)
 * @param {{seed?: number, model?: string, stream?: boolean}} [opts]
 * @returns {Buffer}
 */
export function chatBody(size, opts = {}) {
  const rnd = mulberry32(opts.seed ?? 42);
  const model = opts.model ?? "auto";
  const base = {
    model,
    messages: [{ role: "system", content: "You are a helpful assistant. Answer concisely." }],
    temperature: 0.7,
    max_tokens: 512,
    stream: opts.stream ?? false,
    user: "bench-user-0001",
  };
  const overhead = Buffer.byteLength(JSON.stringify(base));
  let remaining = size - overhead;
  let turn = 0;
  // Turns of ~1.5 KB (the last one takes what is left), so big bodies look like long conversations.
  while (remaining > 64) {
    const role = turn % 2 === 0 ? "user" : "assistant";
    const frame = Buffer.byteLength(JSON.stringify({ role, content: "" })) + 1;
    const want = Math.min(remaining - frame, 600 + Math.floor(rnd() * 1800));
    if (want < 16) break;
    let text = prose(rnd, want);
    // Trim to the byte budget measured on the JSON encoding (escapes count).
    while (Buffer.byteLength(JSON.stringify(text)) - 2 > want) text = text.slice(0, Math.max(1, text.length - Math.max(1, (Buffer.byteLength(JSON.stringify(text)) - 2 - want) >> 1)));
    if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1);
    base.messages.push({ role, content: text });
    remaining -= Buffer.byteLength(JSON.stringify(text)) + frame;
    turn++;
  }
  let json = JSON.stringify(base);
  // Pad with spaces in the user field to hit the size exactly (plain ASCII, no effect on routing).
  const pad = size - Buffer.byteLength(json);
  if (pad > 0) {
    base.user += "-".repeat(pad);
    json = JSON.stringify(base);
  }
  return Buffer.from(json, "utf8");
}

export const SIZES = [
  { label: "1 KB", bytes: 1024 },
  { label: "16 KB", bytes: 16 * 1024 },
  { label: "256 KB", bytes: 256 * 1024 },
  { label: "1 MB", bytes: 1024 * 1024 },
];
