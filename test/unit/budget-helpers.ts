// Helpers for the budget tests: the test entry (test/unit/entries/budget-entry.ts, the ledger and
// the shared-store client as a proxy-wasm module; built by budget-entry.mjs), the plugin
// configuration it reads, and its JavaScript-driven exports through the test host.
import type { ProxyWasmHost } from "../host/index.ts";
import { budgetConfig as config, buildBudgetEntry } from "./entries/budget-entry.mjs";

export { buildBudgetEntry };

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

export const budgetConfig = (budgets: BudgetLine[], store?: { cluster: string; timeoutMs: number }): string => config(budgets, store);

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
  /** What the root's tick does: this worker's waiting settlements into their records. */
  flush(): void { this.call("test_flush"); }
  waiting(): number { return this.call("test_waiting"); }
  refused(h: number): { slot: number; limit: number } { return { slot: this.call("test_refused_slot", h), limit: this.call("test_refused_limit", h) }; }
  budgetOf(h: number, slot: number): number { return this.call("test_budget_of", h, slot); }
  remaining(h: number, slot: number, limit: number): number { return Number(this.call("test_remaining", h, slot, limit)); }
  used(h: number, slot: number, limit: number): number { return Number(this.call("test_used", h, slot, limit)); }
  downgradeSlot(h: number): number { return this.call("test_downgrade_slot", h); }
  storeTotal(h: number, slot: number, limit: number, total: number): void { this.call("test_store_total", h, slot, limit, BigInt(total)); }
  windowStart(kind: number, now: number): number { return Number(this.call("test_window_start", kind, BigInt(now))); }
  windowEnd(kind: number, now: number): number { return Number(this.call("test_window_end", kind, BigInt(now))); }
}
