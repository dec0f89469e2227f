// Task-detection evaluation: the built plugin (build/envoy.wasm, through the test host) detects the
// task of each labelled public prompt (bench/task-eval/sources.mjs); per-task precision, recall,
// F1 and confusion matrices, English and Chinese, tuning and held-out parts separately.
//   node bench/task-eval.mjs [--wasm PATH] [--errors] [--no-write]
// --errors prints the misclassified prompts of the TUNING part only (the held-out part is never
// shown, so rules are not tuned on it). Writes bench/results/task-eval.{md,json} unless --no-write.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadHost, ROOT } from "./lib/ts.mjs";
import { ensureData, HELD_OUT_PERCENT, loadItems } from "./task-eval/data.mjs";
import { PACKAGES } from "./task-eval/sources.mjs";

export const TASKS = ["coding", "math", "reasoning", "writing", "translation", "summarization", "extraction", "default"];
const TIERS = ["simple", "medium", "complex", "reasoning"];

const CONFIG = {
  models: [{ name: "m", upstream: "up", price: { input: 1, output: 1 }, ttftMs: 100, tokensPerSecond: 100, contextWindow: 10_000_000, maxOutputTokens: 1_000_000 }],
  routes: { auto: { strategy: "price", task: "auto" } },
};

/** Detects every item with the plugin; adds `task` and `tier` to each. */
export async function detectAll(items, wasm = join(ROOT, "build", "envoy.wasm")) {
  const { ProxyWasmHost } = await loadHost();
  const host = await ProxyWasmHost.load({ wasm, configuration: JSON.stringify(CONFIG), clusters: ["up"], logLevel: 3, bufferLimit: 64 << 20 });
  if (!host.configured) throw new Error(`plugin rejected the evaluation configuration: ${host.logs.map((l) => l.message).join(" | ")}`);
  for (const it of items) {
    const r = host.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "auto", messages: it.messages }) });
    if (r.outcome !== "upstream") throw new Error(`${it.source}:${it.id}: ${r.outcome} ${r.localResponse?.text ?? ""}`);
    it.task = r.upstream.header("x-llm-task");
    it.tier = r.upstream.header("x-llm-complexity");
  }
  return items;
}

/** Per-task precision / recall / F1, accuracy, macro F1 and the confusion matrix (gold × predicted). */
export function score(items) {
  const confusion = Object.fromEntries(TASKS.map((g) => [g, Object.fromEntries(TASKS.map((p) => [p, 0]))]));
  for (const it of items) confusion[it.label][it.task]++;
  const perTask = {};
  let f1Sum = 0, f1Count = 0;
  for (const t of TASKS) {
    const tp = confusion[t][t];
    const support = TASKS.reduce((a, p) => a + confusion[t][p], 0);
    const predicted = TASKS.reduce((a, g) => a + confusion[g][t], 0);
    const precision = predicted ? tp / predicted : NaN;
    const recall = support ? tp / support : NaN;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : support || predicted ? 0 : NaN;
    perTask[t] = { support, predicted, precision, recall, f1 };
    if (support > 0) { f1Sum += Number.isNaN(f1) ? 0 : f1; f1Count++; }
  }
  const correct = items.filter((it) => it.task === it.label).length;
  return { n: items.length, accuracy: items.length ? correct / items.length : NaN, macroF1: f1Count ? f1Sum / f1Count : NaN, perTask, confusion };
}

const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(0) : "–");

function scoreTable(s) {
  const rows = TASKS.map((t) => {
    const p = s.perTask[t];
    return `| ${t} | ${p.support} | ${p.predicted} | ${pct(p.precision)} | ${pct(p.recall)} | ${pct(p.f1)} |`;
  });
  return ["| task | gold | predicted | precision % | recall % | F1 % |", "|---|---|---|---|---|---|", ...rows,
    `| **all** | ${s.n} | | | accuracy ${pct(s.accuracy)} | macro ${pct(s.macroF1)} |`].join("\n");
}

function confusionTable(s) {
  const short = { coding: "cod", math: "math", reasoning: "rsn", writing: "wri", translation: "tra", summarization: "sum", extraction: "ext", default: "def" };
  const head = `| gold \\ detected | ${TASKS.map((t) => short[t]).join(" | ")} |`;
  const rows = TASKS.filter((g) => s.perTask[g].support > 0).map((g) => `| ${g} | ${TASKS.map((p) => (s.confusion[g][p] ? String(s.confusion[g][p]) : "·")).join(" | ")} |`);
  return [head, `|---|${TASKS.map(() => "---").join("|")}|`, ...rows].join("\n");
}

function tierTable(items) {
  const by = {};
  for (const it of items) (by[it.label] ??= Object.fromEntries(TIERS.map((t) => [t, 0])))[it.tier]++;
  return ["| gold task | " + TIERS.join(" | ") + " |", "|---|" + TIERS.map(() => "---").join("|") + "|",
    ...TASKS.filter((t) => by[t]).map((t) => `| ${t} | ${TIERS.map((x) => by[t][x]).join(" | ")} |`)].join("\n");
}

function sourceTable(items) {
  const by = new Map();
  for (const it of items) {
    const s = by.get(it.source) ?? { source: it.source, lang: it.lang, n: 0, ok: 0, labels: new Set(), wrong: {} };
    s.n++;
    s.labels.add(it.label);
    if (it.task === it.label) s.ok++;
    else s.wrong[it.task] = (s.wrong[it.task] ?? 0) + 1;
    by.set(it.source, s);
  }
  return ["| source | lang | gold | n | correct % | most frequent wrong answers |", "|---|---|---|---|---|---|",
    ...[...by.values()].map((s) => `| ${s.source} | ${s.lang} | ${[...s.labels].join(", ")} | ${s.n} | ${pct(s.ok / s.n)} | ${Object.entries(s.wrong).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([t, c]) => `${t} ${c}`).join(", ")} |`)].join("\n");
}

/** Runs the whole evaluation; returns {markdown, results}. */
export async function runTaskEval({ wasm, log = console.log, errors = false } = {}) {
  ensureData(log);
  const items = await detectAll(loadItems(), wasm);
  const main = items.filter((it) => it.set === "user");
  const system = items.filter((it) => it.set === "system");
  const part = (heldOut, lang) => main.filter((it) => it.heldOut === heldOut && (!lang || it.lang === lang));
  const results = {};
  const md = [
    "## Task detection: evaluation on public prompts",
    "",
    `Labelled prompts from ${PACKAGES.join(", ")} (installed from PyPI at run time; sources, licences and the label mapping: bench/task-eval/sources.mjs). ` +
    `${HELD_OUT_PERCENT}% of the items (by a hash of source and id) are held out: never printed or looked at while the rules were tuned. ` +
    "Detection reads the last user message; the plugin runs as built (build/envoy.wasm) through the test host.",
    "",
  ];
  for (const [name, heldOut] of [["held-out", true], ["tuning", false]]) {
    for (const lang of ["en", "zh"]) {
      const s = score(part(heldOut, lang));
      results[`${name}-${lang}`] = s;
      md.push(`### ${name} part, ${lang === "en" ? "English" : "Chinese"} (${s.n} prompts)`, "", scoreTable(s), "", confusionTable(s), "");
      if (!(errors && heldOut)) log(`  task eval ${name} ${lang}: n=${s.n} accuracy ${pct(s.accuracy)}% macro-F1 ${pct(s.macroF1)}%`);
    }
  }
  const all = score(main);
  results.all = all;
  md.push(`### Everything with the request in the user message (${all.n} prompts, both parts, both languages)`, "", scoreTable(all), "",
    "Detected complexity tier by gold task (no public labels for tiers exist here; this shows the distribution only):", "", tierTable(main), "",
    "Per source, held-out part (sources built from one template per eval share it across both parts, so their held-out figures say less than those of the free-form sources: evalscope-battle, vicuna-80, longbench-write):", "", sourceTable(main.filter((it) => it.heldOut)), "",
    "Per source, both parts:", "", sourceTable(main), "");
  const sys = score(system);
  results.systemPrompt = sys;
  md.push(`### Task stated only in the system prompt (${sys.n} prompts, diagnostic)`, "",
    "The user message carries only the data (a phrase to translate, claims to summarise, an abstract to extract from); detection does not read the system prompt, so these are expected to fail. Such applications know their task: give them a route with a fixed `task`.", "",
    sourceTable(system), "");
  if (!errors) log(`  task eval all (user-message set): n=${all.n} accuracy ${pct(all.accuracy)}% macro-F1 ${pct(all.macroF1)}%; system-prompt set accuracy ${pct(sys.accuracy)}%`);
  if (errors) {
    // tuning part only: per task and per source, then each miss
    for (const lang of ["en", "zh"]) {
      const s = results[`tuning-${lang}`];
      log(`  ${lang}: ` + TASKS.map((t) => `${t} P${pct(s.perTask[t].precision)}/R${pct(s.perTask[t].recall)}`).join(" "));
    }
    log(sourceTable(main.filter((x) => !x.heldOut)));
    for (const it of main.filter((x) => !x.heldOut && x.task !== x.label)) {
      const text = it.messages.filter((m) => m.role === "user").at(-1).content;
      log(`  ✗ ${it.source}:${it.id} gold ${it.label} got ${it.task}/${it.tier}: ${JSON.stringify(text.slice(0, 160))}`);
    }
  }
  return { markdown: md.join("\n"), results };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const opt = (n, d) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : d);
  const { markdown, results } = await runTaskEval({ wasm: opt("wasm", undefined), errors: argv.includes("--errors") });
  if (!argv.includes("--no-write")) {
    const out = join(ROOT, "bench", "results");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "task-eval.md"), `# Task detection evaluation\n\n${new Date().toISOString()}\n\n${markdown}\n`);
    writeFileSync(join(out, "task-eval.json"), JSON.stringify(results, null, 1));
    console.log("wrote bench/results/task-eval.{md,json}");
  }
}
