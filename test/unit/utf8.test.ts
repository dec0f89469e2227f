// UTF-8 inside request strings is validated 16 bytes at a time (assembly/json/utf8.ts). The
// oracle is TextDecoder with fatal: true; every kind of broken sequence is placed at every offset
// of a 16-byte block, between valid multi-byte text, so block edges and carried state are exercised.
// String text is read 64 bytes at a time (assembly/json/lexer.ts): escapes, quotes and control
// bytes are placed at every offset around two block edges, against JSON.parse.
import { describe, expect, it } from "vitest";
import { chosen, err, model, router, send } from "./helpers.ts";

const strict = new TextDecoder("utf-8", { fatal: true });
const valid = (bytes: Uint8Array) => {
  try { strict.decode(bytes); return true; } catch { return false; }
};

const BROKEN: Array<[string, number[]]> = [
  ["lone continuation", [0x80]],
  ["two continuations", [0xbf, 0x80]],
  ["overlong 2-byte (C0)", [0xc0, 0xaf]],
  ["overlong 2-byte (C1)", [0xc1, 0xbf]],
  ["overlong 3-byte", [0xe0, 0x80, 0xaf]],
  ["overlong 4-byte", [0xf0, 0x80, 0x80, 0xaf]],
  ["surrogate", [0xed, 0xa0, 0x80]],
  ["above U+10FFFF (F4 90)", [0xf4, 0x90, 0x80, 0x80]],
  ["F5 lead", [0xf5, 0x80, 0x80, 0x80]],
  ["FF", [0xff]],
  ["2-byte lead then ASCII", [0xc3, 0x41]],
  ["3-byte lead cut short", [0xe4, 0xb8]],
  ["4-byte lead cut short", [0xf0, 0x9f, 0x98]],
  ["3-byte lead then a lead", [0xe4, 0xe4, 0xb8, 0xad]],
];
const CJK = Buffer.from("中文字符测试", "utf8"); // 18 bytes: multi-byte characters across block edges

function body(middle: Uint8Array, offset: number): Uint8Array {
  const head = Buffer.from('{"model":"r","messages":[{"role":"user","content":"', "utf8");
  const pad = Buffer.from("a".repeat(offset), "utf8");
  const tail = Buffer.from('"}]}', "utf8");
  return Buffer.concat([head, pad, CJK, CJK, Buffer.from(middle), CJK, CJK, CJK, tail]);
}

describe("UTF-8 in request strings, block by block", () => {
  const cfg = { models: [model("A")], routes: { r: { strategy: "price" } } };
  it.each(BROKEN)("%s is refused at every offset of a block", async (_name, bytes) => {
    const h = await router(cfg);
    for (let offset = 0; offset < 20; offset++) {
      const b = body(Uint8Array.from(bytes), offset);
      expect(valid(b)).toBe(false);
      expect(err(send(h, b)).code, `offset ${offset}`).toBe("invalid_json");
    }
  });
  it("valid text of every sequence length is routed at every offset", async () => {
    const h = await router(cfg);
    const samples = ["é", "€", "中", "😀", "\u07ff", "\u0800", "\uffff", "\u{10000}", "\u{10ffff}", "Ωμέγα", "日本語のテキスト"];
    for (const s of samples) {
      for (let offset = 0; offset < 20; offset++) {
        const b = body(Buffer.from(s.repeat(3), "utf8"), offset);
        expect(valid(b)).toBe(true);
        expect(chosen(send(h, b)), `${JSON.stringify(s)} at ${offset}`).toBe("A");
      }
    }
  });
  it("random byte soup agrees with TextDecoder (fatal)", async () => {
    const h = await router(cfg);
    let x = 12345;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296);
    const alphabet = [0x41, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe4, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xb8, 0xad];
    for (let n = 0; n < 3000; n++) {
      const len = 1 + Math.floor(rnd() * 40);
      const middle = Uint8Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]);
      const b = body(middle, Math.floor(rnd() * 16));
      const r = send(h, b);
      if (valid(b)) expect(chosen(r), `case ${n}: ${Buffer.from(middle).toString("hex")}`).toBe("A");
      else expect(err(r).code, `case ${n}: ${Buffer.from(middle).toString("hex")}`).toBe("invalid_json");
    }
  });
  it("counts multi-byte text as its UTF-8 bytes for the token estimate", async () => {
    // 3,000 bytes of CJK / bytesPerToken 1 = 3,000 input tokens: a 2,900-token window drops A, 3,100 keeps it
    const text = "中".repeat(1000);
    const small = await router({ models: [model("A", { contextWindow: 2900 + 512 })], routes: { r: { strategy: "price" } }, bytesPerToken: 1 });
    const big = await router({ models: [model("A", { contextWindow: 3100 + 512 })], routes: { r: { strategy: "price" } }, bytesPerToken: 1 });
    const b = JSON.stringify({ model: "r", messages: [{ role: "", content: text }] });
    expect(err(send(small, b)).code).toBe("model_not_available");
    expect(chosen(send(big, b))).toBe("A");
  });
});

describe("escapes, quotes and control bytes across 64-byte blocks", () => {
  // Price 1 USD per million input tokens, one byte per token, output free: cost_usd is the decoded
  // text's UTF-8 bytes (the role "user" counts too) in millionths.
  const cfg = { models: [model("A", { price: { input: 1, output: 0 } })], routes: { r: { strategy: "price" } }, bytesPerToken: 1 };
  const EVENTS = [
    "\\n", '\\"', "\\\\", "\\/", "\\t", "\\u00e9", "\\u4e2d\\u6587", "\\ud83d\\ude00", "\\ud83d", "é", "中文", "😀",
    "\\x", "\\u12", "\\u12g4", "\u0001", "\u001f", '"', "\\",
  ];
  it.each(EVENTS)("%j at every offset from 0 to 140, alone and twice in a row", async (event) => {
    const h = await router(cfg);
    for (let offset = 0; offset <= 140; offset++) {
      for (const middle of [event, event + event, event + "b".repeat(63 - (offset % 7)) + event]) {
        const raw = `{"model":"r","messages":[{"role":"user","content":"${"a".repeat(offset)}${middle}${"z".repeat(offset % 5)}"}]}`;
        let parsed: { messages: Array<{ content: string }> } | undefined;
        try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
        const r = send(h, Buffer.from(raw, "utf8"));
        const where = `${JSON.stringify(middle)} at ${offset}`;
        if (parsed === undefined) {
          expect(err(r).code, where).toBe("invalid_json");
          continue;
        }
        const bytes = Buffer.byteLength(parsed.messages[0].content, "utf8") + 4;
        expect(r.setProperties["model_router.decision"], where).toBe(`outcome=routed route=r model=A strategy=price cost_usd=${(bytes / 1e6).toFixed(6).replace(/0+$/, "")}`);
      }
    }
  });
});
