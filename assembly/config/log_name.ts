// A configured name as it appears in the decision line (routing/describe.ts): percent-encoded where
// it holds a space, `=`, `;`, a quote, a control or non-ASCII byte, so the line splits unambiguously
// on spaces and `=` whatever the configuration calls things. Computed once per name at configure
// time: a request copies the bytes.

@inline function isPlain(c: u32): bool {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c == 0x2d || c == 0x2e ||
    c == 0x5f || c == 0x7e || c == 0x3a || c == 0x2f || c == 0x40 || c == 0x2b || c == 0x7c;
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
    store<u8>(q++, 0x25);
    store<u8>(q++, <u8>HEX.charCodeAt(c >> 4));
    store<u8>(q++, <u8>HEX.charCodeAt(c & 15));
  }
  return out;
}
