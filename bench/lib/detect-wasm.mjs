// Compiles bench/detect-entry.ts (the scan and the detector without the proxy-wasm glue) with the
// plugin's compiler settings and instantiates it in Node's V8.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./ts.mjs";

const OUT = join(ROOT, "node_modules", ".cache", "llm-router-bench", "detect-entry.wasm");

export async function loadDetectModule() {
  mkdirSync(join(OUT, ".."), { recursive: true });
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), [join(ROOT, "bench", "detect-entry.ts"), "-O3", "--runtime", "minimal", "--enable", "simd", "-o", OUT], { cwd: join(ROOT, "bench"), stdio: "inherit" });
  const { instance } = await WebAssembly.instantiate(readFileSync(OUT), { env: { abort(msg, file, line, col) { throw new Error(`abort at ${line}:${col}`); } } });
  const e = instance.exports;
  const enc = new TextEncoder();
  const put = (bytes) => {
    const p = e.alloc(bytes.length);
    new Uint8Array(e.memory.buffer, p, bytes.length).set(bytes);
    return p;
  };
  return {
    exports: e,
    put,
    configure(cfg) {
      const b = enc.encode(typeof cfg === "string" ? cfg : JSON.stringify(cfg));
      const p = put(b);
      const ok = e.configure(p, b.length);
      e.free(p);
      return ok;
    },
    detect(body) {
      const b = typeof body === "string" ? enc.encode(body) : body;
      const p = put(b);
      const r = e.detect(p, b.length);
      e.free(p);
      return r;
    },
  };
}
