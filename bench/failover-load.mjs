// Kill a provider in the middle of a bounded load run through `llm-router start config/router.json
// --mock` and count what the clients saw, per route. Routes with an alternate on another provider
// should lose nothing; what only that provider serves (a catalog model without fallbacks, the
// embedding model) fails from the kill on.
//
//   node bench/failover-load.mjs [--seconds 30] [--kill-at 10] [--concurrency 8] [--provider openai]
//                                [--hard] [--no-write]
//
// --hard cuts every connection of the provider at the kill (a crash): streams already answering then
// break mid-way, which no gateway repairs (Envoy never replays a response that has started; README
// says so). Without it the provider stops listening and closes its idle connections (answers in
// progress finish), i.e. it is down for every request that has not started. Writes
// bench/results/failover-load[-hard].{json,md}.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "./lib/gateway.mjs";
import { ROOT } from "./lib/ts.mjs";

const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
const SECONDS = Number(opt("seconds", "30"));
const KILL_AT = Number(opt("kill-at", "10"));
const CONCURRENCY = Number(opt("concurrency", "8"));
const PROVIDER = opt("provider", "openai");
const HARD = argv.includes("--hard");

// What the clients send, in turn: every alias of config/router.json (streamed and not), the
// embedding alias, and catalog models asked for by name (no fallbacks in router.json).
const WORK = [
  ["auto", "chat"], ["auto", "stream"], ["cheap", "chat"], ["fast", "stream"], ["bulk", "chat"],
  ["best", "chat"], ["best", "stream"], ["mix", "chat"], ["embed", "embed"],
  ["gpt-4o-mini", "chat"], ["deepseek-chat", "chat"], ["llama-3.1-8b", "stream"],
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function body(model, kind) {
  if (kind === "embed") return { path: "/v1/embeddings", text: JSON.stringify({ model, input: "the quick brown fox" }) };
  return { path: "/v1/chat/completions", text: JSON.stringify({ model, messages: [{ role: "user", content: "Say hello." }], max_tokens: 8, stream: kind === "stream" }) };
}

// One request; the outcome a client would judge: complete 2xx answer or not.
function call(agent, url, model, kind) {
  const { path, text } = body(model, kind);
  const u = new URL(path, url);
  return new Promise((resolve) => {
    const started = Date.now();
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let data = "";
      let cut = false;
      res.on("data", (d) => (data += d));
      res.on("aborted", () => (cut = true));
      res.on("error", () => (cut = true));
      res.on("close", () => {
        const status = res.statusCode ?? 0;
        const streamDone = kind !== "stream" || data.includes("data: [DONE]");
        const ok = status >= 200 && status < 300 && !cut && streamDone;
        resolve({ ok, status, cut: cut || !streamDone, served: res.headers["x-llm-served-model"] ?? "", ms: Date.now() - started, at: started });
      });
    });
    req.on("error", (e) => resolve({ ok: false, status: 0, cut: false, error: e.message, served: "", ms: Date.now() - started, at: started }));
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.end(text);
  });
}

function post(url, path) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: "POST", headers: { "content-length": 0 } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

async function main() {
  const runDir = mkdtempSync(join(tmpdir(), "llm-router-failover-load-"));
  const gw = startGateway("config/router.json", runDir);
  await gw.ready();
  const victim = gw.state.mocks[PROVIDER];
  if (!victim) throw new Error(`no mock for provider ${PROVIDER} (mocks: ${Object.keys(gw.state.mocks).join(", ")})`);
  console.log(`gateway ${gw.state.url}; ${PROVIDER}'s mock ${victim}; ${SECONDS} s at concurrency ${CONCURRENCY}, ${PROVIDER} ${HARD ? "killed (every connection cut)" : "stops listening"} at ${KILL_AT} s`);

  const t0 = Date.now();
  const killAt = t0 + KILL_AT * 1000;
  const end = t0 + SECONDS * 1000;
  const results = [];
  let killed = 0;
  const killer = (async () => {
    await sleep(killAt - Date.now());
    await post(victim, HARD ? "/_mock/stop?hard=1" : "/_mock/stop");
    killed = Date.now();
    console.log(`  ${((killed - t0) / 1000).toFixed(1)} s: ${PROVIDER} down`);
  })();
  let next = 0;
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    while (Date.now() < end) {
      const [model, kind] = WORK[next++ % WORK.length];
      const r = await call(agent, gw.state.url, model, kind);
      results.push({ model, kind, ...r });
    }
    agent.destroy();
  };
  await Promise.all([killer, ...Array.from({ length: CONCURRENCY }, worker)]);
  await sleep(500); // the last access lines
  gw.child.kill("SIGINT");
  await gw.exited;
  rmSync(runDir, { recursive: true, force: true });

  // Which of the work items have an alternate on another provider: every alias of router.json but
  // `embed` (one embedding model), no catalog model (router.json gives none `fallbacks`).
  const hasAlternate = (model) => !["embed", "gpt-4o-mini", "deepseek-chat", "llama-3.1-8b"].includes(model);
  const rows = {};
  for (const r of results) {
    const key = `${r.model} (${r.kind})`;
    const row = (rows[key] ??= { route: r.model, kind: r.kind, alternate: hasAlternate(r.model), before: 0, after: 0, failedBefore: 0, failedAfter: 0, cut: 0, servedAfter: {} });
    const after = r.at >= killed;
    if (after) row.after++;
    else row.before++;
    if (!r.ok) {
      if (after) row.failedAfter++;
      else row.failedBefore++;
      if (r.cut) row.cut++;
    }
    if (after && r.ok) row.servedAfter[r.served] = (row.servedAfter[r.served] ?? 0) + 1;
  }
  if (process.env.FAILOVER_DEBUG) for (const r of results) if (!r.ok) console.log("   failed:", JSON.stringify(r));
  const failovers = gw.state.access.filter((l) => /attempts=[2-9]/.test(l)).length;
  const totals = (pred) => Object.values(rows).filter(pred).reduce((t, r) => ({ requests: t.requests + r.before + r.after, failed: t.failed + r.failedBefore + r.failedAfter, cut: t.cut + r.cut }), { requests: 0, failed: 0, cut: 0 });
  const withAlt = totals((r) => r.alternate);
  const without = totals((r) => !r.alternate);
  const summary = {
    date: new Date().toISOString(), seconds: SECONDS, killAtSeconds: KILL_AT, concurrency: CONCURRENCY, provider: PROVIDER, hard: HARD,
    requests: results.length, failoversInAccessLog: failovers, withAlternate: withAlt, withoutAlternate: without, routes: rows,
  };
  console.log(`  ${results.length} requests; ${failovers} moved to another model (access log attempts > 1)`);
  console.log(`  routes with an alternate: ${withAlt.requests} requests, ${withAlt.failed} failed (${withAlt.cut} cut mid-stream)`);
  console.log(`  routes without one:       ${without.requests} requests, ${without.failed} failed`);
  const md = [
    `# Failover under load: ${PROVIDER} ${HARD ? "killed (connections cut)" : "down"} at ${KILL_AT} s of ${SECONDS} s`, "",
    `${summary.date} · \`llm-router start config/router.json --mock\` · ${CONCURRENCY} clients, keep-alive, requests in turn over the list below · ` +
      `${results.length} requests, ${failovers} moved to another model (access log \`attempts\` > 1)`, "",
    "| route / model | kind | alternate | before | after | failed before | failed after | cut mid-stream | served after the kill |",
    "|---|---|---|---|---|---|---|---|---|",
    ...Object.values(rows).map((r) => `| ${r.route} | ${r.kind} | ${r.alternate ? "yes" : "no"} | ${r.before} | ${r.after} | ${r.failedBefore} | ${r.failedAfter} | ${r.cut} | ${Object.entries(r.servedAfter).map(([m, n]) => `${m} ${n}`).join(", ")} |`),
    "",
    `Routes with an alternate: **${withAlt.requests} requests, ${withAlt.failed} failed**. Without one: ${without.requests} requests, ${without.failed} failed.`,
    "",
  ];
  if (!argv.includes("--no-write")) {
    const name = HARD ? "failover-load-hard" : "failover-load";
    writeFileSync(join(ROOT, "bench", "results", `${name}.json`), JSON.stringify(summary, null, 1));
    writeFileSync(join(ROOT, "bench", "results", `${name}.md`), md.join("\n"));
    console.log(`  wrote bench/results/${name}.md`);
  }
}

await main();
