// Compiled task-detection settings (read by config/detection.ts, used by request/task_detect.ts).
import { KeywordAutomaton } from "./keyword_automaton";
import { SIGNAL_COUNT } from "./tasks";

export const DEFAULT_DETECTION_MAX_BYTES: i32 = 4096;

export class DetectionConfig {
  // Bytes of the request body examined per request (raw JSON, escapes counted as sent): the
  // first and last half of the user text when it is longer.
  maxBytes: i32 = DEFAULT_DETECTION_MAX_BYTES;
  // Detect (and set the headers) on every routed request, not only for routes that need it.
  always: bool = false;
  // Bit per signal (config/tasks.ts): built-in structural rules of that task or marker are on.
  builtin: u32 = (1 << SIGNAL_COUNT) - 1;
  automaton: KeywordAutomaton = new KeywordAutomaton();
  // Request scratch: the decoded, lowercased text examined (maxBytes plus separators).
  scratch: StaticArray<u8> = new StaticArray<u8>(0);

  builtinOn(signal: i32): bool { return (this.builtin & (1 << signal)) != 0; }
}
