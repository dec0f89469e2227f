// Just enough of a proxy-wasm host to hand the plugin its configuration and read what it says:
// instantiate the module, create a root context, call proxy_on_configure and collect its log
// lines. `llm-router check` uses it so that a configuration is judged by the very binary the
// gateway runs, with no Envoy needed. Host functions the plugin may import but never calls while
// configuring answer UNIMPLEMENTED, so a newer plugin with more imports still loads.
import { readFileSync } from "node:fs";

const OK = 0;
const NOT_FOUND = 1;
const UNIMPLEMENTED = 12;
const PLUGIN_CONFIGURATION = 7; // proxy-wasm buffer type
const ROOT_CONTEXT = 1;

/**
 * Runs proxy_on_configure of the module at `wasmPath` with `configuration` (a string).
 * @returns {{ ok: boolean, logs: { level: number, message: string }[] }}
 */
export function configurePlugin(wasmPath, configuration) {
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const config = Buffer.from(configuration, "utf8");
  const logs = [];
  let instance;
  const memory = () => new Uint8Array(instance.exports.memory.buffer);
  const view = () => new DataView(instance.exports.memory.buffer);
  const text = (ptr, len) => Buffer.from(memory().subarray(ptr, ptr + len)).toString("utf8");
  const allocate = (size) => {
    const alloc = instance.exports.proxy_on_memory_allocate ?? instance.exports.malloc;
    return alloc(size) >>> 0;
  };

  const host = {
    proxy_log(level, ptr, len) {
      logs.push({ level, message: text(ptr, len) });
      return OK;
    },
    proxy_get_log_level(ptr) {
      view().setUint32(ptr, 0, true);
      return OK;
    },
    proxy_get_current_time_nanoseconds(ptr) {
      view().setBigUint64(ptr, BigInt(Date.now()) * 1_000_000n, true);
      return OK;
    },
    proxy_get_buffer_bytes(type, start, max, dataPtrPtr, sizePtr) {
      if (type !== PLUGIN_CONFIGURATION) return NOT_FOUND;
      const slice = config.subarray(start, start + max);
      const ptr = slice.length > 0 ? allocate(slice.length) : 0;
      if (slice.length > 0) memory().set(slice, ptr);
      view().setUint32(dataPtrPtr, ptr, true);
      view().setUint32(sizePtr, slice.length, true);
      return OK;
    },
    proxy_get_buffer_status(type, sizePtr, unusedPtr) {
      if (type !== PLUGIN_CONFIGURATION) return NOT_FOUND;
      view().setUint32(sizePtr, config.length, true);
      view().setUint32(unusedPtr, 0, true);
      return OK;
    },
    proxy_get_property() {
      return NOT_FOUND;
    },
  };

  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") throw new Error(`${wasmPath}: unsupported import ${imp.module}.${imp.name} (${imp.kind})`);
    const fn = imp.module === "env" ? host[imp.name] : undefined;
    (imports[imp.module] ??= {})[imp.name] = fn ?? (() => UNIMPLEMENTED);
  }
  instance = new WebAssembly.Instance(module, imports);
  const x = instance.exports;
  x._initialize?.();
  x.proxy_on_context_create(ROOT_CONTEXT, 0);
  if (x.proxy_on_vm_start && !x.proxy_on_vm_start(ROOT_CONTEXT, 0)) {
    return { ok: false, logs: [...logs, { level: 4, message: "the plugin refused to start (proxy_on_vm_start)" }] };
  }
  let ok;
  try {
    ok = x.proxy_on_configure(ROOT_CONTEXT, config.length) !== 0;
  } catch (err) {
    // A trap here is a plugin bug, never a verdict on the configuration: say so plainly.
    return { ok: false, logs: [...logs, { level: 5, message: `the plugin trapped while reading the configuration: ${err.message}` }] };
  }
  return { ok, logs };
}
