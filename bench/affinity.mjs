// Prompt-cache affinity, replayed: multi-turn conversations sent turn by turn through the real
// gateway (`llm-router start bench/affinity/router.json --mock`: Envoy with the plugin, two workers on
// this machine, three providers' mocks emulating prompt caching), each turn carrying the whole
// conversation so far with the answers the mock returned. Per trace: total cost from the gateway's
// own cost metric, the share of input tokens served from the providers' caches (the gateway's
// cached_input_token / input_token), p50 latency, success rate, and how often a conversation's next
// turn went to another model than its previous one.
//
// Traces (bench/affinity/traces.mjs): an agent trace from the Berkeley Function Calling Leaderboard's
// multi-turn tasks (bfcl-eval on PyPI, Apache-2.0, downloaded at run time) and a generated chat trace.
// Routes `agent` and `chat` (bench/affinity/router.json): `latency` with spread 0.25 and explore 0.05
// over three models on three providers with their cached-input prices.
//
//   node bench/affinity.mjs [--tasks 30] [--chats 24] [--concurrency 6] [--label affinity-off]
//                           [--affinity JSON] [--client-pin] [--tool-bytes 60-600] [--no-write]
// --affinity sets every route's `affinity` field (e.g. --affinity true, once the plugin has it).
// --client-pin: the bound affinity can reach here: from its second request on, a conversation names
// the catalog model that served its first one (the client pins it; the route is not consulted).
// --tool-bytes: the size range of the generated tool results' output.
// Writes bench/results/<label>.{md,json}.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentTasks, AGENT_SYSTEM, chatConversations, PACKAGE } from "./affinity/traces.mjs";
import { startGateway } from "./lib/gateway.mjs";
import { median } from "./lib/measure.mjs";
import { ROOT } from "./lib/ts.mjs";

const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
const TASKS = Number(opt("tasks", "30"));
const CHATS = Number(opt("chats", "24"));
const CONCURRENCY = Number(opt("concurrency", "6"));
const LABEL = opt("label", "affinity-off");
const AFFINITY = opt("affinity", null);
const CLIENT_PIN = argv.includes("--client-pin");
const TOOL_BYTES = opt("tool-bytes", "60-600").split("-").map(Number);
// The mocks answer as the table says (whole answer 40 ms after the request, text or tool call alike;
// the table: first token 40 ms, 100,000 tokens a second): the replay measures routing and caching,
// not the providers' speed. A model measured faster than its table value would take the whole route
// (spread only shares traffic between near-equals: the others' table values would fall outside it,
// and they would never be measured again); with table and mocks agreeing, the three stay within
// the routes' spread of each other.
const MOCK_KNOBS = { promptCache: true, ttftMs: 40, tokensPerSecond: 0 };
const TRAFFIC = /^wasmcustom\.route\.(.*?)\.upstream\.(.*?)\.model\.(.*?)\.consumer\.(.*?)\.metric\.([a-z0-9_]+)$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function http(method, url, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const text = body === undefined ? "" : JSON.stringify(body);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: data }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** One chat request through the gateway, as a client sees it. */
function send(agent, url, body) {
  const text = JSON.stringify(body);
  const u = new URL("/v1/chat/completions", url);
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        let answer = null;
        try { answer = JSON.parse(data); } catch { /* not JSON: a failure */ }
        const ok = res.statusCode === 200 && answer?.choices?.[0]?.message !== undefined;
        resolve({ ok, status: res.statusCode, ms, served: res.headers["x-llm-served-model"] ?? "", answer, bytes: text.length });
      });
    });
    req.on("error", (e) => resolve({ ok: false, status: 0, ms: 0, served: "", error: e.message }));
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.end(text);
  });
}

/** The model a conversation's next request names: the route, or with --client-pin the model that served its first request. */
function pinner(route) {
  let pinned = "";
  return { model: () => pinned || route, saw: (r) => { if (CLIENT_PIN && !pinned && r.ok && r.served) pinned = r.served; } };
}

/** Replays one agent task: per user turn, one request per ground-truth call, then the final answer. */
async function replayTask(agent, url, task, log) {
  const pin = pinner("agent");
  const messages = [{ role: "system", content: AGENT_SYSTEM }];
  for (const turn of task.turns) {
    messages.push({ role: "user", content: turn.user });
    for (const call of turn.calls) {
      const r = await send(agent, url, { model: pin.model(), tools: task.tools, tool_choice: { type: "function", function: { name: call.name } }, messages, max_tokens: 64 });
      pin.saw(r);
      log(r);
      if (!r.ok) return;
      const answer = r.answer.choices[0].message;
      messages.push(answer);
      messages.push({ role: "tool", tool_call_id: answer.tool_calls?.[0]?.id ?? "call", content: call.result });
    }
    const r = await send(agent, url, { model: pin.model(), tools: task.tools, messages, max_tokens: 64 });
    pin.saw(r);
    log(r);
    if (!r.ok) return;
    messages.push(r.answer.choices[0].message);
  }
}

async function replayChat(agent, url, chat, log) {
  const pin = pinner("chat");
  const messages = [{ role: "system", content: chat.system }];
  for (const user of chat.turns) {
    messages.push({ role: "user", content: user });
    const r = await send(agent, url, { model: pin.model(), messages, max_tokens: 64 });
    pin.saw(r);
    log(r);
    if (!r.ok) return;
    messages.push(r.answer.choices[0].message);
  }
}

/** Runs `items` through `replay` with `concurrency` conversations at a time; results per conversation. */
async function replayAll(items, replay, url) {
  const conversations = items.map(() => []);
  let next = 0;
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = next++; i < items.length; i = next++) await replay(agent, url, items[i], (r) => conversations[i].push(r));
    agent.destroy();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return conversations;
}

/** The gateway's own traffic counters (every route: a pinned client names a catalog model, route `none`), summed. */
async function gatewayTotals(admin) {
  const r = await http("GET", `${admin}/stats?format=json&filter=${encodeURIComponent("^wasmcustom\\.route\\.")}`);
  const total = {};
  for (const { name, value } of JSON.parse(r.text).stats ?? []) {
    const m = TRAFFIC.exec(name);
    if (m && typeof value === "number") total[m[5]] = (total[m[5]] ?? 0) + value;
  }
  return total;
}

/** Replays a trace and returns its conversations and what the gateway counted for it. */
async function replayTrace(items, replay, gw) {
  const before = await gatewayTotals(gw.state.admin);
  const conversations = await replayAll(items, replay, gw.state.url);
  await sleep(2500); // the workers push their counters to Envoy's stats every second
  const after = await gatewayTotals(gw.state.admin);
  const counted = {};
  for (const k of Object.keys(after)) counted[k] = after[k] - (before[k] ?? 0);
  return { conversations, counted };
}

function summarise(name, { conversations, counted }, prices) {
  const all = conversations.flat();
  const ok = all.filter((r) => r.ok);
  let pairs = 0, switches = 0;
  for (const c of conversations) for (let i = 1; i < c.length; i++) { if (!c[i].ok || !c[i - 1].ok) continue; pairs++; if (c[i].served !== c[i - 1].served) switches++; }
  // The same cost from the usage the clients received, as a cross-check of the gateway's metric; and
  // at one price for every model (the three models' mean), which leaves out which models the random
  // spread happened to pick (their prices differ up to fourfold) and keeps what caching changed.
  const models = Object.values(prices);
  const mean = Object.fromEntries(["input", "cachedInput", "output"].map((k) => [k, models.reduce((n, p) => n + p[k], 0) / models.length]));
  const costAt = (u, p) => ((u.prompt_tokens - (u.prompt_tokens_details?.cached_tokens ?? 0)) * p.input + (u.prompt_tokens_details?.cached_tokens ?? 0) * p.cachedInput + u.completion_tokens * p.output) / 1e6;
  let clientCost = 0, uniformCost = 0;
  for (const r of ok) {
    const u = r.answer.usage;
    if (!u || !prices[r.served]) continue;
    clientCost += costAt(u, prices[r.served]);
    uniformCost += costAt(u, mean);
  }
  const t = counted;
  const served = {};
  for (const r of ok) served[r.served] = (served[r.served] ?? 0) + 1;
  return {
    trace: name, conversations: conversations.length, requests: all.length, succeeded: ok.length,
    success_rate: all.length ? ok.length / all.length : 0,
    cost_usd: (t.llm_router_cost_micro_usd ?? 0) / 1e6, client_cost_usd: clientCost, uniform_price_cost_usd: uniformCost,
    input_tokens: t.input_token ?? 0, cached_input_tokens: t.cached_input_token ?? 0,
    cache_hit_share: t.input_token ? (t.cached_input_token ?? 0) / t.input_token : 0,
    p50_ms: median(ok.map((r) => r.ms)), switch_share: pairs ? switches / pairs : 0,
    mean_request_bytes: all.length ? all.reduce((n, r) => n + (r.bytes ?? 0), 0) / all.length : 0,
    served,
  };
}

async function main() {
  const tasks = agentTasks(TASKS, TOOL_BYTES);
  const chats = chatConversations(CHATS);
  const config = JSON.parse(readFileSync(join(ROOT, "bench", "affinity", "router.json"), "utf8"));
  if (AFFINITY !== null) for (const r of Object.values(config.routes)) r.affinity = JSON.parse(AFFINITY);
  const prices = Object.fromEntries(config.models.map((m) => [m.name, m.price]));
  const runDir = mkdtempSync(join(tmpdir(), "llm-router-affinity-"));
  const configFile = join(runDir, "router.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const gw = startGateway(configFile, runDir);
  try {
    await gw.ready();
    for (const url of Object.values(gw.state.mocks)) {
      const r = await http("POST", `${url}/_mock/knobs`, MOCK_KNOBS);
      if (r.status !== 200) throw new Error(`mock knobs: ${r.status} ${r.text}`);
    }
    console.log(`gateway ${gw.state.url} (admin ${gw.state.admin}); mocks ${Object.keys(gw.state.mocks).join(", ")} with ${JSON.stringify(MOCK_KNOBS)}`);
    const t0 = Date.now();
    const rows = [
      summarise("agent", await replayTrace(tasks, replayTask, gw), prices),
      summarise("chat", await replayTrace(chats, replayChat, gw), prices),
    ];
    const seconds = (Date.now() - t0) / 1000;
    for (const r of rows) {
      console.log(`  ${r.trace}: ${r.requests} requests in ${r.conversations} conversations, ${(100 * r.success_rate).toFixed(1)} % succeeded; ` +
        `cost $${r.cost_usd.toFixed(4)} (clients' usage: $${r.client_cost_usd.toFixed(4)}, at one price: $${r.uniform_price_cost_usd.toFixed(4)}); cache hits ${(100 * r.cache_hit_share).toFixed(1)} % of ${r.input_tokens} input tokens; ` +
        `p50 ${r.p50_ms.toFixed(1)} ms; next turn on another model ${(100 * r.switch_share).toFixed(1)} %; served ${JSON.stringify(r.served)}`);
    }
    const result = { label: LABEL, date: new Date().toISOString(), affinity: AFFINITY, clientPin: CLIENT_PIN, toolBytes: TOOL_BYTES, tasks: TASKS, chats: CHATS, concurrency: CONCURRENCY, seconds, mockKnobs: MOCK_KNOBS, data: PACKAGE, rows };
    if (!argv.includes("--no-write")) {
      writeFileSync(join(ROOT, "bench", "results", `${LABEL}.json`), JSON.stringify(result, null, 1));
      writeFileSync(join(ROOT, "bench", "results", `${LABEL}.md`), report(result));
      console.log(`  wrote bench/results/${LABEL}.md`);
    }
  } finally {
    gw.child.kill("SIGINT");
    await gw.exited;
    rmSync(runDir, { recursive: true, force: true });
  }
}

function report(r) {
  const pct = (x) => `${(100 * x).toFixed(1)} %`;
  return [
    `# Prompt-cache affinity replay: ${r.label}`, "",
    `${r.date} · \`node bench/affinity.mjs${r.affinity === null ? "" : ` --affinity '${r.affinity}'`}${r.clientPin ? " --client-pin" : ""}${r.toolBytes.join("-") === "60-600" ? "" : ` --tool-bytes ${r.toolBytes.join("-")}`}\` · \`llm-router start bench/affinity/router.json --mock\` (Envoy 1.40, ` +
      `two workers: Envoy's default concurrency on this 2-core machine), routes \`agent\` and \`chat\`: \`latency\`, spread 0.25, explore 0.05, ` +
      `over gpt-4.1-mini, deepseek-chat and gemini-2.5-flash on three providers' mocks (${JSON.stringify(r.mockKnobs)}); ` +
      `${r.concurrency} conversations at a time; ${r.seconds.toFixed(0)} s. Affinity: ${r.affinity === null ? "off (the plugin as on main)" : r.affinity}` +
      `${r.clientPin ? "; the client pins each conversation to the model that served its first request (the bound affinity can reach)" : ""}.`, "",
    `Agent trace: the first ${r.tasks} multi-turn tasks of ${r.data} (Apache-2.0), tool results generated (${r.toolBytes.join(" to ")} bytes of output each); chat trace: ${r.chats} generated conversations of six turns (bench/affinity/traces.mjs).`, "",
    "| trace | conversations | requests | success | cost (gateway metric) | cost (clients' usage) | cost at one price | input tokens | served from cache | p50 latency | next turn on another model | served |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.rows.map((x) => `| ${x.trace} | ${x.conversations} | ${x.requests} | ${pct(x.success_rate)} | $${x.cost_usd.toFixed(4)} | $${x.client_cost_usd.toFixed(4)} | $${x.uniform_price_cost_usd.toFixed(4)} | ${x.input_tokens} | ${pct(x.cache_hit_share)} | ${x.p50_ms.toFixed(1)} ms | ${pct(x.switch_share)} | ${Object.entries(x.served).map(([m, n]) => `${m} ${n}`).join(", ")} |`),
    "",
    "*Cost at one price*: the clients' usage priced at the three models' mean prices for every model, so that which models the random spread happened to pick (prices differ up to fourfold) does not hide what caching changed.",
    "",
  ].join("\n");
}

await main();
