// Issue 23, item 5: absurd usage. The provider behind `fast` (llama-3.1-8b on groq) — or anything in
// front of it — claims 2,000,000,000 prompt and completion tokens on two answers, then 10^12
// completion tokens on one stream. Printed: the cost counter, `llm-router top`'s cost and speed,
// and the model's tokens-per-second gauge before and after.
import { spawnSync } from "node:child_process";
import { CLI, call, chat, routerConfig, sleep, startGateway } from "./gateway.mjs";

const MODEL = "llama-3.1-8b";

async function readings(gw) {
  await sleep(1300); // one tick: the counters and gauges are pushed to Envoy's stats
  const stats = await gw.stat(`${MODEL.replace(/\./g, "\\.")}`);
  let cost = 0, tps = null, output = 0;
  for (const [name, value] of Object.entries(stats)) {
    if (/metric\.llm_router_cost_micro_usd$/.test(name)) cost += value;
    if (/metric\.output_token$/.test(name)) output += value;
    if (/^wasmcustom\.llm_router_model_tokens_per_second\./.test(name)) tps = value;
  }
  const top = spawnSync(process.execPath, [CLI, "top", "--admin", gw.adminUrl.replace("http://", ""), "--once", "--interval", "0.5"], { encoding: "utf8" });
  const row = (top.stdout ?? "").split("\n").find((l) => l.startsWith(MODEL)) ?? "";
  const total = (top.stdout ?? "").split("\n").filter((l) => /^\S+\s+\S+\s/.test(l) && !l.startsWith("MODEL") && !l.startsWith("ROUTE") && !l.includes("—"));
  return { costUsd: cost / 1e6, outputTokens: output, tokensPerSecondGauge: tps, topRow: row.replace(/\s+/g, " ").trim(), topLines: total.length };
}

const show = (r) => `cost counter $${r.costUsd.toFixed(6)}, output tokens ${r.outputTokens}, tokens/s gauge ${r.tokensPerSecondGauge}; top: "${r.topRow}"`;

export async function usageScenario({ log }) {
  const gw = await startGateway(routerConfig());
  const front = gw.fronts.groq;
  const ask = (stream) => call(gw.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: chat("fast", stream ? { stream: true, max_tokens: 32 } : {}) });
  try {
    gw.mocks.groq.setKnobs({ ttftMs: 20, tokensPerSecond: 400 });
    for (let i = 0; i < 5; i++) await ask(true);
    const before = await readings(gw);
    log(`  5 honest streams: ${show(before)}`);
    front.rules.usage = { prompt: 2_000_000_000, completion: 2_000_000_000 };
    const claimed = [await ask(false), await ask(false)].map((r) => r.status);
    const afterBillions = await readings(gw);
    log(`  2 answers claiming 2,000,000,000 prompt + 2,000,000,000 completion tokens (${claimed.join(", ")}): ${show(afterBillions)}`);
    front.rules.usage = { prompt: 10, completion: 1_000_000_000_000 };
    const trillion = (await ask(true)).status;
    const afterTrillion = await readings(gw);
    log(`  1 stream claiming 10^12 completion tokens (${trillion}): ${show(afterTrillion)}`);
    return { before, afterBillions, afterTrillion, addedByBillionsUsd: afterBillions.costUsd - before.costUsd, addedByTrillionUsd: afterTrillion.costUsd - afterBillions.costUsd };
  } finally {
    await gw.stop();
  }
}
