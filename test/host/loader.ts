// Module loading the way proxy-wasm-cpp-host does it, up to (not including) the start function:
// ABI detection from the marker export, then linking against ONLY the functions registered for
// that ABI. Errors carry cpp-host's wording so tests can assert on the same text Envoy logs.
import { type Abi, registeredEnvFunctions, WASI_FUNCTIONS, WASI_MODULES } from "./abi.ts";
import { parseModule, type ModuleInfo } from "./wasm-binary.ts";

export type HostMode = "envoy-default" | "envoy-allow-stop-iteration" | "higress";

export class WasmLoadError extends Error {}

/** Markers upstream cpp-host knows; Higress's fork adds 0_2_100 (bytecode_util.cc). */
const UPSTREAM_MARKERS: Record<string, Abi> = {
  proxy_abi_version_0_1_0: "0_1_0",
  proxy_abi_version_0_2_0: "0_2_0",
  proxy_abi_version_0_2_1: "0_2_1",
};

/** BytecodeUtil::getAbiVersion: the first *function* export named like a known marker. */
export function detectAbi(info: ModuleInfo, mode: HostMode): Abi {
  for (const e of info.exports) {
    if (e.kind !== "function") continue;
    const abi = UPSTREAM_MARKERS[e.name] ?? (mode === "higress" && e.name === "proxy_abi_version_0_2_100" ? "0_2_100" : undefined);
    if (abi) return abi;
  }
  throw new WasmLoadError("Missing or unknown Proxy-Wasm ABI version");
}

/**
 * Checks every import against the registry for the ABI, in import order, like V8's link step in
 * cpp-host (src/v8/v8.cc): the first unknown import fails the load; a known one with another
 * signature fails with an import type mismatch.
 */
export function checkImports(info: ModuleInfo, abi: Abi, mode: HostMode): void {
  const env = registeredEnvFunctions(abi, mode === "higress");
  for (const imp of info.imports) {
    const full = `${imp.module}.${imp.name}`;
    let want: string | null | undefined;
    if (imp.module === "env") want = env.get(imp.name);
    else if (WASI_MODULES.includes(imp.module)) want = WASI_FUNCTIONS[imp.name];
    if (want === undefined || imp.kind !== "function") {
      throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${full}`);
    }
    if (want !== null && imp.sig !== want) {
      throw new WasmLoadError(
        `Failed to load Wasm module due to an import type mismatch for function ${full}, want: ${want}, but host exports: ${imp.sig}`,
      );
    }
  }
}

/** Builds an import object holding only what the module imports (all of it already checked). */
export function linkImports(info: ModuleInfo, all: WebAssembly.Imports): WebAssembly.Imports {
  const out: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of info.imports) {
    const fn = (all[imp.module] as Record<string, WebAssembly.ImportValue> | undefined)?.[imp.name];
    if (fn === undefined) throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
    (out[imp.module] ??= {})[imp.name] = fn;
  }
  return out;
}

export interface CompiledModule {
  module: WebAssembly.Module;
  info: ModuleInfo;
  bytes: Uint8Array;
}

// Compiling is the expensive part of loading; tests create many hosts from the same file.
const compileCache = new Map<string, Promise<CompiledModule>>();

export function compile(bytes: Uint8Array, cacheKey?: string): Promise<CompiledModule> {
  const make = async (): Promise<CompiledModule> => {
    let info: ModuleInfo;
    try {
      info = parseModule(bytes);
    } catch (e) {
      throw new WasmLoadError(`Failed to load Wasm code: ${(e as Error).message}`);
    }
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes);
    } catch (e) {
      throw new WasmLoadError(`Failed to load Wasm code: ${(e as Error).message}`);
    }
    return { module, info, bytes };
  };
  if (!cacheKey) return make();
  let p = compileCache.get(cacheKey);
  if (!p) {
    p = make();
    compileCache.set(cacheKey, p);
    p.catch(() => compileCache.delete(cacheKey));
  }
  return p;
}
