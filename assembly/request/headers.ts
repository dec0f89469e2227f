// Is this a request the router handles? Decided from the request headers alone, before anything
// is buffered, so every other request continues at once.
import { readRequestHeader, releaseHostData, hostData, hostSize } from "../abi/host";
import { RouterConfig } from "../config/types";

export const METHOD = String.UTF8.encode(":method");
export const PATH = String.UTF8.encode(":path");
export const AUTHORITY = String.UTF8.encode(":authority");
export const CONTENT_TYPE = String.UTF8.encode("content-type");
export const CONTENT_LENGTH = String.UTF8.encode("content-length");

const JSON_MEDIA_TYPE = "application/json";

// The host data holds exactly `literal` (ASCII).
function hostDataIs(literal: string): bool {
  if (hostSize != <usize>literal.length) return false;
  for (let i = 0; i < literal.length; i++) if (<i32>load<u8>(hostData + i) != literal.charCodeAt(i)) return false;
  return true;
}

export function isPost(): bool {
  if (!readRequestHeader(METHOD)) return false;
  const yes = hostDataIs("POST");
  releaseHostData();
  return yes;
}

// "application/json", optionally followed by parameters such as "; charset=utf-8"; any case.
export function hasJsonContentType(): bool {
  if (!readRequestHeader(CONTENT_TYPE)) return false;
  const n = <usize>JSON_MEDIA_TYPE.length;
  let yes = hostSize >= n;
  for (let i: usize = 0; yes && i < n; i++) {
    yes = (<i32>load<u8>(hostData + i) | 0x20) == (JSON_MEDIA_TYPE.charCodeAt(<i32>i) | 0x20);
  }
  if (yes && hostSize > n) {
    const next = load<u8>(hostData + n);
    yes = next == 0x3b || next == 0x20 || next == 0x09;
  }
  releaseHostData();
  return yes;
}

// The :path without its query string ends with one of the configured suffixes.
export function pathIsHandled(cfg: RouterConfig): bool {
  if (!readRequestHeader(PATH)) return false;
  let end = hostSize;
  for (let i: usize = 0; i < hostSize; i++) {
    const c = load<u8>(hostData + i);
    if (c == 0x3f || c == 0x23) { end = i; break; }
  }
  let yes = false;
  for (let i = 0; !yes && i < cfg.paths.length; i++) {
    const suffix = unchecked(cfg.paths[i]);
    const n = <usize>suffix.byteLength;
    yes = n <= end && memory.compare(hostData + end - n, changetype<usize>(suffix), n) == 0;
  }
  releaseHostData();
  return yes;
}

// A request header as a string ("" when absent); only used for rule matching.
export function requestHeaderText(name: ArrayBuffer): string {
  if (!readRequestHeader(name)) return "";
  const text = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return text;
}
