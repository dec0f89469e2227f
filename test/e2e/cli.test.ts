// The llm-router command as a user runs it: check, envoy, start (real child processes, real
// signals), and `npm start` itself.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ROOT, assertWasmBuilt, postJson, readRouterConfig, send, validateEnvoyConfig } from "./harness";

const CLI = join(ROOT, "cli", "llm-router.mjs");
const KEYS = ["OPENAI_API_KEY", "DEEPSEEK_API_KEY", "GROQ_API_KEY"];
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// Every gateway a test starts is stopped after it, also when an assertion failed midway.
const running: Started[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill("SIGTERM");
      await Promise.race([s.exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
  }
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "llm-router-cli-"));
  dirs.push(d);
  return d;
}

/** The environment without any provider key (what a fresh shell has). */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = { ...(process.env as Record<string, string>) };
  for (const k of KEYS) delete env[k];
  return { ...env, ...extra };
}

function cli(args: string[], env = cleanEnv()) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(edit: (c: any) => void): string {
  const c = readRouterConfig();
  edit(c);
  const file = join(tempDir(), "router.json");
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

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

  it("a file that is not JSON, and a missing file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.json"), '{"models": [');
    expect(cli(["check", join(dir, "bad.json")]).stderr).toMatch(/bad\.json: not valid JSON/);
    expect(cli(["check", join(dir, "missing.json")]).stderr).toMatch(/missing\.json: cannot read \(ENOENT\)/);
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

// ------------------------------------------------------------------------------------------------
// start: a real child process

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
  admin: string;
  mockPorts: number[];
  exited: Promise<number | null>;
}

function startCli(command: string, args: string[], env = cleanEnv()): Promise<Started> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`not ready in 90 s:\n${text}`));
    }, 90_000);
    const poll = setInterval(() => {
      const m = /gateway ready at (http:\/\/[\d.:]+) \(admin (http:\/\/[\d.:]+)/.exec(text);
      // the banner ends with the line on how to stop
      if (m && text.includes("stops Envoy and the mocks")) {
        clearInterval(poll);
        clearTimeout(timer);
        const mockPorts = [...text.matchAll(/local mock http:\/\/127\.0\.0\.1:(\d+)/g)].map((x) => Number(x[1]));
        const started = { child, output: () => text, url: m[1], admin: m[2], mockPorts, exited };
        running.push(started);
        resolve(started);
      }
    }, 50);
    exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before it was ready:\n${text}`));
    });
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

function childrenOf(pid: number): number[] {
  const r = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" });
  return r.stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0);
}

function descendants(pid: number): number[] {
  const direct = childrenOf(pid);
  return [...direct, ...direct.flatMap(descendants)];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function expectAllStopped(s: Started, pids: number[]) {
  const code = await Promise.race([s.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 15_000))]);
  expect(code, s.output()).toBe(0);
  for (const pid of pids) expect(alive(pid), `process ${pid} still running`).toBe(false);
  const ports = [new URL(s.url).port, new URL(s.admin).port, ...s.mockPorts].map(Number);
  expect(ports.length).toBeGreaterThanOrEqual(5);
  for (const port of ports) expect(await refused(port), `port ${port} still bound`).toBe(true);
}

const chat = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
const loopback = ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"];

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

describe("npm start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`runs llm-router start config/router.json --mock; ${signal} to npm's PID stops it all`, async () => {
      assertWasmBuilt();
      // npm passes arguments after `--` on to the script: loopback port 0 so tests never collide.
      const s = await startCli("npm", ["start", "--", ...loopback, "--run-dir", tempDir()]);
      expect(s.output()).toContain("configuration: config/router.json");
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
