// Azure OpenAI: the deployment (the model's `upstreamModel`) is part of the path,
// /openai/deployments/<deployment>/<the client's path after /v1>, and every request needs the
// provider's `apiVersion` as its `api-version` query parameter (replacing one the client sent). The
// provider's `auth` is usually "api-key" (its keys go in an api-key header).
import { AMPERSAND, QUESTION, EQUALS, MINUS, DOT, UNDERSCORE, TILDE, DIGIT_0, DIGIT_9, LOWER_A, LOWER_Z, UPPER_A, UPPER_Z } from "../bytes";

const API_VERSION = "api-version";
const API_VERSION_PARAMETER = "api-version=";
const DEPLOYMENTS = "/openai/deployments/";

function isUnreserved(c: u32): bool {
  return (c >= LOWER_A && c <= LOWER_Z) || (c >= UPPER_A && c <= UPPER_Z) || (c >= DIGIT_0 && c <= DIGIT_9) ||
    c == MINUS || c == DOT || c == UNDERSCORE || c == TILDE;
}

// The deployment's path prefix, percent-encoded beyond RFC 3986's unreserved characters (computed
// once per model at configure time).
export function deploymentPath(deployment: string): ArrayBuffer {
  const bytes = Uint8Array.wrap(String.UTF8.encode(deployment));
  let text = DEPLOYMENTS;
  const hex = "0123456789ABCDEF";
  for (let i = 0; i < bytes.length; i++) {
    const c = <u32>bytes[i];
    text += isUnreserved(c) ? String.fromCharCode(c) : "%" + hex.charAt(<i32>(c >> 4)) + hex.charAt(<i32>(c & 15));
  }
  return String.UTF8.encode(text);
}

@inline function putString(q: usize, s: string): usize {
  return q + <usize>String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, q);
}

// Is the query parameter [p, p + n) named "api-version"?
function isApiVersion(p: usize, n: usize): bool {
  const k = <usize>API_VERSION.length;
  if (n < k || (n > k && load<u8>(p + k) != EQUALS)) return false;
  for (let i: usize = 0; i < k; i++) if (<i32>load<u8>(p + i) != API_VERSION.charCodeAt(<i32>i)) return false;
  return true;
}

// Writes the deployment, the path's rest [rest, rest + restSize) and the query at q (after the base
// path); returns the end. Room: deployment + restSize + apiVersion × 3 + 16 bytes.
export function writeAzureOpenAiPath(q: usize, deployment: ArrayBuffer, rest: usize, restSize: usize, apiVersion: string): usize {
  memory.copy(q, changetype<usize>(deployment), deployment.byteLength);
  q += <usize>deployment.byteLength;
  let question: usize = 0;
  while (question < restSize && load<u8>(rest + question) != QUESTION) question++;
  memory.copy(q, rest, question);
  q += question;
  store<u8>(q++, QUESTION);
  // The client's other query parameters, then api-version.
  let i = question + 1;
  while (i < restSize) {
    let j = i;
    while (j < restSize && load<u8>(rest + j) != AMPERSAND) j++;
    if (j > i && !isApiVersion(rest + i, j - i)) {
      memory.copy(q, rest + i, j - i);
      q += j - i;
      store<u8>(q++, AMPERSAND);
    }
    i = j + 1;
  }
  q = putString(q, API_VERSION_PARAMETER);
  return putString(q, apiVersion);
}
