// Benchmarks (npm run bench = build + this). They report; nothing here is a test, CI never runs it.
//   node bench/run.mjs [inproc] [decide] [translate] [floor] [envoy] [soak] [live] [metrics] [detect] [taskeval] [--quick] [--wasm PATH] [--label NAME]
//                      [--duration S] [--connections N] [--soak-seconds S] [--soak-requests N] [--no-peers]
// No section named = all ten. Results: bench/results/<label>.json, .md and .svg (label default
// "latest"). Peers and wrk come from `node bench/setup.mjs` (not part of the test set-up).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runEnvoyBench } from "./envoy.mjs";
import { runInproc } from "./inproc.mjs";
import { runLiveEnvoy, runLiveInproc } from "./live.mjs";
import { runHostCallsEnvoy, runMetricsBench, runMetricsCode } from "./metrics.mjs";
import { SIZES } from "./lib/bodies.mjs";
import { barChartSvg, num, svgDocument, table } from "./lib/report.mjs";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { runSoak } from "./soak.mjs";
import { runDetectBench } from "./detect.mjs";
import { runFloorEnvoy, runFloorInproc } from "./floor.mjs";
import { runDecideBench } from "./decide.mjs";
import { runTranslateBench } from "./translate.mjs";
import { runTaskEval } from "./task-eval.mjs";

const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
const flag = (n) => argv.includes(`--${n}`);
const sections = ["inproc", "decide", "translate", "floor", "envoy", "soak", "live", "metrics", "detect", "taskeval"].filter((s) => argv.includes(s));
const want = (s) => sections.length === 0 || sections.includes(s);
const quick = flag("quick");
const wasm = opt("wasm", join(ROOT, "build", "envoy.wasm"));
const label = opt("label", "latest");
const out = join(ROOT, "bench", "results");
mkdirSync(out, { recursive: true });

const results = { label, wasm, date: new Date().toISOString(), node: process.version, cpus: (await import("node:os")).cpus().map((c) => c.model)[0], ncpu: (await import("node:os")).cpus().length };
const log = (s) => console.log(s);

if (want("inproc")) {
  log("in-process (test host, Node V8):");
  results.inproc = await runInproc(log, { wasm });
}
if (want("decide")) {
  log("the routing decision alone (bench/decide-entry.ts, no host):");
  results.decide = await runDecideBench(log);
}
if (want("translate")) {
  log("API translation (bench/translate-entry.ts, no host):");
  results.translate = await runTranslateBench(log);
}
if (want("floor")) {
  log("the plugin against its floor filter (every feature on):");
  const sizes = SIZES.map((s) => s.bytes);
  results.floor = {
    inproc: await runFloorInproc({ wasm, sizes, features: !quick, log }),
    envoy: await runFloorEnvoy({
      wasm, sizes, seconds: 1, rounds: Number(opt("rounds", quick ? "3" : "10")), maxRounds: quick ? 3 : 30,
      features: !quick, crossover: !quick, log,
    }),
  };
}
if (want("detect")) {
  log("task detection (in process):");
  results.detect = await runDetectBench(log);
}
let taskEvalMarkdown = "";
if (want("taskeval")) {
  log("task detection evaluation (public prompts):");
  const r = await runTaskEval({ wasm, log });
  results.taskeval = r.results;
  taskEvalMarkdown = r.markdown;
}
if (want("soak")) {
  const requests = Number(opt("soak-requests", quick ? "100000" : "1000000"));
  log(`soak: ${requests} requests in one VM (test host)`);
  const { ProxyWasmHost } = await loadHost();
  const r = await runSoak(ProxyWasmHost, { requests, wasm, log, maxSeconds: Number(opt("soak-max-seconds", "1200")) });
  results.soak = r;
  log(`  soak: ${r.requests} requests in ${r.seconds.toFixed(0)} s; pages ${r.pages[0].pages} → warm-up (${r.warmupAt}) ${r.warmPages} → end ${r.finalPages}; ${r.failures.length} failures; outcomes ${JSON.stringify(r.outcomes)}`);
  for (const fl of r.failures.slice(0, 5)) log(`    ${fl}`);
}
if (want("live")) {
  log("live signals, in process:");
  const inproc = await runLiveInproc(log, { wasm });
  log("live signals, through Envoy:");
  results.live = { inproc, envoy: await runLiveEnvoy(log, quick ? { wasm, rounds: 3, requests: 100 } : { wasm }) };
}
if (want("metrics")) {
  log("observability (metrics, decision summary), in process:");
  const inproc = await runMetricsBench(log, { wasm });
  const code = await runMetricsCode(log);
  log("observability, host calls through Envoy:");
  results.metrics = { inproc, code, envoy: await runHostCallsEnvoy(log) };
}
if (want("envoy")) {
  log("through real Envoy:");
  results.envoy = await runEnvoyBench({
    seconds: Number(opt("duration", quick ? "1" : "2")), rounds: Number(opt("rounds", quick ? "3" : "5")), connections: Number(opt("connections", "8")),
    sizes: SIZES, wasm, peers: !flag("no-peers"),
    soakSeconds: Number(opt("soak-seconds", quick ? "10" : "60")), soakConnections: Number(opt("connections", "8")), log,
  });
}

// ------------------------------------------------------------------------------------ report
const md = [`# Benchmark results (${label})`, "", `${results.date} · Node ${results.node} · ${results.ncpu}× ${results.cpus} · plugin ${wasm.replace(ROOT + "/", "")}`, ""];
const svgParts = [];
let svgHeight = 0;
const T = {
  size: "1 KB…1 MB", cb: "plugin callbacks", fl: "floor (copy in+out)", js: "JS parse+stringify",
};
if (results.inproc) {
  const I = results.inproc;
  md.push("## In process (test host on Node's V8)", "",
    "All times µs per request, median of 7 batches. *plugin* = time inside the plugin's callbacks for one routed request " +
    "(context create, on_request_headers, on_request_body incl. the host calls it makes: body copy in/out, header edits; done, delete). " +
    "*host calls* = part of that spent in host functions (JS). *floor* = malloc + copy the body into a Wasm memory + copy it out, no parsing. " +
    "*JS* = TextDecoder + JSON.parse + set model + JSON.stringify + TextEncoder. *pass-through* = plugin callbacks for the same body with a model that is not routed (scan only, no rewrite).", "",
    table(["body", "plugin", "guest", "host calls", "pass-through", "floor", "JS", "plugin / floor", "JS / plugin", "Wasm pages after"],
      I.sizes.map((r) => [r.size, num(r.plugin_us, 2), num(r.guest_us, 2), num(r.host_calls_us, 2), num(r.passthrough_us, 2), num(r.floor_us, 2), num(r.js_us, 1), `${num(r.ratio_plugin_floor, 2)}×`, `${num(r.ratio_js_plugin, 1)}×`, r.pages_after])),
    "", "Host calls inside the routed request (µs per request):", "",
    table(["body", ...Object.keys(I.sizes[0].host_call_breakdown)], I.sizes.map((r) => [r.size, ...Object.keys(I.sizes[0].host_call_breakdown).map((k) => num(r.host_call_breakdown[k], 2))])),
    "", "Whole emulated request through `host.request()` (includes the test host's own JS: header maps, buffering, result objects):", "",
    table(["body", "host.request() routed", "host.request() not handled (text/plain)"], I.sizes.map((r) => [r.size, num(r.request_us, 1), num(r.host_only_request_us, 1)])),
    "", "### Routing decision alone (tiny body, N generated models; plugin callbacks, µs)", "",
    table(["models", "pass-through", "auto (balanced)", "cheap (price)", "mix (random)", "catalog name (last)", "auto − pass-through"],
      I.routing.map((r) => [r.models, num(r.passthrough_us, 2), num(r.auto_us, 2), num(r.cheap_us, 2), num(r.mix_us, 2), num(r.catalog_last_us, 2), num(r.auto_us - r.passthrough_us, 2)])),
    "", I.compile ? `Configuration compile (on_configure in a fresh VM): ${I.compile.models} models × ${I.compile.routes} routes listing all of them (${num(I.compile.bytes / 1e6, 1)} MB of JSON): median ${num(I.compile.median_ms, 1)} ms, min ${num(I.compile.min_ms, 1)} ms.` : "",
    "", `Module: envoy.wasm ${I.module.envoy.bytes} bytes (gzip -9: ${I.module.envoy.gzip}), higress.wasm ${I.module.higress.bytes} bytes (gzip -9: ${I.module.higress.gzip}).`, "");
  svgParts.push(barChartSvg({
    title: "In process: µs per routed request (log scale)", unit: "µs", y: svgHeight,
    groups: I.sizes.map((r) => ({ label: r.size, values: [r.floor_us, r.plugin_us, r.guest_us, r.js_us] })),
    series: [{ name: "floor (copy in+out)", color: "#9e9e9e" }, { name: "plugin (all callbacks)", color: "#1565c0" }, { name: "plugin guest code only", color: "#64b5f6" }, { name: "JS parse+stringify", color: "#e65100" }],
  }));
  svgHeight += 370;
}
if (results.decide) {
  const strategies = Object.keys(results.decide[0]).filter((k) => k !== "models");
  md.push("## The routing decision alone (in process, no host)", "",
    "bench/decide-entry.ts: the plugin's estimate, every candidate's drop reason and cost, and the rank, for a route listing every generated model; µs per decision, median of 7 batches.", "",
    table(["models", ...strategies], results.decide.map((r) => [r.models, ...strategies.map((s) => num(r[s], 2))])), "");
}
if (results.translate) {
  const T = results.translate;
  md.push("## API translation (in process, no host)", "",
    "bench/translate-entry.ts: assembly/api with the plugin's compiler settings; CPU µs of this process, median of 7 batches. Budgets (issue 19): ≤ 10 µs per 1 KB request, ≤ 1 µs per streamed event.", "",
    table(["translation", "request", "µs"], T.requests.map((r) => [r.translation, `${r.kb} KB`, num(r.us, 2)])), "",
    table(["stream", "events", "µs per event"], T.streams.map((r) => [r.translation, r.events, num(r.us_per_event, 3)])), "");
}
if (results.floor) {
  const F = results.floor;
  const iqr = (x, d = 1) => `${num(x.median, d)} [${num(x.p25, d)}, ${num(x.p75, d)}]`;
  md.push("## The plugin against its floor filter (every feature on)", "",
    "The floor (bench/floor-filter.ts) makes exactly the plugin's host calls for the same requests and nothing else; the provider receives the same request from both. " +
    "Through real Envoy 1.40: plain Envoy, a no-op Wasm filter, the floor and the plugin in interleaved rounds (wrk, one connection); *added* = a round's p50 minus the same round's p50 of plain Envoy; " +
    "plugin / floor is taken per round. Medians with [interquartile range] of the rounds, µs.", "",
    table(["body", "rounds", "no-op added", "floor added", "plugin added", "plugin − floor", "plugin / floor"],
      F.envoy.sizes.map((r) => [`${r.bytes / 1024} KB`, r.added_us.plugin.n, iqr(r.added_us.noop), iqr(r.added_us.floor), iqr(r.added_us.plugin), iqr(r.pairs.plugin.own_us), iqr(r.pairs.plugin.ratio, 2)])), "",
    "In process (test host): request and response callbacks per request, host calls included.", "",
    table(["body", "plugin µs", "floor µs", "plugin − floor µs"], F.inproc.rows.map((r) => [`${r.bytes / 1024} KB`, iqr(r.plugin_us, 2), iqr(r.floor_us, 2), iqr(r.own_us, 2)])), "");
  if (F.inproc.variants.length) {
    md.push("Each feature switched off in turn, in process (plugin − its own floor, µs):", "",
      table(["variant", ...F.inproc.variants[0].rows.map((r) => `${r.bytes / 1024} KB`)], F.inproc.variants.map((v) => [v.name, ...v.rows.map((r) => iqr(r.own_us, 2))])), "");
  }
  if (F.envoy.features) {
    md.push("Each feature switched off in turn, each variant against its own floor (through Envoy):", "",
      table(["body", "variant", "plugin added", "its floor added", "plugin − floor", "plugin / floor"],
        F.envoy.features.sizes.flatMap((r) => Object.entries(r.pairs).map(([name, P]) => [`${r.bytes / 1024} KB`, name.replace(/^plugin: /, ""), iqr(r.added_us[name]), iqr(r.added_us[P.floor]), iqr(P.own_us), iqr(P.ratio, 2)]))), "");
  }
  if (F.envoy.crossover) {
    md.push("Writing the body's prefix against writing the whole body (the floor, through Envoy): negative = the prefix write is faster.", "",
      table(["body", "prefix − whole µs"], F.envoy.crossover.map((r) => [`${r.bytes / 1024} KB`, iqr(r.prefix_minus_whole_us)])), "");
  }
}
if (results.soak) {
  const S = results.soak;
  md.push("## Soak (one VM, test host)", "",
    `${S.requests} requests (mixed 1 KB … 1 MB; routed, catalog, pass-through and invalid bodies; responses flowing back: JSON and SSE with and without usage, split anywhere, 5xx, 429, Envoy's own replies, cut streams, client aborts) in ${num(S.seconds, 0)} s. ` +
    `Wasm memory: ${S.pages[0].pages} pages at start, ${S.warmPages} after warm-up (request ${S.warmupAt}), ${S.finalPages} at the end ` +
    `→ **${S.grewAfterWarmup ? "GREW after warm-up" : "flat after warm-up"}**. Verified answers: ${S.verified}; failures: ${S.failures.length}. ` +
    `Outcomes: ${Object.entries(S.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}.` + (S.vmFailedAt !== undefined ? ` **The VM failed at request ${S.vmFailedAt}.**` : ""), "",
    ...S.failures.slice(0, 5).map((x) => `- ${x}`), "",
    `Pages over time: ${S.pages.filter((_, i) => i % 10 === 0 || i === S.pages.length - 1).map((p) => `${p.at}:${p.pages}`).join(" ")}`, "");
}
if (results.envoy) {
  const E = results.envoy;
  const rows = E.rows;
  const get = (size, t) => rows.find((r) => r.size === size && r.target === t);
  md.push("## Through real Envoy 1.40 (loopback, 2 cores shared by load generator, gateway and mock)", "",
    `Load generator: ${E.load_generator}. Latency columns at concurrency 1; throughput and its latency at concurrency ${rows[0] ? Object.keys(rows[0]).find((k) => k.startsWith("p50_us_c")).slice(8) : "?"}. ` +
    "*added* = p50 minus the p50 of the reference: for the filter the same Envoy without the filter, for whole gateways the mock called directly. *envoy+buffer* is the same Envoy with its native buffer filter instead of the plugin (the cost of holding the whole body, which any router that reads the body pays); *envoy+noop-wasm* has a Wasm filter that answers Continue at once (bench/noop-filter.ts: the cost of Envoy's Wasm machinery itself).", "",
    table(["body", "target", "p50 µs", "p99 µs", "added p50 vs direct", "req/s (c1)", "req/s", "non-2xx"],
      rows.map((r) => [r.size, r.target, num(r.p50_us, 0), num(r.p99_us, 0), r.target === "direct" ? "–" : num(r.p50_us - get(r.size, "direct")?.p50_us, 0), num(r.rps_c1, 0), num(r.rps, 0), r.non2xx])), "");
  const sum = [];
  for (const { label: size } of SIZES) {
    const d = get(size, "direct"), e = get(size, "envoy"), b = get(size, "envoy+buffer"), n = get(size, "envoy+noop-wasm"), w = get(size, "envoy+wasm"), p = get(size, "portkey"), l = get(size, "litellm");
    if (!d || !e || !w) continue;
    const filter = w.p50_us - e.p50_us, gw = w.p50_us - d.p50_us;
    sum.push([size, num(filter, 0), b ? num(b.p50_us - e.p50_us, 0) : "–", n ? num(n.p50_us - e.p50_us, 0) : "–", n ? num(w.p50_us - n.p50_us, 0) : "–", num(w.p99_us - e.p99_us, 0), num(gw, 0), p ? num(p.p50_us - d.p50_us, 0) : "–", l ? num(l.p50_us - d.p50_us, 0) : "–",
      p ? `${num((p.p50_us - d.p50_us) / gw, 1)}×` : "–", l ? `${num((l.p50_us - d.p50_us) / gw, 1)}×` : "–",
      p ? `${num((p.p50_us - d.p50_us) / Math.max(filter, 1), 1)}×` : "–", l ? `${num((l.p50_us - d.p50_us) / Math.max(filter, 1), 1)}×` : "–", num(w.rps / e.rps, 2), n ? num(n.rps / e.rps, 2) : "–", num(1e6 / w.rps - 1e6 / e.rps, 1), n ? num(1e6 / w.rps - 1e6 / n.rps, 1) : "–"]);
  }
  md.push("Summary (µs):", "", table(["body", "filter added p50 (wasm − plain Envoy)", "native buffer filter added p50", "no-op Wasm filter added p50", "router's own work p50 (wasm − no-op Wasm)", "filter added p99", "Envoy+filter added p50 (vs direct)", "Portkey added p50", "LiteLLM added p50", "Portkey / Envoy+filter", "LiteLLM / Envoy+filter", "Portkey / filter", "LiteLLM / filter", "throughput wasm / plain", "throughput no-op Wasm / plain", "filter µs per request at saturation (1e6/rps wasm − plain)", "router's own µs per request at saturation (wasm − no-op Wasm)"], sum), "");
  md.push("Peers:", "", ...Object.entries(E.peers).map(([k, v]) => `- **${k}** — ${v.package}: ${v.how}.\n  \`${JSON.stringify(v.config)}\``), "");
  if (E.soak) {
    const s = E.soak;
    md.push(`Envoy soak: ${s.seconds} s at concurrency ${s.connections}, mixed 1 KB…256 KB bodies and models: ${s.requests} requests (${num(s.rps, 0)} req/s, p50 ${num(s.p50_us, 0)} µs, p99 ${num(s.p99_us, 0)} µs), ` +
      `**non-2xx ${s.non2xx}** (the requests naming \`some-other-model\`, one in eight of the mix, get the gateway's own 404 \`model_not_found\`: no default provider)${s.socketErrors ? `, socket errors ${s.socketErrors}` : ""}; the mock received ${s.mock_received} requests, ${s.mock_invalid_json} not valid JSON, ${s.mock_alias_model} still carrying an alias.`, "");
  }
  svgParts.push(barChartSvg({
    title: "Through Envoy: p50 latency at concurrency 1 (log scale)", unit: "µs", y: svgHeight,
    groups: SIZES.map(({ label: size }) => ({ label: size, values: ["direct", "envoy", "envoy+buffer", "envoy+noop-wasm", "envoy+wasm", "portkey", "litellm"].map((t) => get(size, t)?.p50_us ?? 0) })),
    series: [{ name: "mock direct", color: "#9e9e9e" }, { name: "Envoy, no filter", color: "#90caf9" }, { name: "Envoy + native buffer filter", color: "#4fc3f7" }, { name: "Envoy + no-op Wasm filter", color: "#26a69a" }, { name: "Envoy + model-router", color: "#1565c0" }, { name: "Portkey", color: "#8e24aa" }, { name: "LiteLLM", color: "#e65100" }],
  }));
  svgHeight += 370;
}
if (results.live) {
  const L = results.live;
  md.push("## Live signals", "",
    "In process (test host, µs of plugin callback time, host calls included). Response path per request: every on_response_body and on_log " +
    "(the statistics update in shared data included; the response headers have no callback); per body callback: one on_response_body (a JSON answer has two: its body and the empty end-of-stream call).", "",
    table(["answer", "response path µs / request", "µs / body callback"], Object.entries(L.inproc.response).map(([k, r]) => [k, num(r.response_us, 2), r.per_chunk_us ? num(r.per_chunk_us, 2) : "–"])), "",
    "Request path with live signals against the same configuration with \"live\": false (tiny body, generated models, batches interleaved; *extra* = median of paired differences), " +
    "the shared-data reads per request and their cost, and one refresh tick (per worker, every refreshMs; not on the request path):", "",
    table(["models", "fast: table", "fast: live", "fast: extra", "auto: table", "auto: live", "auto: extra", "shared reads / request", "µs per read", "refresh tick µs"],
      L.inproc.requestPath.map((r) => [r.models, num(r.fast_table_us, 2), num(r.fast_live_us, 2), num(r.fast_extra_us, 2), num(r.auto_table_us, 2), num(r.auto_live_us, 2), num(r.auto_extra_us, 2), r.shared_reads_per_request, num(r.shared_read_us, 2), num(r.tick_us, 0)])), "",
    `Through Envoy (--concurrency 1, an upstream streaming one token per millisecond; µs from the upstream's write to the client's read; medians of ${L.envoy.streams} streams per Envoy, sent to the three in turn):`, "",
    table(["Envoy", "response headers", "first token"], Object.entries(L.envoy.targets).map(([k, r]) => [k, num(r.headers_us, 0), num(r.first_token_us, 0)])), "",
    `The response callbacks add ${num(L.envoy.response_callbacks_add.headers_us, 1)} µs to the headers and ${num(L.envoy.response_callbacks_add.first_token_us, 1)} µs to the first token ` +
    `(median of the differences to the stream sent just before to the plugin built without them); the whole plugin ${num(L.envoy.plugin_adds.headers_us, 1)} / ${num(L.envoy.plugin_adds.first_token_us, 1)} µs against Envoy without the filter.`, "");
}
if (results.metrics) {
  const M = results.metrics;
  const calls = (c) => Object.entries(c).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
  const rows = [["request path, routed `auto`", M.inproc.request], ["request path with a consumer header", M.inproc.requestConsumer],
    ...Object.entries(M.inproc).filter(([k]) => k.startsWith("request and response")).map(([k, v]) => [k, v])];
  md.push("## Observability (metrics and the decision summary)", "",
    `The metrics' own code per request (bench/metrics-entry.ts: the plugin's metrics code with stub host functions, no test host): ` +
    `**${num(M.code.json_ns, 0)} ns** for a JSON answer, **${num(M.code.stream_ns, 0)} ns** for a stream (with their 1 / 3 histogram values as stub calls); ` +
    `a tick's push of one changed row: ${num(M.code.flush_ns_per_row, 0)} ns.`, "",
    "In process (test host): two VMs differing only in `\"metrics\": false`, paired batches; *plugin work* = the plugin's own time " +
    "(callbacks and ticks minus host functions, whose test-host versions are JavaScript), and the host calls the metrics add per request " +
    "(counter increments are pushed at the tick: fractions of a call per request).", "",
    table(["requests", "plugin work added, ns", "host calls added per request", "callbacks µs off → on (test host)"],
      rows.map(([k, r]) => [k, num(r.guest_extra_ns, 0), calls(r.extra_host_calls), `${num(r.off_us, 2)} → ${num(r.on_us, 2)}`])), "",
    `Decision header on: ${num(M.inproc.decisionHeader.guest_extra_ns, 0)} ns of plugin work and ${calls(M.inproc.decisionHeader.extra_host_calls)} per response. ` +
    `One tick pushing 1000 requests' counts (12 rows): ${num(M.inproc.tick_us, 1)} µs. Filter state: ${M.inproc.filterStateCallsPerRequest} proxy_set_property per handled request.`, "",
    "Through Envoy 1.40 (bench/host-calls.ts, V8, loops of 20,000 calls; ns per call):", "",
    table(Object.keys(M.envoy), [Object.values(M.envoy).map((v) => num(v, 0))]), "");
}
if (results.detect) {
  const D = results.detect;
  md.push("## Task detection cost (in process)", "",
    "µs per request, median of 7 batches. *alone*: bench/detect-entry.ts (the plugin's scan and detector without the proxy-wasm glue) on an already scanned body; " +
    "*added*: guest time of a routed request on a `\"task\": \"auto\"` route minus the same request on a route with a fixed task, through the test host. " +
    "4 KB / 64 KB = raw JSON bytes of the user message; detection examines at most `maxBytes` (4096) of them.", "",
    table(["user text", "alone, 4 KB", "alone, 64 KB", "added, 4 KB", "added, 64 KB"], D.alone.map((a) => {
      const added = (size) => D.routed.find((r) => r.text === a.text && r.size === size)?.added_us;
      return [a.text, num(a["4 KB"], 2), num(a["64 KB"], 2), num(added("4 KB"), 2), num(added("64 KB"), 2)];
    })), "",
    "Body scan alone (same entry, realistic chat bodies): " + D.scan.map((x) => `${x.size} ${num(x.us, 2)} µs (${num(x.gbps, 1)} GB/s)`).join(", ") + ".", "");
}
if (taskEvalMarkdown) md.push(taskEvalMarkdown.replace(/^## /m, "## "), "");
writeFileSync(join(out, `${label}.json`), JSON.stringify(results, null, 1));
writeFileSync(join(out, `${label}.md`), md.join("\n") + "\n");
if (svgParts.length) writeFileSync(join(out, `${label}.svg`), svgDocument(svgParts, 900, svgHeight));
log(`wrote bench/results/${label}.{json,md${svgParts.length ? ",svg" : ""}}`);
