// Benchmark entries (bench/*-entry.ts): parts of the plugin compiled alone, with the plugin's compiler
// settings, and run in Node's V8 with stub host functions, so their own cost is timed free of the
// test host's.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./ts.mjs";

const CACHE = join(ROOT, "node_modules", ".cache", "llm-router-bench");
const built = new Set(); // entries compiled by this process (each instance starts fresh)

/**
 * Builds bench/<name>.ts and instantiates it; `env(name)` gives each `env` import (default: a stub
 * returning 0). Returns the exports and `put(bytes)`, which copies bytes into a block from the
 * entry's `alloc` and returns its address.
 */
export function loadEntry(name, env = () => () => 0) {
  const out = join(CACHE, `${name}.wasm`);
  if (!built.has(name)) {
    mkdirSync(CACHE, { recursive: true });
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "asc"), [join(ROOT, "bench", `${name}.ts`), "-O3", "--runtime", "minimal", "--enable", "simd", "--use", "abort=", "-o", out],
      { cwd: join(ROOT, "bench"), encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building bench/${name}.ts failed: ${r.stderr}`);
    built.add(name);
  }
  const mod = new WebAssembly.Module(readFileSync(out));
  const imports = {};
  for (const imp of WebAssembly.Module.imports(mod)) (imports[imp.module] ??= {})[imp.name] = imp.module === "env" ? env(imp.name) : () => 0;
  const exports = new WebAssembly.Instance(mod, imports).exports;
  exports._initialize?.();
  const put = (bytes) => {
    const p = exports.alloc(bytes.length);
    new Uint8Array(exports.memory.buffer, p, bytes.length).set(bytes);
    return p;
  };
  return { exports, put };
}
