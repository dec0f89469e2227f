// The plugin against its floor, through real Envoy 1.40 (and in process).
//
// The floor (bench/floor-filter.ts) makes exactly the plugin's host calls for the same requests and
// nothing else (bench/lib/floor.mjs writes its configuration from the plugin's calls recorded in the
// test host and checks it there call by call). Envoy without a filter, with a no-op Wasm filter, with
// the floor and with the plugin serve the same requests in interleaved rounds (wrk, one connection,
// keep-alive; every Envoy pinned to CPU 1, wrk and the mock provider on CPU 0). Each round's p50 of a
// target minus the same round's p50 of plain Envoy is that target's added latency; the plugin's
// ratio to the floor is taken per round. Rounds repeat until the median of plugin − floor is known
// to about a microsecond (or --max-rounds); medians come with the interquartile range of the rounds.
//
//   node bench/floor.mjs [--sizes 1,16,256,1024] [--seconds S] [--rounds N] [--max-rounds N]
//                        [--features] [--crossover] [--crossover-sizes 1,4,16] [--fresh] [--inproc] [--quick]
//                        [--wasm PATH] [--baseline PATH] [--label NAME] [--no-write]
//
// --features: at 1 KB and 16 KB, the plugin and its own floor with each feature switched off in turn
//   (`live: false`, `metrics: false`, no decision header, maxFallbacks 0, no detecting route) and
//   all of them off, so the cost of each feature is visible.
// --crossover: the floor writing the body's prefix against the floor writing the whole body, at
//   1 … 64 KB: where Envoy's drain + prepend starts to beat one whole copy (PREFIX_REPLACE_MIN_BYTES).
// --fresh: every round on new Envoy processes (a process's memory layout can bias it by a few µs
//   for its whole life; two runs of the crossover on long-lived processes disagreed in sign).
// --inproc: the same comparison in process (test host on Node's V8): plugin callbacks, the floor's,
//   and the copy-in-and-out floor, per size.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import { startMockProvider } from "../mock/provider.mjs";
import { canPin, LOAD_CPU, runWrk, startEnvoy, wrkScript } from "./envoy.mjs";
import { chatBody } from "./lib/bodies.mjs";
import { allOnConfig, featureVariants } from "./lib/configs.mjs";
import { benchBody, buildFloor, FLOOR_WASM, JSON_ANSWER, loadWorld, PATH, prepareFloor, requestHeaders } from "./lib/floor.mjs";
import { quantile, summary } from "./lib/measure.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";

const KB = 1024;
const CROSSOVER_SIZES = [1, 2, 4, 8, 12, 16, 24, 32, 64].map((k) => k * KB);
const bodyOf = benchBody;

// ---- statistics ------------------------------------------------------------------------------------

// The standard error of a median estimated from the interquartile range (normal approximation).
const medianError = (xs) => (1.2533 * (quantile(xs, 0.75) - quantile(xs, 0.25)) / 1.349) / Math.sqrt(xs.length);

// ---- through Envoy ----------------------------------------------------------------------------------

/**
 * Interleaved rounds over `targets` ({name, url, headers}) at one body size: every round runs wrk
 * once per target, in an order that rotates each round. Rounds go on past `rounds` while the median
 * of `a − b` (the pair named by `settle`) is uncertain by more than `precisionUs`, up to `maxRounds`.
 * With `restart` (returns the targets started again), every round runs on new Envoy processes: one
 * process's memory layout can make it a few µs faster or slower for its whole life, a bias that
 * rounds on the same processes never average out.
 * Returns p50 per target per round.
 */
async function interleave({ mock, targets, dir, body, seconds, rounds, maxRounds, settle, precisionUs, log, label, restart }) {
  const file = join(dir, `body-${body.length}.json`);
  writeFileSync(file, body);
  const scripts = new Map(targets.map((t) => [t.name, wrkScript(dir, [file], PATH, t.headers)]));
  const p50 = new Map(targets.map((t) => [t.name, []]));
  // The mock keeps every request it received (bodies included): forget them after each run, or a
  // megabyte body fills the memory within minutes.
  const run = async (t, s) => {
    try { return await runWrk({ url: t.url, script: scripts.get(t.name), connections: 1, seconds: s }); } finally { mock.requests.length = 0; }
  };
  for (const t of targets) await run(t, 1); // warm-up
  for (let round = 0; round < maxRounds; round++) {
    if (restart && round > 0) {
      targets = await restart();
      for (const t of targets) await run(t, 1);
    }
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length];
      const r = await run(t, seconds);
      if (r.non2xx > 0 || r.socketErrors) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers ${r.socketErrors}`);
      p50.get(t.name).push(r.p50_us);
    }
    if (round + 1 >= rounds && settle) {
      const diff = p50.get(settle[0]).map((x, i) => x - p50.get(settle[1])[i]);
      if (medianError(diff) <= precisionUs) break;
    }
  }
  log(`  ${label}: ${p50.values().next().value.length} rounds`);
  return p50;
}

/** Added latency over plain Envoy, per round, for every target; the plugin / floor ratios per round. */
function analyse(p50, pairs) {
  const plain = p50.get("plain");
  const added = {};
  for (const [name, xs] of p50) if (name !== "plain") added[name] = xs.map((x, i) => x - plain[i]);
  const out = { plain_p50_us: summary(plain), added_us: Object.fromEntries(Object.entries(added).map(([k, v]) => [k, summary(v)])), pairs: {} };
  for (const [plugin, floor] of pairs) {
    const a = added[plugin], b = added[floor];
    out.pairs[plugin] = {
      floor,
      own_us: summary(a.map((x, i) => x - b[i])),                 // the plugin's own logic: plugin − floor
      ratio: summary(a.map((x, i) => x / b[i])),                  // per round
      ratio_of_medians: quantile(a, 0.5) / quantile(b, 0.5),
    };
  }
  return out;
}

const fmt = (s, d = 1) => `${s.median.toFixed(d)} [${s.p25.toFixed(d)}, ${s.p75.toFixed(d)}]`;

/**
 * Targets of `specs` that can start again on new processes when `fresh`: { current(), restart(), stop() }.
 */
async function targetSet(mock, specs, wasm, fresh) {
  let targets = await startTargets(mock, specs, wasm);
  const stop = async () => { for (const t of targets) await t.envoy.stop().catch(() => {}); };
  return {
    current: () => targets,
    restart: fresh ? async () => { await stop(); targets = await startTargets(mock, specs, wasm); return targets; } : undefined,
    stop,
  };
}

/** Starts the Envoys of `specs` ({name, mode, config, floor, wasm?}) in front of `mock`; returns targets. */
async function startTargets(mock, specs, wasm) {
  const targets = [];
  try {
    for (const s of specs) {
      const e = await startEnvoy(mock.port, s.mode, s.wasm ?? wasm, s.config, s.floor);
      const headers = s.mode === "plain" || s.mode === "noop" ? { "x-llm-upstream": "openai" } : requestHeaders(s.config);
      targets.push({ name: s.name, url: e.url, headers, envoy: e });
    }
  } catch (e) {
    for (const t of targets) await t.envoy.stop().catch(() => {});
    throw e;
  }
  return targets;
}

// What the mock received from each target for the same request: plugin and floor must send the same.
// Live signals explore another model for a few requests in a hundred (the floor always sends the
// model it was written with), so a plugin that differs is asked again, up to five times.
async function sameUpstreamRequests(mock, targets, pairs, bytes) {
  const body = bodyOf(bytes);
  const sent = async (t) => {
    mock.requests.length = 0;
    const r = await fetch(t.url + PATH, { method: "POST", headers: { "content-type": "application/json", ...t.headers }, body });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${t.name}: answered ${r.status} for a ${bytes} B request`);
    const got = mock.requests.at(-1);
    mock.requests.length = 0;
    return got ? `${got.path} ${got.headers.authorization ?? ""} ${got.body.toString("latin1")}` : "";
  };
  const byName = Object.fromEntries(targets.map((t) => [t.name, t]));
  const seen = {};
  for (const t of targets) seen[t.name] = await sent(t);
  for (const [plugin, floor] of pairs) {
    for (let again = 0; seen[plugin] !== seen[floor] && again < 5; again++) seen[plugin] = await sent(byName[plugin]);
    if (seen[plugin] !== seen[floor]) throw new Error(`${bytes} B: the provider got a different request from ${floor} than from ${plugin}`);
  }
}

export async function runFloorEnvoy({ wasm, baseline = null, sizes, seconds, rounds, maxRounds, features, crossover, crossoverSizes = CROSSOVER_SIZES, fresh = false, log }) {
  if (spawnSync("sh", ["-c", "command -v wrk"]).status !== 0) throw new Error("wrk is not installed: run `node bench/setup.mjs`");
  if (canPin) spawnSync("taskset", ["-p", "-c", LOAD_CPU, String(process.pid)]);
  const { ProxyWasmHost } = await loadHost();
  const floorWasm = buildFloor();
  const dir = mkdtempSync(join(tmpdir(), "llm-router-floor-"));
  const mock = await startMockProvider({ host: "127.0.0.1", port: 0, name: "bench-mock", ttftMs: 0, tokensPerSecond: 0 });
  const result = { sizes: [], features: null, crossover: null };
  const secondsFor = (bytes) => (bytes >= 256 * KB ? Math.max(seconds, 2) : seconds);
  try {
    // -- the plugin with every feature on against its floor, at every size
    const cfg = allOnConfig();
    const floor = await prepareFloor(ProxyWasmHost, { wasm, cfg, sizes });
    result.calls = floor.traces.map((t) => ({ bytes: t.minBytes, chosen: t.chosen, calls: t.lines }));
    // --baseline: another build of the plugin (say, the main branch's) in the same rounds, against
    // the same floor (both must make the same host calls), so a change is measured interleaved.
    const pairs = baseline ? [["plugin", "floor"], ["baseline", "floor"]] : [["plugin", "floor"]];
    const set = await targetSet(mock, [
      { name: "plain", mode: "plain", config: cfg },
      { name: "noop", mode: "noop", config: cfg },
      { name: "floor", mode: "floor", config: cfg, floor: { wasm: floorWasm, configuration: floor.configuration } },
      { name: "plugin", mode: "wasm", config: cfg },
      ...(baseline ? [{ name: "baseline", mode: "wasm", config: cfg, wasm: baseline }] : []),
    ], wasm, fresh);
    try {
      for (const bytes of sizes) {
        await sameUpstreamRequests(mock, set.current().filter((t) => pairs.flat().includes(t.name)), pairs, bytes);
        const p50 = await interleave({
          mock, targets: set.current(), restart: set.restart, dir, body: bodyOf(bytes), seconds: secondsFor(bytes), rounds, maxRounds, settle: ["plugin", "floor"],
          precisionUs: bytes >= 256 * KB ? 5 : 1, log, label: `${bytes / KB} KB`,
        });
        const row = { bytes, ...analyse(p50, pairs), rounds: Object.fromEntries(p50) };
        result.sizes.push(row);
        const A = row.added_us, P = row.pairs.plugin;
        log(`  ${String(bytes / KB).padStart(5)} KB added over plain Envoy (median [IQR] of ${A.plugin.n} rounds, µs): no-op ${fmt(A.noop)}, floor ${fmt(A.floor)}, plugin ${fmt(A.plugin)}; ` +
          `plugin − floor ${fmt(P.own_us)}; plugin / floor ${fmt(P.ratio, 2)} (ratio of medians ${P.ratio_of_medians.toFixed(2)})`);
        if (baseline) {
          const B = row.pairs.baseline;
          row.plugin_minus_baseline_us = summary(p50.get("plugin").map((x, i) => x - p50.get("baseline")[i]));
          log(`  ${String(bytes / KB).padStart(5)} KB baseline ${fmt(A.baseline)}; baseline − floor ${fmt(B.own_us)}; plugin − baseline ${fmt(row.plugin_minus_baseline_us)}`);
        }
      }
    } finally {
      await set.stop();
    }

    // -- each feature switched off in turn, each variant against its own floor
    if (features) {
      const variants = featureVariants();
      const fsizes = sizes.filter((b) => b <= 16 * KB);
      const specs = [{ name: "plain", mode: "plain", config: cfg }, { name: "noop", mode: "noop", config: cfg }];
      const pairs = [];
      for (const v of variants) {
        const f = await prepareFloor(ProxyWasmHost, { wasm, cfg: v.config, sizes: fsizes });
        specs.push({ name: `plugin: ${v.name}`, mode: "wasm", config: v.config });
        specs.push({ name: `floor: ${v.name}`, mode: "floor", config: v.config, floor: { wasm: floorWasm, configuration: f.configuration } });
        pairs.push([`plugin: ${v.name}`, `floor: ${v.name}`]);
        v.calls = f.traces.map((t) => ({ bytes: t.minBytes, count: t.calls.length }));
      }
      const vt = await targetSet(mock, specs, wasm, fresh);
      result.features = { variants: variants.map((v) => ({ name: v.name, calls: v.calls })), sizes: [] };
      try {
        for (const bytes of fsizes) {
          for (const [a, b] of pairs) await sameUpstreamRequests(mock, vt.current().filter((t) => t.name === a || t.name === b), [[a, b]], bytes);
          const p50 = await interleave({
            mock, targets: vt.current(), restart: vt.restart, dir, body: bodyOf(bytes), seconds, rounds, maxRounds, settle: pairs[0], precisionUs: 1.5, log, label: `features, ${bytes / KB} KB`,
          });
          const row = { bytes, ...analyse(p50, pairs), rounds: Object.fromEntries(p50) };
          result.features.sizes.push(row);
          for (const [a] of pairs) {
            const P = row.pairs[a];
            log(`  ${String(bytes / KB).padStart(3)} KB ${a.padEnd(28)} added ${fmt(row.added_us[a])}, its floor ${fmt(row.added_us[P.floor])}, own ${fmt(P.own_us)}, ratio ${fmt(P.ratio, 2)}`);
          }
        }
      } finally {
        await vt.stop();
      }
    }

    // -- where writing the body's prefix starts to beat writing the whole body
    if (crossover) {
      const csizes = crossoverSizes;
      const prefix = await prepareFloor(ProxyWasmHost, { wasm, cfg, sizes: csizes, bodyWrite: "prefix" });
      const whole = await prepareFloor(ProxyWasmHost, { wasm, cfg, sizes: csizes, bodyWrite: "whole" });
      const ct = await targetSet(mock, [
        { name: "plain", mode: "plain", config: cfg },
        { name: "prefix", mode: "floor", config: cfg, floor: { wasm: floorWasm, configuration: prefix.configuration } },
        { name: "whole", mode: "floor", config: cfg, floor: { wasm: floorWasm, configuration: whole.configuration } },
      ], wasm, fresh);
      result.crossover = [];
      try {
        for (const bytes of csizes) {
          const p50 = await interleave({
            mock, targets: ct.current(), restart: ct.restart, dir, body: bodyOf(bytes), seconds, rounds, maxRounds, settle: ["prefix", "whole"], precisionUs: 0.75, log, label: `crossover, ${bytes / KB} KB`,
          });
          const diff = p50.get("prefix").map((x, i) => x - p50.get("whole")[i]);
          const row = { bytes, prefix_minus_whole_us: summary(diff), ...analyse(p50, []), rounds: Object.fromEntries(p50) };
          result.crossover.push(row);
          log(`  ${String(bytes / KB).padStart(3)} KB: prefix − whole ${fmt(row.prefix_minus_whole_us)} µs (added: prefix ${fmt(row.added_us.prefix)}, whole ${fmt(row.added_us.whole)})`);
        }
      } finally {
        await ct.stop();
      }
    }
  } finally {
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

// ---- in process --------------------------------------------------------------------------------------

/**
 * In process (test host, Node's V8): the plugin's request and response callbacks per request, the
 * floor's (the same host calls, the test host's JavaScript versions of them), paired batches. With
 * `features`, also each variant of featureVariants() against its own floor at the sizes up to 16 KB:
 * in process the cost of each feature stands out of the noise that hides it through Envoy.
 */
export async function runFloorInproc({ wasm, sizes, log, features = false, batches = 9, batchMs = 150 }) {
  const { ProxyWasmHost } = await loadHost();
  buildFloor();
  const rows = await inprocRows(ProxyWasmHost, { wasm, cfg: allOnConfig(), sizes, batches, batchMs });
  for (const row of rows) {
    log(`  in process ${String(row.bytes / KB).padStart(5)} KB: plugin ${fmt(row.plugin_us, 2)} µs, floor ${fmt(row.floor_us, 2)} µs, plugin − floor ${fmt(row.own_us, 2)} µs (callbacks of request and response, host calls included)`);
  }
  const variants = [];
  if (!features) return { rows, variants };
  const small = sizes.filter((b) => b <= 16 * KB);
  for (const v of featureVariants()) {
    const vr = await inprocRows(ProxyWasmHost, { wasm, cfg: v.config, sizes: small, batches, batchMs });
    variants.push({ name: v.name, rows: vr });
    log(`  in process, ${v.name.padEnd(20)} ${vr.map((r) => `${r.bytes / KB} KB: plugin − floor ${fmt(r.own_us, 2)} µs (floor ${fmt(r.floor_us, 2)})`).join(", ")}`);
  }
  return { rows, variants };
}

async function inprocRows(ProxyWasmHost, { wasm, cfg, sizes, batches, batchMs }) {
  const floor = await prepareFloor(ProxyWasmHost, { wasm, cfg, sizes });
  const plugin = await loadWorld(ProxyWasmHost, { wasm, configuration: JSON.stringify(cfg), pluginConfig: cfg, record: false });
  const floorHost = await loadWorld(ProxyWasmHost, { wasm: FLOOR_WASM, configuration: floor.configuration, pluginConfig: cfg, record: false });
  const timed = (host) => {
    const acc = { ns: 0 };
    for (const name of Object.keys(host.fns)) {
      const inner = host.fns[name];
      if (typeof inner !== "function" || name === "tick") continue;
      host.fns[name] = (...args) => {
        const t = process.hrtime.bigint();
        try { return inner(...args); } finally { acc.ns += Number(process.hrtime.bigint() - t); }
      };
    }
    return acc;
  };
  const tp = timed(plugin), tf = timed(floorHost);
  const rows = [];
  for (const bytes of sizes) {
    const req = { method: "POST", path: PATH, headers: requestHeaders(cfg), body: bodyOf(bytes), response: JSON_ANSWER };
    for (let i = 0; i < 30; i++) { plugin.request(req); floorHost.request(req); }
    const p = [], f = [];
    for (let b = 0; b < batches; b++) {
      for (const [host, acc, out] of [[plugin, tp, p], [floorHost, tf, f]]) {
        acc.ns = 0;
        let n = 0;
        const t0 = Date.now();
        do { host.request(req); n++; } while (Date.now() - t0 < batchMs);
        out.push(acc.ns / n / 1000);
      }
    }
    rows.push({ bytes, plugin_us: summary(p), floor_us: summary(f), own_us: summary(p.map((x, i) => x - f[i])) });
  }
  return rows;
}

// ---- CLI ------------------------------------------------------------------------------------------------

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const argv = process.argv.slice(2);
  const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
  const flag = (n) => argv.includes(`--${n}`);
  const quick = flag("quick");
  const wasm = opt("wasm", join(ROOT, "build", "envoy.wasm"));
  const sizes = opt("sizes", "1,16,256,1024").split(",").map((k) => Number(k) * KB);
  const out = { date: new Date().toISOString(), node: process.version, cpus: (await import("node:os")).cpus().map((c) => c.model)[0], wasm, baseline: opt("baseline", null) };
  if (flag("inproc")) out.inproc = await runFloorInproc({ wasm, sizes, features: flag("features"), log: console.log });
  out.envoy = await runFloorEnvoy({
    wasm, baseline: opt("baseline", null), sizes, seconds: Number(opt("seconds", "1")), rounds: Number(opt("rounds", quick ? "3" : "10")), maxRounds: Number(opt("max-rounds", quick ? "3" : "30")),
    features: flag("features"), crossover: flag("crossover"), fresh: flag("fresh"), log: console.log,
    crossoverSizes: opt("crossover-sizes", "") ? opt("crossover-sizes", "").split(",").map((k) => Number(k) * KB) : CROSSOVER_SIZES,
  });
  if (!flag("no-write")) {
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    const file = join(ROOT, "bench", "results", `${opt("label", "floor")}.json`);
    writeFileSync(file, JSON.stringify(out, null, 1));
    console.log(`wrote ${file.replace(ROOT + "/", "")}`);
  }
}
