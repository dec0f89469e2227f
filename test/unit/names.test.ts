// The plugin's externally visible names have one home each (assembly/names.ts, the metric table
// assembly/metrics/table.ts, the provider APIs assembly/api/apis.ts) and one copy in the CLI
// (cli/lib/names.mjs), which the generated bootstrap, `llm-router check`, `llm-router start` and
// `llm-router top` read. A name changed on one side only would give a bootstrap whose access log,
// served-model header, upstream filter or stats tags miss the plugin: these tests fail first.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as cli from "../../cli/lib/names.mjs";

const ROOT = join(__dirname, "..", "..");
const read = (...path: string[]) => readFileSync(join(ROOT, ...path), "utf8");

/** `export const NAME = "literal";` of a module, as a map. */
function stringConstants(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^export const ([A-Z_]+)(?:: string)? = "([^"]*)";/gm)].map((m) => [m[1], m[2]]));
}

const plugin = stringConstants(read("assembly", "names.ts"));
const table = read("assembly", "metrics", "table.ts");
const metricNames = (row: string) => [...table.matchAll(new RegExp(`new ${row}\\([^"]*"([a-z0-9_]+)"`, "g"))].map((m) => m[1]);
const listOf = (text: string, name: string) => {
  const m = new RegExp(`export const ${name}: string\\[\\] = \\[([^\\]]*)\\]`).exec(text);
  if (!m) throw new Error(`${name} not found`);
  return [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
};

// The plugin's names the CLI must spell the same way.
const MIRRORED = [
  "UPSTREAM_ROOT_ID", "DECISION_FILTER_STATE", "DECISION_HEADER_FILTER_STATE_PREFIX", "PLAN_FILTER_STATE", "SERVED_FILTER_STATE",
  "METADATA_NAMESPACE", "PROVIDER_METADATA_KEY", "LOG_PREFIX", "CONFIG_ERROR_PREFIX",
];

describe("names: the plugin (assembly/names.ts) and the CLI (cli/lib/names.mjs) agree", () => {
  it.each(MIRRORED)("%s", (name) => {
    expect(plugin.get(name), `assembly/names.ts ${name}`).toEqual(expect.any(String));
    expect((cli as Record<string, unknown>)[name], `cli/lib/names.mjs ${name}`).toBe(plugin.get(name));
  });

  it("every CLI name that shares a plugin name's name has its value", () => {
    for (const [name, value] of Object.entries(cli)) {
      if (typeof value === "string" && plugin.has(name)) expect(value, name).toBe(plugin.get(name));
    }
  });

  it("a configuration error is a log line: its prefix starts with the log prefix", () => {
    expect(plugin.get("CONFIG_ERROR_PREFIX")!.startsWith(plugin.get("LOG_PREFIX")!)).toBe(true);
  });

  it("the provider APIs are the plugin's (assembly/api/apis.ts), in its order", () => {
    expect(cli.PROVIDER_APIS).toEqual(listOf(read("assembly", "api", "apis.ts"), "API_NAMES"));
  });
});

describe("metric names: the metric table and the CLI agree", () => {
  const traffic = metricNames("TrafficMetric");
  const perModel = metricNames("ModelMetric");
  const all = [...traffic, ...perModel, ...metricNames("MoveMetric")];

  it("every metric the CLI reads or tags is in the table", () => {
    expect(Object.values(cli.METRICS).filter((n) => !all.includes(n))).toEqual([]);
  });

  it("the per-model pattern (stats_tags, top) matches every per-model metric", () => {
    expect(perModel.length).toBeGreaterThan(5);
    const pattern = new RegExp(`^${cli.PER_MODEL_METRIC}$`);
    expect(perModel.filter((n) => !pattern.test(n))).toEqual([]);
  });

  it("the millisecond histograms' bucket prefix names the ms histograms and nothing else", () => {
    const histograms = [...table.matchAll(/new ModelMetric\([^"]*"([a-z0-9_]+)", MetricType\.Histogram/g)].map((m) => m[1]);
    expect(histograms.filter((n) => n.startsWith(cli.MS_HISTOGRAM_PREFIX))).toEqual(histograms.filter((n) => n.endsWith("_ms")));
    expect(histograms).toContain(cli.METRICS.outputTokensPerSecond);
  });

  it("the result and outcome labels are the table's", () => {
    expect(cli.RESULTS).toEqual(listOf(table, "RESULT_NAMES"));
    const outcomes = listOf(table, "OUTCOME_NAMES");
    // The outcomes of requests that went to a model come first, up to passed_through.
    expect(cli.FORWARDED_OUTCOMES).toEqual(outcomes.slice(0, outcomes.indexOf("passed_through")));
  });
});

describe("the CLI spells the plugin's names only in cli/lib/names.mjs", () => {
  // Code only: comments may mention a name.
  const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");
  const files = readdirSync(join(ROOT, "cli", "lib")).filter((f) => f.endsWith(".mjs") && f !== "names.mjs");
  // Each name as a whole string literal; the dotted and dashed ones (filter-state keys, the root id,
  // the log prefix) also inside a longer string, such as an access-log format.
  const values = [...MIRRORED.map((n) => plugin.get(n)!), ...Object.values(cli.METRICS)];
  const spelled = (text: string, v: string) =>
    ['"', "'", "`"].some((q) => text.includes(q + v + q)) || (/[.: ]|-upstream/.test(v) && text.includes(v));

  it.each(files)("cli/lib/%s", (file) => {
    const text = code(read("cli", "lib", file));
    expect(values.filter((v) => spelled(text, v))).toEqual([]);
  });
});
