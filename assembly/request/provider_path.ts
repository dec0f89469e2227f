// The :path a failover attempt sends to its provider, from the path the client sent: "/v1" comes
// off (as the generated bootstrap's provider routes' regex rewrite `^(?:/v1)?(/.*)$` takes it), the
// provider's base path goes in front, and the provider's API (api/) writes the rest. Built in module
// scratch memory: no allocation per attempt.
import { ByteBuffer } from "../abi/byte_buffer";
import { Api } from "../api/apis";
import { writeAzureOpenAiPath } from "../api/azure_openai";
import { writeOpenAiPath } from "../api/openai";
import { DIGIT_1, LOWER_V, SLASH } from "../bytes";
import { ModelSpec, ProviderSpec } from "../config/types";

const built = new ByteBuffer();

// Writes the provider's path for client path [path, path + size) (valid until the next call).
export function providerPath(p: ProviderSpec, m: ModelSpec, path: usize, size: usize): ByteBuffer {
  // "/v1/x" → "/x"; anything else is kept whole (as the regex's optional group does).
  let rest = path, restSize = size;
  if (size >= 4 && load<u8>(path) == SLASH && load<u8>(path, 1) == LOWER_V && load<u8>(path, 2) == DIGIT_1 && load<u8>(path, 3) == SLASH) {
    rest = path + 3;
    restSize = size - 3;
  }
  const start = built.reserve(<usize>p.basePath.length * 3 + restSize + <usize>m.deploymentPath.byteLength + <usize>p.apiVersion.length * 3 + 32, 128);
  let q = start + <usize>String.UTF8.encodeUnsafe(changetype<usize>(p.basePath), p.basePath.length, start);
  switch (p.api) {
    case Api.AzureOpenAI: q = writeAzureOpenAiPath(q, m.deploymentPath, rest, restSize, p.apiVersion); break;
    default: q = writeOpenAiPath(q, rest, restSize);
  }
  built.size = q - start;
  return built;
}
