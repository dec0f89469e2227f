// The downstream request path through the Wasm filter: decodeHeaders / decodeData /
// decodeTrailers with Envoy's status conversions (cpp-host convertVmCallResult*), the filter
// manager's buffering and 413, the filter's local replies, and handing headers and data to the
// router (Exchange) as the filter lets them through.
import { DataStatus, HeadersStatus, TrailersStatus } from "./abi.ts";
import type { Exchange } from "./exchange.ts";
import { HeaderMap } from "./headers.ts";
import { makeLocal, type ProxyWasmHost, type RequestOptions, type RequestResult } from "./host.ts";
import { BodyBuffer, convertData, convertHeaders, convertTrailers, type StreamState } from "./stream.ts";

const enc = new TextEncoder();
const toBytes = (b: string | Uint8Array): Uint8Array => (typeof b === "string" ? enc.encode(b) : b);

function splitBody(req: RequestOptions): Uint8Array[] | null {
  if (req.chunks) return req.chunks.map(toBytes);
  if (req.body === undefined) return null;
  const body = toBytes(req.body);
  const n = req.chunkSize;
  if (!n || n >= body.length) return [body];
  const out: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += n) out.push(body.subarray(i, Math.min(body.length, i + n)));
  return out;
}

/** The downstream decode path; the router (Exchange) receives what the filter lets through. */
export function runDecodePath(host: ProxyWasmHost, s: StreamState, req: RequestOptions, res: RequestResult, ex: Exchange): void {
  const chunks = splitBody(req);
  const trailers = req.trailers !== undefined ? HeaderMap.from(req.trailers) : null;
  const endOnHeaders = (chunks === null || chunks.length === 0) && trailers === null;
  const id = s.id;
  // The HCM selects the route (and so resolves cluster_header) before the filter chain runs.
  ex.selectRoute();
  let released = false;
  const upstreamBody = new BodyBuffer();

  const local = (): void => {
    res.outcome = "local";
    res.localResponse = makeLocal(s.localReply!, "plugin");
    res.finalBody = s.buffered.bytes().slice();
  };
  // Headers leave the filter: the router takes the cached route unless the cache was cleared.
  const release = (endStream: boolean): boolean => {
    released = true;
    const r = ex.onRequestHeaders(endStream);
    if (r === "ok") return true;
    res.outcome = r === "cluster-not-found" ? "no-cluster" : "envoy-reply";
    return false;
  };
  const forward = (data: Uint8Array, endStream: boolean): void => {
    upstreamBody.append(data);
    ex.onRequestData(data, endStream);
  };
  const tooLarge = (): void => {
    res.outcome = "too-large";
    res.localResponse = makeLocal(
      { status: 413, details: "request_payload_too_large", body: enc.encode("Payload Too Large"), headers: [], grpcStatus: -1 },
      "envoy",
    );
    res.finalBody = s.buffered.bytes().slice();
  };

  // ---- decodeHeaders
  s.headersHeld = true;
  const rawH = host.callStream(s, host.fns.requestHeaders!, id, s.headers.size, endOnHeaders ? 1 : 0);
  const convH = convertHeaders(rawH, host.passStopIteration, s.stopNextIteration);
  s.returns.push({ callback: "on_request_headers", raw: rawH, converted: convH, localReply: s.localReply !== null });
  s.stopNextIteration = false;
  if (s.localReply) return local();
  if (s.closeRequested) {
    res.outcome = "reset";
    return;
  }
  let dropBody = false;
  if (convH === HeadersStatus.Continue || convH === HeadersStatus.ContinueAndEndStream) {
    // Envoy: `request_headers_ = nullptr` — later mutations get BAD_ARGUMENT.
    s.headersHeld = false;
    dropBody = convH === HeadersStatus.ContinueAndEndStream;
    if (!release(endOnHeaders || dropBody)) return;
  } else if (convH !== HeadersStatus.StopIteration) {
    // StopAll: no body callback until proxy_continue_stream, which this plugin cannot call later.
    if (!s.continueRequested) {
      res.outcome = "stalled";
      return;
    }
    s.continueRequested = false;
    if (!release(endOnHeaders)) return;
  }
  if (endOnHeaders) {
    if (!released) {
      res.outcome = "stalled";
      return;
    }
  }

  // ---- decodeData, once per chunk
  if (chunks && !dropBody) {
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      const eos = i === chunks.length - 1 && trailers === null;
      let visible: BodyBuffer;
      if (s.buffering) {
        // Previous return was StopIterationAndBuffer: addDecodedData, then the filter sees it all.
        s.buffered.append(chunk);
        if (s.buffered.length > s.bufferLimit) return tooLarge();
        visible = s.buffered;
      } else {
        visible = new BodyBuffer(chunk.length);
        visible.append(chunk);
      }
      s.body = visible;
      res.bodyCallbacks++;
      let rawD: number;
      try {
        rawD = host.callStream(s, host.fns.requestBody ?? (() => 0), id, visible.length, eos ? 1 : 0);
      } finally {
        s.body = null;
      }
      const convD = convertData(rawD, s.stopNextIteration);
      s.returns.push({ callback: "on_request_body", raw: rawD, converted: convD, localReply: s.localReply !== null });
      s.stopNextIteration = false;
      if (s.localReply) return local();
      if (s.closeRequested) {
        res.outcome = "reset";
        return;
      }
      if (convD === DataStatus.Continue) {
        if (!released && !release(false)) {
          upstreamBody.append(visible.bytes());
          res.finalBody = upstreamBody.bytes().slice();
          return;
        }
        forward(visible.bytes(), eos);
        s.buffered.clear();
        s.buffering = false;
      } else if (convD === DataStatus.StopIterationAndBuffer || convD === DataStatus.StopIterationAndWatermark) {
        if (visible !== s.buffered) {
          s.buffered.clear();
          s.buffered.append(visible.bytes());
        }
        s.buffering = true;
        // Above the buffer limit Envoy answers 413 (watermark mode only applies back-pressure).
        if (convD === DataStatus.StopIterationAndBuffer && s.buffered.length > s.bufferLimit) return tooLarge();
      } else {
        // StopIterationNoBuffer: the filter manager keeps nothing of this chunk.
        s.buffered.clear();
        s.buffering = false;
      }
    }
  }

  // ---- decodeTrailers
  if (trailers) {
    s.trailers = trailers;
    if (s.buffering) s.body = s.buffered;
    let rawT: number;
    try {
      rawT = host.callStream(s, host.fns.requestTrailers ?? (() => 0), id, trailers.size);
    } finally {
      s.body = null;
    }
    const convT = convertTrailers(rawT, s.stopNextIteration);
    s.returns.push({ callback: "on_request_trailers", raw: rawT, converted: convT, localReply: s.localReply !== null });
    s.stopNextIteration = false;
    if (s.localReply) return local();
    if (convT === TrailersStatus.Continue) {
      if (!released && !release(false)) {
        upstreamBody.append(s.buffered.bytes());
        res.finalBody = upstreamBody.bytes().slice();
        return;
      }
      if (s.buffered.length > 0) forward(s.buffered.bytes().slice(), false);
      ex.onRequestTrailers();
      s.buffered.clear();
      s.buffering = false;
    } else {
      res.outcome = "stalled";
      res.finalBody = s.buffered.bytes().slice();
      return;
    }
  }

  if (!released || s.buffering) {
    // The filter never let the request go (or kept buffering after the last chunk).
    res.outcome = "stalled";
    res.finalBody = s.buffering ? s.buffered.bytes().slice() : upstreamBody.bytes().slice();
    return;
  }
  res.finalBody = upstreamBody.bytes().slice();
  res.outcome = "upstream";
}
