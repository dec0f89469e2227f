// Public surface of the in-process proxy-wasm test host.
export { ProxyWasmHost, WasmLoadError } from "./host.ts";
export type { HostMode, LoadOptions, RequestOptions, RequestResult, Outcome, LocalResponse, UpstreamRequest, LogEntry, PluginSpec } from "./host.ts";
export { countHostCalls, describeHostCall, type HostCall } from "./host-calls.ts";
export { EnvoyProcess, type ProcessOptions, type StartOptions } from "./process.ts";
export { EmulatedClock, DEFAULT_EPOCH_NS } from "./clock.ts";
export { SharedData, SharedQueues } from "./shared-data.ts";
export { StatsStore, MetricType, DEFAULT_BUCKETS, type MetricSnapshot, type StatsTag } from "./stats.ts";
export type { AttemptAnswer, UpstreamAnswer, EnvoyReplyAnswer, EnvoyReplyKind, ClientResponse, ClientChunk, TimedChunk } from "./response.ts";
export { ROUTER_REPLIES } from "./response.ts";
export type { AttemptRecord, ExchangeRecord, RouteSpec, RetryPolicy, UpstreamTopology, ClusterSpec, HostSpec } from "./exchange.ts";
export { ResponseFlag, metadataProto, type FilterMetadata } from "./properties.ts";
export { HeaderMap } from "./headers.ts";
export { encodePairs, decodePairs, pairsSize, type HeaderPairs } from "./pairs.ts";
export { Status, HeadersStatus, DataStatus, TrailersStatus, BufferType, MapType, registeredEnvFunctions } from "./abi.ts";
export { parseModule } from "./wasm-binary.ts";
export { GrpcStatus, CONNECT_FAILURE, TIMEOUT_MESSAGE, NO_CLUSTER_MESSAGE, grpcServiceCluster, type GrpcAnswer, type GrpcRequest, type GrpcService } from "./grpc.ts";
