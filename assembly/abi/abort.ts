import { proxy_log } from "./imports";
import { LogLevel } from "./constants";
import { LOG_PREFIX } from "../names";

// AssemblyScript calls `abort` on a failed assertion or an out-of-bounds access. The default would
// import `env.abort`, which no proxy-wasm host registers (the module would not load), so it is
// pointed here: say what happened through proxy_log, then trap. Reaching this is a bug: Envoy fails
// the VM after a trap, so tests and fuzzing exist to keep it unreachable.
export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = LOG_PREFIX + "internal error: " + (message !== null ? message : "abort") + " at " +
    (fileName !== null ? fileName : "?") + ":" + line.toString() + ":" + column.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(LogLevel.Critical, changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}
