// Numeric values of the proxy-wasm 0.2.1 enums this plugin uses (proxy-wasm-cpp-sdk proxy_wasm_enums.h).

export const enum Status { Ok = 0, NotFound = 1, BadArgument = 2, CasMismatch = 8 }
export const enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export const enum BufferType { RequestBody = 0, ResponseBody = 1, GrpcReceive = 5, VmConfiguration = 6, PluginConfiguration = 7 }
export const enum StreamType { Request = 0, Response = 1 }
export const enum MapType { RequestHeaders = 0, ResponseHeaders = 2 }
export const enum HeadersAction { Continue = 0, StopIteration = 1 }
export const enum BodyAction { Continue = 0, StopIterationAndBuffer = 1 }
export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }
