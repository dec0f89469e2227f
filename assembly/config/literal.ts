// JSON string literal (quotes included) for a configured model id: computed once, spliced per request.
export function jsonStringLiteral(s: string): ArrayBuffer {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return String.UTF8.encode(out + "\"");
}
