// JSON string escaping for text this plugin writes: configured model ids spliced into bodies and
// the messages of the errors it answers with.
import { BACKSLASH, NEWLINE, QUOTE, SPACE } from "../bytes";
export function jsonEscape(s: string): string {
  // Names almost never need escaping: return them as they are without building a copy.
  let i = 0;
  while (i < s.length) {
    const c = <u32>s.charCodeAt(i);
    if (c == QUOTE || c == BACKSLASH || c < SPACE) break;
    i++;
  }
  if (i == s.length) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c == QUOTE) out += "\\\"";
    else if (c == BACKSLASH) out += "\\\\";
    else if (c == NEWLINE) out += "\\n";
    else if (c < SPACE) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out;
}
