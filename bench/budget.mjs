// Budgets: what the ledger costs a request inside real Envoy, and what asking the shared store
// costs. The budget test entry (test/unit/entries/budget-entry.ts) times, inside Envoy 1.40, N
// requests' collect + reserve + settle against its configured budgets (Wasm work and Envoy's own
// shared-data calls: one read and one compare-and-swap write per budget at admission, which also
// takes the previous request's settlement along), and reports the wall-clock ns and Envoy's CPU time; the peek's round trip (proxy_grpc_call to the answer at the root) is timed the same
// way against the real rate limit service and Redis on loopback.
//   node bench/budget.mjs [--quick]   (needs `npm run setup`: Envoy, Redis, the rate limit service)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { startSharedStore } from "../cli/lib/shared-store.mjs";
import { budgetBootstrap, budgetConfig } from "../test/unit/entries/budget-entry.mjs";
import { upperMedian as median } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const quick = process.argv.includes("--quick");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

// CPU time (user + system) the process has used: what the work cost whatever else the machine runs
// (wall-clock time inside the VM stretches on a busy machine). /proc/<pid>/stat fields 14 and 15, in
// clock ticks (getconf CLK_TCK: 100 on Linux).
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// One Envoy (one worker) running the bootstrap; resolves with its listener port and a stop().
async function startBudgetEnvoy(opts) {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-bench-budget-"));
  writeFileSync(join(dir, "envoy.yaml"), YAML.stringify(budgetBootstrap(opts)));
  const child = spawn(join(ROOT, ".venv", "bin", "envoy"), ["-c", join(dir, "envoy.yaml"), "--disable-hot-restart", "--concurrency", "1",
    "--base-id", String(process.pid % 60000 + 1000), "--admin-address-path", join(dir, "admin"), "--log-level", "warn"], { stdio: "ignore" });
  const stop = async () => { child.kill("SIGTERM"); await new Promise((r) => child.once("exit", r)); rmSync(dir, { recursive: true, force: true }); };
  for (let i = 0; i < 300; i++) {
    await sleep(50);
    if (!existsSync(join(dir, "admin"))) continue;
    const admin = Number(/:(\d+)$/.exec(readFileSync(join(dir, "admin"), "utf8").trim())?.[1]);
    const listeners = await get(admin, "/listeners?format=json").catch(() => null);
    const port = listeners && JSON.parse(listeners.text).listener_statuses?.[0]?.local_address?.socket_address?.port_value;
    if (port) return { request: (headers) => get(port, "/", headers), cpuSeconds: () => cpuSeconds(child.pid), stop };
  }
  await stop();
  throw new Error("Envoy did not start");
}

const N = quick ? 20000 : 200000;   // 200,000 × ~2 µs: 40 clock ticks of CPU time per round
const ROUNDS = quick ? 3 : 9;
const huge = { usd: 1e6, tokens: 1e12, requests: 1e12 };
const variants = [
  ["no budget in scope", []],
  ["1 budget (\"*\", usd + tokens + requests)", [{ name: "team", consumer: "*", window: "day", ...huge }]],
  ["3 budgets (\"*\", the consumer by name, everyone)", [
    { name: "each", consumer: "*", window: "day", ...huge },
    { name: "named", consumer: "team-a", window: "month", ...huge },
    { name: "everyone", window: "hour", ...huge },
  ]],
];

// Per request (µs): the whole ledger work with each variant's budgets, then, with one budget, one
// shared-data read and one write alone (Envoy's part of the four a request makes per budget).
// Both clocks: the wall-clock ns the entry measured inside Envoy, and the CPU time Envoy used.
async function perRequest(g, mode) {
  const wall = [], cpu = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = g.cpuSeconds();
    const reply = await g.request({ "x-budget-consumer": "team-a", "x-budget-bench": String(N), "x-budget-bench-mode": mode });
    cpu.push(((g.cpuSeconds() - before) * 1e6) / N);
    wall.push(Number(/bench_ns=(\d+)/.exec(String(reply.headers["x-budget-result"]))?.[1]) / N / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const rows = [];
let calls;
for (const [label, budgets] of variants) {
  const g = await startBudgetEnvoy({ pluginConfig: budgetConfig(budgets) });
  try {
    rows.push([label, await perRequest(g, "")]);
    if (budgets.length === 1) calls = { get: await perRequest(g, "get"), set: await perRequest(g, "set") };
  } finally {
    await g.stop();
  }
}

const store = await startSharedStore();
let peek;
try {
  const g = await startBudgetEnvoy({
    pluginConfig: budgetConfig([{ name: "team", consumer: "*", window: "day", ...huge, shared: "closed" }], { cluster: "rls", timeoutMs: 500 }),
    store: { cluster: "rls", port: store.grpcPort },
  });
  try {
    const ns = [];
    for (let i = 0; i < (quick ? 100 : 500); i++) {
      const reply = await g.request({ "x-budget-consumer": "team-a", "x-budget-estimate": "1000 10", "x-budget-cost": "1000 10" });
      const m = /peek_ns=(\d+)/.exec(String(reply.headers["x-budget-result"]));
      if (m) ns.push(Number(m[1]));
    }
    ns.sort((a, b) => a - b);
    peek = { median: ns[ns.length >> 1], p90: ns[Math.floor(ns.length * 0.9)], p99: ns[Math.floor(ns.length * 0.99)], n: ns.length };
  } finally {
    await g.stop();
  }
} finally {
  await store.stop();
}

console.log(`\nBudget ledger inside Envoy 1.40 (${N} requests per round, median of ${ROUNDS} rounds): collect + reserve + settle per request`);
console.log("| budgets in scope | µs per request (Envoy's CPU time) | µs per request (wall clock inside the VM) |\n|---|---|---|");
for (const [label, us] of rows) console.log(`| ${label} | ${us.cpu.toFixed(2)} | ${us.wall.toFixed(2)} |`);
console.log(`Envoy's shared data alone (CPU time): one read ${calls.get.cpu.toFixed(2)} µs, one write ${calls.set.cpu.toFixed(2)} µs ` +
  "(a request reads and writes each record once; its end goes in with the next admission)");
console.log(`\nPeek round trip (proxy_grpc_call → answer at the root; rate limit service + Redis on loopback; ${peek.n} requests):` +
  ` median ${(peek.median / 1e6).toFixed(2)} ms, p90 ${(peek.p90 / 1e6).toFixed(2)} ms, p99 ${(peek.p99 / 1e6).toFixed(2)} ms`);
