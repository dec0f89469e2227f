// What the router needs from the request headers, read with ONE host call
// (proxy_get_header_map_pairs) and indexed in place: method, path, authority, the body's framing
// and type, and which of the routing headers the client sent (so the filter removes only headers
// that are really there: a typical request costs one host call here).
import { ASCII_CASE_BIT, COLON, DIGIT_0, PLUS, SEMICOLON, SLASH, SPACE, TAB, UPPER_A } from "../bytes";
import { freeHostBlock, hostData, hostSize, readRequestHeaderPairs, removeRequestHeader } from "../abi/host";

export const CONTENT_LENGTH = String.UTF8.encode("content-length");
export const UNKNOWN_LENGTH: u64 = u64.MAX_VALUE;
// Owned header names past this many are looked up again one by one (never in practice).
const OWNED_BITS = 64;
// Longest content type quoted back to the client in an error message.
const MAX_QUOTED_TYPE: usize = 100;

@inline function isLiteral(p: usize, n: usize, literal: string): bool {
  if (n != <usize>literal.length) return false;
  for (let i: usize = 0; i < n; i++) if (<i32>load<u8>(p + i) != literal.charCodeAt(<i32>i)) return false;
  return true;
}

@inline function lower(c: u32): u32 { return c - UPPER_A < 26 ? c | ASCII_CASE_BIT : c; }

@inline function isSpace(c: u32): bool { return c == SPACE || c == TAB; }

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
  contentEncodingPtr: usize = 0;
  contentEncodingLen: usize = 0;
  hasContentType: bool = false;
  hasContentEncoding: bool = false;
  hasContentLength: bool = false;
  contentLength: u64 = 0;        // the first content-length value; UNKNOWN_LENGTH if not a number
  ownedPresent: u64 = 0;         // bit i: the client sent owned[i] (i < 64)

  // Reads and indexes the request headers, noting which `owned` names are present; false when
  // the host has none to give.
  read(owned: ArrayBuffer[]): bool {
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
      if (keyLen > 0 && load<u8>(data) == COLON) this.notePseudo(data, keyLen, value, valueLen);
      else this.note(data, keyLen, value, valueLen, owned);
      data = value + valueLen + 1;
    }
    return true;
  }

  // Keeps the first value of each pseudo-header the router reads.
  private notePseudo(key: usize, keyLen: usize, value: usize, valueLen: usize): void {
    if (isLiteral(key, keyLen, ":method")) { if (this.methodPtr == 0) { this.methodPtr = value; this.methodLen = valueLen; } }
    else if (isLiteral(key, keyLen, ":path")) { if (this.pathPtr == 0) { this.pathPtr = value; this.pathLen = valueLen; } }
    else if (isLiteral(key, keyLen, ":authority")) { if (this.authorityPtr == 0) { this.authorityPtr = value; this.authorityLen = valueLen; } }
  }

  // Header names come lower-case from Envoy (HTTP/1 names are lower-cased by its codec).
  private note(key: usize, keyLen: usize, value: usize, valueLen: usize, owned: ArrayBuffer[]): void {
    if (isLiteral(key, keyLen, "content-type")) {
      if (!this.hasContentType) { this.hasContentType = true; this.contentTypePtr = value; this.contentTypeLen = valueLen; }
      return;
    }
    if (isLiteral(key, keyLen, "content-length")) {
      if (!this.hasContentLength) { this.hasContentLength = true; this.contentLength = parseLength(value, valueLen); }
      return;
    }
    if (isLiteral(key, keyLen, "content-encoding")) {
      if (!this.hasContentEncoding) { this.hasContentEncoding = true; this.contentEncodingPtr = value; this.contentEncodingLen = valueLen; }
      return;
    }
    for (let i = 0; i < owned.length; i++) {
      const name = unchecked(owned[i]);
      if (<usize>name.byteLength != keyLen || memory.compare(key, changetype<usize>(name), keyLen) != 0) continue;
      this.ownedPresent |= i < OWNED_BITS ? (<u64>1) << i : 0;
      return;
    }
  }

  release(): void {
    freeHostBlock(this.block);
    this.block = 0;
    this.count = 0;
    this.size = 0;
    this.methodPtr = this.pathPtr = this.authorityPtr = this.contentTypePtr = this.contentEncodingPtr = 0;
    this.methodLen = this.pathLen = this.authorityLen = this.contentTypeLen = this.contentEncodingLen = 0;
    this.hasContentType = this.hasContentEncoding = this.hasContentLength = false;
    this.contentLength = 0;
    this.ownedPresent = 0;
  }

  // Whether the client sent any of the `owned` headers (as read by the last `read(owned)`).
  sentOwned(owned: ArrayBuffer[]): bool {
    return this.ownedPresent != 0 || owned.length > OWNED_BITS;
  }

  // Whether the client sent owned[i] (as read by the last `read(owned)`).
  hasOwned(owned: ArrayBuffer[], i: i32): bool {
    return i < OWNED_BITS ? (this.ownedPresent & ((<u64>1) << i)) != 0 : this.has(unchecked(owned[i]));
  }

  // Only this plugin may write the routing headers (the upstream Envoy routes on, the model): on
  // every request, handled or not, client copies of every `owned` name are removed before anything
  // else looks at the request. Envoy's internal_only_headers is not needed for this (and Higress has
  // no equivalent).
  removeOwned(owned: ArrayBuffer[]): void {
    if (!this.sentOwned(owned)) return;
    for (let i = 0; i < owned.length; i++) {
      if (this.hasOwned(owned, i)) removeRequestHeader(unchecked(owned[i]));
    }
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
  isGet(): bool { return isLiteral(this.methodPtr, this.methodLen, "GET"); }

  // A JSON media type: application/json, text/json or any */*+json (RFC 6839), with or without
  // parameters such as "; charset=utf-8", in any case.
  hasJsonContentType(): bool {
    if (!this.hasContentType) return false;
    const p = this.contentTypePtr;
    let i: usize = 0, n = this.contentTypeLen;
    while (i < n && isSpace(load<u8>(p + i))) i++;
    let slash: usize = 0;
    let end = i;
    while (end < n) {
      const c = <u32>load<u8>(p + end);
      if (c == SEMICOLON || isSpace(c)) break;
      if (c == SLASH && slash == 0) slash = end;
      end++;
    }
    if (slash == 0 || slash == i) return false;
    // the subtype is "json" or ends with "+json"
    const subtype = slash + 1;
    if (end - subtype < 4) return false;
    for (let k: usize = 0; k < 4; k++) {
      if (lower(load<u8>(p + end - 4 + k)) != <u32>"json".charCodeAt(<i32>k)) return false;
    }
    return end - subtype == 4 || load<u8>(p + end - 5) == PLUS;
  }

  // The content type as sent (at most 100 bytes), for error messages.
  contentTypeText(): string {
    return String.UTF8.decodeUnsafe(this.contentTypePtr, min(this.contentTypeLen, MAX_QUOTED_TYPE));
  }

  // No content-encoding, or "identity" (any case, surrounding spaces ignored): the plugin reads
  // the body bytes as they are; anything else (gzip, br, "gzip, identity" ...) it cannot read.
  hasReadableEncoding(): bool {
    if (!this.hasContentEncoding) return true;
    let p = this.contentEncodingPtr, n = this.contentEncodingLen;
    while (n > 0 && isSpace(load<u8>(p))) { p++; n--; }
    while (n > 0 && isSpace(load<u8>(p + n - 1))) n--;
    if (n == 0) return true;
    if (n != 8) return false;
    for (let k: usize = 0; k < 8; k++) if (lower(load<u8>(p + k)) != <u32>"identity".charCodeAt(<i32>k)) return false;
    return true;
  }

  contentEncodingText(): string {
    return String.UTF8.decodeUnsafe(this.contentEncodingPtr, min(this.contentEncodingLen, MAX_QUOTED_TYPE));
  }

  // :authority as a string ("" when absent); only rule matching needs it.
  authority(): string {
    return this.authorityPtr == 0 ? "" : String.UTF8.decodeUnsafe(this.authorityPtr, this.authorityLen);
  }
}

// A content-length value in bytes, or UNKNOWN_LENGTH when it is not a decimal number (Envoy
// refuses malformed or conflicting values before filters run; this only must not trap). Huge
// values saturate, still over any limit.
function parseLength(p: usize, n: usize): u64 {
  if (n == 0) return UNKNOWN_LENGTH;
  let value: u64 = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = <u32>load<u8>(p + i) - DIGIT_0;
    if (d > 9) return UNKNOWN_LENGTH;
    value = value < 100000000000000000 ? value * 10 + d : UNKNOWN_LENGTH - 1;
  }
  return value;
}
