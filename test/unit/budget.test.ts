// The budget ledger (assembly/budget) through the emulated Envoy: two workers sharing one
// shared-data store, reservations racing between a worker's read and its compare-and-swap write,
// settlement, release, windows rolling over on a simulated clock, the consumer cap, downgrade, and
// calendar months against JavaScript's own UTC calendar.
import { beforeAll, describe, expect, it } from "vitest";
import { EnvoyProcess, type ProxyWasmHost } from "../host/index.ts";
import { budgetConfig, buildBudgetEntry, LedgerDriver, Limit, NANO, Verdict, type BudgetLine } from "./budget-helpers.ts";

const VM_ID = "budget";
let wasm = "";
beforeAll(() => { wasm = buildBudgetEntry(); }, 120_000);

const DAY = 86400;
const T0 = Date.UTC(2026, 5, 10, 12, 0, 0) / 1000;  // 2026-06-10 12:00:00 UTC

async function gateway(budgets: BudgetLine[], workers = 2): Promise<{ proc: EnvoyProcess; w: LedgerDriver[]; vms: ProxyWasmHost[] }> {
  const proc = new EnvoyProcess();
  const vms = await proc.start({ wasm, workers, vmId: VM_ID, rootId: "budget-entry", configuration: budgetConfig(budgets) });
  const w = vms.map((vm) => new LedgerDriver(vm));
  for (const d of w) d.clock(T0);
  return { proc, w, vms };
}

describe("calendar windows in UTC", () => {
  it("minute, hour, day and month starts and ends agree with the UTC calendar, across years, leap days and centuries", async () => {
    const { w: [d] } = await gateway([]);
    let x = 987654321;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const cases: number[] = [];
    for (let i = 0; i < 3000; i++) cases.push(Math.floor(rnd() * Date.UTC(2400, 0, 1) / 1000));
    // the edges: last and first second of months around leap days, year ends and centuries
    for (const [y, m] of [[2024, 1], [2024, 2], [2025, 1], [2100, 1], [2000, 1], [1999, 11], [2026, 11], [2027, 0], [1970, 0]]) {
      const start = Date.UTC(y, m, 1) / 1000;
      cases.push(start, start - 1, start + 1);
    }
    for (const t of cases) {
      const date = new Date(t * 1000);
      const monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 1000;
      const monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 1000;
      expect(d.windowStart(3, t), new Date(t * 1000).toISOString()).toBe(monthStart);
      expect(d.windowEnd(3, t), new Date(t * 1000).toISOString()).toBe(monthEnd);
      expect(d.windowStart(2, t)).toBe(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) / 1000);
      expect(d.windowEnd(1, t)).toBe(Math.floor(t / 3600) * 3600 + 3600);
      expect(d.windowStart(0, t)).toBe(Math.floor(t / 60) * 60);
    }
    // 2024 and 2000 are leap years, 2100 is not
    expect(d.windowEnd(3, Date.UTC(2024, 1, 10) / 1000)).toBe(Date.UTC(2024, 1, 29, 24) / 1000);
    expect(d.windowEnd(3, Date.UTC(2100, 1, 10) / 1000)).toBe(Date.UTC(2100, 2, 1) / 1000);
    expect(d.windowStart(3, Date.UTC(2000, 1, 29, 23, 59, 59) / 1000)).toBe(Date.UTC(2000, 1, 1) / 1000);
  });
});

describe("the ledger between the workers of one gateway", () => {
  const team: BudgetLine = { name: "team", consumer: "*", window: "day", usd: 1 };

  it("two workers reserving at once never admit past the limit: the write that lost the race reads again", async () => {
    const { proc, w: [a, b] } = await gateway([team]);
    const ha = a.reservation(), hb = b.reservation();
    a.collect(ha, "alice");
    b.collect(hb, "alice");
    // worker b reserves $0.60 between worker a's read and a's write of the same record
    let raced = false;
    proc.shared.beforeSet = (_vm, key) => {
      if (raced || !key.startsWith("llm_router/budget/v1/")) return;
      raced = true;
      expect(b.reserve(hb, 0.6)).toBe(Verdict.Admitted);
    };
    expect(a.reserve(ha, 0.6)).toBe(Verdict.Refused);
    expect(raced).toBe(true);
    expect(a.refused(ha)).toEqual({ slot: 0, limit: Limit.usd });
    expect(a.remaining(ha, 0, Limit.usd)).toBe(0.4 * NANO);
  });

  it("many interleaved reservations and settlements from both workers: admitted spend never exceeds the limit", async () => {
    const { proc, w } = await gateway([{ name: "team", consumer: "*", window: "day", usd: 5, requests: 40 }]);
    let x = 42;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    const held: Array<{ worker: number; h: number; estimate: number }> = [];
    const free: number[][] = [[], []];
    let settled = 0, settledRequests = 0, admitted = 0;
    const step = (worker: number) => {
      const d = w[worker];
      if (held.length > 0 && rnd(3) === 0) {
        const i = rnd(held.length);
        const r = held[i];
        if (r.worker !== worker) return;
        held.splice(i, 1);
        const real = rnd(2) === 0 ? r.estimate : r.estimate / 2;
        if (rnd(5) === 0) d.release(r.h); else { d.settle(r.h, real); settled += real; settledRequests++; }
        free[worker].push(r.h);
        return;
      }
      const h = free[worker].pop() ?? d.reservation();
      d.collect(h, "team-a");
      const estimate = (1 + rnd(50)) / 100;
      if (d.reserve(h, estimate) === Verdict.Admitted) {
        admitted++;
        held.push({ worker, h, estimate });
      } else free[worker].push(h);
    };
    // the OTHER worker acts between a worker's read and its write, one time in three (a worker is
    // one thread: it never re-enters itself)
    let active = 0;
    proc.shared.beforeSet = (_vm, key) => { if (key.endsWith("team-a") && rnd(3) === 0) step(1 - active); };
    for (let i = 0; i < 600; i++) {
      active = rnd(2);
      step(active);
      const inFlight = held.reduce((s, r) => s + r.estimate, 0);
      expect(settled + inFlight).toBeLessThanOrEqual(5 + 1e-9);
      expect(settledRequests + held.length).toBeLessThanOrEqual(40);
    }
    expect(admitted).toBeGreaterThan(10);
    for (const d of w) d.flush();
    const h = w[0].reservation();
    w[0].collect(h, "team-a");
    const inFlight = held.reduce((s, r) => s + r.estimate, 0);
    expect(w[0].used(h, 0, Limit.usd) / NANO).toBeCloseTo(settled + inFlight, 6);
  });

  it("settles to the real cost; a failed request charges nothing, not even the request", async () => {
    const { w: [a, b] } = await gateway([{ name: "team", consumer: "*", window: "day", usd: 1, tokens: 1000, requests: 10 }]);
    const h = a.reservation();
    a.collect(h, "alice");
    expect(a.reserve(h, 0.6, 800)).toBe(Verdict.Admitted);
    const probe = b.reservation();
    b.collect(probe, "alice");
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.4 * NANO);
    expect(b.remaining(probe, 0, Limit.tokens)).toBe(200);
    a.settle(h, 0.2, 300);
    // worker a counts the real cost at once; worker b still sees the estimate (never less than the
    // cost) until a's next write of the record: its next admission there, or its tick
    expect(a.remaining(h, 0, Limit.usd)).toBe(0.8 * NANO);
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.4 * NANO);
    expect(a.waiting()).toBe(1);
    a.flush();
    expect(a.waiting()).toBe(0);
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.8 * NANO);
    expect(b.remaining(probe, 0, Limit.tokens)).toBe(700);
    expect(b.remaining(probe, 0, Limit.requests)).toBe(9);
    expect(b.reserve(probe, 0.7, 10)).toBe(Verdict.Admitted);
    b.release(probe);
    b.flush();
    expect(a.remaining(h, 0, Limit.usd)).toBe(0.8 * NANO);
    expect(a.remaining(h, 0, Limit.requests)).toBe(9);
    // settling or releasing twice changes nothing
    a.settle(h, 0.2, 300);
    b.release(probe);
    a.flush();
    b.flush();
    expect(a.remaining(h, 0, Limit.usd)).toBe(0.8 * NANO);
  });

  it("at most 64 records wait in a worker; a settlement past them is written at once", async () => {
    const { w: [a, b] } = await gateway([{ name: "team", consumer: "*", window: "day", usd: 1 }]);
    for (let i = 0; i < 70; i++) {
      const h = a.reservation();
      a.collect(h, `c${i}`);
      expect(a.reserve(h, 0.5)).toBe(Verdict.Admitted);
      a.settle(h, 0.1);
    }
    expect(a.waiting()).toBe(64);
    const probe = b.reservation();
    b.collect(probe, "c69");
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.9 * NANO);
    b.collect(probe, "c0");
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.5 * NANO);
    a.flush();
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.9 * NANO);
  });

  it("a settlement waiting in its worker goes in with that worker's next admission on the record", async () => {
    const { w: [a, b] } = await gateway([{ name: "team", consumer: "*", window: "day", usd: 1 }]);
    const h1 = a.reservation(), h2 = a.reservation(), probe = b.reservation();
    a.collect(h1, "t");
    a.collect(h2, "t");
    b.collect(probe, "t");
    expect(a.reserve(h1, 0.9)).toBe(Verdict.Admitted);
    a.settle(h1, 0.1);
    expect(b.reserve(probe, 0.5)).toBe(Verdict.Refused);   // b still sees the 0.9 estimate
    expect(a.reserve(h2, 0.5)).toBe(Verdict.Admitted);     // a's write takes its settlement along
    expect(a.waiting()).toBe(0);
    expect(b.remaining(probe, 0, Limit.usd)).toBe(0.4 * NANO);
  });

  it("consumers of a \"*\" budget are held separately, a named consumer's budget only its own, a budget without consumer everyone together", async () => {
    const { w: [a] } = await gateway([
      { name: "each", consumer: "*", window: "day", usd: 1 },
      { name: "bob-only", consumer: "bob", window: "day", usd: 0.5 },
      { name: "everyone", window: "day", usd: 1.5 },
    ]);
    const h1 = a.reservation(), h2 = a.reservation(), h3 = a.reservation();
    expect(a.collect(h1, "alice")).toBe(2);  // each, everyone
    expect(a.collect(h2, "bob")).toBe(3);
    expect(a.reserve(h1, 0.9)).toBe(Verdict.Admitted);
    expect(a.reserve(h2, 0.5)).toBe(Verdict.Admitted);
    // carol's own budget is untouched, but everyone together has 0.1 left
    a.collect(h3, "carol");
    expect(a.remaining(h3, 0, Limit.usd)).toBe(1 * NANO);
    expect(a.reserve(h3, 0.2)).toBe(Verdict.Refused);
    expect(a.budgetOf(h3, a.refused(h3).slot)).toBe(2);
    // the refusal took back what it had reserved on carol's own budget
    expect(a.remaining(h3, 0, Limit.usd)).toBe(1 * NANO);
    // a request without a consumer counts under "*" as the consumer "" (all such requests together)
    const h4 = a.reservation();
    expect(a.collect(h4, null)).toBe(2);
    expect(a.reserve(h4, 0.1)).toBe(Verdict.Admitted);
  });

  it("a budget narrowed to a route, model or provider covers only requests there", async () => {
    const { w: [a] } = await gateway([{ name: "m", consumer: "*", window: "day", usd: 1, route: 2, model: 5 }]);
    const h = a.reservation();
    expect(a.collect(h, "x", 2, 5, 0)).toBe(1);
    expect(a.collect(h, "x", 2, 6, 0)).toBe(0);
    expect(a.collect(h, "x", 1, 5, 0)).toBe(0);
  });
});

describe("windows roll over", () => {
  it("what was spent is forgotten at the boundary; reservations in flight carry into the new window, which they are charged to", async () => {
    const { w: [a, b] } = await gateway([{ name: "daily", consumer: "*", window: "day", usd: 1 }]);
    const endOfDay = Math.floor(T0 / DAY) * DAY + DAY - 1;
    a.clock(endOfDay);
    b.clock(endOfDay);
    const h1 = a.reservation(), h2 = a.reservation(), h3 = b.reservation();
    a.collect(h1, "t");
    a.collect(h2, "t");
    b.collect(h3, "t");
    expect(a.reserve(h1, 0.4)).toBe(Verdict.Admitted);
    a.settle(h1, 0.4);
    expect(a.reserve(h2, 0.5)).toBe(Verdict.Admitted);  // in flight over midnight
    expect(b.reserve(h3, 0.2)).toBe(Verdict.Refused);    // 0.4 + 0.5 + 0.2 > 1
    a.clock(endOfDay + 1);
    b.clock(endOfDay + 1);
    a.flush();                                           // a's first tick of the new day
    // the new day: yesterday's 0.4 is gone, the 0.5 in flight is still held
    expect(b.remaining(h3, 0, Limit.usd)).toBe(0.5 * NANO);
    expect(b.reserve(h3, 0.6)).toBe(Verdict.Refused);
    a.settle(h2, 0.3);                                   // charged to the new day
    a.flush();
    expect(b.remaining(h3, 0, Limit.usd)).toBe(0.7 * NANO);
    expect(b.reserve(h3, 0.6)).toBe(Verdict.Admitted);
  });

  it("a wall clock stepping back across the boundary does not move a record into the earlier window", async () => {
    const { w: [a] } = await gateway([{ name: "daily", consumer: "*", window: "day", usd: 1 }]);
    const midnight = Math.floor(T0 / DAY) * DAY + DAY;
    a.clock(midnight + 5);
    const h = a.reservation();
    a.collect(h, "t");
    expect(a.reserve(h, 0.7)).toBe(Verdict.Admitted);
    a.settle(h, 0.7);
    a.clock(midnight - 2);   // NTP steps the clock back over midnight
    a.collect(h, "t");
    expect(a.reserve(h, 0.5)).toBe(Verdict.Refused);
    a.clock(midnight + 10);
    expect(a.remaining(h, 0, Limit.usd)).toBe(0.3 * NANO);
  });

  it("minute, hour and month windows reset at their own boundary", async () => {
    const { w: [a] } = await gateway([
      { name: "m", consumer: "*", window: "minute", requests: 1 },
      { name: "h", consumer: "*", window: "hour", requests: 2 },
      { name: "mo", consumer: "*", window: "month", requests: 3 },
    ]);
    const start = Date.UTC(2028, 1, 29, 23, 59, 0) / 1000;  // 2028-02-29 23:59:00, a leap day
    const spend = (t: number) => {
      a.clock(t);
      const h = a.reservation();
      a.collect(h, "u");
      const v = a.reserve(h, 0);
      if (v === Verdict.Admitted) a.settle(h, 0);
      return v === Verdict.Admitted ? "ok" : `refused:${["m", "h", "mo"][a.budgetOf(h, a.refused(h).slot)]}`;
    };
    expect(spend(start)).toBe("ok");
    expect(spend(start + 30)).toBe("refused:m");
    expect(spend(start + 60)).toBe("ok");                    // 2028-03-01 00:00:00: minute, hour and month are new
    expect(spend(start + 61)).toBe("refused:m");
    expect(spend(start + 120)).toBe("ok");
    expect(spend(start + 180)).toBe("refused:h");
    expect(spend(start + 60 + 3600)).toBe("ok");             // 01:00: hour new, month has 3
    expect(spend(start + 60 + 7200)).toBe("refused:mo");
    expect(spend(Date.UTC(2028, 3, 1) / 1000)).toBe("ok");   // April
  });
});

describe("downgrade, the consumer cap, records nobody wrote", () => {
  it("downgradeAt is passed once spent and reserved reach the share of any limit", async () => {
    const { w: [a] } = await gateway([{ name: "d", consumer: "*", window: "day", usd: 1, requests: 100, downgrade: [0.8, "cheap"] }]);
    const h = a.reservation();
    a.collect(h, "u");
    expect(a.downgradeSlot(h)).toBe(-1);
    expect(a.reserve(h, 0.79)).toBe(Verdict.Admitted);
    expect(a.downgradeSlot(h)).toBe(-1);
    a.settle(h, 0.79);
    a.collect(h, "u");
    expect(a.reserve(h, 0.01)).toBe(Verdict.Admitted);
    expect(a.downgradeSlot(h)).toBe(0);
    a.release(h);
    expect(a.downgradeSlot(h)).toBe(-1);
  });

  it("past maxConsumers new consumers of a \"*\" budget share one overflow record: held to one limit together, never to none", async () => {
    const { proc, w: [a, b] } = await gateway([{ name: "capped", consumer: "*", window: "day", usd: 1, max: 2 }]);
    const spend = (d: LedgerDriver, who: string, usd: number) => {
      const h = d.reservation();
      d.collect(h, who);
      const v = d.reserve(h, usd);
      if (v === Verdict.Admitted) d.settle(h, usd);
      return v;
    };
    expect(spend(a, "c1", 0.9)).toBe(Verdict.Admitted);
    expect(spend(b, "c2", 0.9)).toBe(Verdict.Admitted);
    expect(spend(a, "c3", 0.6)).toBe(Verdict.Admitted);
    expect(spend(b, "c4", 0.6)).toBe(Verdict.Refused);  // c3 and c4 share the overflow record
    expect(spend(b, "c1", 0.2)).toBe(Verdict.Refused);  // c1 still has its own
    const keys = proc.shared.keys(VM_ID).filter((k) => k.startsWith("llm_router/budget/v1/6/capped/"));
    expect(keys.map((k) => k.slice("llm_router/budget/v1/6/capped/".length)).sort()).toEqual(["\0consumers", "\0other", "c1", "c2"]);
  });

  it("a record that is not the ledger's (garbage, another layout) is replaced, never trusted", async () => {
    const { proc, w: [a] } = await gateway([{ name: "g", consumer: "*", window: "day", usd: 1 }]);
    proc.shared.set(VM_ID, "llm_router/budget/v1/1/g/u", new TextEncoder().encode("not a record"), 0);
    const h = a.reservation();
    a.collect(h, "u");
    expect(a.remaining(h, 0, Limit.usd)).toBe(1 * NANO);
    expect(a.reserve(h, 0.9)).toBe(Verdict.Admitted);
    expect(a.reserve(a.reservation(), 0)).toBe(Verdict.Admitted);  // nothing collected: nothing to refuse
  });
});
