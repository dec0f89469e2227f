// Writes the chosen model into the body: the bytes of the old `model` string (quotes included)
// are replaced by the new literal; every other byte stays as it was.
import { COMMA } from "../bytes";
import { HOST_BLOCK_SLACK, replaceRequestBody } from "../abi/host";
import { RequestFeatures } from "./features";

// From this body size on, only the body's start is handed back (see spliceModel). Through Envoy 1.40
// (`node bench/floor.mjs --crossover --fresh`: the floor filter writing the prefix against the whole
// body) the two are within the noise from 1 to 64 KB; from here on the whole-body write would copy
// tens of kilobytes for a few dozen changed bytes.
export const PREFIX_REPLACE_MIN_BYTES: usize = 32768;
let prefixReplaceMinBytes: usize = PREFIX_REPLACE_MIN_BYTES;

// For the benchmark's floor filter, which measures both ways of writing the body through Envoy.
export function setPrefixReplaceMinBytes(bytes: usize): void {
  prefixReplaceMinBytes = bytes;
}

// Cleared for the rest of the VM's life the first time a host refuses to replace only a prefix
// (older hosts accept a replacement only when it covers the whole buffer).
let hostReplacesPrefix = true;

// Replaces [valueStart, valueEnd) of the body the host gave us by `literal` and hands the result
// back to the host. The body block has HOST_BLOCK_SLACK free bytes on both sides (see
// allocateForHost), so the splice moves only the shorter side of the value: for the usual body,
// whose `model` comes first, that is a few dozen bytes whatever the body's size. For a large body
// whose value is near its start, only the new prefix (up to the value's end) goes back to the
// host: Envoy drains that many bytes and prepends ours instead of copying the whole body.
// Returns false when the host refused the new body.
export function spliceModel(body: usize, size: usize, valueStart: usize, valueEnd: usize, literal: ArrayBuffer): bool {
  const literalSize = <usize>literal.byteLength;
  const oldSize = valueEnd - valueStart;
  if (oldSize == literalSize && memory.compare(body + valueStart, changetype<usize>(literal), literalSize) == 0) {
    return true; // already the bytes the upstream expects: leave the body alone
  }
  const newSize = size - oldSize + literalSize;
  const tail = size - valueEnd;
  if (literalSize > oldSize + HOST_BLOCK_SLACK) return spliceIntoCopy(body, size, valueStart, valueEnd, literal);
  if (valueStart > tail) {
    memory.copy(body + valueStart + literalSize, body + valueEnd, tail);
    memory.copy(body + valueStart, changetype<usize>(literal), literalSize);
    return replaceRequestBody(body, newSize, size);
  }
  // Shift the prefix (left into the slack when the value grows, right when it shrinks): it then
  // ends exactly where the unchanged tail begins, so [start, start + newSize) is the whole new body.
  const start = body + oldSize - literalSize;
  memory.copy(start, body, valueStart);
  memory.copy(start + valueStart, changetype<usize>(literal), literalSize);
  const prefixSize = valueStart + literalSize;
  if (hostReplacesPrefix && size >= prefixReplaceMinBytes) {
    if (replaceRequestBody(start, prefixSize, valueEnd)) return true;
    hostReplacesPrefix = false;
  }
  return replaceRequestBody(start, newSize, size);
}

// A model id longer than the slack allows: build the new body in a block of its own.
function spliceIntoCopy(body: usize, size: usize, valueStart: usize, valueEnd: usize, literal: ArrayBuffer): bool {
  const literalSize = <usize>literal.byteLength;
  const newSize = size - (valueEnd - valueStart) + literalSize;
  const out = heap.alloc(newSize);
  memory.copy(out, body, valueStart);
  memory.copy(out + valueStart, changetype<usize>(literal), literalSize);
  memory.copy(out + valueStart + literalSize, body + valueEnd, size - valueEnd);
  const ok = replaceRequestBody(out, newSize, size);
  heap.free(out);
  return ok;
}

const MODEL_MEMBER = String.UTF8.encode("\"model\":");

// A request with a client `models` list (OpenRouter): the list never reaches a provider. With a
// top-level `model`, the `models` member is cut out (with one separating comma) and `model` gets
// `literal`; without one, the member is replaced by `"model":<literal>`. Builds the new body in a
// block of its own (rare requests; the common path above stays in place). Returns the offset of
// `literal` in the new body, or -1 when the host refused it.
export function rewriteWithoutModelsList(body: usize, size: usize, f: RequestFeatures, literal: ArrayBuffer): i32 {
  const literalSize = <usize>literal.byteLength;
  const keyStart = <usize>f.modelsKeyStart, end = <usize>f.modelsEnd;
  if (f.modelFromList) {
    const insert = <usize>MODEL_MEMBER.byteLength + literalSize + (f.modelsHasNext ? 1 : 0);
    const newSize = size - (end - keyStart) + insert;
    const out = heap.alloc(newSize);
    memory.copy(out, body, keyStart);
    let q = out + keyStart;
    memory.copy(q, changetype<usize>(MODEL_MEMBER), MODEL_MEMBER.byteLength);
    q += MODEL_MEMBER.byteLength;
    memory.copy(q, changetype<usize>(literal), literalSize);
    q += literalSize;
    if (f.modelsHasNext) store<u8>(q++, COMMA);
    memory.copy(q, body + end, size - end);
    const ok = replaceRequestBody(out, newSize, size);
    heap.free(out);
    return ok ? <i32>(keyStart + MODEL_MEMBER.byteLength) : -1;
  }
  // The cut: [key, next key) when a member follows, else [comma before, closing brace).
  const cutStart = f.modelsHasNext || f.modelsCommaBefore == 0 ? keyStart : <usize>f.modelsCommaBefore;
  const valueStart = f.modelStart, valueEnd = f.modelEnd;
  const newSize = size - (end - cutStart) - (valueEnd - valueStart) + literalSize;
  const out = heap.alloc(newSize);
  let q = out;
  let modelAt: usize = 0;
  // Two disjoint edits, in document order.
  if (valueStart < cutStart) {
    memory.copy(q, body, valueStart); q += valueStart;
    modelAt = q - out;
    memory.copy(q, changetype<usize>(literal), literalSize); q += literalSize;
    memory.copy(q, body + valueEnd, cutStart - valueEnd); q += cutStart - valueEnd;
    memory.copy(q, body + end, size - end);
  } else {
    memory.copy(q, body, cutStart); q += cutStart;
    memory.copy(q, body + end, valueStart - end); q += valueStart - end;
    modelAt = q - out;
    memory.copy(q, changetype<usize>(literal), literalSize); q += literalSize;
    memory.copy(q, body + valueEnd, size - valueEnd);
  }
  const ok = replaceRequestBody(out, newSize, size);
  heap.free(out);
  return ok ? <i32>modelAt : -1;
}

// Writes the chosen model into the body (and takes a client's `models` list out of it); returns
// where the model's literal now starts, or -1 when the host refused the new body.
export function rewriteModel(body: usize, size: usize, f: RequestFeatures, literal: ArrayBuffer): i32 {
  if (f.modelsCount > 0) return rewriteWithoutModelsList(body, size, f, literal);
  return spliceModel(body, size, f.modelStart, f.modelEnd, literal) ? <i32>f.modelStart : -1;
}
