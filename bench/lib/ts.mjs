// Loads the project's TypeScript modules (test/host, test/fuzz) from plain Node 20, which cannot
// run .ts itself: the entry is bundled with rolldown (a devDependency, pinned to the version vite
// itself uses) into node_modules/.cache/llm-router-bench/ (so bare imports still resolve) and
// imported from there. Rebuilt on every call, so the newest host code is always what runs.
import { mkdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CACHE = join(ROOT, "node_modules", ".cache", "llm-router-bench");

export async function importTs(relPath) {
  const { build } = await import("rolldown");
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `${basename(relPath).replace(/\.ts$/, "")}-${process.pid}-${Date.now()}.mjs`);
  await build({
    input: join(ROOT, relPath),
    platform: "node",
    // bare specifiers (yaml, vitest…) stay imports; relative ones are bundled
    external: (id) => !id.startsWith(".") && !id.startsWith("/") && !id.startsWith("\0"),
    output: { file: out, format: "esm" },
    logLevel: "warn",
  });
  try {
    return await import(pathToFileURL(out).href);
  } finally {
    rmSync(out, { force: true }); // loaded; nothing piles up in the cache
  }
}

/** The in-process proxy-wasm host (test/host/index.ts). */
export const loadHost = () => importTs("test/host/index.ts");
