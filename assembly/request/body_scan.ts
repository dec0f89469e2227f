// One pass over the UTF-8 request body: validates it as JSON (RFC 8259) and collects the request
// features, without building a tree, decoding to UTF-16 or allocating. Only top-level members
// (container depth 1) can be `model`, `stream` or `max_tokens`; a nested "model" is plain data.
//
// What the pass keeps between members (the container stack, the message being read, the `models`
// member still open) is a BodyScanner's: one per VM, reused by every request (request scratch in
// scratch.ts), so a scan allocates nothing.
import {
  CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, DIGIT_0, LOWER_F, LOWER_N, LOWER_T, MINUS, NEWLINE, OPEN_BRACE, OPEN_BRACKET,
  QUOTE, CARRIAGE_RETURN, SPACE, TAB,
} from "../bytes";
import { scanNumber, scanString, decodeString, stringHasEscape, stringDecodedBytes } from "../json/lexer";
import { ClientError } from "./client_error";
import { MAX_CLIENT_MODELS, MAX_USER_TEXT_SPANS, RequestFeatures } from "./features";

export const MAX_BODY_DEPTH: i32 = 256;

// Category of the top-level member being read.
const enum Top {
  Other, Model, Stream, MaxTokens, MaxCompletionTokens, MaxOutputTokens,
  Messages, Prompt, Input, System, Instructions, Tools, Functions, ResponseFormat, Models,
}
// What the innermost member name says about its value.
const enum Key { Other, Type, Skip, Role, Content, Text }
// What the loop expects next.
const enum Expect { Value, MemberName, AfterValue }
// The message object being read: none open, role not seen yet, role "user", another role.
const enum Message { None, Open, User, Other }

// Decoded member names that contain escapes, so "mod\u0065l" is recognised as "model".
const KEY_SCRATCH_SIZE: usize = 32;

@inline function isWhitespace(c: u32): bool {
  return c == SPACE || c == NEWLINE || c == CARRIAGE_RETURN || c == TAB;
}

@inline function skipWhitespace(p: usize, end: usize): usize {
  while (p < end && isWhitespace(load<u8>(p))) p++;
  return p;
}

@inline function isDigit(c: u32): bool { return c - DIGIT_0 < 10; }

@inline function same(p: usize, n: usize, word: string): bool {
  // `word` is ASCII; compare byte n against UTF-16 unit n.
  if (n != <usize>word.length) return false;
  const w = changetype<usize>(word);
  for (let i: usize = 0; i < n; i++) if (<u32>load<u8>(p + i) != <u32>load<u16>(w + (i << 1))) return false;
  return true;
}

function classifyTop(p: usize, n: usize): Top {
  switch (<i32>n) {
    case 5:
      if (same(p, n, "model")) return Top.Model;
      if (same(p, n, "input")) return Top.Input;
      if (same(p, n, "tools")) return Top.Tools;
      break;
    case 6:
      if (same(p, n, "stream")) return Top.Stream;
      if (same(p, n, "prompt")) return Top.Prompt;
      if (same(p, n, "system")) return Top.System;
      if (same(p, n, "models")) return Top.Models;
      break;
    case 8: if (same(p, n, "messages")) return Top.Messages; break;
    case 9: if (same(p, n, "functions")) return Top.Functions; break;
    case 10: if (same(p, n, "max_tokens")) return Top.MaxTokens; break;
    case 12: if (same(p, n, "instructions")) return Top.Instructions; break;
    case 15: if (same(p, n, "response_format")) return Top.ResponseFormat; break;
    case 17: if (same(p, n, "max_output_tokens")) return Top.MaxOutputTokens; break;
    case 21: if (same(p, n, "max_completion_tokens")) return Top.MaxCompletionTokens; break;
  }
  return Top.Other;
}

// Little-endian words of short ASCII names, so a member name is compared in one or two loads.
const WORD_TYPE: u32 = 0x65707974;  // "type"
const WORD_DATA: u32 = 0x61746164;  // "data"
const WORD_ROLE: u32 = 0x656c6f72;  // "role"
const WORD_TEXT: u32 = 0x74786574;  // "text"
const WORD_USER: u32 = 0x72657375;  // "user"
const WORD_CONT: u32 = 0x746e6f63;  // "cont" of "content"
const WORD_ENT: u32 = 0x746e65;     // "ent" of "content" (bytes 4..6)

@inline function classifyNested(p: usize, n: usize): Key {
  if (n == 4) {
    const w = load<u32>(p);
    if (w == WORD_TYPE) return Key.Type;
    if (w == WORD_ROLE) return Key.Role;
    if (w == WORD_TEXT) return Key.Text;
    if (w == WORD_DATA) return Key.Skip;
    return Key.Other;
  }
  if (n == 7) {
    return load<u32>(p) == WORD_CONT && (load<u32>(p, 3) >> 8) == WORD_ENT ? Key.Content : Key.Other;
  }
  if (n == 3) return same(p, n, "url") ? Key.Skip : Key.Other;
  if (n == 9) return same(p, n, "image_url") ? Key.Skip : Key.Other;
  return Key.Other;
}

@inline function countsAsText(top: Top): bool { return top >= Top.Messages && top <= Top.Functions; }
@inline function mayHoldImages(top: Top): bool { return top == Top.Messages || top == Top.Input; }
@inline function isMaxTokens(top: Top): bool { return top >= Top.MaxTokens && top <= Top.MaxOutputTokens; }
@inline function isConversation(top: Top): bool { return top == Top.Messages || top == Top.Input; }
@inline function isSystemText(top: Top): bool { return top == Top.System || top == Top.Instructions; }

// The value of a plain non-negative integer token [p, end), or -1 for anything else (fraction,
// exponent, sign): token counts are whole numbers.
function plainInteger(p: usize, end: usize): f64 {
  let value: f64 = 0;
  for (let q = p; q < end; q++) {
    const c = <u32>load<u8>(q);
    if (!isDigit(c)) return -1;
    value = value * 10 + <f64>(c - DIGIT_0);
  }
  return value;
}

// Matches a literal at p; returns the position after it, or 0.
@inline function scanLiteral(p: usize, end: usize, word: string): usize {
  const n = <usize>word.length;
  return p + n <= end && same(p, n, word) ? p + n : 0;
}

@inline function isValueStart(c: u32): bool {
  return c == OPEN_BRACKET || c == QUOTE || c == MINUS || isDigit(c) || c == LOWER_T || c == LOWER_F || c == LOWER_N;
}

// A whole prompt (completions `prompt`, Responses `input` as a string): the last one wins.
function setSingleUserText(f: RequestFeatures, start: u32, end: u32): void {
  f.userTextSpans[0] = start;
  f.userTextSpans[1] = end;
  f.userTextSpanCount = 1;
  f.contextStart = 0;
  f.contextEnd = 0;
}

function addModelsItem(f: RequestFeatures, start: usize, after: usize, base: usize): void {
  const i = f.modelsItemCount;
  if (i == MAX_CLIENT_MODELS) return;
  unchecked(f.modelsItems[i << 1] = <u32>(start - base));
  unchecked(f.modelsItems[(i << 1) + 1] = <u32>(after - base));
  if (stringHasEscape) f.modelsItemEscapes |= (<u32>1) << i;
  f.modelsItemCount = i + 1;
}

// One list, of strings only. Without a top-level `model`, the first item is the model.
function checkModelsList(f: RequestFeatures): bool {
  if (f.modelsCount > 1 || f.modelsInvalid) return false;
  if (f.modelCount == 0 && f.modelsItemCount > 0) {
    f.modelFromList = true;
    f.modelStart = unchecked(f.modelsItems[0]);
    f.modelEnd = unchecked(f.modelsItems[1]);
    f.modelHasEscape = (f.modelsItemEscapes & 1) != 0;
  }
  return true;
}

export class BodyScanner {
  // Container kind per depth: 1 = object, 0 = array.
  private readonly containers: usize = heap.alloc(<usize>MAX_BODY_DEPTH + 1);
  private readonly keyScratch: usize = heap.alloc(KEY_SCRATCH_SIZE);
  // Whether this scan records where the user text is (only configurations that detect need it).
  private recordText: bool = true;

  // ---- where the last user message's text is -------------------------------------------------
  // Chat `messages` and Responses `input` lists hold message objects at depth 3; a message's role
  // may come after its content, so the text spans of the message being read wait in `pendingSpans`
  // and become the request's user text when the message closes with role "user".
  private readonly pendingSpans: usize = heap.alloc(<usize>MAX_USER_TEXT_SPANS * 8);
  private pendingCount: i32 = 0;
  private message: Message = Message.None;
  private messageStart: u32 = 0;
  private messageKey: Key = Key.Other;     // the message member being read (depth 3)
  private conversationStart: u32 = 0;      // offset of the messages / input array

  // ---- a client's `models` list (OpenRouter) ---------------------------------------------------
  // Only a few offsets per request: where the member starts and ends, the comma before it, its
  // first string items. Anything but one array of strings is refused (400 invalid_models).
  private modelsEndPending: bool = false;  // the `models` member was read; its end is the next member or the '}'
  private lastTopComma: u32 = 0;           // the last comma between top-level members

  // Scans body [ptr, ptr+len) into f. f.error tells the outcome. With recordUserText false the
  // text spans stay empty and the scan costs what it did before they existed.
  scan(ptr: usize, len: usize, f: RequestFeatures, recordUserText: bool = true): void {
    f.reset();
    this.recordText = recordUserText;
    this.pendingCount = 0;
    this.message = Message.None;
    this.messageStart = 0;
    this.messageKey = Key.Other;
    this.conversationStart = 0;
    this.modelsEndPending = false;
    this.lastTopComma = 0;
    const end = ptr + len;
    let p = skipWhitespace(ptr, end);
    if (p >= end || load<u8>(p) != OPEN_BRACE) {
      f.error = p < end && isValueStart(load<u8>(p)) ? ClientError.NotAnObject : ClientError.InvalidJson;
      f.errorOffset = p - ptr;
      return;
    }
    const error = this.scanDocument(p, ptr, end, f);
    if (error != ClientError.None) { f.error = error; return; }
    if (f.modelsCount > 0 && !checkModelsList(f)) f.error = ClientError.InvalidModels;
    else if (f.modelCount > 1) f.error = ClientError.DuplicateModel;
    else if (f.modelCount == 0 && !f.modelFromList) f.error = ClientError.MissingModel;
    else if (f.modelEnd == 0) f.error = ClientError.InvalidModel;
    else if (f.maxTokensInvalid) f.error = ClientError.InvalidMaxTokens;
  }

  @inline private isArrayAt(depth: i32): bool { return load<u8>(this.containers + depth) == 0; }

  private startMessage(offset: u32): void {
    this.message = Message.Open;
    this.messageStart = offset;
    this.messageKey = Key.Other;
    this.pendingCount = 0;
  }

  private endMessage(f: RequestFeatures): void {
    const wasUser = this.message == Message.User;
    this.message = Message.None;
    if (!wasUser) return;
    // A loop, not memory.copy: V8 runs memory.copy out of line, too slow for a few bytes per message.
    const to = changetype<usize>(f.userTextSpans), from = this.pendingSpans;
    for (let i = 0; i < this.pendingCount; i++) store<u64>(to + (<usize>i << 3), load<u64>(from + (<usize>i << 3)));
    f.userTextSpanCount = this.pendingCount;
    f.contextStart = this.conversationStart;
    f.contextEnd = this.messageStart;
  }

  @inline private addPending(start: u32, end: u32): void {
    if (this.pendingCount == MAX_USER_TEXT_SPANS) return;
    const at = this.pendingSpans + (<usize>this.pendingCount << 3);
    store<u32>(at, start);
    store<u32>(at, end, 4);
    this.pendingCount++;
  }

  // A role value ("user", possibly spelt with escapes) between quotes [p, end).
  private isUserRole(p: usize, end: usize): bool {
    let n = end - p;
    if (stringHasEscape) {
      if (stringDecodedBytes > KEY_SCRATCH_SIZE) return false;
      n = decodeString(p, end, this.keyScratch);
      p = this.keyScratch;
    }
    return n == 4 && load<u32>(p) == WORD_USER;
  }

  // A string value under messages / prompt / input / system / instructions ([start, after) with quotes).
  @inline private trackText(f: RequestFeatures, start: usize, after: usize, base: usize, depth: i32, top: Top, key: Key): void {
    const s = <u32>(start + 1 - base), e = <u32>(after - 1 - base);
    if (depth == 1) {
      if (isSystemText(top)) {
        if (f.systemEnd == 0) { f.systemStart = s - 1; f.systemEnd = e + 1; }
      } else if (!isConversation(top) || top == Top.Input) setSingleUserText(f, s, e);
      return;
    }
    if (depth == 2) {
      if ((top == Top.Prompt || top == Top.Input) && this.isArrayAt(2)) setSingleUserText(f, s, e);
      return;
    }
    if (this.message == Message.None || this.message == Message.Other) return;
    if (depth == 3) {
      if (key == Key.Role) this.message = this.isUserRole(start + 1, after - 1) ? Message.User : Message.Other;
      else if (key == Key.Content) this.addPending(s, e);
    } else if (this.messageKey == Key.Content && this.isArrayAt(4)) {
      if (depth == 4 || (depth == 5 && key == Key.Text)) this.addPending(s, e);
    }
  }

  // A container opens at `offset` and is now the innermost one, at `depth`.
  @inline private onOpen(f: RequestFeatures, offset: u32, isObject: bool, depth: i32, top: Top): void {
    if (depth == 2) {
      if (isSystemText(top) && f.systemEnd == 0) f.systemStart = offset;
      else if (!isObject && isConversation(top)) this.conversationStart = offset;
    } else if (depth == 3 && isObject && isConversation(top) && this.isArrayAt(2)) {
      this.startMessage(offset);
    }
  }

  // The container at `depth` closes; `offset` is just past its closing bracket.
  @inline private onClose(f: RequestFeatures, offset: u32, depth: i32, top: Top): void {
    if (depth == 3) {
      if (this.message != Message.None) this.endMessage(f);
    } else if (depth == 2 && isSystemText(top) && f.systemEnd == 0) {
      f.systemEnd = offset;
    }
  }

  private startModelsMember(f: RequestFeatures, keyQuote: u32): void {
    f.modelsCount++;
    f.modelsKeyStart = keyQuote;
    f.modelsCommaBefore = this.lastTopComma;
    this.modelsEndPending = true;
  }

  @inline private endModelsMember(f: RequestFeatures, at: u32, hasNext: bool): void {
    f.modelsEnd = at;
    f.modelsHasNext = hasNext;
    this.modelsEndPending = false;
  }

  // The state machine over the top-level object starting at p ('{').
  private scanDocument(p: usize, base: usize, end: usize, f: RequestFeatures): ClientError {
    const containers = this.containers, recordText = this.recordText;
    let depth: i32 = 0;
    let top = Top.Other;
    let key = Key.Other;
    let expect = Expect.Value;
    while (true) {
      if (expect == Expect.Value) {
        p = skipWhitespace(p, end);
        if (p >= end) break;
        const c = <u32>load<u8>(p);
        if (c == OPEN_BRACE || c == OPEN_BRACKET) {
          if (depth == MAX_BODY_DEPTH) { f.errorOffset = p - base; return ClientError.TooDeep; }
          if (depth == 1 && isMaxTokens(top)) f.maxTokensInvalid = true;
          if (top == Top.Models && (depth == 2 || (depth == 1 && c == OPEN_BRACE))) f.modelsInvalid = true;
          depth++;
          store<u8>(containers + depth, c == OPEN_BRACE ? 1 : 0);
          const open = p;
          p = skipWhitespace(p + 1, end);
          if (p >= end) break;
          const close = <u32>load<u8>(p);
          if (c == OPEN_BRACE) {
            if (close == CLOSE_BRACE) { depth--; p++; expect = Expect.AfterValue; }
            else {
              expect = Expect.MemberName;
              if (recordText && depth <= 3) this.onOpen(f, <u32>(open - base), true, depth, top);
            }
          } else {
            if (close == CLOSE_BRACKET) { depth--; p++; expect = Expect.AfterValue; }
            else {
              if (recordText && depth == 2) this.onOpen(f, <u32>(open - base), false, depth, top);
              if (depth == 2 && (top == Top.Tools || top == Top.Functions)) f.hasTools = true;
              key = Key.Other;
            }
          }
          continue;
        }
        if (c == QUOTE) {
          const start = p;
          p = scanString(p + 1, end);
          if (p == 0) { f.errorOffset = start - base; return ClientError.InvalidJson; }
          this.onString(f, start, p, base, depth, top, key);
          expect = Expect.AfterValue;
          continue;
        }
        let after: usize = 0;
        if (c == LOWER_T) after = scanLiteral(p, end, "true");
        else if (c == LOWER_F) after = scanLiteral(p, end, "false");
        else if (c == LOWER_N) after = scanLiteral(p, end, "null");
        else if (c == MINUS || isDigit(c)) {
          after = scanNumber(p, end);
          if (after != 0 && depth == 1 && isMaxTokens(top)) {
            const value = plainInteger(p, after);
            if (value < 0) f.maxTokensInvalid = true;
            else if (top == Top.MaxTokens) f.maxTokens = value;
            else if (top == Top.MaxCompletionTokens) f.maxCompletionTokens = value;
            else f.maxOutputTokens = value;
          }
        }
        if (after == 0) { f.errorOffset = p - base; return ClientError.InvalidJson; }
        if (top == Top.Models && depth <= 2) f.modelsInvalid = true;
        if (depth == 1 && c != MINUS && !isDigit(c)) {
          if (top == Top.Stream) f.stream = c == LOWER_T;
          else if (isMaxTokens(top) && c != LOWER_N) f.maxTokensInvalid = true;
        }
        p = after;
        expect = Expect.AfterValue;
        continue;
      }
      if (expect == Expect.AfterValue) {
        p = skipWhitespace(p, end);
        if (depth == 0) {
          if (p != end) { f.errorOffset = p - base; return ClientError.InvalidJson; }
          return ClientError.None;
        }
        if (p >= end) break;
        const c = <u32>load<u8>(p);
        const inObject = load<u8>(containers + depth) == 1;
        if (c == COMMA) {
          if (depth == 1) this.lastTopComma = <u32>(p - base);
          p++;
          expect = inObject ? Expect.MemberName : Expect.Value;
          if (!inObject) key = Key.Other;
          continue;
        }
        if (c == (inObject ? <u32>CLOSE_BRACE : <u32>CLOSE_BRACKET)) {
          if (recordText && depth <= 3) this.onClose(f, <u32>(p + 1 - base), depth, top);
          if (depth == 1 && this.modelsEndPending) this.endModelsMember(f, <u32>(p - base), false);
          depth--;
          p++;
          continue;
        }
        f.errorOffset = p - base;
        return ClientError.InvalidJson;
      }
      // Expect.MemberName
      p = skipWhitespace(p, end);
      if (p >= end || load<u8>(p) != QUOTE) break;
      const nameStart = p + 1;
      p = scanString(nameStart, end);
      if (p == 0) { f.errorOffset = nameStart - 1 - base; return ClientError.InvalidJson; }
      let nameBytes = p - 1 - nameStart;
      let namePtr = nameStart;
      if (stringHasEscape) {
        if (stringDecodedBytes > KEY_SCRATCH_SIZE) { namePtr = 0; nameBytes = 0; }
        else { nameBytes = decodeString(nameStart, p - 1, this.keyScratch); namePtr = this.keyScratch; }
      }
      if (depth == 1) {
        if (this.modelsEndPending) this.endModelsMember(f, <u32>(nameStart - 1 - base), true);
        top = namePtr == 0 ? Top.Other : classifyTop(namePtr, nameBytes);
        if (top == Top.Model) f.modelCount++;
        else if (top == Top.Models) this.startModelsMember(f, <u32>(nameStart - 1 - base));
      } else {
        key = namePtr == 0 ? Key.Other : classifyNested(namePtr, nameBytes);
        if (depth == 3) this.messageKey = key;
      }
      p = skipWhitespace(p, end);
      if (p >= end || load<u8>(p) != COLON) break;
      p++;
      expect = Expect.Value;
    }
    f.errorOffset = p - base;
    return ClientError.InvalidJson;
  }

  // A string value from its opening quote at `start` to just past its closing quote at `after`.
  private onString(f: RequestFeatures, start: usize, after: usize, base: usize, depth: i32, top: Top, key: Key): void {
    const recordText = this.recordText;
    if (depth == 1) {
      if (top == Top.Model) {
        f.modelStart = start - base;
        f.modelEnd = after - base;
        f.modelHasEscape = stringHasEscape;
        return;
      }
      if (isMaxTokens(top)) f.maxTokensInvalid = true;
      if (top == Top.Models) f.modelsInvalid = true;
      if (countsAsText(top)) {
        f.textBytes += stringDecodedBytes;
        if (recordText && top <= Top.Instructions) this.trackText(f, start, after, base, depth, top, key);
      }
      return;
    }
    if (top == Top.Models) {
      if (depth == 2) addModelsItem(f, start, after, base);
      return;
    }
    if (key == Key.Skip) return;
    if (recordText && top <= Top.Instructions && top >= Top.Messages) this.trackText(f, start, after, base, depth, top, key);
    if (key == Key.Type) {
      const p = start + 1, n = after - start - 2;
      if (mayHoldImages(top) && (same(p, n, "image_url") || same(p, n, "input_image") || same(p, n, "image"))) f.hasImages = true;
      if (top == Top.ResponseFormat && depth == 2 && (same(p, n, "json_object") || same(p, n, "json_schema"))) f.wantsJson = true;
    }
    if (countsAsText(top)) f.textBytes += stringDecodedBytes;
  }
}
