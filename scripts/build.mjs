// Builds the two plugin binaries from one source: build/envoy.wasm carries the ABI marker
// proxy_abi_version_0_2_1 (upstream Envoy), build/higress.wasm carries proxy_abi_version_0_2_100
// (Higress, the only marker under which Higress lets a plugin hold request headers).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");
mkdirSync(join(root, "build"), { recursive: true });
for (const target of ["envoy", "higress"]) {
  execFileSync(asc, [`assembly/${target}.ts`, "--config", "asconfig.json", "--target", target], { cwd: root, stdio: "inherit" });
}
