// Error bodies in each client API's shape, and the one a translation answers with when a request
// cannot be carried over.
//   OpenAI:    {"error":{"message":…,"type":…,"param":null,"code":…}}
//   Anthropic: {"type":"error","error":{"type":…,"message":…}}, the type by status as Anthropic
//              documents it (docs.claude.com/en/api/errors; 402 and 504 from the SDK's ErrorType).
import { ByteWriter, utf8 } from "./writer";

const ANTHROPIC_ERROR_START = utf8("{\"type\":\"error\",\"error\":{\"type\":\"");
const ANTHROPIC_MESSAGE = utf8("\",\"message\":\"");
const ERROR_END = utf8("\"},\"request_id\":null}");
const OPENAI_ERROR_START = utf8("{\"error\":{\"message\":\"");
const OPENAI_TYPE = utf8("\",\"type\":\"");
const OPENAI_CODE = utf8("\",\"param\":null,\"code\":");
const NULL = utf8("null");
const OBJECT_END = utf8("}}");

const INVALID_REQUEST = utf8("invalid_request_error");
const AUTHENTICATION = utf8("authentication_error");
const BILLING = utf8("billing_error");
const PERMISSION = utf8("permission_error");
const NOT_FOUND = utf8("not_found_error");
const TOO_LARGE = utf8("request_too_large");
const RATE_LIMIT = utf8("rate_limit_error");
const API_ERROR = utf8("api_error");
const TIMEOUT = utf8("timeout_error");
const OVERLOADED = utf8("overloaded_error");

// Anthropic's error type for an HTTP status.
export function anthropicErrorType(status: i32): ArrayBuffer {
  switch (status) {
    case 400: return INVALID_REQUEST;
    case 401: return AUTHENTICATION;
    case 402: return BILLING;
    case 403: return PERMISSION;
    case 404: return NOT_FOUND;
    case 413: return TOO_LARGE;
    case 429: return RATE_LIMIT;
    case 504: return TIMEOUT;
    case 529: return OVERLOADED;
  }
  return status >= 500 ? API_ERROR : INVALID_REQUEST;
}

// OpenAI's error type for an HTTP status (what its API answers with; the type names its clients
// read).
const OPENAI_RATE_LIMIT = utf8("rate_limit_error");
const OPENAI_SERVER = utf8("server_error");
const OPENAI_AUTHENTICATION = utf8("authentication_error");
const OPENAI_PERMISSION = utf8("permission_error");
const OPENAI_NOT_FOUND = utf8("not_found_error");
export function openaiErrorType(status: i32): ArrayBuffer {
  switch (status) {
    case 401: return OPENAI_AUTHENTICATION;
    case 403: return OPENAI_PERMISSION;
    case 404: return OPENAI_NOT_FOUND;
    case 429: return OPENAI_RATE_LIMIT;
  }
  return status >= 500 ? OPENAI_SERVER : INVALID_REQUEST;
}

// {"type":"error","error":{"type":…,"message":…}} with a message that is a JSON string body already.
export function writeAnthropicErrorRaw(out: ByteWriter, type: ArrayBuffer, message: usize, messageSize: usize): void {
  out.text(ANTHROPIC_ERROR_START);
  out.text(type);
  out.text(ANTHROPIC_MESSAGE);
  out.bytes(message, messageSize);
  out.text(ERROR_END);
}

// The gateway's own errors on an Anthropic endpoint (no candidate, 413, budget, invalid JSON…): the
// body for `status` with `message` (plain text, escaped here).
export function writeAnthropicError(out: ByteWriter, status: i32, message: string): void {
  out.text(ANTHROPIC_ERROR_START);
  out.text(anthropicErrorType(status));
  out.text(ANTHROPIC_MESSAGE);
  out.escapedString(message);
  out.text(ERROR_END);
}

// {"error":{"message":…,"type":…,"param":null,"code":…}}: message a JSON string body already, code
// a JSON string body or none (null).
export function writeOpenAIErrorRaw(out: ByteWriter, message: usize, messageSize: usize, type: usize, typeSize: usize, code: usize, codeSize: usize): void {
  out.text(OPENAI_ERROR_START);
  out.bytes(message, messageSize);
  out.text(OPENAI_TYPE);
  out.bytes(type, typeSize);
  out.text(OPENAI_CODE);
  if (code == 0) out.text(NULL);
  else out.quoted(code, codeSize);
  out.text(OBJECT_END);
}

// Why a request cannot be translated: the status and body the client gets, in its API's shape.
export class TranslationError {
  status: i32 = 0;
  code: string = "";     // OpenAI's `code` (snake case, stable)
  message: string = "";  // plain text naming the field and the model

  set(status: i32, code: string, message: string): bool {
    this.status = status;
    this.code = code;
    this.message = message;
    return false;
  }

  clear(): void {
    this.status = 0;
    this.code = "";
    this.message = "";
  }

  // A field of the request the provider's API cannot honour: 400 naming the field and the model.
  refuse(field: string, why: string, model: string, because: string): bool {
    return this.set(400, "unsupported_parameter", "`" + field + "` " + why + ": model " + model + " " + because);
  }

  // A field that is not what the client's own API takes.
  invalid(field: string, why: string): bool {
    return this.set(400, "invalid_request_error", "`" + field + "` " + why);
  }

  get failed(): bool { return this.status != 0; }
}
