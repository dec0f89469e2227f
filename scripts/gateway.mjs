// One-command local trial (`npm start` runs setup and build first): four mock providers on
// 127.0.0.1:18001-18004 and Envoy (.venv/bin/envoy) with envoy.yaml on 127.0.0.1:10000 (admin 9901).
// Envoy's log (and access log) goes to .run/envoy.log; access-log lines are echoed here as well.
// Ctrl-C or SIGTERM stops everything.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startMockProvider } from "../mock/provider.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const envoyBin = join(root, ".venv", "bin", "envoy");
const envoyYaml = join(root, "envoy.yaml");
const wasm = join(root, "build", "envoy.wasm");
const runDir = join(root, ".run");
const logFile = join(runDir, "envoy.log");

const LISTENER_PORT = 10000;
const ADMIN_PORT = 9901;
// name, cluster, port and knobs of each mock (the ports are the endpoints in envoy.yaml)
const MOCKS = [
  { name: "openai-1", cluster: "openai", port: 18001, ttftMs: 200, tokensPerSecond: 80 },
  { name: "openai-2", cluster: "openai", port: 18002, ttftMs: 250, tokensPerSecond: 70 },
  { name: "deepseek", cluster: "deepseek", port: 18003, ttftMs: 600, tokensPerSecond: 40 },
  { name: "groq", cluster: "groq", port: 18004, ttftMs: 60, tokensPerSecond: 400 },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fail(message) {
  console.error(`gateway: ${message}`);
  process.exit(1);
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

// ---- preflight ---------------------------------------------------------------------------------
if (!existsSync(envoyBin)) fail(`${envoyBin} not found: run \`node scripts/setup.mjs\` (or \`npm start\`).`);
if (!existsSync(wasm)) fail(`${wasm} not found: run \`npm run build\` (or \`npm start\`).`);

const wanted = [
  [LISTENER_PORT, "Envoy listener"],
  [ADMIN_PORT, "Envoy admin"],
  ...MOCKS.map((m) => [m.port, `mock provider ${m.name}`]),
];
const taken = [];
for (const [port, what] of wanted) if (!(await portFree(port))) taken.push(`${port} (${what})`);
if (taken.length > 0) {
  fail(
    `port${taken.length > 1 ? "s" : ""} already in use on 127.0.0.1: ${taken.join(", ")}.\n` +
      "Stop whatever listens there (e.g. `ss -ltnp | grep <port>`) or a previous `npm start`, then retry.",
  );
}

// ---- start -------------------------------------------------------------------------------------
mkdirSync(runDir, { recursive: true });
const mocks = [];
let envoy = null;
let logStream = null;
let stopping = false;

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  console.log("\ngateway: stopping ...");
  if (envoy && envoy.exitCode === null && envoy.signalCode === null) {
    const exited = new Promise((r) => envoy.once("exit", r));
    envoy.kill("SIGTERM");
    const timer = setTimeout(() => envoy.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  await Promise.all(mocks.map((m) => m.close()));
  logStream?.end();
  console.log(`gateway: stopped (Envoy log kept in ${logFile})`);
  process.exit(code);
}

process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

for (const m of MOCKS) {
  try {
    const p = await startMockProvider({
      host: "127.0.0.1",
      port: m.port,
      name: m.name,
      ttftMs: m.ttftMs,
      tokensPerSecond: m.tokensPerSecond,
      log: (line) => console.log(`  mock ${line}`),
    });
    mocks.push(p);
  } catch (err) {
    console.error(`gateway: cannot start mock provider ${m.name} on 127.0.0.1:${m.port}: ${err.message}`);
    await shutdown(1);
  }
}

logStream = createWriteStream(logFile, { flags: "w" });
envoy = spawn(envoyBin, ["-c", envoyYaml, "--disable-hot-restart", "--component-log-level", "wasm:debug", "--file-flush-interval-msec", "500"], {
  cwd: root, // envoy.yaml names the plugin relative to the repository root
  stdio: ["ignore", "pipe", "pipe"],
});
envoy.stdout.on("data", (chunk) => {
  logStream.write(chunk);
  for (const line of chunk.toString().split("\n")) if (line.startsWith("[access]")) console.log(`  envoy ${line}`);
});
envoy.stderr.on("data", (chunk) => logStream.write(chunk));
envoy.on("error", (err) => {
  console.error(`gateway: cannot run ${envoyBin}: ${err.message}`);
  shutdown(1);
});
envoy.on("exit", (code, signal) => {
  if (stopping) return;
  console.error(`gateway: Envoy exited (${signal ?? `code ${code}`}); last lines of ${logFile}:`);
  setTimeout(() => {
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-25).join("\n");
    console.error(tail);
    shutdown(1);
  }, 200);
});

// ---- wait for readiness ------------------------------------------------------------------------
const deadline = Date.now() + 30_000;
let ready = false;
while (!stopping && Date.now() < deadline) {
  if ((await httpStatus(`http://127.0.0.1:${ADMIN_PORT}/ready`)) === 200) {
    ready = true;
    break;
  }
  await sleep(200);
}
if (stopping) await new Promise(() => {}); // the exit handler is shutting down
if (!ready) {
  console.error(`gateway: Envoy not ready after 30 s; see ${logFile}`);
  await shutdown(1);
}

const url = `http://127.0.0.1:${LISTENER_PORT}`;
const chat = (body) => `curl -s ${url}/v1/chat/completions -H 'content-type: application/json' -d '${body}'`;
const msg = '"messages":[{"role":"user","content":"Say hello"}]';
console.log(`
LLM model router is up: ${url}   (Envoy admin http://127.0.0.1:${ADMIN_PORT}, log ${logFile})
Mock providers: ${mocks.map((m, i) => `${m.name} ${m.url} (cluster ${MOCKS[i].cluster}, ttft ${MOCKS[i].ttftMs} ms, ${MOCKS[i].tokensPerSecond} tok/s)`).join("\n                ")}

Try (the answer's "model" and "system_fingerprint" show what the router chose):
  ${chat(`{"model":"auto",${msg}}`)}
  ${chat(`{"model":"cheap",${msg}}`)}
  ${chat(`{"model":"fast",${msg}}`)}
  ${chat(`{"model":"llama-3.1-8b",${msg}}`)}
  ${chat(`{"model":"auto","stream":true,${msg}}`).replace("curl -s", "curl -sN")}
  curl -s ${url}/v1/models

Press Ctrl-C to stop.
`);
