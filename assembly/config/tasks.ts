// The task and complexity vocabulary of detection. The names are a contract (configuration keys,
// header values); the numbers index per-task tables precomputed at configure time.

export const TASK_CODING: i32 = 0;
export const TASK_MATH: i32 = 1;
export const TASK_REASONING: i32 = 2;
export const TASK_WRITING: i32 = 3;
export const TASK_TRANSLATION: i32 = 4;
export const TASK_SUMMARIZATION: i32 = 5;
export const TASK_EXTRACTION: i32 = 6;
export const TASK_DEFAULT: i32 = 7;   // matches no built-in task
export const TASK_COUNT: i32 = 8;     // the seven tasks and default
export const TASK_NAMES: string[] = [
  "coding", "math", "reasoning", "writing", "translation", "summarization", "extraction", "default",
];

export const TIER_SIMPLE: i32 = 0;
export const TIER_MEDIUM: i32 = 1;
export const TIER_COMPLEX: i32 = 2;
export const TIER_REASONING: i32 = 3;
export const TIER_COUNT: i32 = 4;
export const TIER_NAMES: string[] = ["simple", "medium", "complex", "reasoning"];

// What a keyword scores: signals 0..6 are the tasks (same numbers), then the complexity markers,
// code syntax (which counts for `coding` and marks the request as containing code) and quantity
// questions (which count for `math` when the text has numbers).
export const SIGNAL_TIER_REASONING: u8 = 7;
export const SIGNAL_TIER_COMPLEX: u8 = 8;
export const SIGNAL_TIER_SIMPLE: u8 = 9;
export const SIGNAL_CODE_SYNTAX: u8 = 10;
export const SIGNAL_QUANTITY: u8 = 11;   // "how many", "多少": math only next to numbers
export const SIGNAL_COUNT: i32 = 12;

// Configuration names of the complexity markers (`detection.complexity.<name>`), by signal.
export const MARKER_NAMES: string[] = ["reasoning", "complex", "simple"];
export const MARKER_SIGNALS: u8[] = [SIGNAL_TIER_REASONING, SIGNAL_TIER_COMPLEX, SIGNAL_TIER_SIMPLE];

function utf8(name: string, i: i32, all: string[]): ArrayBuffer { return String.UTF8.encode(name); }
// Header values, encoded once.
export const TASK_HEADER_VALUES: ArrayBuffer[] = TASK_NAMES.map<ArrayBuffer>(utf8);
export const TIER_HEADER_VALUES: ArrayBuffer[] = TIER_NAMES.map<ArrayBuffer>(utf8);
