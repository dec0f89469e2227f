// Is this a request the router handles? Decided from the request headers alone, before anything
// is buffered, so every other request continues at once. The header map is read with ONE host call
// (proxy_get_header_map_pairs) and indexed in place; the plugin then removes only headers that are
// really there, so a typical request costs two host calls here instead of six.
import { freeHostBlock, hostData, hostSize, readRequestHeaderPairs } from "../abi/host";
import { RouterConfig } from "../config/types";

export const CONTENT_LENGTH = String.UTF8.encode("content-length");
const JSON_MEDIA_TYPE = "application/json";

@inline function isLiteral(p: usize, n: usize, literal: string): bool {
  if (n != <usize>literal.length) return false;
  for (let i: usize = 0; i < n; i++) if (<i32>load<u8>(p + i) != literal.charCodeAt(<i32>i)) return false;
  return true;
}

export class RequestHeaders {
  private block: usize = 0;      // the serialised pairs (a host block we own until release)
  private count: u32 = 0;
  private size: usize = 0;
  methodPtr: usize = 0;
  methodLen: usize = 0;
  pathPtr: usize = 0;
  pathLen: usize = 0;
  authorityPtr: usize = 0;
  authorityLen: usize = 0;
  contentTypePtr: usize = 0;
  contentTypeLen: usize = 0;
  hasContentLength: bool = false;

  // Reads and indexes the request headers; false when the host has none to give.
  read(): bool {
    this.release();
    if (!readRequestHeaderPairs()) return false;
    this.block = hostData;
    this.size = hostSize;
    this.count = this.size >= 4 ? load<u32>(this.block) : 0;
    // A count the buffer cannot hold means a host we don't understand: treat the map as empty.
    if (<u64>this.count * 10 + 4 > <u64>this.size) this.count = 0;
    let data = this.block + 4 + 8 * <usize>this.count;
    const end = this.block + this.size;
    for (let i: u32 = 0; i < this.count; i++) {
      const keyLen = <usize>load<u32>(this.block + 4 + 8 * <usize>i);
      const valueLen = <usize>load<u32>(this.block + 8 + 8 * <usize>i);
      const value = data + keyLen + 1;
      if (value + valueLen + 1 > end) { this.count = i; break; }
      this.note(data, keyLen, value, valueLen);
      data = value + valueLen + 1;
    }
    return true;
  }

  // Keeps the first value of the headers the router reads (header names come lower-case from Envoy).
  private note(key: usize, keyLen: usize, value: usize, valueLen: usize): void {
    if (isLiteral(key, keyLen, ":method")) { if (this.methodPtr == 0) { this.methodPtr = value; this.methodLen = valueLen; } }
    else if (isLiteral(key, keyLen, ":path")) { if (this.pathPtr == 0) { this.pathPtr = value; this.pathLen = valueLen; } }
    else if (isLiteral(key, keyLen, ":authority")) { if (this.authorityPtr == 0) { this.authorityPtr = value; this.authorityLen = valueLen; } }
    else if (isLiteral(key, keyLen, "content-type")) { if (this.contentTypePtr == 0) { this.contentTypePtr = value; this.contentTypeLen = valueLen; } }
    else if (isLiteral(key, keyLen, "content-length")) this.hasContentLength = true;
  }

  release(): void {
    freeHostBlock(this.block);
    this.block = 0;
    this.count = 0;
    this.size = 0;
    this.methodPtr = this.pathPtr = this.authorityPtr = this.contentTypePtr = 0;
    this.methodLen = this.pathLen = this.authorityLen = this.contentTypeLen = 0;
    this.hasContentLength = false;
  }

  // Whether a header named exactly `name` (lower-case bytes) is present.
  has(name: ArrayBuffer): bool {
    const n = <usize>name.byteLength;
    let data = this.block + 4 + 8 * <usize>this.count;
    for (let i: u32 = 0; i < this.count; i++) {
      const keyLen = <usize>load<u32>(this.block + 4 + 8 * <usize>i);
      const valueLen = <usize>load<u32>(this.block + 8 + 8 * <usize>i);
      if (keyLen == n && memory.compare(data, changetype<usize>(name), n) == 0) return true;
      data += keyLen + valueLen + 2;
    }
    return false;
  }

  isPost(): bool { return isLiteral(this.methodPtr, this.methodLen, "POST"); }

  // "application/json", optionally followed by parameters such as "; charset=utf-8"; any case.
  hasJsonContentType(): bool {
    const p = this.contentTypePtr, n = <usize>JSON_MEDIA_TYPE.length;
    if (this.contentTypeLen < n) return false;
    for (let i: usize = 0; i < n; i++) {
      if ((<i32>load<u8>(p + i) | 0x20) != (JSON_MEDIA_TYPE.charCodeAt(<i32>i) | 0x20)) return false;
    }
    if (this.contentTypeLen == n) return true;
    const next = load<u8>(p + n);
    return next == 0x3b || next == 0x20 || next == 0x09;
  }

  // The :path without its query string ends with one of the configured suffixes.
  pathIsHandled(cfg: RouterConfig): bool {
    let end = this.pathLen;
    for (let i: usize = 0; i < this.pathLen; i++) {
      const c = load<u8>(this.pathPtr + i);
      if (c == 0x3f || c == 0x23) { end = i; break; }
    }
    for (let i = 0; i < cfg.paths.length; i++) {
      const suffix = unchecked(cfg.paths[i]);
      const n = <usize>suffix.byteLength;
      if (n <= end && memory.compare(this.pathPtr + end - n, changetype<usize>(suffix), n) == 0) return true;
    }
    return false;
  }

  // :authority as a string ("" when absent); only rule matching needs it.
  authority(): string {
    return this.authorityPtr == 0 ? "" : String.UTF8.decodeUnsafe(this.authorityPtr, this.authorityLen);
  }
}
