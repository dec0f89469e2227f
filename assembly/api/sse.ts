// Server-sent events cut out of a response body as its chunks arrive, whatever the split: complete
// events are read in place in the chunk; only the one event a chunk leaves unfinished is copied
// (into a block kept across streams) until the chunk that ends it arrives. An event ends at a blank
// line; lines end with LF, CRLF or CR (the WHATWG event-stream grammar); `event:` names the event,
// `data:` lines are its data (several are joined with LF), comments and other fields are skipped.
import { ByteWriter, CARRIAGE_RETURN, COLON, NEWLINE, SPACE } from "./writer";

// An unfinished event larger than this is not an event stream we can translate.
export const MAX_EVENT_BYTES: usize = 1 << 20;

@inline function nextLineBreak(p: usize, end: usize): usize {
  while (p + 16 <= end) {
    const v = v128.load(p);
    const mask = i8x16.bitmask(v128.or(i8x16.eq(v, i8x16.splat(<i8>NEWLINE)), i8x16.eq(v, i8x16.splat(<i8>CARRIAGE_RETURN))));
    if (mask != 0) return p + <usize>ctz(mask);
    p += 16;
  }
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == NEWLINE || c == CARRIAGE_RETURN) return p;
    p++;
  }
  return end;
}

// The line [p, end) starts with "data:" / "event:" (read within the line only).
@inline function isData(p: usize, end: usize): bool {
  return p + 5 <= end && load<u32>(p) == 0x61746164 && load<u8>(p, 4) == <u8>COLON;
}
@inline function isEvent(p: usize, end: usize): bool {
  return p + 6 <= end && load<u32>(p) == 0x6e657665 && load<u16>(p, 4) == 0x3a74;
}

export class SseSplitter {
  private pending: ByteWriter = new ByteWriter(); // the unfinished event, when a chunk left one
  private joined: ByteWriter = new ByteWriter();  // data of an event with several data lines
  private cursor: usize = 0;
  private chunkEnd: usize = 0;
  private atLineStart: bool = true; // the last byte scanned ended a line
  private afterCR: bool = false;    // … and it was a CR (an LF right after it belongs to it)
  private dropPending: bool = false;
  // Set when an event outgrew MAX_EVENT_BYTES: the rest of the stream is not read.
  failed: bool = false;

  // The event next() found: its name (empty when it has none) and data (hasData false when it
  // carried no data line).
  nameStart: usize = 0;
  nameEnd: usize = 0;
  dataStart: usize = 0;
  dataEnd: usize = 0;
  hasData: bool = false;

  reset(): void {
    this.pending.reset();
    this.joined.reset();
    this.cursor = 0;
    this.chunkEnd = 0;
    this.atLineStart = true;
    this.afterCR = false;
    this.dropPending = false;
    this.failed = false;
  }

  // The bytes held for an unfinished event (at most one event's).
  get heldBytes(): usize { return this.dropPending ? 0 : this.pending.length; }

  // The next chunk of the stream; then next() until it returns false.
  feed(p: usize, n: usize): void {
    if (this.dropPending) { this.pending.reset(); this.dropPending = false; }
    this.cursor = p;
    this.chunkEnd = p + n;
  }

  next(): bool {
    while (true) {
      if (this.dropPending) { this.pending.reset(); this.dropPending = false; }
      if (this.failed || this.cursor >= this.chunkEnd) return false;
      const from = this.cursor;
      const boundary = this.scanBoundary(from, this.chunkEnd);
      if (boundary == 0) {
        this.hold(from, this.chunkEnd - from);
        this.cursor = this.chunkEnd;
        return false;
      }
      this.cursor = boundary;
      if (this.pending.length == 0) {
        if (this.parse(from, boundary)) return true;
        continue;
      }
      this.hold(from, boundary - from);
      if (this.failed) return false;
      this.dropPending = true;
      const p = this.pending.data;
      if (this.parse(p, p + this.pending.length)) return true;
    }
    return false;
  }

  // The stream ended: an event it left without the closing blank line is read as complete.
  finish(): bool {
    if (this.dropPending || this.failed || this.pending.length == 0) return false;
    this.dropPending = true;
    const p = this.pending.data;
    return this.parse(p, p + this.pending.length);
  }

  private hold(p: usize, n: usize): void {
    if (this.pending.length + n > MAX_EVENT_BYTES) {
      this.failed = true;
      return;
    }
    this.pending.bytes(p, n);
  }

  // Where the event that continues at p ends (after its blank line's terminator), or 0 when it does
  // not end before `end`.
  private scanBoundary(p: usize, end: usize): usize {
    while (p < end) {
      const q = nextLineBreak(p, end);
      if (q > p) {
        this.atLineStart = false;
        this.afterCR = false;
        p = q;
        if (p >= end) break;
      }
      const c = <u32>load<u8>(p);
      p++;
      if (c == NEWLINE && this.afterCR) { this.afterCR = false; continue; }
      this.afterCR = c == CARRIAGE_RETURN;
      if (this.atLineStart) return p;
      this.atLineStart = true;
    }
    return 0;
  }

  // Reads the fields of the event [p, end); false when it carries nothing (blank lines only).
  private parse(p: usize, end: usize): bool {
    this.nameStart = this.nameEnd = 0;
    this.hasData = false;
    let dataLines = 0;
    let firstStart: usize = 0, firstEnd: usize = 0;
    while (p < end) {
      const lineEnd = nextLineBreak(p, end);
      if (lineEnd > p) {
        if (isData(p, lineEnd)) {
          let v = p + 5;
          if (v < lineEnd && load<u8>(v) == <u8>SPACE) v++;
          if (dataLines == 0) { firstStart = v; firstEnd = lineEnd; }
          else {
            if (dataLines == 1) { this.joined.reset(); this.joined.bytes(firstStart, firstEnd - firstStart); }
            this.joined.byte(NEWLINE);
            this.joined.bytes(v, lineEnd - v);
          }
          dataLines++;
        } else if (isEvent(p, lineEnd)) {
          let v = p + 6;
          if (v < lineEnd && load<u8>(v) == <u8>SPACE) v++;
          this.nameStart = v;
          this.nameEnd = lineEnd;
        } else if (lineEnd - p == 4 && load<u32>(p) == 0x61746164) {
          // a bare "data" line: an empty data line
          if (dataLines == 0) { firstStart = firstEnd = lineEnd; }
          else {
            if (dataLines == 1) { this.joined.reset(); this.joined.bytes(firstStart, firstEnd - firstStart); }
            this.joined.byte(NEWLINE);
          }
          dataLines++;
        }
      }
      p = lineEnd + 1;
    }
    if (dataLines == 0) return this.nameEnd > this.nameStart;
    this.hasData = true;
    if (dataLines == 1) {
      this.dataStart = firstStart;
      this.dataEnd = firstEnd;
    } else {
      this.dataStart = this.joined.data;
      this.dataEnd = this.joined.data + this.joined.length;
    }
    return true;
  }

  @inline dataIs(word: ArrayBuffer): bool {
    const n = <usize>word.byteLength;
    return this.hasData && this.dataEnd - this.dataStart == n && memory.compare(this.dataStart, changetype<usize>(word), n) == 0;
  }
  @inline nameIs(word: ArrayBuffer): bool {
    const n = <usize>word.byteLength;
    return this.nameEnd - this.nameStart == n && memory.compare(this.nameStart, changetype<usize>(word), n) == 0;
  }
}
