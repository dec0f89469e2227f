#!/usr/bin/env node
// llm-router: one router configuration file to a running gateway.
//   check   validate a configuration with the built plugin and what the gateway needs around it
//   envoy   write the Envoy 1.40 bootstrap (clusters, TLS, paths, keys from the environment, limits)
//   start   generate and run it (with --mock: local mock providers instead of the real ones)
//   higress write the Higress WasmPlugin resource
//   top     live view of a running gateway from Envoy's admin endpoint
//   generate  rewrite the files this repository ships (envoy.yaml, config/docker/*, docker-compose.yml,
//             config/higress/wasmplugin.yaml) from config/router.json
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError, hostPort, namedAddresses, parseArgs, positiveNumber } from "./lib/args.mjs";
import { ConfigFileError, ConfigProblem, PACKAGE_ROOT, gatewayProblems, pluginProblems, problemLine, readConfigFile } from "./lib/config.mjs";
import { DEFAULTS, buildBootstrap } from "./lib/envoy.mjs";
import { buildWasmPlugin } from "./lib/higress.mjs";
import { shippedFiles } from "./lib/shipped.mjs";
import { ReloadRefused, reloadableGateway, updateDirectory } from "./lib/reload.mjs";
import { start } from "./lib/start.mjs";
import { runTop } from "./lib/top.mjs";
import { toYaml } from "./lib/yaml.mjs";

const DEFAULT_CONFIG = "config/router.json";

const USAGE = `usage: llm-router <command> [CONFIG] [options]      (CONFIG defaults to ${DEFAULT_CONFIG})

  check [CONFIG] [--no-key-check]
      Validate CONFIG with the built plugin (build/envoy.wasm) and check what only the whole file
      can tell: every model's upstream names a provider, every provider's key variable is set
      (--no-key-check for a file meant for another machine). Exit 1 on any error.

  envoy [CONFIG] [-o FILE | --xds-dir DIR] [--listen HOST:PORT] [--admin HOST:PORT] [gateway options]
      Write the Envoy 1.40 bootstrap (stdout unless -o). Keys are never written into it: Envoy reads
      them from the environment when it starts. More options:
        --xds-dir DIR               a reloadable gateway: DIR/envoy.yaml reads its routes, clusters and the
                                    plugin's configuration from files in DIR. Run the same command after an
                                    edit: an Envoy running from DIR (its --admin address) applies it live
        --wasm PATH                 plugin path as Envoy should open it (default: this package's build/envoy.wasm)
        --ca-file PATH              CA bundle for provider TLS (default ${DEFAULTS.caFile})
        --endpoint NAME=HOST:PORT[,HOST:PORT]       send provider NAME's traffic to these addresses, TLS, SNI and Host unchanged
        --mock-endpoint NAME=HOST:PORT[,HOST:PORT]  plain-HTTP mock provider in place of provider NAME
        --higress                   for the Higress gateway image (build/higress.wasm, no key injection)

  start [CONFIG] [--mock] [--listen HOST:PORT] [--admin HOST:PORT] [--run-dir DIR] [gateway options]
      Generate the gateway into DIR (default .run) and run Envoy from .venv. --mock starts a local
      OpenAI-compatible mock per provider and points the clusters at them (no keys needed). An edit of
      CONFIG is applied live, or refused with check's error while Envoy keeps what it runs. SIGINT or
      SIGTERM stops everything.

  higress [CONFIG] [-o FILE] [--model-header NAME] [--match-rules FILE] [--url OCI_URL]
      Write the Higress WasmPlugin resource with CONFIG as defaultConfig (without providers). The
      plugin writes the model into x-higress-llm-model, the header Higress's AI routes match on
      (--model-header to choose another).

  top [--admin HOST:PORT] [--interval SECONDS] [--once]
      Live view of a running gateway from its Envoy admin endpoint (default ${DEFAULTS.admin.host}:${DEFAULTS.admin.port}):
      per model requests per second, error rate, cooldown, time to first token p50/p95, output tokens
      per second, cost per minute; per route the models that served it. Refreshes every interval
      (default 2 s) until Ctrl-C; --once prints one view (two reads an interval apart) and exits.

  generate
      Rewrite the files this repository ships from ${DEFAULT_CONFIG} (npm run generate).

gateway options (envoy, start):
  --client-keys-env VAR     require a client key listed in $VAR (comma-separated) as Authorization: Bearer
  --default-provider NAME   forward requests the plugin does not route to provider NAME (default: JSON 404)
  --request-timeout SECONDS whole-request upload limit (default ${DEFAULTS.requestTimeoutSeconds})
  --max-heap-mb MB          Envoy heap at which the overload manager refuses requests (default ${DEFAULTS.maxHeapBytes / 1048576})
  --max-connections N       downstream connection limit (default ${DEFAULTS.maxConnections})`;

const GATEWAY_FLAGS = {
  "--listen": "value",
  "--admin": "value",
  "--ca-file": "value",
  "--client-keys-env": "value",
  "--default-provider": "value",
  "--request-timeout": "value",
  "--max-heap-mb": "value",
  "--max-connections": "value",
};

function gatewayOptions(a) {
  const env = a["--client-keys-env"];
  if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new UsageError(`--client-keys-env expects a variable name, got "${env}"`);
  return {
    listen: a["--listen"] ? hostPort(a["--listen"], "--listen") : DEFAULTS.listen,
    admin: a["--admin"] ? hostPort(a["--admin"], "--admin") : DEFAULTS.admin,
    caFile: a["--ca-file"],
    clientKeysEnv: env,
    defaultProvider: a["--default-provider"],
    requestTimeoutSeconds: a["--request-timeout"] ? positiveNumber(a["--request-timeout"], "--request-timeout") : undefined,
    maxHeapBytes: a["--max-heap-mb"] ? Math.round(positiveNumber(a["--max-heap-mb"], "--max-heap-mb") * 1048576) : undefined,
    maxConnections: a["--max-connections"] ? Math.round(positiveNumber(a["--max-connections"], "--max-connections")) : undefined,
  };
}

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function configArg(a) {
  if (a.positional.length > 1) throw new UsageError(`one configuration file expected, got ${a.positional.join(" ")}`);
  return a.positional[0] ?? DEFAULT_CONFIG;
}

/** Prints problems; true when none is an error. */
function report(file, problems) {
  for (const p of problems) console.error(problemLine(file, p));
  return problems.every((p) => p.severity === "warning");
}

function validate(config, { keys, defaultProvider }) {
  const plugin = pluginProblems(config.text);
  const gateway = gatewayProblems(config.json, { env: keys ? process.env : null, defaultProvider: defaultProvider ?? null });
  // The plugin's verdict first: it is the gateway's own rule, word for word; a field it already
  // named is not named twice.
  const named = new Set(plugin.map((p) => p.path));
  return [...plugin, ...gateway.filter((p) => !named.has(p.path))];
}

function writeOutput(file, text) {
  if (!file || file === "-") {
    process.stdout.write(text);
    return;
  }
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, text);
  console.error(`llm-router: wrote ${file}`);
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  switch (command) {
    case "check": {
      const a = parseArgs(rest, { "--no-key-check": "flag", "--default-provider": "value" });
      const config = readConfigFile(configArg(a));
      const ok = report(config.file, validate(config, { keys: !a["--no-key-check"], defaultProvider: a["--default-provider"] }));
      if (ok) console.error(`${config.file}: OK`);
      return ok ? 0 : 1;
    }
    case "envoy": {
      const a = parseArgs(rest, {
        ...GATEWAY_FLAGS, "-o": "value", "--output": "value", "--wasm": "value", "--endpoint": "list", "--mock-endpoint": "list", "--higress": "flag", "--xds-dir": "value",
      });
      const config = readConfigFile(configArg(a));
      const g = gatewayOptions(a);
      const dir = a["--xds-dir"];
      if (dir && (a["-o"] ?? a["--output"])) throw new UsageError("--xds-dir writes the bootstrap into DIR/envoy.yaml: no -o with it");
      if (dir && a["--higress"]) throw new UsageError("--xds-dir is for Envoy: Higress applies a changed WasmPlugin by itself");
      if (!report(config.file, validate(config, { keys: false, defaultProvider: g.defaultProvider }))) return 1;
      const endpoints = Object.fromEntries((a["--endpoint"] ?? []).map((e) => namedAddresses(e, "--endpoint")));
      const mocks = Object.fromEntries((a["--mock-endpoint"] ?? []).map((e) => namedAddresses(e, "--mock-endpoint")));
      const names = new Set(Object.keys(config.json.providers ?? {}));
      for (const n of [...Object.keys(endpoints), ...Object.keys(mocks)]) if (!names.has(n)) throw new UsageError(`no provider named "${n}"`);
      const options = defined({ ...g, wasmPath: a["--wasm"] ?? (a["--higress"] ? join(PACKAGE_ROOT, "build", "higress.wasm") : join(PACKAGE_ROOT, "build", "envoy.wasm")), endpoints, mocks, higress: a["--higress"] });
      const header = `Envoy 1.40 bootstrap generated by: llm-router envoy ${rest.join(" ")}\nKeys are read from the environment when Envoy starts; nothing secret is written here.`;
      if (!dir) {
        writeOutput(a["-o"] ?? a["--output"], toYaml(buildBootstrap(config, options), header));
        return 0;
      }
      const build = (keyVariables) => reloadableGateway(buildBootstrap(config, defined({ ...options, keyVariables })), config, dir);
      const routesNote = "\nRoutes, clusters and the plugin's configuration are in the files beside it: run the same command\nafter an edit and a running Envoy applies it (README \"Live configuration reload\").";
      try {
        const r = await updateDirectory(dir, build, { source: config.file, header: header + routesNote });
        if (!report(config.file, r.problems)) return 1;
        console.error(
          r.admin
            ? `llm-router: the Envoy at ${r.admin} took ${config.file} (${r.written.join(", ") || "nothing changed"})`
            : `llm-router: wrote ${join(dir, "envoy.yaml")} and the files it reads (${r.written.filter((f) => f !== "envoy.yaml").join(", ")}); run: envoy -c ${join(dir, "envoy.yaml")}`,
        );
        return 0;
      } catch (e) {
        if (!(e instanceof ReloadRefused)) throw e;
        console.error(`${config.file}: ${e.message}`);
        return 1;
      }
    }
    case "start": {
      const a = parseArgs(rest, { ...GATEWAY_FLAGS, "--mock": "flag", "--run-dir": "value", "--quiet": "flag" });
      const config = readConfigFile(configArg(a));
      const g = gatewayOptions(a);
      const check = (c) => validate(c, { keys: !a["--mock"], defaultProvider: g.defaultProvider });
      const problems = check(config);
      if (g.clientKeysEnv && !process.env[g.clientKeysEnv]) {
        problems.push(new ConfigProblem("--client-keys-env", `${g.clientKeysEnv} is not set: export it with the client keys, comma-separated`));
      }
      if (!report(config.file, problems)) return 1;
      return start(config, { ...defined(g), listen: g.listen, admin: g.admin, mock: !!a["--mock"], runDir: a["--run-dir"] ?? ".run", quiet: !!a["--quiet"], check });
    }
    case "higress": {
      const a = parseArgs(rest, { "-o": "value", "--output": "value", "--model-header": "value", "--match-rules": "value", "--url": "value" });
      const config = readConfigFile(configArg(a));
      const file = a["-o"] ?? a["--output"];
      const { text, problems } = buildWasmPlugin(config, { modelHeader: a["--model-header"], matchRulesFile: a["--match-rules"], url: a["--url"], file });
      if (!report(config.file, problems)) return 1;
      writeOutput(file, text);
      return 0;
    }
    case "top": {
      const a = parseArgs(rest, { "--admin": "value", "--interval": "value", "--once": "flag" });
      if (a.positional.length > 0) throw new UsageError(`top takes no configuration file (it reads the gateway's admin endpoint), got ${a.positional.join(" ")}`);
      const admin = a["--admin"] ?? `${DEFAULTS.admin.host}:${DEFAULTS.admin.port}`;
      if (!/^https?:\/\//.test(admin)) hostPort(admin, "--admin");
      const interval = a["--interval"] ? positiveNumber(a["--interval"], "--interval") : 2;
      return runTop({ admin, intervalMs: Math.round(interval * 1000), once: !!a["--once"] });
    }
    case "generate": {
      parseArgs(rest, {});
      const config = readConfigFile(join(PACKAGE_ROOT, DEFAULT_CONFIG));
      if (!report(config.file, validate(config, { keys: false }))) return 1;
      for (const f of shippedFiles()) writeOutput(join(PACKAGE_ROOT, f.path), f.text);
      return 0;
    }
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`llm-router: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof ConfigFileError) {
    console.error(err.message); // FILE[:LINE:COLUMN]: …, as the check's own lines
    process.exitCode = 1;
  } else {
    console.error(`llm-router: ${err.message}`);
    process.exitCode = 1;
  }
}
