// Writes the chosen model into the body: the bytes of the old `model` string (quotes included)
// are replaced by the new literal; every other byte is copied as it was.
import { replaceRequestBody } from "../abi/host";

// Grow-only output buffer reused across requests, so a rewrite allocates only when a body is
// larger than any before it. Bodies above the retention limit get a buffer of their own that is
// freed at once, so one huge request does not pin its size for the VM's lifetime.
const RETAINED_LIMIT: usize = 1 << 20;
let scratch: usize = 0;
let scratchSize: usize = 0;

function outputBuffer(size: usize): usize {
  if (size > RETAINED_LIMIT) return heap.alloc(size);
  if (size > scratchSize) {
    if (scratch != 0) heap.free(scratch);
    scratchSize = size < 4096 ? 4096 : size;
    scratch = heap.alloc(scratchSize);
  }
  return scratch;
}

// Returns false when the host refused the new body.
export function spliceModel(body: usize, size: usize, valueStart: usize, valueEnd: usize, literal: ArrayBuffer): bool {
  const literalSize = <usize>literal.byteLength;
  if (valueEnd - valueStart == literalSize && memory.compare(body + valueStart, changetype<usize>(literal), literalSize) == 0) {
    return true; // already the bytes the upstream expects: leave the body alone
  }
  const newSize = size - (valueEnd - valueStart) + literalSize;
  const out = outputBuffer(newSize);
  memory.copy(out, body, valueStart);
  memory.copy(out + valueStart, changetype<usize>(literal), literalSize);
  memory.copy(out + valueStart + literalSize, body + valueEnd, size - valueEnd);
  const ok = replaceRequestBody(out, newSize, size);
  if (out != scratch) heap.free(out);
  return ok;
}
