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

// Response headers a gateway must leave to the provider or to HTTP itself: cookies, authentication
// challenges, redirects, caching and security policies a browser would obey. A header the plugin's
// routes add under one of these names would let a model name (or a decision text) act as one.
const RESPONSE_OWNED_HEADERS: string[] = [
  "set-cookie", "set-cookie2", "www-authenticate", "proxy-authenticate", "authentication-info", "location", "refresh",
  "content-location", "content-disposition", "content-security-policy", "strict-transport-security", "x-frame-options",
  "cache-control", "expires", "pragma", "vary", "age", "etag", "last-modified", "date", "server", "retry-after", "link",
  "alt-svc", "clear-site-data",
];
const RESPONSE_OWNED_PREFIXES: string[] = ["access-control-", "x-envoy-", "cross-origin-"];

// checkHeaderName for a header this plugin's routes add to responses (servedModelHeader, decisionHeader).
export function checkResponseHeaderName(name: string, where: string): bool {
  if (!checkHeaderName(name, where)) return false;
  let owned = RESPONSE_OWNED_HEADERS.includes(name);
  for (let i = 0; i < RESPONSE_OWNED_PREFIXES.length && !owned; i++) owned = name.startsWith(RESPONSE_OWNED_PREFIXES[i]);
  if (owned) return fail(where, "\"" + name + "\" is a response header clients act on; expected a header of your own, such as x-llm-served-model");
  return true;
}

// An optional header-name field; `fallback` when absent, null after an error.
export function readHeaderName(obj: JsonValue, key: string, path: string, fallback: string, response: bool = false): string | null {
  const value = readString(obj, key, path, false);
  if (configError.length > 0) return null;
  const name = value !== null ? value : fallback;
  const where = join(path, key);
  return (response ? checkResponseHeaderName(name, where) : checkHeaderName(name, where)) ? name : null;
}
