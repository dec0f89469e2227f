// Builds the two plugin binaries from one source: build/envoy.wasm carries the ABI marker
// proxy_abi_version_0_2_1 (upstream Envoy), build/higress.wasm carries proxy_abi_version_0_2_100
// (Higress, the only marker under which Higress lets a plugin hold request headers).
// Skips the compiler when both binaries are newer than every input (`--force` rebuilds), so
// `npm start` and `npm test` do not recompile an unchanged plugin.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");
const targets = ["envoy", "higress"];
const outputs = targets.map((t) => join(root, "build", `${t}.wasm`));

function newestInput() {
  let newest = 0;
  const visit = (path) => {
    const st = statSync(path);
    if (st.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const input of ["assembly", "asconfig.json", "scripts/build.mjs", "package-lock.json"]) visit(join(root, input));
  return newest;
}

const force = process.argv.includes("--force");
const upToDate = !force && outputs.every((o) => existsSync(o) && statSync(o).mtimeMs >= newestInput());
if (upToDate) {
  console.log("build: build/envoy.wasm and build/higress.wasm are up to date");
} else {
  mkdirSync(join(root, "build"), { recursive: true });
  for (const target of targets) {
    // Written next to the old binary, then renamed over it: an Envoy starting meanwhile never
    // reads a half-written module.
    const out = join("build", `${target}.wasm`);
    const text = join("build", `${target}.wat`);
    execFileSync(asc, [`assembly/${target}.ts`, "--config", "asconfig.json", "--target", target, "--outFile", `${out}.tmp`, "--textFile", `${text}.tmp`], { cwd: root, stdio: "inherit" });
    renameSync(join(root, `${text}.tmp`), join(root, text));
    renameSync(join(root, `${out}.tmp`), join(root, out));
  }
}
