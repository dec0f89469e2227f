// Answers the client directly with an OpenAI-style error: {"error":{"message","type","code"}}.
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
