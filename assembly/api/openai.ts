// OpenAI's API, and every OpenAI-compatible one (DeepSeek, Groq, Qwen's compatible mode, vLLM ...):
// the client's path after /v1 goes under the provider's base path, query and all, as the generated
// bootstrap's provider routes rewrite it (`^(?:/v1)?(/.*)$` → base path + the rest).

// Writes the path's rest [rest, rest + restSize) at q (after the base path); returns the end.
export function writeOpenAiPath(q: usize, rest: usize, restSize: usize): usize {
  memory.copy(q, rest, restSize);
  return q + restSize;
}
