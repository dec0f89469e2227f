// `llm-router top`: a live view of the gateway from Envoy's admin endpoint alone. Two reads of
// /stats?format=json (the plugin's stats, raw names: the same on Envoy and Higress whatever the
// stats_tags) an interval apart give, per model: requests per second, error rate (the model's
// failures) and client-error rate (the provider's other 4xx), cooldown, time to first token
// p50/p95, output tokens per second, cost per minute; and per route which models served it. Parsing, arithmetic and rendering are pure functions (tested without Envoy); `runTop` does the
// I/O.
import { get } from "node:http";
import { FORWARDED_OUTCOMES, METRICS, PER_MODEL_METRIC } from "./names.mjs";

// Stat names of assembly/metrics/table.ts (cli/lib/names.mjs). Traffic: route.<r>.upstream.<u>.model.<m>.
// consumer.<c>.metric.<name>[.<key>.<value>]; per model: <name>.upstream.<u>.model.<m>. Names may hold
// dots, so each part ends at the next keyword (as the generated stats_tags read them).
const TRAFFIC = /^wasmcustom\.route\.(.*?)\.upstream\.(.*?)\.model\.(.*?)\.consumer\.(.*?)\.metric\.([a-z0-9_]+)(?:\.(outcome|result)\.([a-z0-9_]+))?$/;
const PER_MODEL = new RegExp(`^wasmcustom\\.(${PER_MODEL_METRIC})\\.upstream\\.(.*?)\\.model\\.(.*)$`);
// The fallbacks counter: a request that moved on from a model (its attempt there failed).
const FALLBACK = new RegExp(`^wasmcustom\\.${METRICS.fallbacks}\\.route\\.(.*?)\\.from\\.(.*?)\\.to\\.(.*)$`);

// Requests that went to a model (the other outcomes are refusals or pass-through).
const FORWARDED = new Set(FORWARDED_OUTCOMES);
const QUANTILE_P50 = 50;
const QUANTILE_P95 = 95;

/**
 * One read of /stats?format=json, reduced to the plugin's numbers.
 * @returns {{ atMs: number, traffic: object[], gauges: Map<string, Record<string, number>>, histograms: Map<string, Record<string, {p50: number|null, p95: number|null, fromInterval: boolean}>>, upstreams: Map<string, string>, movedOn: Map<string, number> }}
 */
export function parseStats(json, atMs) {
  const movedOn = new Map();
  const traffic = [];
  const gauges = new Map();
  const histograms = new Map();
  const upstreams = new Map();
  for (const entry of json.stats ?? []) {
    if (entry.histograms) {
      const quantiles = entry.histograms.supported_quantiles ?? [];
      for (const h of entry.histograms.computed_quantiles ?? []) {
        const m = PER_MODEL.exec(h.name);
        if (!m) continue;
        upstreams.set(m[3], m[2]);
        const value = (q, kind) => h.values?.[quantiles.indexOf(q)]?.[kind] ?? null;
        const fromInterval = value(QUANTILE_P50, "interval") !== null;
        const kind = fromInterval ? "interval" : "cumulative";
        const byName = histograms.get(m[3]) ?? {};
        byName[m[1]] = { p50: value(QUANTILE_P50, kind), p95: value(QUANTILE_P95, kind), fromInterval };
        histograms.set(m[3], byName);
      }
      continue;
    }
    const t = TRAFFIC.exec(entry.name);
    if (t) {
      upstreams.set(t[3], t[2]);
      traffic.push({ route: t[1], upstream: t[2], model: t[3], consumer: t[4], metric: t[5], label: t[7] ?? null, value: Number(entry.value) });
      continue;
    }
    const f = FALLBACK.exec(entry.name);
    if (f) {
      movedOn.set(f[2], (movedOn.get(f[2]) ?? 0) + Number(entry.value));
      continue;
    }
    const g = PER_MODEL.exec(entry.name);
    if (g) {
      upstreams.set(g[3], g[2]);
      const byName = gauges.get(g[3]) ?? {};
      byName[g[1]] = Number(entry.value);
      gauges.set(g[3], byName);
    }
  }
  return { atMs, traffic, gauges, histograms, upstreams, movedOn };
}

function sum(snapshot, pick) {
  const out = new Map();
  for (const s of snapshot.traffic) {
    const key = pick(s);
    if (key === null) continue;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

const modelKey = (metric, label = null) => (s) => (s.metric === metric && (label === null || label(s.label)) && s.model !== "none" ? s.model : null);

/**
 * Rates between two snapshots (the earlier may be null: then only totals), per model and per
 * route → model.
 */
export function summarize(prev, cur, nowMs = cur.atMs) {
  const seconds = prev ? Math.max((cur.atMs - prev.atMs) / 1000, 1e-3) : null;
  const metrics = {
    requests: modelKey(METRICS.requests, (l) => FORWARDED.has(l)),
    success: modelKey(METRICS.responses, (l) => l === "success"),
    failure: modelKey(METRICS.responses, (l) => l === "failure"),
    clientError: modelKey(METRICS.responses, (l) => l === "client_error"),
    output: modelKey(METRICS.outputTokens),
    cost: modelKey(METRICS.costMicroUsd),
  };
  const now = {}, before = {};
  for (const [k, pick] of Object.entries(metrics)) {
    now[k] = sum(cur, pick);
    before[k] = prev ? sum(prev, pick) : new Map();
  }
  const delta = (k, model) => (now[k].get(model) ?? 0) - (before[k].get(model) ?? 0);
  // Attempts that failed and moved the request on to another model count against this one: a
  // model whose every request moved on has no response of its own, and an error rate of 100 %.
  const movedOn = (model) => (cur.movedOn?.get(model) ?? 0) - (prev?.movedOn?.get(model) ?? 0);
  const names = new Set([...cur.gauges.keys(), ...now.requests.keys(), ...now.success.keys(), ...now.failure.keys(), ...cur.histograms.keys()]);
  const models = [...names].sort().map((model) => {
    const g = cur.gauges.get(model) ?? {};
    const ttft = cur.histograms.get(model)?.[METRICS.timeToFirstTokenMs] ?? null;
    // A model's attempts: its answers (2xx, failures, a client's 4xx) and the attempts that failed and
    // moved the request on to another model (the fallbacks counter).
    const failed = delta("failure", model) + movedOn(model);
    const attempts = delta("success", model) + delta("clientError", model) + failed;
    return {
      model,
      upstream: cur.upstreams.get(model) ?? "",
      requests: now.requests.get(model) ?? 0,
      rps: seconds ? delta("requests", model) / seconds : null,
      errorRate: seconds && attempts > 0 ? failed / attempts : null,
      clientErrorRate: seconds && attempts > 0 ? delta("clientError", model) / attempts : null,
      coolingDown: g[METRICS.coolingDown] === 1,
      cooldownLeftMs: g[METRICS.coolingDown] === 1 ? Math.max(0, (g[METRICS.cooldownUntilMs] ?? 0) - nowMs) : 0,
      failuresInRow: g[METRICS.consecutiveFailures] ?? 0,
      ttftP50: ttft?.p50 ?? null,
      ttftP95: ttft?.p95 ?? null,
      ttftRecent: ttft?.fromInterval ?? false,
      ttftEstimate: g[METRICS.ttftMs] ?? null,
      tokensPerSecond: seconds ? delta("output", model) / seconds : null,
      costPerMinuteUsd: seconds ? (delta("cost", model) / 1e6 / seconds) * 60 : null,
      costUsd: (now.cost.get(model) ?? 0) / 1e6,
    };
  });
  const routeReq = (snap) => sum(snap, (s) => (s.metric === METRICS.requests && FORWARDED.has(s.label) && s.route !== "none" ? `${s.route}\u0000${s.model}` : null));
  const routeCost = (snap) => sum(snap, (s) => (s.metric === METRICS.costMicroUsd && s.route !== "none" ? `${s.route}\u0000${s.model}` : null));
  const rNow = routeReq(cur), rBefore = prev ? routeReq(prev) : new Map();
  const cNow = routeCost(cur);
  const routes = [...rNow.keys()].sort().map((key) => {
    const [route, model] = key.split("\u0000");
    return {
      route,
      model,
      requests: rNow.get(key),
      rps: seconds ? (rNow.get(key) - (rBefore.get(key) ?? 0)) / seconds : null,
      costUsd: (cNow.get(key) ?? 0) / 1e6,
    };
  });
  const outcomes = sum(cur, (s) => (s.metric === METRICS.requests && !FORWARDED.has(s.label) ? s.label : null));
  return { models, routes, outcomes: Object.fromEntries([...outcomes].sort()) , seconds };
}

// ---- rendering ---------------------------------------------------------------------------------

const dash = "-";
const fixed = (x, digits) => (x === null || x === undefined || !Number.isFinite(x) ? dash : x.toFixed(digits));
const ms = (x) => (x === null || x === undefined ? dash : `${Math.round(x)}`);
const usd = (x) => (x === null ? dash : x >= 1 ? x.toFixed(2) : String(Number(x.toPrecision(3))));

function cooldown(m) {
  if (!m.coolingDown) return m.failuresInRow > 0 ? `ok (${m.failuresInRow} failed)` : "ok";
  return m.cooldownLeftMs > 0 ? `${Math.ceil(m.cooldownLeftMs / 1000)}s left` : "probing";
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** The screen for one summary. */
export function render(summary, { admin = "", atMs = Date.now() } = {}) {
  const out = [];
  const window = summary.seconds ? `rates over the last ${summary.seconds.toFixed(1)} s` : "totals only (one read)";
  out.push(`llm-router top — ${admin} — ${new Date(atMs).toISOString()} — ${window}`);
  out.push("");
  out.push(
    table(
      ["MODEL", "UPSTREAM", "REQ/S", "REQUESTS", "ERR%", "4XX%", "COOLDOWN", "TTFT P50", "TTFT P95", "EST TTFT", "TOK/S", "$/MIN", "COST $"],
      summary.models.map((m) => [
        m.model,
        m.upstream,
        fixed(m.rps, 2),
        m.requests,
        m.errorRate === null ? dash : (m.errorRate * 100).toFixed(1),
        m.clientErrorRate === null ? dash : (m.clientErrorRate * 100).toFixed(1),
        cooldown(m),
        m.ttftP50 === null ? dash : `${ms(m.ttftP50)}${m.ttftRecent ? "" : "*"}`,
        m.ttftP95 === null ? dash : `${ms(m.ttftP95)}${m.ttftRecent ? "" : "*"}`,
        ms(m.ttftEstimate),
        fixed(m.tokensPerSecond, 1),
        m.costPerMinuteUsd === null ? dash : usd(m.costPerMinuteUsd),
        usd(m.costUsd),
      ]),
    ),
  );
  out.push("ERR%: answers that were the model's failures (5xx, 429, no answer); 4XX%: the provider's other 4xx, the client's errors.");
  out.push("TTFT in ms: Envoy's last stats flush (5 s); * = since Envoy started (no stream in the last flush). EST TTFT: the live estimate routing uses.");
  if (summary.routes.length > 0) {
    out.push("");
    out.push(
      table(
        ["ROUTE", "MODEL", "REQ/S", "REQUESTS", "COST $"],
        summary.routes.map((r) => [r.route, r.model, fixed(r.rps, 2), r.requests, usd(r.costUsd)]),
      ),
    );
  }
  const other = Object.entries(summary.outcomes).filter(([, n]) => n > 0);
  if (other.length > 0) {
    out.push("");
    out.push(`not forwarded (since start): ${other.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  }
  return out.join("\n");
}

// ---- I/O -------------------------------------------------------------------------------------------

/** "HOST:PORT" or "http://HOST:PORT" → base URL. */
export function adminUrl(text) {
  if (/^https?:\/\//.test(text)) return text.replace(/\/+$/, "");
  return `http://${text}`;
}

export function readStats(base, timeoutMs = 5000) {
  const url = `${base}/stats?format=json&filter=${encodeURIComponent("^wasmcustom\\.")}`;
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
        try {
          resolve(parseStats(JSON.parse(body), Date.now()));
        } catch (err) {
          reject(new Error(`${url}: not Envoy's stats JSON (${err.message})`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => reject(new Error(`cannot read ${url}: ${err.message} (is the gateway running? --admin HOST:PORT)`)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads, waits `intervalMs`, reads again and prints; with `once` that is all, otherwise it repeats
 * (redrawing a terminal, appending otherwise) until SIGINT / SIGTERM. Returns the exit code.
 */
export async function runTop({ admin, intervalMs = 2000, once = false, write = (s) => process.stdout.write(s), tty = process.stdout.isTTY }) {
  const base = adminUrl(admin);
  let stop = false;
  const onSignal = () => (stop = true);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    let prev = await readStats(base);
    do {
      await sleep(intervalMs);
      if (stop) break;
      const cur = await readStats(base);
      const screen = render(summarize(prev, cur), { admin: base, atMs: cur.atMs });
      write(tty && !once ? `\x1b[H\x1b[2J${screen}\n` : `${screen}\n${once ? "" : "\n"}`);
      prev = cur;
    } while (!once && !stop);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
