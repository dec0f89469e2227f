// Issue 23, item 6: configurations that blow up the bootstrap, and fields that must be refused.
// Printed: for P providers and a route with maxFallbacks F, what `llm-router check` and
// `llm-router envoy` say, the fallback clusters and bytes of the bootstrap, and how long Envoy takes
// to be ready and at what RSS; then what `check` says of malformed provider URLs, a route name with
// a control character and response header names a gateway must not set.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { check, fmtMem, generate, routerConfig, startGateway } from "./gateway.mjs";

/** P providers with one chat model each and one route over all of them. */
export function manyProviders(count, maxFallbacks) {
  const providers = {};
  const models = [];
  for (let i = 0; i < count; i++) {
    const name = `p${i}`;
    providers[name] = { baseUrl: `https://api${i}.example.com/v1`, apiKeyEnv: `P${i}_API_KEY` };
    models.push({ name: `m${i}`, upstream: name, price: { input: 1 + i, output: 2 + i }, ttftMs: 100 + i, tokensPerSecond: 50, contextWindow: 128000 });
  }
  return { models, routes: { all: { strategy: "price", maxFallbacks } }, providers };
}

function firstLines(text, n = 2) {
  return text.trim().split("\n").slice(0, n).join(" | ");
}

async function sizeCase(dir, providers, fallbacks, log) {
  const file = join(dir, `p${providers}-f${fallbacks}.json`);
  const config = manyProviders(providers, fallbacks);
  writeFileSync(file, JSON.stringify(config));
  const checked = check(file);
  const started = Date.now();
  const gen = generate(file, ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
  const out = { providers, fallbacks, check: checked.status === 0 ? "OK" : firstLines(checked.stderr.replaceAll(`${file}: `, "")), envoyExit: gen.status, generateMs: Date.now() - started };
  if (gen.status === 0) {
    const bootstrap = YAML.parse(gen.stdout);
    out.fallbackClusters = bootstrap.static_resources.clusters.filter((c) => c.cluster_type?.name === "envoy.clusters.aggregate").length;
    out.bootstrapBytes = Buffer.byteLength(gen.stdout);
    const gw = await startGateway(config);
    try {
      const m = await gw.memory();
      out.readyMs = gw.readyMs;
      out.rssMb = Math.round(m.rss / 1048576);
      out.memory = fmtMem(m);
    } finally {
      await gw.stop();
    }
  } else {
    out.envoyError = firstLines(gen.stderr.replaceAll(`${file}: `, ""));
  }
  log(`  ${providers} providers, maxFallbacks ${fallbacks}: check ${out.check}; envoy ${gen.status === 0
    ? `wrote ${out.fallbackClusters} fallback clusters, ${(out.bootstrapBytes / 1e6).toFixed(2)} MB in ${out.generateMs} ms; Envoy ready in ${(out.readyMs / 1000).toFixed(2)} s, ${out.memory}`
    : `exit ${gen.status}: ${out.envoyError}`}`);
  return out;
}

// Fields a configuration must not get past `check` with (each with the field it should name).
const FIELD_CASES = [
  ["baseUrl with ..", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1/../admin")],
  ["baseUrl with %2F", (c) => (c.providers.openai.baseUrl = "https://api.openai.com/v1%2F..%2Fadmin")],
  ["baseUrl with a backslash", (c) => (c.providers.openai.baseUrl = "https://api.openai.com\\v1")],
  ["baseUrl with port 99999", (c) => (c.providers.openai.baseUrl = "https://api.openai.com:99999/v1")],
  ["baseUrl with port 0", (c) => (c.providers.openai.baseUrl = "https://api.openai.com:0/v1")],
  ["two malformed baseUrls", (c) => {
    c.providers.openai.baseUrl = "https//api.openai.com/v1";
    c.providers.groq.baseUrl = "https://";
  }],
  ["a route name with a control character", (c) => (c.routes["au\u0007to"] = c.routes.auto)],
  ["servedModelHeader: set-cookie", (c) => (c.servedModelHeader = "set-cookie")],
  ["decisionHeader: set-cookie", (c) => (c.decisionHeader = "set-cookie")],
  ["servedModelHeader: content-length", (c) => (c.servedModelHeader = "content-length")],
  ["decisionHeader: www-authenticate", (c) => (c.decisionHeader = "www-authenticate")],
];

export async function generatorScenario({ log }) {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-abuse-gen-"));
  const out = { sizes: [], fields: [] };
  try {
    for (const [providers, fallbacks] of [[3, 1], [10, 1], [10, 2], [10, 3], [20, 3]]) out.sizes.push(await sizeCase(dir, providers, fallbacks, log));
    for (const [name, edit] of FIELD_CASES) {
      const config = routerConfig();
      edit(config);
      const file = join(dir, "field.json");
      writeFileSync(file, JSON.stringify(config));
      const checked = check(file);
      const gen = generate(file, []);
      const said = checked.status === 0 ? "OK" : checked.stderr.trim().split("\n").map((l) => l.replace(`${file}: `, "")).join(" | ");
      out.fields.push({ name, check: said, envoyExit: gen.status });
      log(`  ${name}: check ${checked.status === 0 ? "accepts it" : `refuses it: ${said}`}; envoy exit ${gen.status}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
