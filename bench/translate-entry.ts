// Benchmark entry (not part of the plugin): the API translators (assembly/api) as plain exports, so
// bench/translate.mjs can time a request translation and a stream's events in process, free of any
// host.
import { Pair, Target, Translation } from "../assembly/api/translate";

const target = new Target();
const translation = new Translation();
let body: usize = 0;
let bodySize: usize = 0;
let stream: usize = 0;
let chunkEnds: usize = 0; // u32 offsets: where each chunk of the stream ends
let chunkCount: i32 = 0;
let streamRequest: usize = 0;
let streamRequestSize: usize = 0;

export function alloc(size: usize): usize { return heap.alloc(size); }

export function setTarget(literal: usize, literalSize: usize, defaultMaxTokens: i64): void {
  const l = new ArrayBuffer(<i32>literalSize);
  memory.copy(changetype<usize>(l), literal, literalSize);
  target.literal = l;
  target.name = "bench-model";
  target.defaultMaxTokens = defaultMaxTokens;
}

export function setBody(p: usize, n: usize): void { body = p; bodySize = n; }

// `times` translations of the body set last by `pair`; the output size of the last (0: refused).
export function runRequest(pair: i32, times: i32): usize {
  let size: usize = 0;
  for (let i = 0; i < times; i++) {
    translation.begin(<Pair>pair, 1767225600);
    size = translation.request(body, bodySize, target) ? translation.out.length : 0;
  }
  return size;
}

// A provider stream cut into chunks (ends: u32 offsets), and the request that asked for it.
export function setStream(request: usize, requestSize: usize, p: usize, ends: usize, count: i32): void {
  streamRequest = request;
  streamRequestSize = requestSize;
  stream = p;
  chunkEnds = ends;
  chunkCount = count;
}

// `times` translations of the whole stream, chunk by chunk; the bytes the last one wrote.
export function runStream(pair: i32, times: i32): usize {
  let written: usize = 0;
  for (let i = 0; i < times; i++) {
    translation.begin(<Pair>pair, 1767225600);
    translation.request(streamRequest, streamRequestSize, target);
    translation.responseHeaders(200, 0, 0, 0, 0);
    written = 0;
    let start: usize = 0;
    for (let c = 0; c < chunkCount; c++) {
      const end = <usize>load<u32>(chunkEnds + (<usize>c << 2));
      translation.streamChunk(stream + start, end - start, c == chunkCount - 1);
      written += translation.out.length;
      start = end;
    }
  }
  return written;
}
