// Public surface of the in-process proxy-wasm test host.
export { ProxyWasmHost, WasmLoadError } from "./host.ts";
export type { HostMode, LoadOptions, RequestOptions, RequestResult, Outcome, LocalResponse, UpstreamRequest, LogEntry } from "./host.ts";
export { HeaderMap } from "./headers.ts";
export { encodePairs, decodePairs, pairsSize, type HeaderPairs } from "./pairs.ts";
export { Status, HeadersStatus, DataStatus, TrailersStatus, BufferType, MapType, registeredEnvFunctions } from "./abi.ts";
export { parseModule } from "./wasm-binary.ts";
