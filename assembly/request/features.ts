// What the body scan learns about a request: one instance, reset and refilled per request, so the
// hot path allocates nothing for it.

export const enum BodyError {
  None = 0,
  InvalidJson,
  NotAnObject,
  TooDeep,
  MissingModel,
  InvalidModel,
  DuplicateModel,
  InvalidMaxTokens,
}

export class RequestFeatures {
  error: BodyError = BodyError.None;
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

  reset(): void {
    this.error = BodyError.None;
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
  }

  // Requested output tokens, in the order chat, newer chat, Responses API.
  requestedOutputTokens(): f64 {
    if (this.maxTokens >= 0) return this.maxTokens;
    if (this.maxCompletionTokens >= 0) return this.maxCompletionTokens;
    return this.maxOutputTokens;
  }
}
