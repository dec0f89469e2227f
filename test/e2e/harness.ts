// End-to-end harness: mock providers on free loopback ports plus a real Envoy (.venv/bin/envoy)
// running the bootstrap `llm-router envoy` generates for config/router.json, with every provider's
// cluster pointed at its mocks (plain HTTP; path, Host and key injection as for the real provider).
// Every Envoy gets its own admin port and listener port (both bound as port 0 and read back, so
// files running side by side never collide), its own temporary directory and its own log.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { startMockProvider, type MockKnobs, type MockProvider, type RecordedRequest } from "../../mock/provider.mjs";
import { buildBootstrap } from "../../cli/lib/envoy.mjs";
import { toYaml } from "../../cli/lib/yaml.mjs";

export type { MockProvider, RecordedRequest };
export type Knobs = MockKnobs;

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ENVOY_BIN = join(ROOT, ".venv", "bin", "envoy");
export const ENVOY_YAML = join(ROOT, "envoy.yaml");
export const ROUTER_JSON = join(ROOT, "config", "router.json");
export const ENVOY_WASM = join(ROOT, "build", "envoy.wasm");
export const HIGRESS_WASM = join(ROOT, "build", "higress.wasm");

export interface ProviderSpec extends Partial<Knobs> {
  name: string;
  cluster: string;
}

/** The four mocks of the local trial: two endpoints in cluster openai, one each for deepseek, groq. */
export const DEFAULT_PROVIDERS: ProviderSpec[] = [
  { name: "openai-1", cluster: "openai" },
  { name: "openai-2", cluster: "openai" },
  { name: "deepseek", cluster: "deepseek" },
  { name: "groq", cluster: "groq" },
];

// ------------------------------------------------------------------------------------------------
// Configuration helpers

export function readRouterConfigText(): string {
  return readFileSync(ROUTER_JSON, "utf8");
}

export function readRouterConfig(): any {
  return JSON.parse(readRouterConfigText());
}

export function readEnvoyYaml(path = ENVOY_YAML): any {
  return YAML.parse(readFileSync(path, "utf8"));
}

export function listenerOf(cfg: any): any {
  const listeners = cfg?.static_resources?.listeners ?? [];
  if (listeners.length !== 1) throw new Error(`expected exactly one listener, found ${listeners.length}`);
  return listeners[0];
}

export function hcmOf(cfg: any): any {
  const filters = listenerOf(cfg).filter_chains?.[0]?.filters ?? [];
  const hcm = filters.find((f: any) => f.name === "envoy.filters.network.http_connection_manager");
  if (!hcm) throw new Error("no http_connection_manager in the listener");
  return hcm.typed_config;
}

/** The Wasm filter's PluginConfig (`typed_config.config`). */
export function wasmPluginConfigOf(cfg: any): any {
  const filters = hcmOf(cfg).http_filters ?? [];
  const wasm = filters.find(
    (f: any) => f.typed_config?.["@type"] === "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
  );
  if (!wasm) throw new Error("no Wasm HTTP filter (envoy.extensions.filters.http.wasm.v3.Wasm)");
  return wasm.typed_config.config;
}

/** The upstream Wasm filter in the router (failover), or undefined when the bootstrap has none. */
export function upstreamWasmConfigOf(cfg: any): any | undefined {
  const router = (hcmOf(cfg).http_filters ?? []).find((f: any) => f.name === "envoy.filters.http.router");
  const wasm = (router?.typed_config?.upstream_http_filters ?? []).find(
    (f: any) => f.typed_config?.["@type"] === "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
  );
  return wasm?.typed_config?.config;
}

export function clustersOf(cfg: any): any[] {
  return cfg?.static_resources?.clusters ?? [];
}

/** Options of the generator (cli/lib/envoy.mjs) a test may set: timeouts, limits, client keys... */
export interface GeneratorOptions {
  requestTimeoutSeconds?: number;
  streamIdleTimeoutSeconds?: number;
  maxHeapBytes?: number;
  maxConnections?: number;
  clientKeysEnv?: string;
  defaultProvider?: string;
  caFile?: string;
}

export interface DeriveOptions {
  /** cluster (provider) name -> ports of its mock endpoints (127.0.0.1, plain HTTP) */
  endpoints: Record<string, number[]>;
  /**
   * The plugin configuration: a JSON value (serialised) or the exact string. A value with its own
   * `providers` also shapes the bootstrap (clusters, routes, headers); anything else replaces only the
   * plugin's configuration in the bootstrap generated for config/router.json.
   */
  pluginConfig?: unknown;
  wasmPath?: string;
  generator?: GeneratorOptions;
  /** last-minute edits of the parsed Envoy configuration */
  mutate?: (cfg: any) => void;
}

const isObject = (v: unknown): v is Record<string, any> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The generated bootstrap with loopback port 0 for admin and listener, mock endpoints and plugin config. */
export function deriveEnvoyConfig(opts: DeriveOptions): any {
  const text = readRouterConfigText();
  const shaped = isObject(opts.pluginConfig) && isObject(opts.pluginConfig.providers);
  const source = shaped
    ? { json: opts.pluginConfig as Record<string, any>, text: JSON.stringify(opts.pluginConfig, null, 2) }
    : { json: JSON.parse(text), text };
  const mocks: Record<string, { host: string; port: number }[]> = {};
  for (const name of Object.keys(source.json.providers ?? {})) {
    const ports = opts.endpoints[name];
    if (!ports || ports.length === 0) throw new Error(`no mock endpoint for cluster ${name}`);
    mocks[name] = ports.map((port) => ({ host: "127.0.0.1", port }));
  }
  const bootstrap = buildBootstrap(source, {
    ...opts.generator,
    listen: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    wasmPath: opts.wasmPath ?? ENVOY_WASM,
    mocks,
  });
  const cfg = YAML.parse(toYaml(bootstrap));
  if (opts.pluginConfig !== undefined && !shaped) {
    const value = typeof opts.pluginConfig === "string" ? opts.pluginConfig : JSON.stringify(opts.pluginConfig, null, 2);
    wasmPluginConfigOf(cfg).configuration.value = value;
    // The upstream filter must read plans with the router's very configuration.
    const upstream = upstreamWasmConfigOf(cfg);
    if (upstream) upstream.configuration.value = value;
  }
  opts.mutate?.(cfg);
  return cfg;
}

/** The key a mock stands in for: what the harness puts in a provider's key variable. */
export const mockKeyFor = (provider: string) => `mock-${provider}-key`;

/**
 * The environment Envoy needs for a bootstrap: every provider key variable it reads (Envoy refuses
 * to start without them) set to that provider's mock key, unless `env` already sets it.
 */
export function envoyEnvironment(cfg: any, env: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...(process.env as Record<string, string>) };
  // Secrets are named by variable; the provider whose cluster injects one gives its mock key.
  const variables = new Map<string, string>();
  for (const secret of cfg?.static_resources?.secrets ?? []) {
    const variable = secret?.generic_secret?.secret?.environment_variable;
    if (typeof variable === "string") variables.set(secret.name, variable);
  }
  const assigned = new Set<string>();
  for (const c of clustersOf(cfg)) {
    const filters = c.typed_extension_protocol_options?.["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]?.http_filters ?? [];
    const secret = filters.find((f: any) => f.name === "envoy.filters.http.credential_injector")?.typed_config?.credential?.typed_config?.credential?.name;
    const variable = variables.get(secret);
    if (variable === undefined || assigned.has(variable)) continue;
    out[variable] = mockKeyFor(c.name);
    assigned.add(variable);
  }
  return { ...out, ...env };
}

export function assertWasmBuilt(path = ENVOY_WASM): void {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run build\` first (npm test does it for you)`);
  }
}

// ------------------------------------------------------------------------------------------------
// Envoy process

export interface EnvoyProcess {
  child: ChildProcess;
  dir: string;
  logFile: string;
  /** whole log so far (stdout: access log; stderr: Envoy's log) */
  log(): string;
  exited: Promise<number | null>;
  exitCode(): number | null | undefined;
  stop(): Promise<void>;
}

export function spawnEnvoy(cfg: any, extraArgs: string[] = [], env: Record<string, string> = {}): EnvoyProcess {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-e2e-"));
  const configFile = join(dir, "envoy.yaml");
  writeFileSync(configFile, YAML.stringify(cfg));
  const logFile = join(dir, "envoy.log");
  writeFileSync(logFile, "");
  const args = [
    "-c",
    configFile,
    "--disable-hot-restart",
    // one worker unless the caller asks for more (Envoy refuses a flag given twice)
    ...(extraArgs.includes("--concurrency") ? [] : ["--concurrency", "1"]),
    "--admin-address-path",
    join(dir, "admin-address"),
    "--component-log-level",
    "wasm:debug",
    // flush the stdout access log quickly, so a failing test can show its own lines
    "--file-flush-interval-msec",
    "100",
    ...extraArgs,
  ];
  const child = spawn(ENVOY_BIN, args, { cwd: ROOT, env: envoyEnvironment(cfg, env), stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const sink = (chunk: Buffer) => {
    const s = chunk.toString("utf8");
    text += s;
    try {
      appendFileSync(logFile, s);
    } catch {
      /* directory removed at stop */
    }
  };
  child.stdout!.on("data", sink);
  child.stderr!.on("data", sink);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((res) => {
    child.once("exit", (c, signal) => {
      code = signal ? null : c;
      res(code);
    });
    child.once("error", (err) => {
      text += `\n[harness] cannot spawn ${ENVOY_BIN}: ${err.message}\n`;
      code = -1;
      res(-1);
    });
  });
  return {
    child,
    dir,
    logFile,
    log: () => text,
    exited,
    exitCode: () => code,
    async stop() {
      if (code === undefined) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls admin /ready; returns the admin and listener ports, or throws with Envoy's log. */
export async function waitForEnvoy(envoy: EnvoyProcess, timeoutMs = 30_000): Promise<{ adminPort: number; port: number }> {
  const deadline = Date.now() + timeoutMs;
  let adminPort = 0;
  while (Date.now() < deadline) {
    if (envoy.exitCode() !== undefined) {
      throw new Error(`Envoy exited with code ${envoy.exitCode()} before it was ready; log:\n${envoy.log()}`);
    }
    if (!adminPort) {
      try {
        const addr = readFileSync(join(envoy.dir, "admin-address"), "utf8").trim();
        const m = /:(\d+)$/.exec(addr);
        if (m) adminPort = Number(m[1]);
      } catch {
        /* not written yet */
      }
    }
    if (adminPort) {
      try {
        const ready = await send(`http://127.0.0.1:${adminPort}`, { path: "/ready", timeoutMs: 2_000 });
        if (ready.status === 200) {
          const listeners = await send(`http://127.0.0.1:${adminPort}`, { path: "/listeners?format=json", timeoutMs: 2_000 });
          const status = JSON.parse(listeners.text).listener_statuses?.[0];
          const port = status?.local_address?.socket_address?.port_value;
          if (typeof port === "number" && port > 0) return { adminPort, port };
        }
      } catch {
        /* not up yet */
      }
    }
    await sleep(100);
  }
  throw new Error(`Envoy not ready within ${timeoutMs} ms; log:\n${envoy.log()}`);
}

// ------------------------------------------------------------------------------------------------
// Gateway = mocks + Envoy

export interface Gateway {
  url: string;
  port: number;
  adminUrl: string;
  envoy: EnvoyProcess;
  providers: Record<string, MockProvider>;
  /** mock instance name -> cluster name */
  clusterOf: Record<string, string>;
  /** all requests the mocks received, oldest first */
  received(): { provider: string; cluster: string; request: RecordedRequest }[];
  resetRequests(): void;
  resetKnobs(): void;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  providers?: ProviderSpec[];
  pluginConfig?: unknown;
  wasmPath?: string;
  generator?: GeneratorOptions;
  /** extra environment for Envoy (e.g. client keys) */
  env?: Record<string, string>;
  mutate?: (cfg: any) => void;
}

export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  assertWasmBuilt(opts.wasmPath);
  const specs = opts.providers ?? DEFAULT_PROVIDERS;
  const providers: Record<string, MockProvider> = {};
  const clusterOf: Record<string, string> = {};
  const initial: Record<string, Knobs> = {};
  const endpoints: Record<string, number[]> = {};
  let envoy: EnvoyProcess | undefined;
  const stopAll = async () => {
    await envoy?.stop();
    await Promise.all(Object.values(providers).map((p) => p.close()));
  };
  try {
    for (const spec of specs) {
      const { name, cluster, ...knobs } = spec;
      const p: MockProvider = await startMockProvider({ host: "127.0.0.1", port: 0, name, ...knobs });
      providers[name] = p;
      clusterOf[name] = cluster;
      initial[name] = { ...p.knobs };
      (endpoints[cluster] ??= []).push(p.port);
    }
    const cfg = deriveEnvoyConfig({ endpoints, pluginConfig: opts.pluginConfig, wasmPath: opts.wasmPath, generator: opts.generator, mutate: opts.mutate });
    envoy = spawnEnvoy(cfg, [], opts.env);
    const { adminPort, port } = await waitForEnvoy(envoy);
    const gw: Gateway = {
      url: `http://127.0.0.1:${port}`,
      port,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      envoy,
      providers,
      clusterOf,
      received() {
        const all = Object.values(providers).flatMap((p) =>
          p.requests.map((request) => ({ provider: p.name, cluster: clusterOf[p.name], request })),
        );
        return all.sort((a, b) => a.request.receivedAt - b.request.receivedAt);
      },
      resetRequests() {
        for (const p of Object.values(providers)) p.requests.length = 0;
      },
      resetKnobs() {
        for (const p of Object.values(providers)) p.setKnobs(initial[p.name]);
      },
      stop: stopAll,
    };
    return gw;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * One gateway for a whole test file: started before the first test, stopped after the last, with
 * recorded requests and provider knobs reset before each test and Envoy's log printed for a test
 * that fails. Returns a getter (the gateway exists only once the file's tests run).
 */
export function useGateway(opts: GatewayOptions = {}): () => Gateway {
  let gw: Gateway | undefined;
  beforeAll(async () => {
    gw = await startGateway(opts);
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach((ctx) => {
    gw?.resetRequests();
    gw?.resetKnobs();
    printLogOnFailure(ctx, () => gw);
  });
  return () => {
    if (!gw) throw new Error("the gateway did not start (see the beforeAll error)");
    return gw;
  };
}

/**
 * Prints Envoy's log written during a test when that test fails. Call in a `beforeEach` with the
 * test context and a getter for the gateway (it may not exist yet).
 */
export function printLogOnFailure(
  ctx: { onTestFailed: (fn: () => void | Promise<void>) => void; task: { name: string } },
  get: () => Gateway | EnvoyProcess | undefined,
): void {
  const target = get();
  const envoy = target && "envoy" in target ? target.envoy : (target as EnvoyProcess | undefined);
  const from = envoy ? envoy.log().length : 0;
  ctx.onTestFailed(async () => {
    await sleep(300); // let Envoy flush the access log of the failed request
    const g = get();
    const e = g && "envoy" in g ? g.envoy : (g as EnvoyProcess | undefined);
    if (!e) return;
    const log = e.log();
    const during = log.slice(from);
    const tail = log.slice(Math.max(0, from - 4_000), from);
    console.error(
      `\n===== Envoy log for failed test "${ctx.task.name}" (file ${e.logFile}) =====\n` +
        (tail ? `----- (last lines before the test) -----\n${tail}\n----- (during the test) -----\n` : "") +
        `${during || "(nothing logged during the test)"}\n===== end of Envoy log =====\n`,
    );
    if (g && "received" in g) {
      const summary = g.received().map(
        (r) => `${r.provider} ${r.request.method} ${r.request.path} ${r.request.body.toString("utf8").slice(0, 200)}`,
      );
      console.error(`mock requests during the test:\n${summary.join("\n") || "(none)"}`);
    }
  });
}

// ------------------------------------------------------------------------------------------------
// HTTP client

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
  /** socket reads of the response body with their arrival time (ms since the request was sent) */
  chunks: { at: number; data: Buffer }[];
}

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

export function send(baseUrl: string, opts: SendOptions = {}): Promise<Reply> {
  const url = new URL(opts.path ?? "/", baseUrl);
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, "utf8");
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-length")) {
    headers["content-length"] = String(body.length);
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: opts.method ?? (body === undefined ? "GET" : "POST"),
        headers,
        agent: false,
      },
      (res) => {
        const chunks: { at: number; data: Buffer }[] = [];
        res.on("data", (d: Buffer) => chunks.push({ at: Date.now() - started, data: d }));
        res.on("error", reject);
        res.on("end", () => {
          clearTimeout(timer);
          const all = Buffer.concat(chunks.map((c) => c.data));
          const text = all.toString("utf8");
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: all,
            text,
            json: () => JSON.parse(text),
            chunks,
          });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`request ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** POST JSON text (exact bytes as given) to the gateway. */
export function postJson(gw: { url: string }, path: string, body: string | Buffer, headers: Record<string, string> = {}, timeoutMs?: number): Promise<Reply> {
  return send(gw.url, { method: "POST", path, body, headers: { "content-type": "application/json", ...headers }, timeoutMs });
}

/** Server-sent events of a body: the payloads of `data:` lines, in order. */
export function sseData(text: string): string[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((block) =>
      block
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n"),
    )
    .filter((d) => d.length > 0);
}

/**
 * Runs `envoy --mode validate -c <file>` with the provider key variables the file reads set to mock
 * keys (Envoy refuses a bootstrap whose variables are missing); `env` adds or overrides variables.
 */
export function validateEnvoyConfig(file: string, env: Record<string, string> = {}): { status: number | null; output: string } {
  const cfg = YAML.parse(readFileSync(file, "utf8"));
  const r = spawnSync(ENVOY_BIN, ["--mode", "validate", "-c", file], { cwd: ROOT, env: envoyEnvironment(cfg, env), encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${r.error.message}` : ""}` };
}

export function writeTempConfig(cfg: any): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-cfg-"));
  const file = join(dir, "envoy.yaml");
  writeFileSync(file, YAML.stringify(cfg));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
