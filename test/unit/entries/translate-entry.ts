// Test entry (not part of the plugin): the API translation modules (assembly/api) driven from
// JavaScript, with the response usage scanner to check what it reads from a translated answer.
import { Pair, ResponseMode, Target, Translation } from "../../../assembly/api/translate";
import { writeClientError } from "../../../assembly/api/translate";
import { ByteWriter } from "../../../assembly/api/writer";
import { UsageScanner } from "../../../assembly/response/usage_scan";

const target = new Target();
const translation = new Translation();
const scratch = new ByteWriter();
const usage = new UsageScanner();
let errorText: ArrayBuffer = new ArrayBuffer(0);

export function alloc(size: usize): usize { return heap.alloc(size); }
export function free(p: usize): void { heap.free(p); }
export function collect(): void { __collect(); }

// The attempt's model: its upstream id as a JSON literal, its name, the default output budget.
export function setTarget(literal: usize, literalSize: usize, name: usize, nameSize: usize, defaultMaxTokens: i64): void {
  const l = new ArrayBuffer(<i32>literalSize);
  memory.copy(changetype<usize>(l), literal, literalSize);
  target.literal = l;
  target.name = String.UTF8.decodeUnsafe(name, nameSize);
  target.defaultMaxTokens = defaultMaxTokens;
}

export function begin(pair: i32, nowSeconds: i64): void { translation.begin(<Pair>pair, nowSeconds); }
export function request(p: usize, n: usize): bool {
  const ok = translation.request(p, n, target);
  if (!ok) errorText = String.UTF8.encode(translation.error.code + "\n" + translation.error.message);
  return ok;
}
export function errorStatus(): i32 { return translation.error.status; }
export function errorPtr(): usize { return changetype<usize>(errorText); }
export function errorLen(): usize { return <usize>errorText.byteLength; }
export function outPtr(): usize { return translation.out.data; }
export function outLen(): usize { return translation.out.length; }
export function stream(): bool { return translation.stream; }

export function responseHeaders(status: i32, ct: usize, ctSize: usize, ce: usize, ceSize: usize): i32 {
  return <i32>translation.responseHeaders(status, ct, ctSize, ce, ceSize);
}
export function responseBody(p: usize, n: usize): bool { return translation.responseBody(p, n); }
export function streamChunk(p: usize, n: usize, eos: bool): void { translation.streamChunk(p, n, eos); }
export function heldBytes(): usize { return translation.heldBytes; }
export function streamFinished(): bool { return translation.streamFinished; }
export function streamFailed(): bool { return translation.streamFailed; }

// The gateway's own error in a client's shape (client 0 OpenAI, 1 Anthropic), into the scratch buffer.
export function clientError(client: i32, status: i32, code: usize, codeSize: usize, message: usize, messageSize: usize): void {
  scratch.reset();
  writeClientError(client, status, String.UTF8.decodeUnsafe(code, codeSize), String.UTF8.decodeUnsafe(message, messageSize), scratch);
}
export function scratchPtr(): usize { return scratch.data; }
export function scratchLen(): usize { return scratch.length; }

// The usage scanner over bytes (one call per chunk), then its readings.
export function usageReset(): void { usage.reset(); }
export function usageFeed(p: usize, n: usize): void { usage.feed(p, n); }
export function usageFinish(): void { usage.finish(); }
export function usageInput(): i64 { return usage.inputTotal(); }
export function usageCached(): i64 { return usage.cachedTotal(); }
export function usageOutput(): i64 { return usage.outputTokens; }

export const MODE_JSON = <i32>ResponseMode.Json;
