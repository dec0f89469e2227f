// Header names the configuration may use. The plugin sets and strips these on every request, so a
// name that Envoy or the HTTP framing owns (content-length, host, :path ...) would break every
// request; credentials headers are refused where a static value would put a key into a file.
import {
  APOSTROPHE, ASTERISK, BACKTICK, CARET, DIGIT_0, DIGIT_9, DOT, EXCLAMATION, HASH, LOWER_A, LOWER_Z, MINUS,
  PIPE, PLUS, TILDE, UNDERSCORE,
} from "../bytes";
import { JsonValue } from "../json/tree";
import { fail, configError } from "./errors";
import { join, readString } from "./fields";

const FRAMING_HEADERS: string[] = [
  "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
  "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect",
];
// The plugin sets its headers on the forwarded request and strips client copies: owning one of
// these would replace the client's or the provider's credentials.
const CREDENTIAL_HEADERS: string[] = ["authorization", "proxy-authorization", "cookie", "api-key", "x-api-key"];

// RFC 9110 token characters, lower-case letters only.
function isTokenChar(c: u32): bool {
  if ((c >= LOWER_A && c <= LOWER_Z) || (c >= DIGIT_0 && c <= DIGIT_9)) return true;
  return c == EXCLAMATION || (c >= HASH && c <= APOSTROPHE) || c == ASTERISK || c == PLUS || c == MINUS || c == DOT ||
    c == CARET || c == UNDERSCORE || c == BACKTICK || c == PIPE || c == TILDE;
}

// Records an error and returns false unless `name` is a header the plugin may own.
export function checkHeaderName(name: string, where: string): bool {
  if (name.startsWith(":")) return fail(where, "\"" + name + "\" is a pseudo-header; expected an ordinary header name");
  if (name.length == 0) return fail(where, "expected a header name");
  for (let i = 0; i < name.length; i++) {
    if (isTokenChar(<u32>name.charCodeAt(i))) continue;
    const lower = name.toLowerCase();
    if (lower != name) return fail(where, "expected a lower-case header name (\"" + lower + "\")");
    return fail(where, "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
  }
  if (FRAMING_HEADERS.includes(name)) return fail(where, "\"" + name + "\" belongs to HTTP framing; expected a header of your own, such as x-llm-upstream");
  if (CREDENTIAL_HEADERS.includes(name)) return fail(where, "\"" + name + "\" carries credentials; expected a header of your own, such as x-llm-upstream");
  return true;
}

// An optional header-name field; `fallback` when absent, null after an error.
export function readHeaderName(obj: JsonValue, key: string, path: string, fallback: string): string | null {
  const value = readString(obj, key, path, false);
  if (configError.length > 0) return null;
  const name = value !== null ? value : fallback;
  return checkHeaderName(name, join(path, key)) ? name : null;
}
