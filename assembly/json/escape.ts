// JSON string escaping for text this plugin writes: configured model ids spliced into bodies and
// the messages of the errors it answers with.
export function jsonEscape(s: string): string {
  // Names almost never need escaping: return them as they are without building a copy.
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) break;
    i++;
  }
  if (i == s.length) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out;
}
