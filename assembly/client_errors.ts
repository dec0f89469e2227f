// The catalogue of the errors the router filter answers a client with, one row per ClientError
// (request/client_error.ts): the HTTP status, the error code, the message, and the outcome
// llm_router_requests counts the request under (its code, where one exists). A message may hold one
// "{}", replaced by the request's detail (a byte offset, a content type, a limit). The reply is
// written in the client's API shape (request/local_reply.ts).
//
// A new error is one member of ClientError and its row at that position (test/unit/tables.test.ts
// checks the order).
import { RequestOutcome } from "./metrics/table";
import { ClientError } from "./request/client_error";


export class ClientErrorRow {
  constructor(
    readonly at: ClientError,           // its own position, checked by a test
    readonly status: u32,
    readonly code: string,
    private readonly text: string,
    readonly outcome: RequestOutcome,   // None: not counted
  ) {}

  message(detail: string): string {
    return detail.length > 0 ? this.text.replace("{}", detail) : this.text;
  }
}

export const CLIENT_ERRORS: ClientErrorRow[] = [
  // Not an error: a scan that found none (never answered).
  new ClientErrorRow(ClientError.None, 500, "internal_error", "", RequestOutcome.None),
  new ClientErrorRow(ClientError.InvalidJson, 400, "invalid_json", "request body is not valid JSON (error at byte {})", RequestOutcome.InvalidJson),
  new ClientErrorRow(ClientError.NotAnObject, 400, "invalid_json", "request body must be a JSON object", RequestOutcome.InvalidJson),
  new ClientErrorRow(ClientError.TooDeep, 400, "invalid_json", "request body nests deeper than 256 levels", RequestOutcome.InvalidJson),
  new ClientErrorRow(ClientError.MissingModel, 400, "missing_model", "request body has no \"model\"", RequestOutcome.MissingModel),
  new ClientErrorRow(ClientError.InvalidModel, 400, "invalid_model", "\"model\" must be a string", RequestOutcome.InvalidModel),
  new ClientErrorRow(ClientError.DuplicateModel, 400, "duplicate_model", "request body has more than one top-level \"model\"", RequestOutcome.DuplicateModel),
  new ClientErrorRow(ClientError.InvalidMaxTokens, 400, "invalid_max_tokens",
    "max_tokens, max_completion_tokens and max_output_tokens must be non-negative integers", RequestOutcome.InvalidMaxTokens),
  new ClientErrorRow(ClientError.InvalidModels, 400, "invalid_models",
    "\"models\" must be one array of model names (the fallbacks to try in order)", RequestOutcome.InvalidModels),
  // A body that is not a JSON object, sent without a JSON content type: the client most likely used
  // the wrong encoding (curl -d sends a form, fetch() sends a string as text/plain).
  new ClientErrorRow(ClientError.UnsupportedMediaType, 415, "unsupported_media_type",
    "request body must be a JSON object sent with Content-Type: application/json (the request has {})", RequestOutcome.UnsupportedMediaType),
  new ClientErrorRow(ClientError.UnsupportedContentEncoding, 415, "unsupported_content_encoding",
    "the gateway cannot read a request body with Content-Encoding \"{}\"; send it uncompressed", RequestOutcome.UnsupportedContentEncoding),
  new ClientErrorRow(ClientError.RequestTooLarge, 413, "request_too_large", "request body is larger than {} bytes", RequestOutcome.RequestTooLarge),
  new ClientErrorRow(ClientError.MissingBody, 400, "missing_body", "request body is required", RequestOutcome.MissingBody),
  // The message lists each candidate with the reason it was ruled out (routing/explain.ts).
  new ClientErrorRow(ClientError.ModelNotAvailable, 400, "model_not_available", "{}", RequestOutcome.NoCandidate),
  // A client's `models` list naming something that is not a catalog model (routing/plan.ts).
  new ClientErrorRow(ClientError.UnknownFallback, 400, "invalid_models", "{}", RequestOutcome.InvalidModels),
  new ClientErrorRow(ClientError.BodyUnreadable, 500, "internal_error", "the gateway could not read the request body", RequestOutcome.InternalError),
  new ClientErrorRow(ClientError.RewriteRefused, 500, "internal_error", "the gateway could not rewrite the request", RequestOutcome.InternalError),
];
