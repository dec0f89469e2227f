// Live configuration reload through real Envoy 1.40 (cli/lib/reload.mjs): `llm-router start` applies
// every edit of its configuration file without a restart, and `llm-router envoy --xds-dir` does the
// same for an Envoy of one's own. A streamed answer in flight completes on its connection, which
// serves the next request with the new configuration; a new alias answers within seconds; an edit
// `check` refuses, or one Envoy can only take at start, is printed and logged, and the gateway goes
// on serving what it ran; requests under load across reloads all succeed.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { startMockProvider, type MockProvider } from "../../mock/provider.mjs";
import { CLI, chat, cli, loopback, startCli, tempDir, useCliProcesses, writeConfig, type Started } from "./cli-process";
import { assertWasmBuilt, mockKeyFor, postJson, readRouterConfig, send, spawnEnvoy, waitForEnvoy } from "./harness";

useCliProcesses();

/** Edits a configuration file the way an editor saves it: a new file moved over the old one. */
function edit(file: string, change: (c: any) => void): void {
  const c = JSON.parse(readFileSync(file, "utf8"));
  change(c);
  writeFileSync(`${file}.new`, JSON.stringify(c, null, 2));
  renameSync(`${file}.new`, file);
}

/** Resolves once `text` appears in the output after position `from`; the time it took. */
async function outputAfter(s: Started, from: number, text: string, timeoutMs = 10_000): Promise<number> {
  const t0 = Date.now();
  while (!s.output().slice(from).includes(text)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${s.output().slice(from)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

const setMockKnobs = (s: Started, knobs: Record<string, unknown>) =>
  Promise.all(s.mockPorts.map((port) => fetch(`http://127.0.0.1:${port}/_mock/knobs`, { method: "POST", body: JSON.stringify(knobs) })));

async function adminStat(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`${admin}/stats?filter=${encodeURIComponent(`^${name.replaceAll(".", "\\.")}$`)}`)).text();
  return Number(/: (\d+)/.exec(text)?.[1] ?? NaN);
}

interface Answer {
  status: number;
  localPort: number;
  text: string;
  aborted: boolean;
}

/** A request on `agent`; `firstChunk` resolves when the first body bytes arrive. */
function post(url: string, agent: Agent, body: string) {
  let first!: () => void;
  const firstChunk = new Promise<void>((r) => (first = r));
  const done = new Promise<Answer>((resolve, reject) => {
    const u = new URL("/v1/chat/completions", url);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      const localPort = res.socket.localPort!;
      let text = "";
      res.on("data", (d: Buffer) => {
        text += d.toString();
        first();
      });
      res.on("end", () => resolve({ status: res.statusCode!, localPort, text, aborted: false }));
      res.on("aborted", () => resolve({ status: res.statusCode!, localPort, text, aborted: true }));
    });
    req.on("error", reject);
    req.end(body);
  });
  return { firstChunk, done };
}

const streamed = (model: string, tokens: number) => JSON.stringify({ model, stream: true, max_tokens: tokens, messages: [{ role: "user", content: "hi" }] });

describe("llm-router start applies an edit of its configuration file", () => {
  it("a streamed answer in flight completes on its connection, which then serves a new alias; within seconds", async () => {
    assertWasmBuilt();
    const file = writeConfig(() => {});
    const s = await startCli(process.execPath, [CLI, "start", file, "--mock", ...loopback, "--run-dir", tempDir()]);
    expect(s.output()).toContain(`Edit ${file} and save: the gateway applies it within a second`);
    await setMockKnobs(s, { tokensPerSecond: 10 }); // 30 tokens: a 3 s stream
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const stream = post(s.url, agent, streamed("auto", 30));
      await stream.firstChunk;
      const from = s.output().length;
      const t0 = Date.now();
      edit(file, (c) => (c.routes.reloaded = { strategy: "price", models: ["deepseek-chat"] }));
      await outputAfter(s, from, "reloaded in");
      const answer = await stream.done;
      expect(answer.status).toBe(200);
      expect(answer.aborted).toBe(false);
      expect(answer.text.match(/^data: \{/gm)).toHaveLength(30 + 2); // every token, the finish chunk, the usage chunk
      expect(answer.text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      // The edit took effect before the stream ended, and the stream's connection serves it.
      expect(Date.now() - t0).toBeLessThan(5_000);
      const next = await post(s.url, agent, chat("reloaded")).done;
      expect(next.status, next.text).toBe(200);
      expect(JSON.parse(next.text).model).toBe("deepseek-chat");
      expect(next.localPort).toBe(answer.localPort);
      // Envoy closed no connection, and one was all it ever had.
      expect(await adminStat(s.admin, "http.llm_gateway.downstream_cx_total")).toBe(1);
      expect(await adminStat(s.admin, "http.llm_gateway.downstream_cx_destroy")).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it("an edit check refuses: start prints check's own line and logs it; Envoy goes on serving what it ran", async () => {
    const file = writeConfig(() => {});
    const runDir = tempDir();
    const s = await startCli(process.execPath, [CLI, "start", file, "--mock", ...loopback, "--run-dir", runDir]);
    let from = s.output().length;
    edit(file, (c) => {
      c.routes.auto.strategy = "cheapest";
      c.routes.extra = { strategy: "price" };
    });
    await outputAfter(s, from, "not applied");
    const checked = cli(["check", file, "--no-key-check"]);
    expect(checked.status).toBe(1);
    const line = checked.stderr.trim().split("\n")[0];
    expect(line).toContain("routes.auto.strategy");
    await outputAfter(s, from, line);
    expect(readFileSync(join(runDir, "llm-router.log"), "utf8")).toContain(line);
    expect((await postJson({ url: s.url }, "/v1/chat/completions", chat("auto"))).status).toBe(200);
    expect((await postJson({ url: s.url }, "/v1/chat/completions", chat("extra"))).status).toBe(404);
    // Not JSON any more: the line check prints too, FILE:LINE:COLUMN.
    from = s.output().length;
    writeFileSync(file, '{"models": [');
    await outputAfter(s, from, `${file}:1:13: not valid JSON`);
    expect((await postJson({ url: s.url }, "/v1/chat/completions", chat("auto"))).status).toBe(200);
    // Mended: applied.
    from = s.output().length;
    writeFileSync(file, JSON.stringify({ ...readRouterConfig(), routes: { ...readRouterConfig().routes, extra: { strategy: "price" } } }, null, 2));
    await outputAfter(s, from, "reloaded in");
    expect((await postJson({ url: s.url }, "/v1/chat/completions", chat("extra"))).status).toBe(200);
  });

  it("what Envoy reads only at start is refused with the reason; a provider without a key comes and goes", async () => {
    const file = writeConfig(() => {});
    const s = await startCli(process.execPath, [CLI, "start", file, "--mock", ...loopback, "--run-dir", tempDir()]);
    let from = s.output().length;
    edit(file, (c) => (c.maxBodyBytes = 1024));
    await outputAfter(s, from, `${file}: maxBodyBytes: sets the listener's buffer limits (running: 10485760 bytes), which Envoy fixes when it starts: restart llm-router to apply it`);
    const local = { baseUrl: "http://10.9.9.9:8000/v1", auth: "none" };
    const model = { name: "qwen-local", upstream: "local", price: { input: 0, output: 0 }, ttftMs: 100, tokensPerSecond: 50, contextWindow: 32768 };
    from = s.output().length;
    edit(file, (c) => {
      c.maxBodyBytes = 10485760;
      c.providers.gemini = { baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai", apiKeyEnv: "GEMINI_API_KEY" };
      c.models.push({ ...model, name: "gemini-flash", upstream: "gemini" });
    });
    await outputAfter(s, from, `${file}: providers.gemini.apiKeyEnv: GEMINI_API_KEY is not among the key variables the running gateway started with`);
    // A self-hosted server needs no key: its provider, cluster, routes and mock come with the edit.
    from = s.output().length;
    edit(file, (c) => {
      c.maxBodyBytes = 10485760;
      delete c.providers.gemini;
      c.models = c.models.filter((m: any) => m.name !== "gemini-flash");
      c.providers.local = local;
      c.models.push(model);
    });
    await outputAfter(s, from, "reloaded in");
    expect(s.output().slice(from)).toContain("(models +qwen-local; providers +local)");
    const served = await postJson({ url: s.url }, "/v1/chat/completions", chat("qwen-local"));
    expect(served.status, served.text).toBe(200);
    expect(served.headers["x-mock-provider"]).toBe("local");
    expect(await (await fetch(`${s.admin}/clusters`)).text()).toMatch(/^local::/m);
    // ... and goes with the next one.
    from = s.output().length;
    edit(file, (c) => {
      delete c.providers.local;
      c.models = c.models.filter((m: any) => m.name !== "qwen-local");
    });
    await outputAfter(s, from, "reloaded in");
    expect((await postJson({ url: s.url }, "/v1/chat/completions", chat("qwen-local"))).json().error.code).toBe("model_not_found");
    expect(await (await fetch(`${s.admin}/clusters`)).text()).not.toMatch(/^local::/m);
  });

  it("requests under load across reloads are all answered, each with one configuration", async () => {
    const file = writeConfig((c) => (c.live = false));
    const s = await startCli(process.execPath, [CLI, "start", file, "--mock", "--quiet", ...loopback, "--run-dir", tempDir()]);
    await setMockKnobs(s, { ttftMs: 0, tokensPerSecond: 0 });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const statuses = new Map<number, number>();
    let stop = false;
    // Bounded: four clients, each until the reloads are over (or 2000 requests).
    const client = async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const a = await post(s.url, agent, chat(i % 2 ? "auto" : "fast")).done;
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      }
    };
    try {
      const clients = [client(), client(), client(), client()];
      for (let k = 0; k < 6; k++) {
        const from = s.output().length;
        // aliases, a catalog model's fallback and maxFallbacks change: plans, chains and routes do
        edit(file, (c) => {
          c.routes[`r${k}`] = { strategy: "price" };
          c.routes.auto.maxFallbacks = k % 2 ? 2 : 1;
        });
        await outputAfter(s, from, "reloaded in");
      }
      stop = true;
      await Promise.all(clients);
    } finally {
      agent.destroy();
    }
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(50);
    const envoyLog = readFileSync(join(s.output().match(/log (\S+envoy\.log)\)/)![1]), "utf8");
    expect(envoyLog).not.toContain("another configuration");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe("an Envoy of one's own: llm-router envoy --xds-dir", () => {
  it("writes a gateway Envoy runs; the same command after an edit reloads it, or refuses what needs a restart", async () => {
    assertWasmBuilt();
    const mocks: MockProvider[] = [];
    const dir = tempDir();
    const adminPort = await freePort();
    const file = writeConfig(() => {});
    const providers = Object.keys(readRouterConfig().providers);
    for (const name of providers) mocks.push(await startMockProvider({ port: 0, name, apiKey: mockKeyFor(name) }));
    const args = ["envoy", file, "--xds-dir", dir, "--listen", "127.0.0.1:0", "--admin", `127.0.0.1:${adminPort}`, ...mocks.flatMap((m) => ["--mock-endpoint", `${m.name}=127.0.0.1:${m.port}`])];
    const first = cli(args);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain(`wrote ${join(dir, "envoy.yaml")} and the files it reads`);
    const keys = Object.fromEntries(Object.entries<any>(readRouterConfig().providers).map(([name, p]) => [p.apiKeyEnv, mockKeyFor(name)]));
    const envoy = spawnEnvoy(YAML.parse(readFileSync(join(dir, "envoy.yaml"), "utf8")), ["--base-id", String(50000 + Math.floor(Math.random() * 10000))], keys);
    try {
      const { port } = await waitForEnvoy(envoy);
      const url = `http://127.0.0.1:${port}`;
      expect((await postJson({ url }, "/v1/chat/completions", chat("mine"))).status).toBe(404);
      edit(file, (c) => (c.routes.mine = { strategy: "price" }));
      const again = cli(args);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toContain(`the Envoy at http://127.0.0.1:${adminPort} took ${file}`);
      expect((await postJson({ url }, "/v1/chat/completions", chat("mine"))).status).toBe(200);
      edit(file, (c) => (c.modelHeader = "x-model"));
      const refused = cli(args);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`${file}: modelHeader: is read by a filter of the listener (running: x-llm-model), which Envoy fixes when it starts`);
      expect((await postJson({ url }, "/v1/chat/completions", chat("mine"))).status).toBe(200);
      expect((await send(url, { path: "/v1/models" })).json().data.map((d: any) => d.id)).toContain("mine");
    } finally {
      await envoy.stop();
      await Promise.all(mocks.map((m) => m.close()));
    }
  });
});
