// Benchmark entry (not part of the plugin): the body scan and task detection as plain exports,
// so bench/detect.mjs can time them without host calls and print a detection's signal scores.
import { parseJsonTree } from "../assembly/json/tree";
import { compileRouterConfig } from "../assembly/config/compile";
import { resetConfigError } from "../assembly/config/errors";
import { RouterConfig } from "../assembly/config/types";
import { BodyScanner } from "../assembly/request/body_scan";
import { ClientError } from "../assembly/request/client_error";
import { RequestFeatures } from "../assembly/request/features";
import { DetectedTask, detectTask, lastScore } from "../assembly/request/task_detect";

const features = new RequestFeatures();
const scanner = new BodyScanner();
const detected = new DetectedTask();
let config: RouterConfig | null = null;

export function alloc(size: usize): usize { return heap.alloc(size); }
export function free(p: usize): void { heap.free(p); }

export function configure(p: usize, n: usize): bool {
  resetConfigError();
  const tree = parseJsonTree(p, n);
  config = tree === null ? null : compileRouterConfig(tree, "");
  return config !== null && config!.detection !== null;
}

// task * 16 + tier, or -1 when the body is not a valid request.
export function detect(p: usize, n: usize): i32 {
  scanner.scan(p, n, features);
  if (features.error != ClientError.None) return -1;
  detectTask(p, features, config!.detection!, detected);
  return detected.task * 16 + detected.tier;
}

export function score(signal: i32): f64 { return lastScore(signal); }

export function scanMany(p: usize, n: usize, times: i32): i32 {
  let errors = 0;
  for (let i = 0; i < times; i++) { scanner.scan(p, n, features); errors += features.error != ClientError.None ? 1 : 0; }
  return errors;
}

// Scans a body once (detectMany then runs detection alone on it).
export function prepare(p: usize, n: usize): bool {
  scanner.scan(p, n, features);
  return features.error == ClientError.None;
}

// Detection alone on the body last prepared.
export function detectMany(p: usize, times: i32): i32 {
  let sum = 0;
  for (let i = 0; i < times; i++) { detectTask(p, features, config!.detection!, detected); sum += detected.task; }
  return sum;
}
