// `llm-router envoy` output for real providers, run by real Envoy against a local TLS echo server:
// each provider gets its own path, Host, SNI and credential header. The clusters keep the real
// providers' names (SNI, Host, certificate check) but are pointed at 127.0.0.1 with --endpoint;
// the echo server's certificate comes from a CA made here, passed with --ca-file.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  ROOT,
  assertWasmBuilt,
  postJson,
  printLogOnFailure,
  spawnEnvoy,
  validateEnvoyConfig,
  waitForEnvoy,
  type EnvoyProcess,
} from "./harness";

const EXAMPLE = join(ROOT, "config", "examples", "real-providers.json");
const CLI = join(ROOT, "cli", "llm-router.mjs");
const example = JSON.parse(readFileSync(EXAMPLE, "utf8"));
const HOSTS = Object.values<any>(example.providers).map((p) => new URL(p.baseUrl).hostname);
// Not in the echo server's certificate: Envoy must refuse to talk to it.
const IMPOSTOR_HOST = "api.impostor.example";

interface Echoed {
  method: string;
  url: string;
  sni: string | false;
  headers: Record<string, string>;
  body: any;
}

const keyOf = (variable: string) => `sk-test-${variable.toLowerCase()}`;

function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=llm-router test CA", "-keyout", "ca.key", "-out", "ca.pem");
  run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=provider echo", "-keyout", "server.key", "-out", "server.csr");
  writeFileSync(join(dir, "san.ext"), `subjectAltName=${HOSTS.map((h) => `DNS:${h}`).join(",")}\n`);
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem");
  return { ca: join(dir, "ca.pem"), key: join(dir, "server.key"), cert: join(dir, "server.pem") };
}

describe("docs/providers.md, \"Use it with real providers\"", () => {
  it("shows the providers of config/examples/real-providers.json", () => {
    const guide = readFileSync(join(ROOT, "docs", "providers.md"), "utf8");
    const block = /its `providers`:\n\n```json\n([\s\S]*?)\n```/.exec(guide);
    expect(block, "docs/providers.md lost the providers block").not.toBeNull();
    expect(JSON.parse(`{${block![1]}}`).providers).toEqual(example.providers);
  });
});

describe("real providers through a TLS echo server", () => {
  let dir = "";
  let echo: Server;
  let echoPort = 0;
  const seen: Echoed[] = [];
  let envoy: EnvoyProcess | undefined;
  let url = "";
  let bootstrapFile = "";
  const env = Object.fromEntries(Object.values<any>(example.providers).map((p) => [p.apiKeyEnv, keyOf(p.apiKeyEnv)]));

  beforeAll(async () => {
    assertWasmBuilt();
    dir = mkdtempSync(join(tmpdir(), "llm-router-tls-"));
    const certs = makeCertificates(dir);
    echo = createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const entry: Echoed = {
          method: req.method ?? "",
          url: req.url ?? "",
          sni: (req.socket as any).servername,
          headers: req.headers as Record<string, string>,
          body: text ? JSON.parse(text) : null,
        };
        seen.push(entry);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(entry));
      });
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    echoPort = (echo.address() as any).port;

    // The worked example plus one provider whose name the echo certificate does not carry.
    const config = structuredClone(example);
    config.providers.impostor = { baseUrl: `https://${IMPOSTOR_HOST}/v1`, apiKeyEnv: "IMPOSTOR_API_KEY" };
    config.models.push({ ...config.models[0], name: "impostor-model", upstream: "impostor" });
    env.IMPOSTOR_API_KEY = keyOf("IMPOSTOR_API_KEY");
    const configFile = join(dir, "providers.json");
    writeFileSync(configFile, JSON.stringify(config, null, 2));

    bootstrapFile = join(dir, "envoy.yaml");
    const endpoints = Object.keys(config.providers).flatMap((name) => ["--endpoint", `${name}=127.0.0.1:${echoPort}`]);
    const r = spawnSync(
      process.execPath,
      [CLI, "envoy", configFile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--ca-file", certs.ca, ...endpoints, "-o", bootstrapFile],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`llm-router envoy failed: ${r.stderr}`);
    envoy = spawnEnvoy(YAML.parse(readFileSync(bootstrapFile, "utf8")), [], env);
    const { port } = await waitForEnvoy(envoy);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await envoy?.stop();
    await new Promise((r) => echo?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach((ctx) => {
    seen.length = 0;
    printLogOnFailure(ctx, () => envoy);
  });

  it("the generated bootstrap passes `envoy --mode validate`", () => {
    const r = validateEnvoyConfig(bootstrapFile, env);
    expect(r.status, r.output).toBe(0);
  });

  const bearer = (variable: string) => ({ authorization: `Bearer ${keyOf(variable)}` });
  const cases: [model: string, host: string, path: string, credentials: Record<string, string>, upstreamModel: string][] = [
    ["gpt-4o-mini", "api.openai.com", "/v1/chat/completions", bearer("OPENAI_API_KEY"), "gpt-4o-mini"],
    ["deepseek-chat", "api.deepseek.com", "/v1/chat/completions", bearer("DEEPSEEK_API_KEY"), "deepseek-chat"],
    ["qwen-plus", "dashscope.aliyuncs.com", "/compatible-mode/v1/chat/completions", bearer("DASHSCOPE_API_KEY"), "qwen-plus"],
    ["gemini-2.0-flash", "generativelanguage.googleapis.com", "/v1beta/openai/chat/completions", bearer("GEMINI_API_KEY"), "gemini-2.0-flash"],
    ["llama-3.1-8b", "api.groq.com", "/openai/v1/chat/completions", bearer("GROQ_API_KEY"), "llama-3.1-8b-instant"],
    [
      "azure-gpt-4o",
      "my-resource.openai.azure.com",
      "/openai/deployments/my-gpt-4o-deployment/chat/completions?api-version=2024-10-21",
      { "api-key": keyOf("AZURE_OPENAI_API_KEY") },
      "my-gpt-4o-deployment",
    ],
    ["claude-haiku", "api.anthropic.com", "/v1/chat/completions", bearer("ANTHROPIC_API_KEY"), "claude-3-5-haiku-latest"],
  ];

  for (const [model, host, path, credentials, upstreamModel] of cases) {
    it(`${model}: ${host}${path} over TLS (SNI ${host}) with ${Object.keys(credentials)[0]}`, async () => {
      const body = JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
      const reply = await postJson({ url }, "/v1/chat/completions", body, { authorization: "Bearer gateway-client-key", "x-llm-upstream": "openai" });
      expect(reply.status, reply.text).toBe(200);
      expect(seen).toHaveLength(1);
      const got = seen[0];
      expect(got.sni).toBe(host);
      expect(got.headers.host).toBe(host);
      expect(got.url).toBe(path);
      for (const [name, value] of Object.entries(credentials)) expect(got.headers[name]).toBe(value);
      for (const name of ["authorization", "api-key", "x-api-key"]) if (!(name in credentials)) expect(got.headers[name]).toBeUndefined();
      expect(got.headers["x-llm-upstream"]).toBeUndefined();
      expect(got.headers["x-llm-model"]).toBeUndefined();
      expect(JSON.stringify(got.headers)).not.toContain("gateway-client-key");
      expect(got.body.model).toBe(upstreamModel);
    });
  }

  it("Azure: embeddings go to the deployment too, and a client's query is kept next to api-version", async () => {
    const reply = await postJson({ url }, "/v1/embeddings?user=abc", JSON.stringify({ model: "azure-gpt-4o", input: "hi" }));
    expect(reply.status, reply.text).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(["/openai/deployments/my-gpt-4o-deployment/embeddings?api-version=2024-10-21&user=abc"]);
  });

  it("a server whose certificate does not name the provider gets nothing: 503, no request seen", async () => {
    const reply = await postJson({ url }, "/v1/chat/completions", JSON.stringify({ model: "impostor-model", messages: [] }));
    expect(reply.status).toBe(503);
    expect(seen).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 300)); // access log flush
    const line = envoy!.log().split("\n").filter((l) => l.includes("route=provider.impostor")).pop() ?? "";
    expect(line).toMatch(/flags=\S*UF/);
    expect(line).toContain("CERTIFICATE_VERIFY_FAILED");
  });
});
