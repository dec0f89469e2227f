// Unary gRPC calls from a module (proxy_grpc_call), as Envoy 1.40 makes them, answered by services
// the test registers on the process (`proc.grpcServices.set(cluster, handler)`). What is emulated,
// read in cpp-host src/exports.cc (grpc_call), Envoy source/extensions/common/wasm/context.cc
// (Context::grpcCall, the call handlers) and measured on Envoy 1.40 (test/e2e/budget-store.test.ts
// "Envoy's gRPC callouts"):
// - the call belongs to the ROOT context of the calling context (exports.cc uses root_context()):
//   answers go to proxy_on_grpc_receive / proxy_on_grpc_close of the root, with the root's id, and
//   outlive the stream that asked;
// - tokens are per VM: 5, 9, 13 … (cpp-host nextGrpcCallId: 1 + 4 per call);
// - the upstream is a serialized envoy.config.core.v3.GrpcService (envoy_grpc.cluster_name); bytes
//   that do not parse as one are a bare cluster name, and an unknown bare name is ParseFailure;
// - a GrpcService naming a cluster Envoy does not have fails inside the call: proxy_on_grpc_close
//   (status 14, "Cluster not available") with the new token comes first, then proxy_grpc_call
//   returns InternalFailure;
// - an answer: proxy_on_grpc_receive(root, token, size) with the message readable as buffer 5, and
//   nothing after it; a failure: proxy_on_grpc_close(root, token, status) with proxy_get_status
//   answering the status and Envoy's message; no answer within the call's timeout: status 14
//   "upstream request timeout{response_timeout}" (not DEADLINE_EXCEEDED); a refused connection: 14
//   "upstream connect error or disconnect/reset before headers. reset reason: remote connection
//   failure{…}"; a service's own failure: its status and message, then "{via_upstream}";
// - proxy_grpc_cancel: no callback for the call any more.

export interface GrpcRequest {
  cluster: string;
  service: string;
  method: string;
  message: Uint8Array;
  timeoutMs: number;
  /** The thread of the VM that called (worker_0, main …). */
  thread: string;
}

/** What a service answers: a message, a gRPC failure, or nothing at all (the call times out). */
export type GrpcAnswer =
  | { message: Uint8Array; afterMs?: number }
  | { status: number; statusMessage?: string; afterMs?: number }
  | { hang: true };

export type GrpcService = (request: GrpcRequest) => GrpcAnswer;

export const GrpcStatus = { Unknown: 2, Unavailable: 14 } as const;
// Envoy's messages end with the stream's response code details in braces.
export const CONNECT_FAILURE: GrpcAnswer = {
  status: GrpcStatus.Unavailable,
  statusMessage: "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure" +
    "{upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}}",
};
export const TIMEOUT_MESSAGE = "upstream request timeout{response_timeout}";
export const NO_CLUSTER_MESSAGE = "Cluster not available";

/** The cluster a serialized GrpcService names (field 1 envoy_grpc → field 1 cluster_name), or null
 *  when the bytes are not one. */
export function grpcServiceCluster(bytes: Uint8Array): string | null {
  const varint = (at: { p: number }, end: number): number | null => {
    let v = 0, shift = 0;
    while (at.p < end && shift < 35) {
      const b = bytes[at.p++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
    return null;
  };
  const field = (from: number, end: number, want: number): [number, number] | null | undefined => {
    const at = { p: from };
    let found: [number, number] | undefined;
    while (at.p < end) {
      const tag = varint(at, end);
      if (tag === null) return null;
      const wire = tag & 7;
      if (wire === 0) { if (varint(at, end) === null) return null; }
      else if (wire === 2) {
        const n = varint(at, end);
        if (n === null || at.p + n > end) return null;
        if (tag >>> 3 === want) found = [at.p, at.p + n];
        at.p += n;
      } else if (wire === 1) at.p += 8;
      else if (wire === 5) at.p += 4;
      else return null;
      if (at.p > end) return null;
    }
    return found;
  };
  const grpc = field(0, bytes.length, 1);
  if (grpc === null) return null;
  if (grpc === undefined) return "";
  const name = field(grpc[0], grpc[1], 1);
  if (name === null) return null;
  return name === undefined ? "" : new TextDecoder().decode(bytes.subarray(name[0], name[1]));
}
