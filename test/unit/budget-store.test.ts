// Budgets across gateways (assembly/budget/shared.ts) in the emulated Envoy: what the plugin asks
// the rate limit service (decoded here independently of its encoder), how the answers move the
// ledger, two gateways sharing one budget through one service, a store that fails or never answers
// (fail open or closed per budget), charges retried once the store is back, a month across the
// store's 365-day bucket boundary, and the response decoder on hostile bytes. The real service:
// test/e2e/budget-store.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { EnvoyProcess } from "../host/index.ts";
import { budgetConfig, buildBudgetEntry, LedgerDriver, Limit, NANO, Verdict, type BudgetLine } from "./budget-helpers.ts";
import { decodeRequest, encodeResponse, FakeRateLimitService } from "./ratelimit-fake.ts";

let wasm = "";
beforeAll(() => { wasm = buildBudgetEntry(); }, 120_000);

const T0 = Date.UTC(2026, 5, 10, 12, 0, 0) / 1000;

interface Gw { proc: EnvoyProcess; d: LedgerDriver }

async function gateway(budgets: BudgetLine[], service: FakeRateLimitService | null, timeoutMs = 100): Promise<Gw> {
  const proc = new EnvoyProcess();
  proc.grpcServices.set("rls", service ? service.handler : null);
  const [vm] = await proc.start({ wasm, workers: 1, vmId: "budget", rootId: "budget-entry", configuration: budgetConfig(budgets, { cluster: "rls", timeoutMs }) });
  const d = new LedgerDriver(vm);
  d.clock(T0);
  return { proc, d };
}

const call = (g: Gw, name: string, ...args: Array<number | bigint>) => g.d.vm.callExport(name, ...args);

// One request through a gateway: peek, wait for the answer, reserve; then settle and charge.
function admit(g: Gw, consumer: string, usd: number): { h: number; verdict: number } {
  const h = g.d.reservation();
  g.d.collect(h, consumer);
  call(g, "test_peek", h);
  g.proc.advance(150);
  return { h, verdict: g.d.reserve(h, usd) };
}
function finish(g: Gw, h: number, usd: number): void {
  g.d.settle(h, usd);
  call(g, "test_charge", h);
  g.proc.advance(10);
}

describe("what the plugin asks the rate limit service", () => {
  it("a peek: domain llm_router, one descriptor per limit with the budget, the consumer, the limit override in store units and hits_addend 0", async () => {
    let now = T0;
    const svc = new FakeRateLimitService(() => now);
    const g = await gateway([
      { name: "team", consumer: "*", window: "day", usd: 10, tokens: 20_000_000_000, shared: "closed" },
      { name: "all", window: "month", requests: 1000, shared: "open" },
      { name: "local", consumer: "*", window: "day", usd: 1 },
    ], svc);
    const h = g.d.reservation();
    expect(g.d.collect(h, "alice")).toBe(3);
    expect(call(g, "test_peek", h)).toBe(5);
    const req = svc.requests[0];
    expect(req.domain).toBe("llm_router");
    expect(req.descriptors).toEqual([
      { entries: [["llm_router_budget", "team"], ["consumer", "alice"], ["limit", "usd"]], limit: { requestsPerUnit: 10_000_000, unit: 4 }, hits: 0n },
      // 2e10 tokens do not fit a uint32: counted in tens of tokens
      { entries: [["llm_router_budget", "team"], ["consumer", "alice"], ["limit", "tokens"]], limit: { requestsPerUnit: 2_000_000_000, unit: 4 }, hits: 0n },
      // a calendar month: its name in the descriptor, the service's 365-day unit
      { entries: [["llm_router_budget", "all"], ["consumers", "all"], ["limit", "requests"], ["month", "2026-06"]], limit: { requestsPerUnit: 1000, unit: 6 }, hits: 0n },
    ]);
    g.proc.advance(10);
    expect(call(g, "test_store_total_of", h, 0, Limit.usd)).toBe(0n);
    expect(call(g, "test_store_in_flight")).toBe(0);
    // nothing was counted by the peek
    expect([...svc.counters.values()]).toEqual([0n, 0n, 0n]);
  });

  it("a charge: the settled cost in whole store units, the rest kept for the next charge", async () => {
    const svc = new FakeRateLimitService(() => T0);
    const g = await gateway([{ name: "team", consumer: "*", window: "hour", usd: 10, tokens: 5000, shared: "closed" }], svc);
    const { h, verdict } = admit(g, "bob", 0.01);
    expect(verdict).toBe(Verdict.Admitted);
    g.d.settle(h, 0.0000015, 42);                 // 1.5 µUSD: one unit (1 µUSD) now, 0.5 µUSD later
    expect(call(g, "test_charge", h)).toBe(1);
    const charge = svc.requests[1].descriptors;
    expect(charge.map((d) => [d.entries[2][1], d.hits, d.limit!.unit])).toEqual([["usd", 1n, 3], ["tokens", 42n, 3]]);
    g.proc.advance(10);
    const second = admit(g, "bob", 0.01);
    g.d.settle(second.h, 0.0000006, 0);           // 0.5 + 0.6 µUSD: one more unit, 0.1 kept
    call(g, "test_charge", second.h);
    expect(svc.requests.at(-1)!.descriptors.map((d) => d.hits)).toEqual([1n]);
  });
});

describe("two gateways, one budget", () => {
  it("what one gateway settled limits the other; its own unacknowledged charges count at once", async () => {
    const svc = new FakeRateLimitService(() => T0);
    const budgets: BudgetLine[] = [{ name: "team", consumer: "*", window: "day", usd: 10, shared: "closed" }];
    const a = await gateway(budgets, svc), b = await gateway(budgets, svc);
    const r1 = admit(a, "t", 6);
    expect(r1.verdict).toBe(Verdict.Admitted);
    finish(a, r1.h, 6);
    const r2 = admit(b, "t", 5);
    expect(r2.verdict).toBe(Verdict.Refused);
    expect(call(b, "test_store_total_of", r2.h, 0, Limit.usd)).toBe(6n * BigInt(NANO));
    const r3 = admit(b, "t", 3);
    expect(r3.verdict).toBe(Verdict.Admitted);
    // gateway b settles 3 and has not reached the store yet: its own next admission counts it
    b.d.settle(r3.h, 3);
    const r4 = admit(b, "t", 2);
    expect(r4.verdict).toBe(Verdict.Refused);
    call(b, "test_charge", r3.h);
    b.proc.advance(10);
    const r5 = admit(a, "t", 1.5);
    expect(r5.verdict).toBe(Verdict.Refused);   // 6 + 3 + 1.5 > 10
    expect(admit(a, "t", 1).verdict).toBe(Verdict.Admitted);
  });
});

describe("a store that fails or does not answer", () => {
  const budgets = (mode: "open" | "closed"): BudgetLine[] => [{ name: "team", consumer: "*", window: "day", usd: 10, shared: mode }];

  for (const [what, setup] of [
    ["Redis gone (the service answers status 2)", (svc: FakeRateLimitService) => { svc.redisDown = true; return svc; }],
    ["the service down (connection refused, status 14)", () => null],
  ] as const) {
    it(`${what}: a fail-closed budget refuses, a fail-open one admits on what this gateway spent itself`, async () => {
      const closed = await gateway(budgets("closed"), setup(new FakeRateLimitService(() => T0)));
      const open = await gateway(budgets("open"), setup(new FakeRateLimitService(() => T0)));
      expect(admit(closed, "t", 1).verdict).toBe(Verdict.StoreUnavailable);
      const r = admit(open, "t", 6);
      expect(r.verdict).toBe(Verdict.Admitted);
      open.d.settle(r.h, 6);
      expect(admit(open, "t", 5).verdict).toBe(Verdict.Refused);
      expect(Number(call(open, "test_store_failures"))).toBeGreaterThanOrEqual(2);
    });
  }

  it("no answer within the timeout: decided at the timeout, as without a store", async () => {
    const svc = new FakeRateLimitService(() => T0);
    const g = await gateway(budgets("closed"), null, 80);
    g.proc.grpcServices.set("rls", () => ({ hang: true }));
    const h = g.d.reservation();
    g.d.collect(h, "t");
    call(g, "test_peek", h);
    g.proc.advance(79);
    expect(call(g, "test_store_in_flight")).toBe(1);
    g.proc.advance(1);
    expect(call(g, "test_store_in_flight")).toBe(0);
    expect(g.d.reserve(h, 1)).toBe(Verdict.StoreUnavailable);
    expect(svc.requests).toEqual([]);
  });

  it("charges the store did not take wait in the ledger and go out again from the tick", async () => {
    let now = T0;
    const svc = new FakeRateLimitService(() => now);
    const g = await gateway(budgets("open"), svc);
    const r = admit(g, "t", 2);
    svc.redisDown = true;
    finish(g, r.h, 2);
    expect([...svc.counters.values()]).toEqual([0n]);
    // still counted by this gateway meanwhile
    expect(admit(g, "t", 8.5).verdict).toBe(Verdict.Refused);
    svc.redisDown = false;
    g.proc.advance(200);   // the entry's tick retries
    expect([...svc.counters.values()]).toEqual([2_000_000n]);
    now += 1;
    expect(admit(g, "t", 8.5).verdict).toBe(Verdict.Refused);
    expect(admit(g, "t", 8).verdict).toBe(Verdict.Admitted);
  });
});

describe("a calendar month in the store's 365-day buckets", () => {
  it("when a bucket boundary falls inside the month, each gateway charges its month's spend again into the new bucket", async () => {
    const boundary = Date.UTC(2026, 11, 18) / 1000;  // 20805 days * 86400: a multiple of 365 days
    expect(boundary % (365 * 86400)).toBe(0);
    let now = boundary - 3600;
    const svc = new FakeRateLimitService(() => now);
    const budgets: BudgetLine[] = [{ name: "monthly", consumer: "*", window: "month", usd: 10, shared: "closed" }];
    const a = await gateway(budgets, svc), b = await gateway(budgets, svc);
    a.d.clock(now); b.d.clock(now);
    const r1 = admit(a, "t", 4);
    finish(a, r1.h, 4);
    const r2 = admit(b, "t", 3);
    finish(b, r2.h, 3);
    now = boundary + 60;
    a.d.clock(now); b.d.clock(now);
    // the store alone would now say 0 for December; each gateway's next admission carries its part
    const r3 = admit(a, "t", 1);
    expect(r3.verdict).toBe(Verdict.Admitted);
    a.d.release(r3.h);
    call(a, "test_charge", r3.h);
    a.proc.advance(10);
    const r4 = admit(b, "t", 1);
    b.d.release(r4.h);
    call(b, "test_charge", r4.h);
    b.proc.advance(10);
    const r5 = admit(a, "t", 3.5);
    expect(call(a, "test_store_total_of", r5.h, 0, Limit.usd)).toBe(7n * BigInt(NANO));
    expect(r5.verdict).toBe(Verdict.Refused);
  });
});

describe("the emulated gRPC answers as Envoy 1.40 does (measured by test/e2e/budget-store.test.ts)", () => {
  const lines = (g: Gw) => g.proc.logs.filter((l) => l.message.startsWith("budget-entry: grpc_")).map((l) => l.message);
  const budgets: BudgetLine[] = [{ name: "team", consumer: "*", window: "day", usd: 10, shared: "open" }];

  it("answers reach the root context (id 1) with tokens 5, 9 …; an answered call is not closed", async () => {
    const g = await gateway(budgets, new FakeRateLimitService(() => T0));
    const r = admit(g, "t", 1);
    finish(g, r.h, 1);
    expect(lines(g)).toEqual([
      expect.stringMatching(/^budget-entry: grpc_receive context=1 token=5 size=\d+ known=1$/),
      expect.stringMatching(/^budget-entry: grpc_receive context=1 token=9 size=\d+ known=1$/),
    ]);
  });

  it("refused connection and timeout: status 14 with Envoy's messages; a cluster Envoy lacks: closed inside the call", async () => {
    const down = await gateway(budgets, null);
    admit(down, "t", 1);
    expect(lines(down)).toEqual(["budget-entry: grpc_close context=1 token=5 status=14 message=upstream connect error or disconnect/reset before headers. " +
      "reset reason: remote connection failure{upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}} known=1"]);
    const silent = await gateway(budgets, null, 300);
    silent.proc.grpcServices.set("rls", () => ({ hang: true }));
    const h = silent.d.reservation();
    silent.d.collect(h, "t");
    call(silent, "test_peek", h);
    silent.proc.advance(299);
    expect(lines(silent)).toEqual([]);
    silent.proc.advance(1);
    expect(lines(silent)).toEqual(["budget-entry: grpc_close context=1 token=5 status=14 message=upstream request timeout{response_timeout} known=1"]);
    const none = await gateway(budgets, null);
    none.proc.grpcServices.delete("rls");
    const n = none.d.reservation();
    none.d.collect(n, "t");
    expect(call(none, "test_peek", n)).toBe(0);
    expect(lines(none)).toEqual(["budget-entry: grpc_close context=1 token=5 status=14 message=Cluster not available known=0"]);
  });
});

describe("the response decoder", () => {
  it("reads the statuses of a real answer and never traps on cut, flipped or random bytes", async () => {
    const g = await gateway([], null);
    const write = (bytes: Uint8Array) => {
      const at = call(g, "test_bytes", bytes.length) >>> 0;
      g.d.vm.memoryBytes().set(bytes, at);
      return call(g, "test_parse", bytes.length);
    };
    const answer = encodeResponse(2, [
      { code: 1, requestsPerUnit: 10_000_000, unit: 4, remaining: 4_000_000, resetSeconds: 43200 },
      { code: 2, requestsPerUnit: 1000, unit: 6, remaining: 0, resetSeconds: 100 },
    ]);
    expect(write(answer)).toBe(2);
    expect([0, 1, 2, 3].map((f) => Number(call(g, "test_status", 0, f)))).toEqual([1, 10_000_000, 4_000_000, 43200]);
    expect([0, 1, 2, 3].map((f) => Number(call(g, "test_status", 1, f)))).toEqual([2, 1000, 0, 100]);
    let x = 7;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 3 === 0 ? answer.slice(0, rnd(answer.length)) : i % 3 === 1 ? answer.map((b) => (rnd(8) === 0 ? rnd(256) : b)) : Uint8Array.from({ length: rnd(64) }, () => rnd(256));
      const n = write(bytes);
      expect(n >= -1 && n <= 64).toBe(true);
    }
    expect(g.d.vm.vmFailed).toBe(false);
    // and the request encoder's output reads back with an independent decoder
    expect(decodeRequest(Uint8Array.from([10, 10, ...new TextEncoder().encode("llm_router")])).domain).toBe("llm_router");
  });
});
