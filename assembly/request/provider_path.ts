// The :path a failover attempt sends to its provider, from the path the client sent: what the
// generated bootstrap's provider routes do with a regex rewrite (`^(?:/v1)?(/.*)$` → base path +
// the rest) and, for Azure OpenAI, the deployment in the path and `api-version` in the query
// (replacing any the client sent). Built in module scratch memory: no allocation per attempt.
import { ModelSpec, ProviderSpec } from "../config/types";

let scratch: usize = 0;
let scratchSize: usize = 0;
export let providerPathSize: usize = 0;

function reserve(size: usize): void {
  if (size <= scratchSize) return;
  if (scratch != 0) heap.free(scratch);
  scratchSize = size + 128;
  scratch = heap.alloc(scratchSize);
}

@inline function putString(q: usize, s: string): usize {
  return q + <usize>String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, q);
}

@inline function putBytes(q: usize, b: ArrayBuffer): usize {
  memory.copy(q, changetype<usize>(b), b.byteLength);
  return q + <usize>b.byteLength;
}

// Is the query parameter [p, p + n) named "api-version"?
function isApiVersion(p: usize, n: usize): bool {
  const name = "api-version";
  if (n < 11 || (n > 11 && load<u8>(p + 11) != 0x3d)) return false;
  for (let i = 0; i < 11; i++) if (<i32>load<u8>(p + <usize>i) != name.charCodeAt(i)) return false;
  return true;
}

// Writes the provider's path for client path [path, path + size); returns its address
// (providerPathSize bytes, valid until the next call).
export function providerPath(p: ProviderSpec, m: ModelSpec, path: usize, size: usize): usize {
  // "/v1/x" → "/x"; anything else is kept whole (as the regex's optional group does).
  let rest = path, restSize = size;
  if (size >= 4 && load<u8>(path) == 0x2f && load<u8>(path, 1) == 0x76 && load<u8>(path, 2) == 0x31 && load<u8>(path, 3) == 0x2f) {
    rest = path + 3;
    restSize = size - 3;
  }
  const azure = p.apiVersion.length > 0;
  reserve(<usize>p.basePath.length * 3 + restSize + <usize>m.deploymentPath.byteLength + <usize>p.apiVersion.length * 3 + 32);
  let q = putString(scratch, p.basePath);
  if (!azure) {
    memory.copy(q, rest, restSize);
    providerPathSize = q + restSize - scratch;
    return scratch;
  }
  q = putBytes(q, m.deploymentPath);
  let question: usize = 0;
  while (question < restSize && load<u8>(rest + question) != 0x3f) question++;
  memory.copy(q, rest, question);
  q += question;
  store<u8>(q++, 0x3f);
  // The client's other query parameters, then api-version.
  let i = question + 1;
  while (i < restSize) {
    let j = i;
    while (j < restSize && load<u8>(rest + j) != 0x26) j++;
    if (j > i && !isApiVersion(rest + i, j - i)) {
      memory.copy(q, rest + i, j - i);
      q += j - i;
      store<u8>(q++, 0x26);
    }
    i = j + 1;
  }
  q = putString(q, "api-version=");
  q = putString(q, p.apiVersion);
  providerPathSize = q - scratch;
  return scratch;
}
