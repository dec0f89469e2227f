// Answers the client directly: OpenAI-style errors {"error":{"message","type","code"}}, and
// precomputed JSON such as the model list.
import { sendLocalResponse, serializePairs } from "../abi/host";
import { jsonEscape } from "../json/escape";

const JSON_HEADERS = serializePairs(["content-type"], ["application/json"]);
const DETAILS = String.UTF8.encode("model_router");

export function errorBody(message: string, code: string): string {
  return "{\"error\":{\"message\":\"" + jsonEscape(message) + "\",\"type\":\"invalid_request_error\",\"code\":\"" + code + "\"}}";
}

export function replyWithError(status: u32, code: string, message: string): void {
  const body = String.UTF8.encode(errorBody(message, code));
  sendLocalResponse(status, DETAILS, changetype<usize>(body), body.byteLength, JSON_HEADERS);
}

// `size` bytes of JSON at `body` (memory the caller keeps alive; the host copies it).
export function replyWithJson(status: u32, body: usize, size: usize): void {
  sendLocalResponse(status, DETAILS, body, size, JSON_HEADERS);
}
