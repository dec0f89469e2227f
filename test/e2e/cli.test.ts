// The llm-router command as a user runs it: check, envoy, start (real child processes, real
// signals), and `npm start` itself.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  CLI, KEYS, chat, cleanEnv, cli, descendants, expectAllStopped, loopback, startCli, tempDir, useCliProcesses, writeConfig,
} from "./cli-process";
import { assertWasmBuilt, postJson, readRouterConfig, send, validateEnvoyConfig } from "./harness";

useCliProcesses();

describe("llm-router check", () => {
  it("accepts config/router.json when the key variables are set", () => {
    const r = cli(["check", "config/router.json"], cleanEnv(Object.fromEntries(KEYS.map((k) => [k, "sk-x"]))));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("config/router.json: OK");
  });

  it("names every missing key variable with its field path (exit 1); --no-key-check skips that", () => {
    const r = cli(["check"]);
    expect(r.status).toBe(1);
    for (const [provider, v] of [["openai", "OPENAI_API_KEY"], ["deepseek", "DEEPSEEK_API_KEY"], ["groq", "GROQ_API_KEY"]]) {
      expect(r.stderr).toContain(`config/router.json: providers.${provider}.apiKeyEnv: ${v} is not set`);
    }
    expect(cli(["check", "--no-key-check"]).status).toBe(0);
  });

  it("prints the plugin's own verdict with the field path", () => {
    const file = writeConfig((c) => (c.models[1].price.input = -1));
    const r = cli(["check", file, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`${file}: models[1].price.input: expected a non-negative number`);
  });

  it("a typo deep in the file is named with the closest known field", () => {
    const file = writeConfig((c) => (c.routes.cheap.minQualty = 6));
    const r = cli(["check", file, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("routes.cheap.minQualty: unknown field");
    expect(r.stderr).toContain('"minQuality"');
  });

  it("a model whose upstream names no provider, a file without providers, a bad Azure deployment", () => {
    const noProvider = writeConfig((c) => (c.models[3].upstream = "together"));
    expect(cli(["check", noProvider, "--no-key-check"]).stderr).toMatch(/models\[3\]\.upstream: .*together/);
    const without = writeConfig((c) => delete c.providers);
    const r = cli(["check", without, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("providers: required by llm-router");
    const azure = writeConfig((c) => {
      c.providers.azure = { baseUrl: "https://x.openai.azure.com", apiKeyEnv: "AZURE_OPENAI_API_KEY", auth: "api-key", apiVersion: "2024-10-21" };
      c.models[1].upstream = "azure";
      c.models[1].upstreamModel = "my deployment/../x";
    });
    const a = cli(["check", azure, "--no-key-check"]);
    expect(a.status).toBe(1);
    expect(a.stderr).toContain("models[1].upstreamModel:");
  });

  it("a provider's api: azure-openai needs apiVersion, an unknown api gets the closest name, the deployment check follows api", () => {
    const azure = { api: "azure-openai", baseUrl: "https://x.openai.azure.com", apiKeyEnv: "AZURE_OPENAI_API_KEY", auth: "api-key" };
    const noVersion = writeConfig((c) => {
      c.providers.azure = azure;
      c.models[1].upstream = "azure";
    });
    const r = cli(["check", noVersion, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${noVersion}: providers.azure.apiVersion: required with "api": "azure-openai"`);
    const typo = writeConfig((c) => (c.providers.openai.api = "opena1"));
    expect(cli(["check", typo, "--no-key-check"]).stderr).toContain('providers.openai.api: expected openai or azure-openai (did you mean "openai"?)');
    const deployment = writeConfig((c) => {
      c.providers.azure = { ...azure, apiVersion: "2024-10-21" };
      c.models[1].upstream = "azure";
      c.models[1].upstreamModel = "my deployment";
    });
    expect(cli(["check", deployment, "--no-key-check"]).stderr).toContain("models[1].upstreamModel:");
  });

  it("every baseUrl a URL parser would rewrite, or with a bad port, is named with its field (check and envoy)", () => {
    const file = writeConfig((c) => {
      c.providers.openai.baseUrl = "https://api.openai.com/v1/../admin";
      c.providers.deepseek.baseUrl = "https//api.deepseek.com/v1";
      c.providers.groq.baseUrl = "https://api.groq.com:99999/openai/v1";
    });
    for (const args of [["check", file, "--no-key-check"], ["envoy", file]]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toContain("Invalid URL");
      expect(r.stderr).toContain(`${file}: providers.openai.baseUrl: a '.' or '..' segment in the path`);
      expect(r.stderr).toContain(`${file}: providers.deepseek.baseUrl: expected http(s)://host[:port][/path]`);
      expect(r.stderr).toContain(`${file}: providers.groq.baseUrl: expected a port from 1 to 65535`);
      expect(r.stderr.match(/providers\.openai\.baseUrl/g)).toHaveLength(1);
    }
  });

  it("fallback chains past the limit: check, envoy and start refuse with the count and the field (20 providers too)", () => {
    for (const [count, fits] of [[10, "use at most 2 (810 clusters)"], [20, "use at most 1 (380 clusters)"]] as const) {
      const file = writeConfig((c) => {
        c.providers = {};
        c.models = [];
        for (let i = 0; i < count; i++) {
          c.providers[`p${i}`] = { baseUrl: `https://api${i}.example.com/v1`, apiKeyEnv: `P${i}_KEY` };
          c.models.push({ name: `m${i}`, upstream: `p${i}`, price: { input: 1, output: 1 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 128000 });
        }
        c.routes = { all: { strategy: "price", maxFallbacks: 3 } };
      });
      for (const args of [["check", file, "--no-key-check"], ["envoy", file], ["start", file, "--mock"]]) {
        const r = cli(args);
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).not.toContain("Maximum call stack");
        expect(r.stderr.split("\n")[0]).toMatch(new RegExp(`^${file}: routes\\.all\\.maxFallbacks: 3 fallbacks over ${count} providers need \\d+ fallback clusters .*the gateway holds at most 1000: ${fits.replace(/[()]/g, "\\$&")}$`));
      }
    }
  });

  it("a file that is not JSON, and a missing file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.json"), '{"models": [');
    expect(cli(["check", join(dir, "bad.json")]).stderr).toMatch(/bad\.json:1:13: not valid JSON/);
    expect(cli(["check", join(dir, "missing.json")]).stderr).toMatch(/missing\.json: cannot read \(ENOENT\)/);
  });

  it("invalid JSON is placed by line and column, the way editors jump to it", () => {
    const text = JSON.stringify(readRouterConfig(), null, 2).replace('"cheap": {', '"cheap": {,');
    const file = join(tempDir(), "router.json");
    writeFileSync(file, text);
    const line = text.split("\n").findIndex((l) => l.includes('"cheap": {,')) + 1;
    const column = text.split("\n")[line - 1].indexOf(",") + 1;
    const r = cli(["check", file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:${line}:${column}: not valid JSON: expected a member name in double quotes, found ","`);
  });

  it("a baseUrl without its scheme is named with the file and field path", () => {
    const file = writeConfig((c) => (c.providers.openai.baseUrl = "api.openai.com/v1"));
    const r = cli(["check", file, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([`${file}: providers.openai.baseUrl: expected http(s)://host[:port][/path], e.g. "https://api.openai.com/v1"`]);
  });

  it("a key pasted into apiKeyEnv is never printed back, whatever it looks like", () => {
    for (const key of ["sk-proj-abc123DEF456ghi789", "gsk_abc123DEF456ghi789JKL012mno345pqr"]) {
      const file = writeConfig((c) => (c.providers.groq.apiKeyEnv = key));
      const r = cli(["check", file]);
      expect(r.status, key).toBe(1);
      expect(r.stderr, key).not.toContain(key.slice(4, 14));
      expect(r.stderr, key).toMatch(/providers\.groq\.apiKeyEnv: .*(the key itself|not the key itself)/);
    }
  });

  it("an upstream that names no provider is reported once", () => {
    const file = writeConfig((c) => (c.models[3].upstream = "together"));
    const r = cli(["check", file, "--no-key-check"]);
    expect(r.status).toBe(1);
    expect(r.stderr.match(/models\[3\]\.upstream/g)).toHaveLength(1);
  });
});

describe("llm-router --help", () => {
  for (const args of [["--help"], ["check", "--help"], ["start", "-h"], ["envoy", "config/router.json", "--help"], ["top", "--help"]]) {
    it(`${args.join(" ")}: the usage, nothing else, exit 0`, () => {
      const r = cli(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: llm-router <command>/);
      expect(r.stderr).toBe("");
    });
  }
});

describe("llm-router higress", () => {
  it("writes modelHeader x-higress-llm-model (Higress's AI routes match on it), and names the file it wrote", () => {
    const file = join(tempDir(), "plugin.yaml");
    const r = cli(["higress", "config/router.json", "-o", file]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(YAML.parse(text).spec.defaultConfig.modelHeader).toBe("x-higress-llm-model");
    expect(text).toContain(`# Apply: kubectl apply -f ${file}\n`);
    expect(text).not.toContain("config/higress/wasmplugin.yaml");
    const other = cli(["higress", "config/router.json", "--model-header", "x-model"]);
    expect(YAML.parse(other.stdout).spec.defaultConfig.modelHeader).toBe("x-model");
    expect(other.stdout).toContain("# Apply: kubectl apply -f <this file>\n");
  });
});

describe("llm-router envoy", () => {
  it("writes a bootstrap Envoy validates, with no key in it even when the keys are set", () => {
    assertWasmBuilt();
    const file = join(tempDir(), "envoy.yaml");
    const secret = "sk-live-should-never-be-written";
    const r = cli(["envoy", "config/router.json", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "-o", file], cleanEnv({ OPENAI_API_KEY: secret }));
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(secret);
    expect(text).toContain("environment_variable: OPENAI_API_KEY");
    const v = validateEnvoyConfig(file);
    expect(v.status, v.output).toBe(0);
  });

  it("writes to stdout without -o; refuses an invalid configuration (exit 1, nothing written)", () => {
    const ok = cli(["envoy"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("static_resources:");
    const bad = writeConfig((c) => (c.models[0].ttftMs = "fast"));
    const r = cli(["envoy", bad]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("models[0].ttftMs");
  });

  it("rejects a bad option with a usage message (exit 2)", () => {
    const r = cli(["envoy", "--listen", "localhost"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--listen expects HOST:PORT");
  });
});

describe("llm-router top", () => {
  it("usage errors exit 2; an admin endpoint nobody serves is named (exit 1)", () => {
    expect(cli(["top", "config/router.json"]).stderr).toContain("top takes no configuration file");
    expect(cli(["top", "--admin", "localhost"]).status).toBe(2);
    expect(cli(["top", "--interval", "0"]).stderr).toContain("--interval expects a positive number");
    const r = cli(["top", "--admin", "127.0.0.1:1", "--once"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot read http:\/\/127\.0\.0\.1:1\/stats\?format=json.*is the gateway running\? --admin HOST:PORT/);
  });
});

describe("llm-router start", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`--mock serves config/router.json through Envoy; ${signal} to its PID stops everything and frees every port`, async () => {
      assertWasmBuilt();
      const s = await startCli(process.execPath, [CLI, "start", "config/router.json", "--mock", ...loopback, "--run-dir", tempDir()]);
      const reply = await postJson({ url: s.url }, "/v1/chat/completions", chat("auto"));
      expect(reply.status, reply.text).toBe(200);
      // live signals are on in config/router.json: usually gpt-4o-mini, but a share of requests explores
      const provider: Record<string, string> = { "gpt-4o-mini": "openai", "gpt-4o": "openai", "deepseek-chat": "deepseek", "llama-3.1-8b-instant": "groq" };
      expect(Object.keys(provider)).toContain(reply.json().model);
      expect(reply.headers["x-mock-provider"]).toBe(provider[reply.json().model]);
      // the demo explains its choices: decisionHeader is on in config/router.json, and the banner says so
      expect(reply.headers["x-llm-decision"]).toMatch(/^outcome=routed route=auto model=\S+ strategy=balanced /);
      expect(s.output()).toContain("x-llm-decision explains each choice");
      const pids = [s.child.pid!, ...descendants(s.child.pid!)];
      expect(pids.length).toBeGreaterThanOrEqual(2); // itself and Envoy
      s.child.kill(signal);
      await expectAllStopped(s, pids);
      expect(s.output()).toContain(`got ${signal}, stopping`);
    });
  }

  it("without --mock, a missing key variable is an error before Envoy starts", () => {
    const runDir = tempDir();
    const r = cli(["start", "config/router.json", ...loopback, "--run-dir", runDir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("providers.openai.apiKeyEnv: OPENAI_API_KEY is not set");
    expect(existsSync(join(runDir, "envoy.log"))).toBe(false);
  });

  it("an invalid configuration prints the plugin's line first, not Envoy's log", () => {
    const file = writeConfig((c) => (c.routes.auto.strategy = "cheapest"));
    const r = cli(["start", file, "--mock", ...loopback, "--run-dir", tempDir()]);
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toMatch(/routes\.auto\.strategy: /);
    expect(r.stderr).not.toContain("[info]");
  });

  it("a taken port is named before anything starts", async () => {
    const busy = await startCli(process.execPath, [CLI, "start", "--mock", ...loopback, "--run-dir", tempDir()]);
    try {
      const port = new URL(busy.url).port;
      const r = cli(["start", "--mock", "--listen", `127.0.0.1:${port}`, "--admin", "127.0.0.1:0", "--run-dir", tempDir()]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`already in use: 127.0.0.1:${port} (listener)`);
    } finally {
      busy.child.kill("SIGTERM");
      await busy.exited;
    }
  });

  it("with client keys: 401 without a key, 200 with one, and the key stays in the gateway", async () => {
    const s = await startCli(
      process.execPath,
      [CLI, "start", "--mock", "--client-keys-env", "GATEWAY_KEYS", ...loopback, "--run-dir", tempDir()],
      cleanEnv({ GATEWAY_KEYS: "team-a-key, team-b-key" }),
    );
    try {
      const none = await postJson({ url: s.url }, "/v1/chat/completions", chat("fast"));
      expect(none.status).toBe(401);
      expect(none.json().error.code).toBe("invalid_api_key");
      const wrong = await postJson({ url: s.url }, "/v1/chat/completions", chat("fast"), { authorization: "Bearer team-c-key" });
      expect(wrong.status).toBe(401);
      // A catalog name, not an alias: live signals' exploration may send an alias's request elsewhere.
      const ok = await postJson({ url: s.url }, "/v1/chat/completions", chat("llama-3.1-8b"), { authorization: "Bearer team-b-key" });
      expect(ok.status, ok.text).toBe(200);
      // the mock checks the provider key it stands in for: the client's key was replaced
      expect(ok.headers["x-mock-provider"]).toBe("groq");
    } finally {
      s.child.kill("SIGTERM");
      await s.exited;
    }
  });
});

describe("npx llm-router start", () => {
  it("SIGTERM to npx's PID stops llm-router, Envoy and the mocks, and frees every port", async () => {
    assertWasmBuilt();
    // npm exec runs the command under `sh -c`, which does not pass SIGTERM on: llm-router notices
    // that the npm process that started it is gone.
    const s = await startCli("npx", ["llm-router", "start", "--mock", ...loopback, "--run-dir", tempDir()]);
    const reply = await postJson({ url: s.url }, "/v1/chat/completions", chat("cheap"));
    expect(reply.status, reply.text).toBe(200);
    const pids = [s.child.pid!, ...descendants(s.child.pid!)];
    expect(pids.length).toBeGreaterThanOrEqual(4); // npm, sh, node, Envoy
    s.child.kill("SIGTERM");
    await expectAllStopped(s, pids, { exitCode: null });
    expect(s.output()).toContain("the npm process that started it exited, stopping");
  });
});

describe("npm start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`runs llm-router start config/router.json --mock; ${signal} to npm's PID stops it all`, async () => {
      assertWasmBuilt();
      // npm passes arguments after `--` on to the script: loopback port 0 so tests never collide.
      const s = await startCli("npm", ["start", "--", ...loopback, "--run-dir", tempDir()]);
      expect(s.output()).toContain("configuration: config/router.json");
      // the reference configuration is not the one to edit: the banner invites a copy, as README does
      expect(s.output()).toContain("Try your own configuration: cp config/router.json my-router.json && npx llm-router start my-router.json --mock");
      const reply = await postJson({ url: s.url }, "/v1/chat/completions", chat("cheap"));
      expect(reply.status, reply.text).toBe(200);
      const models = await send(s.url, { path: "/v1/models" });
      expect(models.headers["content-type"]).toMatch(/^application\/json/);
      const pids = [s.child.pid!, ...descendants(s.child.pid!)];
      expect(pids.length).toBeGreaterThanOrEqual(3); // npm, node, Envoy
      s.child.kill(signal);
      await expectAllStopped(s, pids);
    });
  }
});
