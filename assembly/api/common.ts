// What the translators share: the tapes and scratch buffers (module-level: a translation runs from
// start to end inside one callback, so one set serves every context of the VM), the target model,
// member-name tables, data URLs and the SSE framing they write.
import { Kind, Tape } from "./tape";
import { ByteWriter, utf8 } from "./writer";

// The document being translated (a request or a whole response), one SSE event's data, and a tool
// call's arguments decoded from their JSON string.
export const documentTape = new Tape();
export const eventTape = new Tape();
export const argumentsTape = new Tape();
// Decoded strings the translators look into (a data URL, tool arguments).
export const decodedScratch = new ByteWriter();

// The model an attempt goes to: its upstream id as a JSON string literal (quotes included, as the
// body splice writes it), its name for messages, and the output budget Anthropic needs when the
// client gave none (the configuration's defaultOutputTokens).
export class Target {
  literal: ArrayBuffer = new ArrayBuffer(0);
  name: string = "";
  defaultMaxTokens: i64 = 4096;
}

// Member names looked up by table: index of the name that matches, or -1. A name spelled with
// escapes is compared once decoded.
export function nameIndex(t: Tape, k: i32, names: StaticArray<ArrayBuffer>): i32 {
  let p = t.start(k);
  let n = t.size(k);
  if (t.escaped(k)) {
    decodedScratch.reset();
    decodedScratch.decoded(p, n);
    p = decodedScratch.data;
    n = decodedScratch.length;
  }
  for (let i = 0; i < names.length; i++) {
    const name = unchecked(names[i]);
    if (<usize>name.byteLength == n && memory.compare(p, changetype<usize>(name), n) == 0) return i;
  }
  return -1;
}

// A string member's value as bytes that need no decoding (its JSON body when it has no escape,
// else decoded into decodedScratch): sets valueStart / valueSize. False when `v` is not a string.
export let valueStart: usize = 0;
export let valueSize: usize = 0;
export function plainValue(t: Tape, v: i32): bool {
  if (t.kind(v) != Kind.String) return false;
  if (!t.escaped(v)) {
    valueStart = t.start(v);
    valueSize = t.size(v);
    return true;
  }
  decodedScratch.reset();
  decodedScratch.decoded(t.start(v), t.size(v));
  valueStart = decodedScratch.data;
  valueSize = decodedScratch.length;
  return true;
}

@inline export function startsWith(p: usize, n: usize, prefix: ArrayBuffer): bool {
  const m = <usize>prefix.byteLength;
  return n >= m && memory.compare(p, changetype<usize>(prefix), m) == 0;
}

// A data URL `data:<media type>;base64,<data>` in [p, p + n): sets the media type's and the data's
// bounds. False when it is not a base64 data URL.
export let mediaStart: usize = 0;
export let mediaSize: usize = 0;
export let base64Start: usize = 0;
export let base64Size: usize = 0;
export const DATA_SCHEME = utf8("data:");
const BASE64_MARK = utf8(";base64,");
export function parseDataUrl(p: usize, n: usize): bool {
  if (!startsWith(p, n, DATA_SCHEME)) return false;
  const end = p + n;
  let q = p + 5;
  const media = q;
  while (q < end && load<u8>(q) != 0x3b && load<u8>(q) != 0x2c) q++;
  mediaStart = media;
  mediaSize = q - media;
  // parameters such as ;charset=… may come before ;base64
  while (q < end && load<u8>(q) != 0x2c) q++;
  if (q >= end || q - p < 5 + 7 || memory.compare(q - 7, changetype<usize>(BASE64_MARK), 7) != 0) return false;
  base64Start = q + 1;
  base64Size = end - base64Start;
  return true;
}

// The image types Anthropic accepts (Base64ImageSourceParam.media_type).
const IMAGE_TYPES: StaticArray<ArrayBuffer> = [utf8("image/jpeg"), utf8("image/png"), utf8("image/gif"), utf8("image/webp")];
export function isAnthropicImageType(p: usize, n: usize): bool {
  for (let i = 0; i < IMAGE_TYPES.length; i++) {
    const t = unchecked(IMAGE_TYPES[i]);
    if (<usize>t.byteLength == n && memory.compare(p, changetype<usize>(t), n) == 0) return true;
  }
  return false;
}

// `list[index]rest`, for the message of a refused request (never built otherwise).
export function listField(list: string, index: i32, rest: string): string { return list + "[" + index.toString() + "]" + rest; }

// ---- SSE framing --------------------------------------------------------------------------------
export const SSE_DATA = utf8("data: ");
export const SSE_END = utf8("\n\n");
export const SSE_DONE = utf8("data: [DONE]\n\n");
export const DONE = utf8("[DONE]");

// `event: <name>\ndata: ` (Anthropic names every event).
export function eventHead(name: string): ArrayBuffer { return utf8("event: " + name + "\ndata: "); }
