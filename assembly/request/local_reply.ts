// Answers the client directly: an error in the shape the client's API reads, or precomputed JSON
// such as the model list.
import { sendLocalResponse, serializePairs } from "../abi/host";
import { jsonEscape } from "../json/escape";
import { LOCAL_REPLY_DETAILS } from "../names";

const JSON_HEADERS = serializePairs(["content-type"], ["application/json"]);
const DETAILS = String.UTF8.encode(LOCAL_REPLY_DETAILS);

// The API a client speaks, which decides the shape of the errors it gets. Every handled path speaks
// OpenAI's today; a second API (Anthropic's Messages: {"type":"error","error":{"type","message"}},
// its type named after the status) adds a member here and a case in errorBody.
export const enum ClientApi { OpenAI }

// OpenAI's {"error":{"message","type","code"}}.
function openAiErrorBody(message: string, code: string): string {
  return "{\"error\":{\"message\":\"" + jsonEscape(message) + "\",\"type\":\"invalid_request_error\",\"code\":\"" + code + "\"}}";
}

// The error as the client's API writes it. `status` is for shapes that name the error after it.
export function errorBody(api: ClientApi, status: u32, code: string, message: string): string {
  switch (api) {
    default: return openAiErrorBody(message, code);
  }
}

export function replyWithError(api: ClientApi, status: u32, code: string, message: string): void {
  const body = String.UTF8.encode(errorBody(api, status, code, message));
  sendLocalResponse(status, DETAILS, changetype<usize>(body), body.byteLength, JSON_HEADERS);
}

// `size` bytes of JSON at `body` (memory the caller keeps alive; the host copies it).
export function replyWithJson(status: u32, body: usize, size: usize): void {
  sendLocalResponse(status, DETAILS, body, size, JSON_HEADERS);
}
