// Differential fuzzing CLI (npm run fuzz builds first).
//   node test/fuzz/run.mjs [--cases N] [--seed S] [--configs N] [--start I]
//   node test/fuzz/run.mjs --seed S --replay I        replays body case I verbosely
//   node test/fuzz/run.mjs --seed S --replay-config I replays configuration case I
//   node test/fuzz/run.mjs --seed S --replay-translation I replays translation case I
//   (--translation N: API translation cases, test/fuzz/translation.mjs; default cases / 100)
// Node 20 cannot run the TypeScript test host, so it is bundled on the fly with rolldown (the
// bundler vite ships; see bench/lib/ts.mjs). Runs are bounded by --cases and --max-seconds.
import { loadHost } from "../../bench/lib/ts.mjs";
import { describeBody, describeDelivery, expectForRequest, fuzzBodies, fuzzConfigs, generateCase, generateConfig, makeHosts, runCase, runConfigCase } from "./core.mjs";
import { fuzzTranslation, runTranslationCase } from "./translation.mjs";
import { Translator } from "../unit/translator.mjs";

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const seed = Number(opt("seed", String(Date.now() % 2 ** 31))) >>> 0;
const cases = Number(opt("cases", "1000000"));
const configs = Number(opt("configs", String(Math.max(50, Math.min(5000, Math.floor(cases / 200))))));
const translations = Number(opt("translation", String(Math.max(100, Math.floor(cases / 100)))));
const start = Number(opt("start", "0"));
const maxSeconds = Number(opt("max-seconds", "3600"));
const { ProxyWasmHost } = await loadHost();

if (opt("replay") !== undefined) {
  const index = Number(opt("replay"));
  const c = generateCase(seed, index);
  const hosts = await makeHosts(ProxyWasmHost);
  const exp = expectForRequest(c);
  const r = runCase(hosts, c);
  console.log(`seed ${seed} case ${index} (${c.kind}; ${JSON.stringify(describeDelivery(c))})`);
  console.log(`body: ${describeBody(c.body, 1e9)}`);
  console.log(`expected: ${exp.reject ? `${exp.status ?? 400} ${exp.reject} (${exp.why ?? ""})` : exp.unhandled ? "not handled" : exp.models ? "the model list" : exp.pass ? "pass-through" : exp.route ? `route ${exp.route} (${exp.candidates.join(",")})` : `catalog ${exp.catalog}`}`);
  console.log(`got: ${r.res?.outcome} ${r.res?.localResponse ? `${r.res.localResponse.status} ${r.res.localResponse.text}` : r.res?.upstream ? `${r.res.upstream.cluster} ${r.res.upstream.text.slice(0, 300)}` : ""}`);
  if (r.res?.logs?.length) console.log("logs:", r.res.logs.map((l) => `${l.level} ${l.message}`).join("\n"));
  console.log(r.ok ? "OK" : `FAIL: ${r.message}`);
  process.exit(r.ok ? 0 : 1);
}
if (opt("replay-translation") !== undefined) {
  const index = Number(opt("replay-translation"));
  const message = runTranslationCase(new Translator(), seed, index);
  console.log(`translation case ${index}: ${message === null ? "OK" : `FAIL: ${message}`}`);
  process.exit(message === null ? 0 : 1);
}
if (opt("replay-config") !== undefined) {
  const index = Number(opt("replay-config"));
  const c = generateConfig(seed, index);
  console.log(`config case ${index} (${c.kind}): ${c.bytes.toString("utf8")}`);
  const message = await runConfigCase(ProxyWasmHost, c);
  console.log(message === null ? "OK" : `FAIL: ${message}`);
  process.exit(message === null ? 0 : 1);
}

console.log(`fuzz: seed ${seed}, ${cases} body cases from ${start}, ${configs} configuration cases (max ${maxSeconds} s)`);
const t0 = Date.now();
let failures = [];
let done = 0;
const stats = { reject: {}, routed: 0, passed: 0, noCandidate: 0, unhandled: 0, models: 0, kinds: {} };
// Batches so that the time bound holds and progress shows.
const BATCH = 50_000;
for (let at = start; at < start + cases && (Date.now() - t0) / 1000 < maxSeconds; at += BATCH) {
  const n = Math.min(BATCH, start + cases - at);
  const r = await fuzzBodies(ProxyWasmHost, { seed, cases: n, start: at, maxFailures: 20 - failures.length });
  failures.push(...r.failures);
  done += r.stats.cases;
  for (const [k, v] of Object.entries(r.stats.reject)) stats.reject[k] = (stats.reject[k] ?? 0) + v;
  for (const [k, v] of Object.entries(r.stats.kinds)) stats.kinds[k] = (stats.kinds[k] ?? 0) + v;
  stats.routed += r.stats.routed;
  stats.passed += r.stats.passed;
  stats.noCandidate += r.stats.noCandidate;
  stats.unhandled += r.stats.unhandled;
  stats.models += r.stats.models;
  const rate = Math.round(done / ((Date.now() - t0) / 1000));
  console.log(`  ${done} cases, ${failures.length} failures, ${rate} cases/s`);
  if (failures.length >= 20) break;
}
const cfg = await fuzzConfigs(ProxyWasmHost, { seed, cases: configs });
const tx = fuzzTranslation({ seed, cases: translations });
console.log(`bodies: ${JSON.stringify(stats)}`);
console.log(`configurations: ${cfg.stats.cases} cases (${cfg.stats.typos} typos), ${cfg.failures.length} failures`);
console.log(`translations: ${JSON.stringify(tx.stats)}, ${tx.failures.length} failures`);
for (const f of failures) {
  console.log(`\nFAIL body case ${f.index} (${f.kind}): ${f.message}\n  body: ${f.body}\n  delivery: ${JSON.stringify(f.delivery)}\n  replay: node test/fuzz/run.mjs --seed ${seed} --replay ${f.index}`);
}
for (const f of cfg.failures) {
  console.log(`\nFAIL config case ${f.index} (${f.kind}): ${f.message}\n  config: ${f.config}\n  replay: node test/fuzz/run.mjs --seed ${seed} --replay-config ${f.index}`);
}
for (const f of tx.failures) {
  console.log(`\nFAIL translation case ${f.index}: ${f.message}\n  replay: node test/fuzz/run.mjs --seed ${seed} --replay-translation ${f.index}`);
}
const failed = failures.length + cfg.failures.length + tx.failures.length;
console.log(`\n${failed === 0 ? "OK" : "FAILED"}: seed ${seed}, ${done} body cases, ${cfg.stats.cases} configuration cases, ${tx.stats.cases} translation cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
