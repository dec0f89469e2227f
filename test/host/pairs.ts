// Header-map pair serialization exactly as proxy-wasm-cpp-host src/pairs_util.cc:
//   u32 LE N | N × (u32 LE key_len, u32 LE value_len) | N × (key, 0x00, value, 0x00)
// Decoding follows toPairs(): any structural problem, more than 1024 pairs or a buffer over
// 1 MiB yields an EMPTY map (not an error), which is what a guest sees from Envoy.
import { PAIRS_MAX_BYTES, PAIRS_MAX_COUNT } from "./abi.ts";

export type HeaderPairs = Array<[string, string]>;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8");

/** Serialized size of the pairs (pairsSize in pairs_util.cc). */
export function pairsSize(pairs: HeaderPairs): number {
  let n = 4;
  for (let i = 0; i < pairs.length; i++) {
    n += 10 + Buffer.byteLength(pairs[i][0]) + Buffer.byteLength(pairs[i][1]);
  }
  return n;
}

/** Writes the serialization into `out` at `off`; `out` must have pairsSize() bytes there. */
export function writePairs(pairs: HeaderPairs, out: Uint8Array, off: number): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(off, pairs.length, true);
  let sizes = off + 4;
  let data = sizes + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    const k = enc.encodeInto(pairs[i][0], out.subarray(data)).written;
    dv.setUint32(sizes, k, true);
    data += k;
    out[data++] = 0;
    const v = enc.encodeInto(pairs[i][1], out.subarray(data)).written;
    dv.setUint32(sizes + 4, v, true);
    data += v;
    out[data++] = 0;
    sizes += 8;
  }
  return data - off;
}

export function encodePairs(pairs: HeaderPairs): Uint8Array {
  const out = new Uint8Array(pairsSize(pairs));
  writePairs(pairs, out, 0);
  return out;
}

/** toPairs(): returns [] for anything malformed or over the limits. Trailing bytes are ignored. */
export function decodePairs(buf: Uint8Array): HeaderPairs {
  if (buf.length > PAIRS_MAX_BYTES || buf.length < 4) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getUint32(0, true);
  if (n > PAIRS_MAX_COUNT) return [];
  let pos = 4;
  if (pos + n * 8 > buf.length) return [];
  const lens: number[] = new Array(n * 2);
  for (let i = 0; i < n * 2; i++) {
    lens[i] = dv.getUint32(pos, true);
    pos += 4;
  }
  const out: HeaderPairs = new Array(n);
  for (let i = 0; i < n; i++) {
    const kl = lens[2 * i];
    if (pos + kl + 1 > buf.length) return [];
    const k = dec.decode(buf.subarray(pos, pos + kl));
    pos += kl;
    if (buf[pos++] !== 0) return [];
    const vl = lens[2 * i + 1];
    if (pos + vl + 1 > buf.length) return [];
    const v = dec.decode(buf.subarray(pos, pos + vl));
    pos += vl;
    if (buf[pos++] !== 0) return [];
    out[i] = [k, v];
  }
  return out;
}
