// Translation between a client's API and the API of the provider an attempt goes to, as Envoy AI
// Gateway does it: one translator per (client API, backend API) pair, in files named
// <client>_<backend>.ts, chosen per attempt from the provider's declared API, so a request can fail
// over from an OpenAI-compatible model to an Anthropic one and back. The modules are pure: no host
// call, input as (pointer, length), output in a byte buffer the Translation owns and reuses; a
// Translation is per attempt and is reset, not reallocated, for the next one.
//
// Call sequence (Envoy: the upstream filter, one Translation per attempt; Higress: the router
// filter, for its one attempt):
//   request body (whole, as the router holds it):
//     const pair = pairFor(clientApi, provider.api);       // Pair.None: nothing below happens
//     translation.begin(pair, nowSeconds);
//     if (!translation.request(body, size, target)) → answer translation.error.status with
//        writeClientError(clientApi, …error…) (nothing goes upstream);
//     else replace the body by translation.out (data, length); remove accept-encoding (a
//        compressed answer cannot be translated); the path and auth headers are the provider's.
//   response headers:
//     const mode = translation.responseHeaders(status, content-type, content-encoding);
//     Json / Error: remove content-length, set content-type application/json, hold the headers
//        (StopIteration) until the body is translated: the body is buffered
//        (StopIterationAndBuffer) and translated whole at end of stream;
//     Stream: remove content-length; every chunk is translated as it arrives (below);
//     Unreadable: the provider answered compressed: the body cannot be translated (502);
//     Pass: nothing to do (1xx/3xx, 204).
//   response body:
//     Json / Error, at end of stream: translation.responseBody(body, size) → replace the buffer
//        by translation.out (a Json answer that is not one gives false: 502 in the client's shape,
//        written into translation.out too);
//     Stream, per chunk: translation.streamChunk(chunk, size, endOfStream) → replace the chunk by
//        translation.out (possibly empty: an event cut by the chunk's end waits for the next one;
//        at most one event is held, translation.heldBytes).
//   usage: feed the response/usage_scan UsageScanner the provider's own bytes (before
//     translating): it reads every shape (Anthropic's input + cache tokens, OpenAI's), and a client
//     that did not ask for the usage chunk still has its usage counted.
import { ByteWriter, utf8 } from "./writer";
import { TranslationError, writeAnthropicError } from "./errors";
import { Target } from "./common";
import { OpenAIToAnthropic } from "./openai_anthropic";
import { AnthropicToOpenAI } from "./anthropic_openai";
import { SseSplitter } from "./sse";

export { Target } from "./common";
export { TranslationError, writeAnthropicError } from "./errors";
export { ByteWriter } from "./writer";

// The API a client speaks (from the path it called) and the API a provider speaks (its `api`).
export const enum ClientApi { OpenAI = 0, Anthropic = 1 }
export const enum BackendApi { OpenAI = 0, AzureOpenAI = 1, Anthropic = 2 }

export const enum Pair { None = 0, OpenAIToAnthropic = 1, AnthropicToOpenAI = 2 }

// The translator a (client, backend) pair needs; None when the provider speaks the client's API.
export function pairFor(client: ClientApi, backend: BackendApi): Pair {
  if (client == ClientApi.OpenAI) return backend == BackendApi.Anthropic ? Pair.OpenAIToAnthropic : Pair.None;
  return backend == BackendApi.Anthropic ? Pair.None : Pair.AnthropicToOpenAI;
}

export const enum ResponseMode { Pass = 0, Json = 1, Stream = 2, Error = 3, Unreadable = 4 }

const EVENT_STREAM = utf8("text/event-stream");
const IDENTITY = utf8("identity");

export class Translation {
  pair: Pair = Pair.None;
  mode: ResponseMode = ResponseMode.Pass;
  status: i32 = 0;
  readonly out: ByteWriter = new ByteWriter();
  readonly error: TranslationError = new TranslationError();
  private readonly events: SseSplitter = new SseSplitter();
  private readonly toAnthropic: OpenAIToAnthropic = new OpenAIToAnthropic();
  private readonly toOpenAI: AnthropicToOpenAI = new AnthropicToOpenAI();

  // A new attempt translated by `pair`; nowSeconds dates OpenAI's `created`.
  begin(pair: Pair, nowSeconds: i64): void {
    this.pair = pair;
    this.mode = ResponseMode.Pass;
    this.status = 0;
    this.out.reset();
    this.error.clear();
    this.events.reset();
    if (pair == Pair.OpenAIToAnthropic) this.toAnthropic.reset(nowSeconds);
    else if (pair == Pair.AnthropicToOpenAI) this.toOpenAI.reset();
  }

  // The client's request body [p, p + n) in the provider's API (in out). False: error is set.
  request(p: usize, n: usize, target: Target): bool {
    this.error.clear();
    if (this.pair == Pair.OpenAIToAnthropic) return this.toAnthropic.request(p, n, target, this.out, this.error);
    if (this.pair == Pair.AnthropicToOpenAI) return this.toOpenAI.request(p, n, target, this.out, this.error);
    return this.error.set(500, "no_translation", "no translation for this request");
  }

  // The request asked for a stream.
  get stream(): bool {
    return this.pair == Pair.OpenAIToAnthropic ? this.toAnthropic.stream : this.pair == Pair.AnthropicToOpenAI && this.toOpenAI.stream;
  }

  // What to do with the provider's answer, from its status, content-type and content-encoding
  // values (0 / 0 when absent).
  responseHeaders(status: i32, contentType: usize, contentTypeSize: usize, encoding: usize, encodingSize: usize): ResponseMode {
    this.status = status;
    let mode = ResponseMode.Pass;
    if (this.pair == Pair.None || status < 200 || status == 204 || (status >= 300 && status < 400)) mode = ResponseMode.Pass;
    else if (encodingSize > 0 && !isToken(encoding, encodingSize, IDENTITY)) mode = ResponseMode.Unreadable;
    else if (status >= 400) mode = ResponseMode.Error;
    else if (contentTypeSize > 0 ? isToken(contentType, contentTypeSize, EVENT_STREAM) : this.stream) mode = ResponseMode.Stream;
    else mode = ResponseMode.Json;
    this.mode = mode;
    return mode;
  }

  // A whole buffered body (Json or Error mode) translated into out. False when a Json answer is
  // not one: out then holds a 502 error in the client's shape (error set).
  responseBody(p: usize, n: usize): bool {
    if (this.mode == ResponseMode.Error) {
      if (this.pair == Pair.OpenAIToAnthropic) this.toAnthropic.error(this.status, p, n, this.out);
      else this.toOpenAI.error(this.status, p, n, this.out);
      return true;
    }
    this.error.clear();
    const ok = this.pair == Pair.OpenAIToAnthropic ? this.toAnthropic.response(p, n, this.out, this.error)
      : this.toOpenAI.response(p, n, this.out, this.error);
    if (ok) return true;
    this.out.reset();
    writeClientError(this.pair == Pair.OpenAIToAnthropic ? ClientApi.OpenAI : ClientApi.Anthropic, this.error.status, this.error.code, this.error.message, this.out);
    return false;
  }

  // One chunk of a streamed answer translated into out (reset first): every event it completes.
  streamChunk(p: usize, n: usize, endOfStream: bool): void {
    this.out.reset();
    const events = this.events;
    events.feed(p, n);
    if (this.pair == Pair.OpenAIToAnthropic) {
      this.toAnthropic.streamEvents(events, this.out);
      if (endOfStream) this.toAnthropic.streamEnd(events, this.out);
    } else if (this.pair == Pair.AnthropicToOpenAI) {
      this.toOpenAI.streamEvents(events, this.out);
      if (endOfStream) this.toOpenAI.streamEnd(events, this.out);
    }
  }

  // Bytes held for an event a chunk left unfinished (never more than that one event's).
  get heldBytes(): usize { return this.events.heldBytes; }

  // The provider's stream broke the framing (an event over sse.MAX_EVENT_BYTES): the rest is not
  // translated.
  get streamFailed(): bool { return this.events.failed; }

  // The translated stream said it was complete ([DONE] / message_stop, or an error event).
  get streamFinished(): bool {
    return this.pair == Pair.OpenAIToAnthropic ? this.toAnthropic.isFinished : this.pair == Pair.AnthropicToOpenAI && this.toOpenAI.isFinished;
  }
}

// The gateway's own error (no candidate, 413, budget, invalid JSON…) in the client's API shape.
export function writeClientError(client: ClientApi, status: i32, code: string, message: string, out: ByteWriter): void {
  if (client == ClientApi.Anthropic) {
    writeAnthropicError(out, status, message);
    return;
  }
  out.text(OPENAI_ERROR_START);
  out.escapedString(message);
  out.text(OPENAI_ERROR_TYPE);
  out.escapedString(code);
  out.text(OPENAI_ERROR_END);
}
const OPENAI_ERROR_START = utf8("{\"error\":{\"message\":\"");
const OPENAI_ERROR_TYPE = utf8("\",\"type\":\"invalid_request_error\",\"code\":\"");
const OPENAI_ERROR_END = utf8("\"}}");

// The header value [p, p + n) names `token` (case-insensitive, before any `;` parameter).
function isToken(p: usize, n: usize, token: ArrayBuffer): bool {
  let end = p + n;
  while (p < end && (load<u8>(p) == 0x20 || load<u8>(p) == 0x09)) p++;
  let q = p;
  while (q < end && load<u8>(q) != 0x3b) q++;
  end = q;
  while (end > p && (load<u8>(end - 1) == 0x20 || load<u8>(end - 1) == 0x09)) end--;
  const m = <usize>token.byteLength;
  if (end - p != m) return false;
  const t = changetype<usize>(token);
  for (let i: usize = 0; i < m; i++) {
    let c = <u32>load<u8>(p + i);
    if (c - 0x41 < 26) c |= 0x20;
    if (c != <u32>load<u8>(t + i)) return false;
  }
  return true;
}
