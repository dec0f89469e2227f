// Builds the probe module (probe.ts) into build/probes/probe.wasm once per source change.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..", "..", "..");
export const PROBE_SOURCE = join(HERE, "probe.ts");
export const PROBE_WASM = join(ROOT, "build", "probes", "probe.wasm");

/** Compiles the probe when the .wasm is missing or older than its source; returns its path. */
export function buildProbe(): string {
  if (existsSync(PROBE_WASM) && statSync(PROBE_WASM).mtimeMs >= statSync(PROBE_SOURCE).mtimeMs) return PROBE_WASM;
  mkdirSync(dirname(PROBE_WASM), { recursive: true });
  execFileSync(
    join(ROOT, "node_modules", ".bin", "asc"),
    ["test/host/probes/probe.ts", "--config", "test/host/probes/asconfig.json", "-o", PROBE_WASM],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  return PROBE_WASM;
}
