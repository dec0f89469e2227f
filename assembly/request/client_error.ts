// Every error the router filter answers a client with; its row in the catalogue (client_errors.ts)
// holds the status, code, message and outcome. The body scan reports the first ones (in
// RequestFeatures.error); the others come from the headers, the decision and the host.
export const enum ClientError {
  None = 0,
  // what a body scan finds
  InvalidJson,
  NotAnObject,
  TooDeep,
  MissingModel,
  InvalidModel,
  DuplicateModel,
  InvalidMaxTokens,
  InvalidModels,
  // past the body
  UnsupportedMediaType,
  UnsupportedContentEncoding,
  RequestTooLarge,
  MissingBody,
  ModelNotAvailable,
  UnknownFallback,
  BodyUnreadable,
  RewriteRefused,
}

// A body that is not a JSON object (sent without a JSON content type, its answer is
// UnsupportedMediaType: the client most likely used the wrong encoding).
@inline export function isNotAJsonObject(error: ClientError): bool {
  return error == ClientError.InvalidJson || error == ClientError.NotAnObject || error == ClientError.TooDeep;
}
