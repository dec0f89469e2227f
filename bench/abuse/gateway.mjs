// The gateway the abuse suite attacks: a router configuration turned into an Envoy bootstrap by
// `llm-router envoy` (the CLI itself, as an operator runs it), Envoy from .venv with two workers,
// and per provider a mock (mock/provider.mjs) behind an *adversarial front*: a small proxy that
// forwards to the mock unless told to misbehave (answer a marked request with an error, or claim
// absurd token usage in the answer). Everything binds 127.0.0.1; every wait is bounded.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockProvider } from "../../mock/provider.mjs";
import { ROOT } from "../lib/ts.mjs";

export const ENVOY_BIN = join(ROOT, ".venv", "bin", "envoy");
export const CLI = join(ROOT, "cli", "llm-router.mjs");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let baseId = 7400 + (process.pid % 500);

/**
 * The front of one provider. `rules.poison`: { marker, answers: [{ status, headers }], spare? } — a
 * request whose body contains the marker (and not `spare`) gets the next answer of the list (round
 * robin) instead of reaching the mock. `rules.usage`: { prompt, completion } — the token counts every answer claims.
 */
async function startFront(name, mock) {
  const rules = { poison: null, usage: null };
  let poisoned = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("error", () => {});
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const poison = rules.poison;
      if (poison && body.includes(poison.marker) && !(poison.spare && body.includes(poison.spare))) {
        const answer = poison.answers[poisoned++ % poison.answers.length];
        const text = JSON.stringify({ error: { message: `front ${name}: refused`, type: "server_error", param: null, code: null } });
        res.writeHead(answer.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...answer.headers });
        res.end(text);
        return;
      }
      const headers = { ...req.headers, "content-length": body.length };
      delete headers["transfer-encoding"];
      const up = httpRequest({ host: "127.0.0.1", port: mock.port, path: req.url, method: req.method, headers }, (upRes) => {
        if (!rules.usage) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const parts = [];
        upRes.on("data", (c) => parts.push(c));
        upRes.on("end", () => {
          const text = claimUsage(Buffer.concat(parts).toString("utf8"), rules.usage);
          const out = { ...upRes.headers };
          delete out["transfer-encoding"];
          out["content-length"] = Buffer.byteLength(text);
          res.writeHead(upRes.statusCode ?? 502, out);
          res.end(text);
        });
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    name,
    port: server.address().port,
    rules,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// Rewrites every usage object of a JSON answer or an SSE stream to the claimed counts.
function claimUsage(text, usage) {
  const rewrite = (json) => {
    const o = JSON.parse(json);
    if (o.usage) o.usage = { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion };
    return JSON.stringify(o);
  };
  if (!text.startsWith("data:")) return rewrite(text);
  return text.split("\n").map((line) => (line.startsWith("data: {") ? `data: ${rewrite(line.slice(6))}` : line)).join("\n");
}

/** Reads a whole HTTP answer: { status, headers, text }; status 0 when the connection failed. */
export function call(url, { method = "GET", path = "/", headers = {}, body, timeoutMs = 15_000, agent = false } = {}) {
  const u = new URL(path, url);
  return new Promise((resolve) => {
    const started = Date.now();
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c));
      res.on("error", () => {});
      res.on("close", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString("utf8"), ms: Date.now() - started }));
    });
    req.on("error", (e) => resolve({ status: 0, headers: {}, text: "", error: e.code ?? e.message, ms: Date.now() - started }));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.end(body);
  });
}

export const errorCode = (r) => {
  try {
    return JSON.parse(r.text).error?.code ?? "";
  } catch {
    return "";
  }
};

/** A chat request of `model` (optionally with more fields), as JSON text. */
export const chat = (model, extra = {}) => JSON.stringify({ model, messages: [{ role: "user", content: "Say hello." }], max_tokens: 8, ...extra });

// Envoy's workers, as the measurements had them.
const WORKERS = 2;

/** Starts mocks, fronts and Envoy for `config` (a router configuration object), defaults otherwise. */
export async function startGateway(config) {
  const dir = mkdtempSync(join(tmpdir(), "llm-router-abuse-"));
  const providers = Object.keys(config.providers ?? {});
  const mocks = {};
  const fronts = {};
  let envoy = null;
  const stop = async () => {
    if (envoy && envoy.exitCode === null) {
      envoy.kill("SIGTERM");
      const killer = setTimeout(() => envoy.kill("SIGKILL"), 5_000);
      await new Promise((r) => (envoy.exitCode !== null ? r() : envoy.once("exit", r)));
      clearTimeout(killer);
    }
    await Promise.all([...Object.values(fronts), ...Object.values(mocks)].map((x) => x.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of providers) {
      mocks[name] = await startMockProvider({ name, ttftMs: 20 });
      fronts[name] = await startFront(name, mocks[name]);
    }
    const configFile = join(dir, "router.json");
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const bootstrapFile = join(dir, "envoy.yaml");
    const generated = generate(configFile, [
      "-o", bootstrapFile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
      ...providers.flatMap((p) => ["--mock-endpoint", `${p}=127.0.0.1:${fronts[p].port}`]),
    ]);
    if (generated.status !== 0) throw new Error(`llm-router envoy failed: ${generated.stderr}`);
    const env = { ...process.env };
    for (const p of Object.values(config.providers ?? {})) if (p.apiKeyEnv) env[p.apiKeyEnv] = "abuse-suite-key";
    const log = join(dir, "envoy.log");
    const started = Date.now();
    envoy = spawn(ENVOY_BIN, [
      "-c", bootstrapFile, "--concurrency", String(WORKERS), "--disable-hot-restart", "--base-id", String(baseId++),
      "--admin-address-path", join(dir, "admin-address"), "--log-path", log, "-l", "warning",
    ], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    envoy.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const { adminUrl, port } = await waitReady(envoy, dir, () => stderr + (existsSync(log) ? readFileSync(log, "utf8").slice(-4000) : ""));
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      adminUrl,
      pid: envoy.pid,
      readyMs: Date.now() - started,
      bootstrapBytes: readFileSync(bootstrapFile).length,
      mocks,
      fronts,
      alive: () => envoy.exitCode === null,
      memory: () => memory(adminUrl, envoy.pid),
      stat: (name) => stat(adminUrl, name),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `llm-router envoy CONFIG ARGS...` as a child process: { status, stdout, stderr }. */
export function generate(configFile, args) {
  const r = spawnSync(process.execPath, [CLI, "envoy", configFile, ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `llm-router check CONFIG --no-key-check`: { status, stderr }. */
export function check(configFile) {
  const r = spawnSync(process.execPath, [CLI, "check", configFile, "--no-key-check"], { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

async function waitReady(child, dir, logTail, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Envoy exited (${child.exitCode}):\n${logTail()}`);
    const file = join(dir, "admin-address");
    const address = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (/:\d+$/.test(address)) {
      const adminUrl = `http://${address}`;
      const ready = await call(adminUrl, { path: "/ready", timeoutMs: 2_000 });
      if (ready.status === 200) {
        const listeners = JSON.parse((await call(adminUrl, { path: "/listeners?format=json" })).text);
        const port = listeners.listener_statuses?.[0]?.local_address?.socket_address?.port_value;
        if (port) return { adminUrl, port };
      }
    }
    await sleep(50);
  }
  throw new Error(`Envoy not ready within ${timeoutMs} ms:\n${logTail()}`);
}

/** Envoy's memory: RSS from /proc, the heap from /memory (bytes). */
export async function memory(adminUrl, pid) {
  let rss = 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    rss = m ? Number(m[1]) * 1024 : 0;
  } catch {
    /* exited */
  }
  const r = await call(adminUrl, { path: "/memory", timeoutMs: 5_000 });
  let heap = { allocated: 0, heap_size: 0, pageheap_free: 0, pageheap_unmapped: 0 };
  try {
    heap = JSON.parse(r.text);
  } catch {
    /* admin busy or gone */
  }
  return { rss, allocated: Number(heap.allocated), heapSize: Number(heap.heap_size), pageheapFree: Number(heap.pageheap_free), unmapped: Number(heap.pageheap_unmapped) };
}

/** Every stat whose name matches `pattern` (a regex source): { name: value }. */
export async function stat(adminUrl, pattern) {
  const r = await call(adminUrl, { path: `/stats?format=json&filter=${encodeURIComponent(pattern)}`, timeoutMs: 10_000 });
  const out = {};
  try {
    for (const s of JSON.parse(r.text).stats ?? []) if ("value" in s) out[s.name] = Number(s.value);
  } catch {
    /* admin busy */
  }
  return out;
}

export const mb = (bytes) => Math.round(bytes / 1048576);
export const fmtMem = (m) => `RSS ${mb(m.rss)} MB, heap ${mb(m.heapSize)} MB (allocated ${mb(m.allocated)} MB)`;

/** Counts of each value in a list: "200×12, 503×3". */
export function tally(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}×${n}`).join(", ") || "none";
}

/** The router configuration this repository ships (config/router.json). */
export function routerConfig() {
  return JSON.parse(readFileSync(join(ROOT, "config", "router.json"), "utf8"));
}
