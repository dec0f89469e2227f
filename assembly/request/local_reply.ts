// Answers the client directly with an OpenAI-style error: {"error":{"message","type","code"}}.
import { sendLocalResponse, serializePairs } from "../abi/host";

const JSON_HEADERS = serializePairs(["content-type"], ["application/json"]);
const DETAILS = String.UTF8.encode("model_router");

function jsonEscape(s: string): string {
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

export function errorBody(message: string, code: string): string {
  return "{\"error\":{\"message\":\"" + jsonEscape(message) + "\",\"type\":\"invalid_request_error\",\"code\":\"" + code + "\"}}";
}

export function replyWithError(status: u32, code: string, message: string): void {
  const body = String.UTF8.encode(errorBody(message, code));
  sendLocalResponse(status, DETAILS, changetype<usize>(body), body.byteLength, JSON_HEADERS);
}
