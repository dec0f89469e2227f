// The response side of a request: what the upstream answers per attempt (or which local reply
// Envoy's router makes instead), and what the client finally receives. Texts, details and flags of
// the router's replies are the ones Envoy 1.40 produces (measured; see test/host/README.md).
import type { HeaderPairs } from "./pairs.ts";
import { ResponseFlag } from "./properties.ts";

export type Bytes = string | Uint8Array;
export type HeaderInit = Record<string, string | string[]> | HeaderPairs;

/** One body chunk of an upstream answer: `at` ms after the attempt started. */
export interface TimedChunk {
  at: number;
  data: Bytes;
}

/** What the upstream sends for one attempt (HTTP/1.1 upstream, as Envoy's codec delivers it). */
export interface UpstreamAnswer {
  status?: number;
  /** Response headers without :status. With content-length the last chunk carries end-of-stream;
   *  without it (chunked) Envoy delivers a separate empty end-of-stream data frame. */
  headers?: HeaderInit;
  /** ms after the attempt started at which the response headers arrive (default 0). */
  headersAt?: number;
  /** Body: one chunk, or chunks with their arrival times (plain strings arrive with the headers). */
  body?: Bytes | Array<TimedChunk | Bytes>;
  trailers?: HeaderInit;
  /** The upstream connection closes after this many body chunks (a mid-stream reset). */
  resetAfterChunks?: number;
}

/** Replies Envoy's router makes itself instead of an upstream response. */
export type EnvoyReplyKind =
  | "connect-failure"
  | "reset-before-response"
  | "response-timeout"
  | "no-healthy-upstream"
  | "cluster-not-found";

export interface EnvoyReplyAnswer {
  envoy: EnvoyReplyKind;
  /** For connect-failure / reset-before-response: ms after the attempt started (default 0). */
  at?: number;
}

export type AttemptAnswer = UpstreamAnswer | EnvoyReplyAnswer;

export const isEnvoyReply = (a: AttemptAnswer): a is EnvoyReplyAnswer => typeof (a as EnvoyReplyAnswer).envoy === "string";

export interface RouterReply {
  status: number;
  body: string;
  details: string;
  flags: bigint;
}

const RESET_BODY = "upstream connect error or disconnect/reset before headers. reset reason: ";

/** Router::Filter's local replies (source/common/router/router.cc) for each failure kind. */
export const ROUTER_REPLIES: Record<EnvoyReplyKind, RouterReply> = {
  "connect-failure": {
    status: 503,
    body: `${RESET_BODY}remote connection failure`,
    details: "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
    flags: ResponseFlag.UpstreamConnectionFailure,
  },
  "reset-before-response": {
    status: 503,
    body: `${RESET_BODY}connection termination`,
    details: "upstream_reset_before_response_started{connection_termination}",
    flags: ResponseFlag.UpstreamConnectionTermination,
  },
  "response-timeout": { status: 504, body: "upstream request timeout", details: "response_timeout", flags: ResponseFlag.UpstreamRequestTimeout },
  "no-healthy-upstream": { status: 503, body: "no healthy upstream", details: "no_healthy_upstream", flags: ResponseFlag.NoHealthyUpstream },
  "cluster-not-found": { status: 503, body: "", details: "cluster_not_found", flags: ResponseFlag.NoClusterFound },
};

/** A body chunk as the client received it. */
export interface ClientChunk {
  /** ms since the request started (emulated clock). */
  atMs: number;
  data: Uint8Array;
  text: string;
}

/** What the downstream client received. */
export interface ClientResponse {
  status: number;
  headers: HeaderPairs;
  chunks: ClientChunk[];
  body: Uint8Array;
  text: string;
  trailers: HeaderPairs | null;
  /** The response ended normally (end of stream reached the client). */
  complete: boolean;
  /** The stream was cut: the upstream reset mid-stream, or the client went away. */
  reset: "upstream" | "client" | null;
  /** ms since the request started at which the response headers reached the client. */
  headersAtMs: number;
  header(name: string): string | undefined;
  json(): any;
}
