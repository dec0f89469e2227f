// Helpers for the budget tests: the test entry (test/unit/entries/budget-entry.ts, the ledger and
// the shared-store client as a proxy-wasm module) built once per source change, the plugin
// configuration it reads, and its JavaScript-driven exports through the test host.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ProxyWasmHost } from "../host/index.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BUDGET_WASM = join(ROOT, "build", "test-budget.wasm");
const SOURCES = [join(ROOT, "test", "unit", "entries", "budget-entry.ts"), join(ROOT, "assembly", "budget"), join(ROOT, "assembly", "abi")];

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(...readdirSync(path).map((e) => newest(join(path, e))));
}

/** Compiles the budget entry with the plugin's own settings (minimal runtime, SIMD, its abort). */
export function buildBudgetEntry(): string {
  if (existsSync(BUDGET_WASM) && statSync(BUDGET_WASM).mtimeMs >= Math.max(...SOURCES.map(newest))) return BUDGET_WASM;
  mkdirSync(dirname(BUDGET_WASM), { recursive: true });
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), [
    "test/unit/entries/budget-entry.ts", "-O3", "--runtime", "minimal", "--exportStart", "_initialize", "--enable", "simd",
    "--use", "abort=assembly/abi/abort/onAbort", "-o", BUDGET_WASM,
  ], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  return BUDGET_WASM;
}

export type Window = "minute" | "hour" | "day" | "month";
export interface BudgetLine {
  name: string;
  consumer?: string | null; // null / absent: everyone together; "*": each consumer
  window: Window;
  usd?: number;
  tokens?: number;
  requests?: number;
  downgrade?: [number, string];
  shared?: "open" | "closed";
  max?: number;
  route?: number;
  model?: number;
  provider?: number;
}

export function budgetConfig(budgets: BudgetLine[], store?: { cluster: string; timeoutMs: number }): string {
  const lines = budgets.map((b) => {
    const words = ["budget", b.name, b.consumer === undefined || b.consumer === null ? "-" : b.consumer, b.window];
    for (const k of ["usd", "tokens", "requests", "shared", "max", "route", "model", "provider"] as const) {
      if (b[k] !== undefined) words.push(`${k}=${b[k]}`);
    }
    if (b.downgrade) words.push(`downgrade=${b.downgrade[0]}:${b.downgrade[1]}`);
    return words.join(" ");
  });
  if (store) lines.unshift(`store ${store.cluster} ${store.timeoutMs}`);
  return lines.join("\n");
}

export const NANO = 1e9;
export const Verdict = { Admitted: 0, Refused: 1, StoreUnavailable: 2, LedgerUnavailable: 3 } as const;
export const Limit = { usd: 0, tokens: 1, requests: 2 } as const;

/** The entry's test_* exports of one worker VM, with the consumer passed as a string. */
export class LedgerDriver {
  constructor(readonly vm: ProxyWasmHost) {}
  private call(name: string, ...args: Array<number | bigint>): any { return this.vm.callExport(name, ...args); }
  clock(seconds: number): void { this.call("test_set_clock", BigInt(seconds)); }
  reservation(): number { return this.call("test_new"); }
  collect(h: number, consumer: string | null, route = -1, model = -1, provider = -1): number {
    const bytes = consumer === null ? new Uint8Array(0) : new TextEncoder().encode(consumer);
    const at = this.call("test_consumer_buffer") >>> 0;
    this.vm.memoryBytes().set(bytes.subarray(0, 256), at);
    return this.call("test_collect", h, Math.min(bytes.length, 256), route, model, provider);
  }
  reserve(h: number, usd: number, tokens = 0): number { return this.call("test_reserve", h, BigInt(Math.round(usd * NANO)), BigInt(tokens)); }
  settle(h: number, usd: number, tokens = 0): void { this.call("test_settle", h, BigInt(Math.round(usd * NANO)), BigInt(tokens)); }
  release(h: number): void { this.call("test_release", h); }
  refused(h: number): { slot: number; limit: number } { return { slot: this.call("test_refused_slot", h), limit: this.call("test_refused_limit", h) }; }
  budgetOf(h: number, slot: number): number { return this.call("test_budget_of", h, slot); }
  remaining(h: number, slot: number, limit: number): number { return Number(this.call("test_remaining", h, slot, limit)); }
  used(h: number, slot: number, limit: number): number { return Number(this.call("test_used", h, slot, limit)); }
  downgradeSlot(h: number): number { return this.call("test_downgrade_slot", h); }
  storeTotal(h: number, slot: number, limit: number, total: number): void { this.call("test_store_total", h, slot, limit, BigInt(total)); }
  windowStart(kind: number, now: number): number { return Number(this.call("test_window_start", kind, BigInt(now))); }
  windowEnd(kind: number, now: number): number { return Number(this.call("test_window_end", kind, BigInt(now))); }
}
