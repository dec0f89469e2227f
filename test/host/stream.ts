// Per-request state of one HTTP stream as Envoy's wasm filter (source/extensions/common/wasm/
// context.cc) and the HCM filter manager see it, plus cpp-host's return-value conversions.
import { DataStatus, HeadersStatus, TrailersStatus } from "./abi.ts";
import { HeaderMap } from "./headers.ts";
import type { UpstreamHostInfo } from "./properties.ts";

/**
 * Growable byte buffer standing in for Buffer::Instance. Appending chunk by chunk is amortised
 * O(1) so that many tiny chunks (decodeData called per chunk) stay cheap.
 */
export class BodyBuffer {
  private data: Uint8Array;
  private start = 0;
  length = 0;
  constructor(capacity = 0) {
    // A sized buffer keeps the headroom too: a chunk's filter may replace its first bytes.
    this.start = capacity > 0 ? BodyBuffer.HEADROOM : 0;
    this.data = new Uint8Array(capacity > 0 ? capacity + BodyBuffer.HEADROOM : 0);
  }
  bytes(): Uint8Array {
    return this.data.subarray(this.start, this.start + this.length);
  }
  // Free room kept in front of the bytes, so that replacing a body's first bytes by a slightly
  // longer prefix (drain + prepend) costs what it costs Envoy, whose prepend adds a slice: the
  // prefix's bytes, not a copy of the whole body.
  private static readonly HEADROOM = 256;
  private ensure(extra: number): void {
    const need = this.length + extra;
    if (this.start + need <= this.data.length) return;
    const head = BodyBuffer.HEADROOM;
    if (head + need <= this.data.length) {
      this.data.copyWithin(head, this.start, this.start + this.length);
    } else {
      const next = new Uint8Array(Math.max(head + need, this.data.length * 2, 256));
      next.set(this.bytes(), head);
      this.data = next;
    }
    this.start = head;
  }
  append(chunk: Uint8Array): void {
    this.ensure(chunk.length);
    this.data.set(chunk, this.start + this.length);
    this.length += chunk.length;
  }
  drain(n: number): void {
    n = Math.min(n, this.length);
    this.start += n;
    this.length -= n;
  }
  /** Takes ownership of `chunk` (the caller must not reuse it). */
  prepend(chunk: Uint8Array): void {
    if (this.length === 0) {
      // A whole-body replacement (drain everything, then prepend): adopt the caller's fresh copy,
      // as Envoy's copyFrom does one memcpy, instead of copying it a second time here.
      this.data = chunk;
      this.start = 0;
      this.length = chunk.length;
      return;
    }
    if (chunk.length <= this.start) {
      this.start -= chunk.length;
      this.data.set(chunk, this.start);
      this.length += chunk.length;
      return;
    }
    const next = new Uint8Array(Math.max(chunk.length + this.length, 256));
    next.set(chunk, 0);
    next.set(this.bytes(), chunk.length);
    this.data = next;
    this.start = 0;
    this.length = chunk.length + this.length;
  }
  clear(): void {
    this.start = 0;
    this.length = 0;
  }
}

export interface LocalReply {
  status: number;
  details: string;
  body: Uint8Array;
  headers: Array<[string, string]>;
  grpcStatus: number;
}

export interface CallbackReturn {
  callback:
    | "on_request_headers"
    | "on_request_body"
    | "on_request_trailers"
    | "on_response_headers"
    | "on_response_body"
    | "on_response_trailers";
  raw: number;
  converted: number;
  /** True when send_local_response during the call forced the converted value. */
  localReply: boolean;
}

/** The parts of Envoy's StreamInfo a filter can read as properties. */
export class StreamInfo {
  responseCode: number | undefined;
  details: string | undefined;
  flags = 0n;
  /** upstream.request_attempt_count: 0 until the router picked a cluster. */
  attempts = 0;
  host: UpstreamHostInfo | undefined;
  /** xds.cluster_name: the route's cluster (an aggregate's own name), once it exists. */
  cluster: string | undefined;
  /** Body bytes sent to the client so far (response.size). */
  bytesSent = 0;
  endMono: bigint | undefined;
  constructor(
    readonly startWall: bigint,
    readonly startMono: bigint,
  ) {}
}

/** The root context of one plugin inside a VM. */
export interface RootContext {
  id: number;
  rootId: string;
  name: string;
  configuration: Uint8Array;
  /** The filter runs as a router upstream filter (once per attempt). */
  upstream: boolean;
  /** allow_on_headers_stop_iteration of this plugin's PluginConfig. */
  passStopIteration: boolean;
  tickPeriodMs: number;
  tickTimer: { cancel(): void } | null;
  /** Upstream filter: the downstream root ids whose router runs it (null: all). */
  forDownstream: string[] | null;
}

export class StreamState {
  root: RootContext | null = null;
  info: StreamInfo | null = null;
  /** For an upstream filter's context: the downstream stream it serves (filter state lives there). */
  downstream: StreamState | null = null;
  /** For an upstream filter's context: its attempt number and host. */
  attempt = 0;
  /** response_headers_: set while the response-headers callback (or a stop) holds them. */
  respHeaders: HeaderMap | null = null;
  respHeadersHeld = false;
  /** The response headers went on (to the next filter or the client). */
  respHeadersSent = false;
  respTrailers: HeaderMap | null = null;
  /** Response body visible through buffer type 1 in the current callback. */
  respBody: BodyBuffer | null = null;
  respBuffered = new BodyBuffer();
  respBuffering = false;
  inResponse = false;
  /** on_log: the access-log phase reads the final request and response headers. */
  accessLog: { request: HeaderMap; response: HeaderMap | null; trailers: HeaderMap | null } | null = null;
  /** request_headers_ in Envoy's Context: null after a Continue from the headers callback. */
  headersHeld = false;
  /** request_trailers_: set only while (and after) decodeTrailers ran. */
  trailers: HeaderMap | null = null;
  /** Body visible through buffer type 0 in the current callback (null outside body/trailers). */
  body: BodyBuffer | null = null;
  /** Data buffered in the filter manager because the previous data return was StopIterationAndBuffer. */
  buffered = new BodyBuffer();
  buffering = false;
  inBodyCallback = false;
  bufferLimit: number;
  localReply: LocalReply | null = null;
  localReplyCount = 0;
  /** Set by send_local_response during a guest call; consumed when the call returns. */
  stopNextIteration = false;
  continueRequested = false;
  closeRequested = false;
  routeCacheClears = 0;
  routeCacheDirty = false;
  /** Higress `clear_route_cache=off`. */
  autoClearDisabled = false;
  rejectedHeaderMutations = 0;
  /** proxy_set_property values (Envoy keeps them in filter state). */
  filterState = new Map<string, Uint8Array>();
  returns: CallbackReturn[] = [];
  done = false;
  constructor(
    readonly id: number,
    readonly headers: HeaderMap,
    readonly properties: Map<string, Uint8Array> | null,
    bufferLimit: number,
  ) {
    this.bufferLimit = bufferLimit;
  }
}

/**
 * cpp-host convertVmCallResultToFilterHeadersStatus: clamp (> 4 → StopAllIterationAndWatermark),
 * StopIteration → StopAllIterationAndWatermark unless the host passes it through, and the
 * "next iteration stopped" override after send_local_response.
 */
export function convertHeaders(raw: number, passStopIteration: boolean, stopped: boolean): number {
  if (stopped || raw > HeadersStatus.StopAllIterationAndWatermark || raw < 0) return HeadersStatus.StopAllIterationAndWatermark;
  if (raw === HeadersStatus.StopIteration && !passStopIteration) return HeadersStatus.StopAllIterationAndWatermark;
  return raw;
}

export function convertData(raw: number, stopped: boolean): number {
  if (stopped || raw > DataStatus.StopIterationNoBuffer || raw < 0) return DataStatus.StopIterationNoBuffer;
  return raw;
}

export function convertTrailers(raw: number, stopped: boolean): number {
  if (stopped || raw > TrailersStatus.StopIteration || raw < 0) return TrailersStatus.StopIteration;
  return raw;
}
