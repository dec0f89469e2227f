// The first configuration error found, as "<field path>: <what is wrong>". Operators get exactly
// this in one log line; on_configure then refuses the configuration.
export let configError = "";

export function resetConfigError(): void { configError = ""; }

// Records the error (the first one wins) and returns false so callers can `return fail(...)`.
export function fail(path: string, message: string): bool {
  if (configError.length == 0) configError = (path.length > 0 ? path : "configuration") + ": " + message;
  return false;
}
