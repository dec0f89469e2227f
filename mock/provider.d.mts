// Types for mock/provider.mjs (used by the TypeScript tests).
import type { IncomingHttpHeaders } from "node:http";

export interface MockKnobs {
  ttftMs: number;
  tokensPerSecond: number;
  failureRate: number;
  failureStatus: number;
  /** prompt tokens reported as served from the provider's cache (usage.prompt_tokens_details.cached_tokens); 0: no details */
  cachedTokens: number;
  /** chat and completion answers carry no usage object */
  omitUsage: boolean;
  /** how a failing request fails: an error status, a closed connection, or a cut 200 answer; on
   *  /messages streams also "error-event": Anthropic's overloaded_error event after the first delta */
  failureMode: "status" | "reset" | "midstream" | "error-event";
  /** emulate the provider's automatic prompt caching per model (mock/prompt-cache.mjs); off by default */
  promptCache: boolean;
  /** how long a cached prefix lives after it was last sent (default 300000) */
  promptCacheTtlMs: number;
}

export interface MockProviderOptions extends Partial<MockKnobs> {
  host?: string;
  port?: number;
  name?: string;
  /** when set, requests must carry this key (Authorization: Bearer, api-key or x-api-key), else 401 */
  apiKey?: string;
  log?: (line: string) => void;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  receivedAt: number;
}

export interface MockProvider {
  port: number;
  url: string;
  name: string;
  requests: RecordedRequest[];
  knobs: MockKnobs;
  setKnobs(partial: Partial<MockKnobs>): void;
  close(): Promise<void>;
}

export function startMockProvider(options?: MockProviderOptions): Promise<MockProvider>;

/** The mock's embedding of the index-th input of an embeddings request (8 numbers, always the same). */
export function embeddingOf(index: number): number[];
