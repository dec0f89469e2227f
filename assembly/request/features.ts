// What the body scan learns about a request: one instance, reset and refilled per request, so the
// hot path allocates nothing for it.
import { ClientError } from "./client_error";

// Text parts of one user message kept per request; a message with more parts keeps its first ones.
export const MAX_USER_TEXT_SPANS: i32 = 16;

// Names of a client's `models` list (OpenRouter's fallbacks) read per request; later ones are not
// looked at (no configuration honours more than three fallbacks).
export const MAX_CLIENT_MODELS: i32 = 8;

export class RequestFeatures {
  error: ClientError = ClientError.None; // one of the body's errors (InvalidJson … InvalidModels)
  errorOffset: usize = 0;         // byte offset of a JSON syntax error
  modelStart: usize = 0;          // offset of the model value's opening quote
  modelEnd: usize = 0;            // offset just past its closing quote
  modelHasEscape: bool = false;
  modelCount: i32 = 0;
  stream: bool = false;
  maxTokens: f64 = -1;            // max_tokens, -1 when absent
  maxCompletionTokens: f64 = -1;
  maxOutputTokens: f64 = -1;
  maxTokensInvalid: bool = false; // a max_*tokens value that is not a non-negative integer or null
  textBytes: usize = 0;           // decoded UTF-8 bytes of message text
  hasImages: bool = false;
  hasTools: bool = false;
  wantsJson: bool = false;
  // Not from the body: which of the configuration's `paths` the request was sent to, set by the
  // filter after the scan (the candidate filter keeps models whose `endpoints` include it).
  pathIndex: i32 = 0;
  // Where the last user message's text is: raw JSON string contents (between the quotes, escapes
  // not decoded) as [start, end) byte offsets into the body, in document order. Recorded, never
  // copied: task detection decodes only what it examines, and only when a route needs it.
  readonly userTextSpans: StaticArray<u32> = new StaticArray<u32>(MAX_USER_TEXT_SPANS * 2);
  userTextSpanCount: i32 = 0;
  // The conversation before the last user message ([start, end) of raw JSON: earlier turns and
  // system messages), and the top-level `system` / `instructions` value: searched for code only
  // when detection runs.
  contextStart: u32 = 0;
  contextEnd: u32 = 0;
  systemStart: u32 = 0;
  systemEnd: u32 = 0;
  // A top-level `models` list (OpenRouter): where the member is, so it can be taken out of the body,
  // and its first string items ([start, end) with quotes). The member spans [modelsKeyStart,
  // modelsEnd): from its name's opening quote to the next member's name, or (when it is the last
  // member) to the object's closing brace; modelsCommaBefore is the comma before it (0: none).
  modelsCount: i32 = 0;
  modelsInvalid: bool = false;    // not an array of strings
  modelsKeyStart: u32 = 0;
  modelsEnd: u32 = 0;
  modelsHasNext: bool = false;
  modelsCommaBefore: u32 = 0;
  modelsItemCount: i32 = 0;       // string items recorded (at most MAX_CLIENT_MODELS)
  readonly modelsItems: StaticArray<u32> = new StaticArray<u32>(MAX_CLIENT_MODELS * 2);
  modelsItemEscapes: u32 = 0;     // bit i: item i contains escapes
  // No top-level `model`, but a `models` list: its first item is the model (OpenRouter); then
  // modelStart/modelEnd point at that item and the rewrite puts a `model` member in its place.
  modelFromList: bool = false;

  reset(): void {
    this.error = ClientError.None;
    this.errorOffset = 0;
    this.modelStart = 0;
    this.modelEnd = 0;
    this.modelHasEscape = false;
    this.modelCount = 0;
    this.stream = false;
    this.maxTokens = -1;
    this.maxCompletionTokens = -1;
    this.maxOutputTokens = -1;
    this.maxTokensInvalid = false;
    this.textBytes = 0;
    this.hasImages = false;
    this.hasTools = false;
    this.wantsJson = false;
    this.userTextSpanCount = 0;
    this.contextStart = 0;
    this.contextEnd = 0;
    this.systemStart = 0;
    this.systemEnd = 0;
    this.modelsCount = 0;
    this.modelsInvalid = false;
    this.modelsKeyStart = this.modelsEnd = this.modelsCommaBefore = 0;
    this.modelsHasNext = false;
    this.modelsItemCount = 0;
    this.modelsItemEscapes = 0;
    this.modelFromList = false;
  }

  // Requested output tokens, in the order chat, newer chat, Responses API.
  requestedOutputTokens(): f64 {
    if (this.maxTokens >= 0) return this.maxTokens;
    if (this.maxCompletionTokens >= 0) return this.maxCompletionTokens;
    return this.maxOutputTokens;
  }
}
