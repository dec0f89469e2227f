// A configured name as it appears in the decision line (routing/describe.ts): percent-encoded where
// it holds a space, `=`, `;`, a quote, a control or non-ASCII byte, so the line splits unambiguously
// on spaces and `=` whatever the configuration calls things. Computed once per name at configure
// time: a request copies the bytes.
import {
  ASCII_CASE_BIT, AT, COLON, DIGIT_0, DIGIT_9, DOT, LOWER_A, LOWER_Z, MINUS, PERCENT, PIPE, PLUS, SLASH,
  TILDE, UNDERSCORE,
} from "../bytes";

@inline function isPlain(c: u32): bool {
  return (c >= DIGIT_0 && c <= DIGIT_9) || ((c | ASCII_CASE_BIT) >= LOWER_A && (c | ASCII_CASE_BIT) <= LOWER_Z) || c == MINUS ||
    c == DOT || c == UNDERSCORE || c == TILDE || c == COLON || c == SLASH || c == AT || c == PLUS || c == PIPE;
}

const HEX = "0123456789ABCDEF";

export function logfmtName(name: ArrayBuffer): ArrayBuffer {
  const p = changetype<usize>(name), n = <usize>name.byteLength;
  let size: usize = 0;
  for (let i: usize = 0; i < n; i++) size += isPlain(load<u8>(p + i)) ? 1 : 3;
  const out = new ArrayBuffer(<i32>size);
  let q = changetype<usize>(out);
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (isPlain(c)) { store<u8>(q++, <u8>c); continue; }
    store<u8>(q++, PERCENT);
    store<u8>(q++, <u8>HEX.charCodeAt(<i32>(c >> 4)));
    store<u8>(q++, <u8>HEX.charCodeAt(<i32>(c & 15)));
  }
  return out;
}
