// The order a live reload writes its files in, and what it refuses, without Envoy (cli/lib/reload.mjs;
// through real Envoy: test/e2e/reload.test.ts).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { buildBootstrap } from "../../cli/lib/envoy.mjs";
import { reloadProblems, reloadSteps, reloadableGateway, runningGateway, writeGateway } from "../../cli/lib/reload.mjs";
import { ROUTER_JSON } from "./helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const reference = () => JSON.parse(readFileSync(ROUTER_JSON, "utf8"));
const MOCK = (json: any) => Object.fromEntries(Object.keys(json.providers).map((n, i) => [n, [{ host: "127.0.0.1", port: 9000 + i }]]));

function gateway(json: any, dir: string, keyVariables?: string[]) {
  const config = { json, text: JSON.stringify(json, null, 2) };
  return reloadableGateway(buildBootstrap(config, { listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 }, mocks: MOCK(json), keyVariables }), config, dir);
}

/** A gateway written for `before`, and the steps and problems of reloading it with `after`. */
function reload(before: any, after: any) {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-reload-"));
  dirs.push(dir);
  writeGateway(gateway(before, dir), { source: "router.json", header: "test" });
  const running = runningGateway(dir)!;
  const next = gateway(after, dir, running.keyVariables);
  return { problems: reloadProblems(running, next).map(String), steps: reloadSteps(running, next, { source: "router.json" }) };
}

const names = (steps: any[]) => steps.map((s) => s.name);
const clusterNames = (step: any) => YAML.parse(step.text).resources.map((c: any) => c.name);
const routeNames = (step: any) => YAML.parse(step.text).resources[0].virtual_hosts[0].routes.map((r: any) => r.name);

describe("a live reload's steps", () => {
  it("a new alias changes the plugin's configuration only: the upstream filter first, then the router filter", () => {
    const after = reference();
    after.routes.mine = { strategy: "price" };
    const { problems, steps } = reload(reference(), after);
    expect(problems).toEqual([]);
    expect(names(steps)).toEqual(["upstream-filter.yaml", "router-filter.yaml"]);
    const config = (step: any) => JSON.parse(YAML.parse(step.text).resources[0].typed_config.config.configuration.value);
    expect(Object.keys(config(steps[1]).routes)).toContain("mine");
  });

  it("a provider added: its cluster and routes come before the plugin can name them", () => {
    const after = reference();
    after.providers.local = { baseUrl: "http://10.1.1.1:8000/v1", auth: "none" };
    after.models.push({ name: "qwen", upstream: "local", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 });
    const { problems, steps } = reload(reference(), after);
    expect(problems).toEqual([]);
    expect(names(steps)).toEqual(["clusters.yaml", "routes.yaml", "upstream-filter.yaml", "router-filter.yaml"]);
    expect(clusterNames(steps[0])).toContain("local");
    expect(clusterNames(steps[0])).toContain("openai+local");
    expect(routeNames(steps[1])).toContain("provider.local");
  });

  it("a provider removed: its cluster and routes stay until the plugin no longer names them", () => {
    const after = reference();
    delete after.providers.groq;
    after.models = after.models.filter((m: any) => m.upstream !== "groq");
    const { problems, steps } = reload(reference(), after);
    expect(problems).toEqual([]);
    // Both configurations' clusters and routes are the running ones: nothing to write before the plugin.
    expect(names(steps)).toEqual(["upstream-filter.yaml", "router-filter.yaml", "routes.yaml", "clusters.yaml"]);
    expect(routeNames(steps[2])).not.toContain("provider.groq");
    // The routes for what nothing routed stay last.
    expect(routeNames(steps[2]).slice(-3)).toEqual(["unrouted.model", "unrouted.model_id", "unrouted"]);
    expect(clusterNames(steps[3])).not.toContain("groq");
    expect(clusterNames(steps[3])).not.toContain("openai+groq");
  });
});

describe("a live reload's steps, one provider replaced by another", () => {
  it("both configurations' clusters and routes while the plugin switches, then the new ones alone", () => {
    const after = reference();
    delete after.providers.groq;
    after.models = after.models.filter((m: any) => m.upstream !== "groq");
    after.providers.local = { baseUrl: "http://10.1.1.1:8000/v1", auth: "none" };
    after.models.push({ name: "qwen", upstream: "local", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 });
    const { steps } = reload(reference(), after);
    expect(names(steps)).toEqual(["clusters.yaml", "routes.yaml", "upstream-filter.yaml", "router-filter.yaml", "routes.yaml", "clusters.yaml"]);
    expect(clusterNames(steps[0])).toEqual(expect.arrayContaining(["groq", "local", "openai+groq", "openai+local"]));
    expect(routeNames(steps[1])).toEqual(expect.arrayContaining(["provider.groq", "provider.local"]));
    expect(routeNames(steps[4])).not.toContain("provider.groq");
    expect(clusterNames(steps[5])).not.toContain("groq");
    expect(clusterNames(steps[5])).toContain("local");
  });
});

describe("what a live reload refuses", () => {
  it("a key variable Envoy did not start with", () => {
    const after = reference();
    after.providers.gemini = { baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai", apiKeyEnv: "GEMINI_API_KEY" };
    after.models.push({ name: "flash", upstream: "gemini", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 });
    expect(reload(reference(), after).problems).toEqual([
      "providers.gemini.apiKeyEnv: GEMINI_API_KEY is not among the key variables the running gateway started with (OPENAI_API_KEY, DEEPSEEK_API_KEY, GROQ_API_KEY): Envoy reads keys only when it starts; restart llm-router with GEMINI_API_KEY set to add it",
    ]);
  });

  it("a new provider whose key variable Envoy has is taken", () => {
    const after = reference();
    after.providers["openai-eu"] = { baseUrl: "https://eu.api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" };
    after.models.push({ name: "gpt-eu", upstream: "openai-eu", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 });
    expect(reload(reference(), after).problems).toEqual([]);
  });

  for (const [what, change, problem] of [
    ["maxBodyBytes", (c: any) => (c.maxBodyBytes = 1024), "maxBodyBytes: sets the listener's buffer limits (running: 10485760 bytes), which Envoy fixes when it starts: restart llm-router to apply it"],
    ["modelHeader", (c: any) => (c.modelHeader = "x-model"), "modelHeader: is read by a filter of the listener (running: x-llm-model), which Envoy fixes when it starts: restart llm-router to apply it"],
    [
      "the first Azure provider",
      (c: any) => {
        c.providers.azure = { baseUrl: "https://x.openai.azure.com", apiKeyEnv: "OPENAI_API_KEY", auth: "api-key", apiVersion: "2024-10-21" };
        c.models.push({ name: "az", upstream: "azure", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 });
      },
      "providers.azure.apiVersion: an Azure provider adds or removes a filter of the listener, which Envoy fixes when it starts: restart llm-router to apply it",
    ],
    [
      "failover ending",
      (c: any) => {
        for (const name of ["deepseek", "groq"]) delete c.providers[name];
        c.models = c.models.filter((m: any) => m.upstream === "openai");
        c.routes = { auto: { strategy: "price" } };
      },
      "providers: failover ends with this change: the router's upstream filter comes or goes, which Envoy fixes when it starts: restart llm-router to apply it",
    ],
  ] as const) {
    it(what, () => {
      const after = reference();
      change(after);
      expect(reload(reference(), after).problems).toEqual([problem]);
    });
  }
});
