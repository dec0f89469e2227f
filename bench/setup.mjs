// Installs what the benchmarks need (NOT part of the test set-up; `npm test` never runs this):
//   - wrk (Debian package; needs root + apt-get) — the HTTP load generator for the Envoy runs
//   - the Portkey gateway (npm @portkey-ai/gateway) into bench/peers/ with its own package.json
//   - the LiteLLM proxy (pip litellm[proxy]) into its own virtualenv bench/.venv-peers
// Each step is skipped when already done. Usage: node bench/setup.mjs [--no-apt] [--no-portkey] [--no-litellm]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bench = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const run = (cmd, argv, cwd = bench) => execFileSync(cmd, argv, { cwd, stdio: "inherit" });
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

export const PORTKEY_VERSION = "1.15.2";
export const LITELLM_SPEC = "litellm[proxy]==1.79.3";

if (!args.has("--no-apt") && !has("wrk")) {
  if (process.getuid?.() === 0 && has("apt-get")) {
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "wrk"]);
  } else console.warn("[bench setup] wrk missing and apt-get unavailable (not root?): the Envoy bench falls back to the Node load generator");
}

if (!args.has("--no-portkey")) {
  const peers = join(bench, "peers");
  const pkg = join(peers, "package.json");
  if (!existsSync(pkg)) {
    writeFileSync(pkg, JSON.stringify({ name: "bench-peers", private: true, type: "module",
      dependencies: { "@portkey-ai/gateway": PORTKEY_VERSION } }, null, 2) + "\n");
  }
  if (!existsSync(join(peers, "node_modules", "@portkey-ai", "gateway", "package.json"))) {
    run("npm", ["install", "--no-audit", "--no-fund", "--omit=dev"], peers);
  }
}

if (!args.has("--no-litellm")) {
  const venv = join(bench, ".venv-peers");
  if (!existsSync(join(venv, "bin", "pip"))) run("python3", ["-m", "venv", venv]);
  if (!existsSync(join(venv, "bin", "litellm"))) {
    run(join(venv, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", LITELLM_SPEC]);
  }
}
console.log("[bench setup] done");
