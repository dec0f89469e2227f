// proxy_get_property for a stream context, following Envoy 1.40's lookup order (Context::findValue):
// the StreamInfo attributes (request.*, response.*, upstream.*, xds.*) first, then filter state
// written with proxy_set_property. A path the host does not model returns undefined so the caller
// can fall back to the properties a test configured.
import type { ProxyWasmHost } from "./host.ts";
import { hostMetadataProperty, httpToGrpcStatus, u64le } from "./properties.ts";
import type { StreamState } from "./stream.ts";

const enc = new TextEncoder();

/** Value, null (Envoy answers NOT_FOUND), or undefined (not modelled here). */
export function streamProperty(_host: ProxyWasmHost, s: StreamState, path: string): Uint8Array | null | undefined {
  const segs = path.split("\0");
  const info = s.info;
  const upstreamCtx = s.downstream !== null;
  const filterState = (s.downstream ?? s).filterState;
  switch (segs[0]) {
    case "filter_state": {
      // CelState objects live under "wasm.<name>"; a name set as a multi-segment path never matches.
      if (segs.length !== 2 || !segs[1].startsWith("wasm.")) return null;
      return filterState.get(segs[1].slice(5)) ?? null;
    }
    case "request": {
      if (!info || segs.length !== 2) return undefined;
      if (segs[1] === "time") return u64le(info.startWall);
      if (segs[1] === "duration") return info.endMono !== undefined ? u64le(info.endMono - info.startMono) : null;
      return undefined;
    }
    case "response": {
      if (!info || segs.length !== 2) return undefined;
      // An upstream filter reads the request's (downstream) code and details: the code once the
      // response is passed on, the details from the first attempt that got response headers.
      const request = upstreamCtx ? s.downstream!.info ?? info : info;
      switch (segs[1]) {
        case "code":
          return request.responseCode !== undefined ? u64le(request.responseCode) : null;
        case "code_details":
          return request.details !== undefined ? enc.encode(request.details) : null;
        case "flags":
          return u64le(upstreamCtx ? 0n : info.flags);
        case "grpc_status":
          return !upstreamCtx && info.responseCode !== undefined ? u64le(httpToGrpcStatus(info.responseCode)) : null;
        case "size":
          return upstreamCtx ? undefined : u64le(info.bytesSent);
        default:
          return undefined;
      }
    }
    case "upstream": {
      if (!info || segs.length !== 2) return undefined;
      switch (segs[1]) {
        case "address":
          return info.host ? enc.encode(info.host.address) : null;
        case "port": {
          if (!info.host) return null;
          return u64le(Number(info.host.address.slice(info.host.address.lastIndexOf(":") + 1)));
        }
        case "request_attempt_count":
          return u64le(info.attempts);
        default:
          return undefined;
      }
    }
    case "xds": {
      if (!info) return undefined;
      if (segs[1] === "cluster_name" && segs.length === 2) return info.cluster !== undefined ? enc.encode(info.cluster) : undefined;
      if (segs[1] === "upstream_host_metadata") {
        if (!info.host) return null;
        return hostMetadataProperty(info.host.metadata ?? {}, segs.slice(2)) ?? null;
      }
      return undefined;
    }
    default:
      if (segs.length === 1) {
        const v = filterState.get(segs[0]);
        if (v !== undefined) return v;
      }
      return undefined;
  }
}
