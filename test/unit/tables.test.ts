// The plugin's tables whose rows are found by an enum's value: the metric table (metrics/table.ts),
// the client-error catalogue (client_errors.ts) and the strategies (config/strategies.ts). A row out
// of place would count a metric under another's name, answer with another error, or rank with
// another strategy, and the compiler cannot see it: each row names its own position, and these
// tests read the sources and check every row sits at the position it names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

const ROOT = join(__dirname, "..", "..");
const source = (file: string) => readFileSync(join(ROOT, "assembly", file), "utf8").replace(/\/\/.*$/gm, "");

/** The members of `export const enum <name> { … }` in order (initialisers dropped). */
function enumMembers(text: string, name: string): string[] {
  const m = new RegExp(`export const enum ${name} \\{([^}]*)\\}`).exec(text);
  if (!m) throw new Error(`enum ${name} not found`);
  return m[1].split(",").map((x) => x.replace(/=.*$/s, "").trim()).filter((x) => x.length > 0);
}

/** The body of `export const <name>: … = [ … ];`. */
function arrayBody(text: string, name: string): string {
  const start = text.indexOf(`export const ${name}:`);
  if (start < 0) throw new Error(`array ${name} not found`);
  const open = text.indexOf("[", text.indexOf("=", start));
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "[") depth++;
    else if (text[i] === "]" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`array ${name} not closed`);
}

/** The enum member each `new <row>(<Enum>.<Member>, …` of an array names, in order. */
function rowPositions(text: string, array: string, row: string, enumName: string): string[] {
  const body = arrayBody(text, array);
  const rows = [...body.matchAll(new RegExp(`new ${row}\\(\\s*([A-Za-z]+)\\.([A-Za-z]+)`, "g"))];
  expect(rows.every((r) => r[1] === enumName), `${array} rows name ${enumName} members`).toBe(true);
  expect(rows.length, `${array}: one row per new ${row}(`).toBe([...body.matchAll(new RegExp(`new ${row}\\(`, "g"))].length);
  return rows.map((r) => r[2]);
}

/** The string literals of `export const <name>: string[] = [ … ];`. */
function stringList(text: string, name: string): string[] {
  return [...arrayBody(text, name).matchAll(/"([^"]*)"/g)].map((m) => m[1]);
}

const snake = (member: string) => member.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

describe("the metric table (metrics/table.ts)", () => {
  const table = source("metrics/table.ts");

  it("TRAFFIC has one entry per member of T, each at the position it names", () => {
    expect(rowPositions(table, "TRAFFIC", "TrafficMetric", "T")).toEqual(enumMembers(table, "T"));
  });

  it("MODEL_HISTOGRAMS follows H and MODEL_GAUGES follows G", () => {
    expect(rowPositions(table, "MODEL_HISTOGRAMS", "ModelMetric", "H")).toEqual(enumMembers(table, "H"));
    expect(rowPositions(table, "MODEL_GAUGES", "ModelMetric", "G")).toEqual(enumMembers(table, "G"));
  });

  it("outcome and result labels are their enum members in snake_case, in order", () => {
    const outcomes = enumMembers(table, "RequestOutcome").filter((m) => m !== "None");
    expect(stringList(table, "OUTCOME_NAMES")).toEqual(outcomes.map(snake));
    expect(stringList(table, "RESULT_NAMES")).toEqual(enumMembers(table, "Result").map(snake));
  });

  it("every metric is declared in the table, the fallbacks counter included", () => {
    const names = [...table.matchAll(/new (?:TrafficMetric|ModelMetric|MoveMetric)\([^"]*"([a-z0-9_]+)"/g)].map((m) => m[1]);
    expect(names).toContain("llm_router_fallbacks");
    expect(new Set(names).size).toBe(names.length);
    // No other module spells a metric name.
    for (const file of ["metrics/fallbacks.ts", "metrics/registry.ts", "metrics/count.ts"]) {
      const text = source(file);
      expect(names.filter((n) => text.includes(`"${n}"`)), file).toEqual([]);
    }
  });
});

describe("the client-error catalogue (client_errors.ts)", () => {
  const errors = source("client_errors.ts");
  const members = enumMembers(source("request/client_error.ts"), "ClientError");

  it("CLIENT_ERRORS has one row per member of ClientError, each at the position it names", () => {
    expect(rowPositions(errors, "CLIENT_ERRORS", "ClientErrorRow", "ClientError")).toEqual(members);
  });

  it("every row counts under an outcome that exists, or under none", () => {
    const outcomes = new Set(enumMembers(source("metrics/table.ts"), "RequestOutcome"));
    const used = [...arrayBody(errors, "CLIENT_ERRORS").matchAll(/RequestOutcome\.([A-Za-z]+)/g)].map((m) => m[1]);
    expect(used.length).toBe(members.length);
    expect(used.filter((o) => !outcomes.has(o))).toEqual([]);
  });
});

describe("the strategies (config/strategies.ts)", () => {
  const strategies = source("config/strategies.ts");
  const names = [...arrayBody(strategies, "STRATEGIES").matchAll(/new StrategyRow\(\s*Strategy\.[A-Za-z]+,\s*"([a-z]+)"/g)].map((m) => m[1]);

  it("STRATEGIES has one row per member of Strategy, each at the position it names", () => {
    expect(rowPositions(strategies, "STRATEGIES", "StrategyRow", "Strategy")).toEqual(enumMembers(strategies, "Strategy"));
    expect(names).toEqual(enumMembers(strategies, "Strategy").map(snake));
  });

  it("the Higress console offers exactly these strategies, in this order", () => {
    const spec = YAML.parse(readFileSync(join(ROOT, "config", "higress", "spec.yaml"), "utf8"));
    const route = spec.spec.configSchema.openAPIV3Schema.properties.routes.additionalProperties;
    expect(route.properties.strategy.enum).toEqual(names);
  });
});
