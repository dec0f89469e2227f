// Writes the chosen model into the body: the bytes of the old `model` string (quotes included)
// are replaced by the new literal; every other byte stays as it was.
import { HOST_BLOCK_SLACK, replaceRequestBody } from "../abi/host";

// Replaces [valueStart, valueEnd) of the body the host gave us by `literal` and hands the result
// back to the host. The body block has HOST_BLOCK_SLACK free bytes on both sides (see
// allocateForHost), so the splice moves only the shorter side of the value: for the usual body,
// whose `model` comes first, that is a few dozen bytes whatever the body's size.
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
  let start = body;
  if (valueStart <= tail) {
    // Shift the prefix (left into the slack when the value grows, right when it shrinks).
    start = body + oldSize - literalSize;
    memory.copy(start, body, valueStart);
  } else {
    memory.copy(body + valueStart + literalSize, body + valueEnd, tail);
  }
  memory.copy(start + valueStart, changetype<usize>(literal), literalSize);
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
