import { DetectionConfig } from "./detection_config";
import { NameIndex } from "./name_index";

// The configuration as the request path reads it: parsed and validated once in on_configure, never
// changed afterwards. Everything a request needs is precomputed here (UTF-8 bytes of names and
// headers, the JSON-encoded upstream model id, each route's candidates with their task quality).

export const CAP_TOOLS: u32 = 1;
export const CAP_VISION: u32 = 2;
export const CAP_JSON: u32 = 4;

export class ModelSpec {
  name: string = "";
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  upstream: string = "";
  upstreamBytes: ArrayBuffer = new ArrayBuffer(0);
  // The upstream model id as a JSON string literal, quotes included: the bytes spliced into the body.
  upstreamModelLiteral: ArrayBuffer = new ArrayBuffer(0);
  inputPrice: f64 = 0;          // USD per 1M input tokens
  outputPrice: f64 = 0;         // USD per 1M output tokens
  ttftMs: f64 = 0;
  tokensPerSecond: f64 = 0;
  contextWindow: f64 = 0;
  maxOutputTokens: f64 = 0;
  capabilities: u32 = 0;
  quality: f64 = 5;
  taskNames: string[] = [];
  taskQualities: f64[] = [];
  weight: f64 = 1;

  qualityFor(task: string): f64 {
    for (let i = 0; i < this.taskNames.length; i++) if (this.taskNames[i] == task) return this.taskQualities[i];
    return this.quality;
  }
}

export const enum Strategy { Price, Latency, Throughput, Quality, Balanced, Random }

export class RouteSpec {
  name: string = "";
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  strategy: Strategy = Strategy.Balanced;
  candidates: i32[] = [];          // model indices, in tie-break order
  candidateQuality: f64[] = [];    // quality of each candidate for this route's task
  require: u32 = 0;
  minQuality: f64 = -Infinity;
  maxCostUsd: f64 = Infinity;
  maxTtftMs: f64 = Infinity;
  minTokensPerSecond: f64 = -Infinity;
  weightQuality: f64 = 0.4;
  weightPrice: f64 = 0.3;
  weightLatency: f64 = 0.2;
  weightThroughput: f64 = 0.1;
  onNoCandidate: i32 = -1;         // model index, or -1 to reject
  // Task detection (config/detection.ts). `"task": "auto"` ranks with the detected task's quality:
  // taskVariants[task] is this route read with that task. byTask / byComplexity hold the route
  // index per task / tier (-1: this route decides), resolved at configure time, one hop deep.
  taskAuto: bool = false;
  taskVariants: RouteSpec[] = [];
  byTask: StaticArray<i32> | null = null;
  byComplexity: StaticArray<i32> | null = null;

  needsDetection(): bool { return this.taskAuto || this.byTask !== null || this.byComplexity !== null; }
}

export class RouterConfig {
  models: ModelSpec[] = [];
  routes: RouteSpec[] = [];
  modelIndex: NameIndex = new NameIndex([]);
  routeIndex: NameIndex = new NameIndex([]);
  capabilityNames: string[] = [];  // bit i of a capability mask is capabilityNames[i]
  upstreamHeader: ArrayBuffer = new ArrayBuffer(0);
  modelHeader: ArrayBuffer = new ArrayBuffer(0);
  maxBodyBytes: usize = 10485760;
  maxBodyBytesText: ArrayBuffer = new ArrayBuffer(0);   // decimal, for Higress's buffer-limit property
  defaultOutputTokens: f64 = 512;
  bytesPerToken: f64 = 4;
  paths: ArrayBuffer[] = [];
  // Task detection: null when no route needs it and `detection.always` is off.
  detection: DetectionConfig | null = null;
  taskHeader: ArrayBuffer = new ArrayBuffer(0);
  complexityHeader: ArrayBuffer = new ArrayBuffer(0);
}
