// Issue 23, item 4: one client benching models for everyone. The attacker sends 24 `auto` requests
// that every provider the providers of its model and of its alternate refuse (429 with Retry-After:
// 300, or 500, in turn: a body they choke on); victims keep sending ordinary `auto` requests. Printed: which model served the victims
// before and after, what that costs per request, which models the gateway cooled down — without a
// consumer identity, then with one (metrics.consumerHeader: the attacker and the victims are
// different consumers).
import { call, chat, errorCode, routerConfig, sleep, startGateway, tally } from "./gateway.mjs";

const MARKER = "ABUSE-POISON";
const CONSUMER_HEADER = "x-abuse-consumer";
const SPARED = "gpt-4o";
const ANSWERS = [
  { status: 429, headers: { "retry-after": "300" } },
  { status: 500, headers: {} },
];

async function victims(gw, count, headers) {
  const served = [];
  for (let i = 0; i < count; i++) {
    const r = await call(gw.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", ...headers }, body: chat("auto") });
    served.push(r.status === 200 ? r.headers["x-llm-served-model"] ?? "?" : `${r.status} ${errorCode(r)}`);
    await sleep(100);
  }
  return served;
}

async function coolingModels(gw) {
  const gauges = await gw.stat("^wasmcustom\\.llm_router_model_(cooling_down|consecutive_failures|failure_rate_ppm)\\.");
  const out = {};
  for (const [name, value] of Object.entries(gauges)) {
    const m = /llm_router_model_([a-z_]+)\.upstream\..*?\.model\.(.*)$/.exec(name);
    if (m) (out[m[2]] ??= {})[m[1]] = value;
  }
  return out;
}

async function round(log, { identity }) {
  const config = routerConfig();
  if (identity) config.metrics = { consumerHeader: CONSUMER_HEADER };
  const prices = Object.fromEntries(config.models.map((m) => [m.name, m.price]));
  const gw = await startGateway(config);
  const who = (name) => (identity ? { [CONSUMER_HEADER]: name } : {});
  try {
    const before = await victims(gw, 10, who("victim"));
    // Every model but the dearest refuses the attacker's requests (as a per-model rate limit would).
    for (const f of Object.values(gw.fronts)) f.rules.poison = { marker: MARKER, answers: ANSWERS, spare: `"model":"${SPARED}"` };
    const attacker = [];
    for (let i = 0; i < 24; i++) {
      const r = await call(gw.url, {
        method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", ...who("attacker") },
        body: chat("auto", { messages: [{ role: "user", content: `${MARKER} ${i}` }] }),
      });
      attacker.push(r.headers["x-llm-served-model"] ? `${r.status} via ${r.headers["x-llm-served-model"]}` : `${r.status} ${errorCode(r)}`);
    }
    await sleep(1200); // one tick: every worker has read the shared state
    const cooling = await coolingModels(gw);
    const after = await victims(gw, 62, who("victim"));
    const perRequest = (list) => {
      const ok = list.filter((m) => prices[m]);
      return ok.length ? ok.reduce((s, m) => s + prices[m].input, 0) / ok.length : 0;
    };
    const result = {
      identity,
      victimsBefore: tally(before),
      attacker: tally(attacker),
      cooling,
      victimsAfter: tally(after),
      inputPricePerMBefore: perRequest(before),
      inputPricePerMAfter: perRequest(after),
      movedAway: after.filter((m) => m !== before[0]).length,
    };
    log(`  ${identity ? `with a consumer identity (${CONSUMER_HEADER}: attacker / victim)` : "without a consumer identity"}:`);
    log(`    victims before: ${result.victimsBefore}`);
    log(`    attacker, 24 requests every model but ${SPARED} refuses (429 Retry-After: 300 / 500): ${result.attacker}`);
    log(`    models then: ${Object.entries(cooling).map(([m, g]) => `${m} cooling=${g.cooling_down ?? 0} failures=${g.consecutive_failures ?? 0}`).join("; ")}`);
    log(`    victims after (62 requests): ${result.victimsAfter}; ${result.movedAway} of 62 not on ${before[0]}; mean input price $${result.inputPricePerMBefore.toFixed(2)} → $${result.inputPricePerMAfter.toFixed(2)} per 1M tokens`);
    return result;
  } finally {
    await gw.stop();
  }
}

export async function cooldownScenario({ log }) {
  return { anonymous: await round(log, { identity: false }), identified: await round(log, { identity: true }) };
}
