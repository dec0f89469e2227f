// The two builds as Envoy / Higress load them: imports, exports, markers, and the host modes
// that decide whether the body is ever seen (allow_on_headers_stop_iteration, 0_2_100).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ProxyWasmHost, registeredEnvFunctions } from "../host/index.ts";
import { ENVOY_WASM, HIGRESS_WASM, ROUTER_JSON, chosen, err, send, user } from "./helpers.ts";

const cfg = JSON.parse(readFileSync(ROUTER_JSON, "utf8"));
const clusters = ["openai", "deepseek", "groq"];
const load = (wasm: string, mode: "envoy-default" | "envoy-allow-stop-iteration" | "higress", extra = {}) =>
  ProxyWasmHost.load({ wasm, mode, configuration: JSON.stringify(cfg), clusters, ...extra });

// Every callback a module exports costs each stream (and each upstream attempt) a call into the VM,
// so each build exports exactly the callbacks it has work for: no proxy_on_done (cpp-host goes on to
// proxy_on_delete), and proxy_on_response_headers only in the Higress build (Envoy's route adds the
// decision header from filter state).
const EXPORTS = [
  "_initialize", "malloc", "proxy_on_memory_allocate", "memory", "proxy_on_context_create", "proxy_on_vm_start",
  "proxy_on_configure", "proxy_validate_configuration", "proxy_on_tick", "proxy_on_request_headers", "proxy_on_request_body",
  "proxy_on_request_trailers", "proxy_on_response_body", "proxy_on_log", "proxy_on_delete",
];

describe.each([
  ["envoy", ENVOY_WASM, "proxy_abi_version_0_2_1", "proxy_abi_version_0_2_100", []],
  ["higress", HIGRESS_WASM, "proxy_abi_version_0_2_100", "proxy_abi_version_0_2_1", ["proxy_on_response_headers"]],
])("%s build", (_name, path, marker, otherMarker, extra) => {
  const mod = new WebAssembly.Module(readFileSync(path));
  it("imports only env functions cpp-host registers for ABI 0.2.1 (no abort, seed) and WASI's environ (keys)", () => {
    const allowed = registeredEnvFunctions("0_2_1", false);
    const wasi: string[] = [];
    for (const imp of WebAssembly.Module.imports(mod)) {
      expect(imp.kind).toBe("function");
      if (imp.module === "wasi_snapshot_preview1") {
        wasi.push(imp.name);
        continue;
      }
      expect(imp.module, `${imp.module}.${imp.name}`).toBe("env");
      expect(allowed.has(imp.name), `env.${imp.name} is not registered for 0.2.1`).toBe(true);
      expect(imp.name.startsWith("proxy_"), imp.name).toBe(true);
    }
    // The upstream filter reads provider keys from the VM's environment, nothing else of WASI.
    expect(wasi.sort()).toEqual(["environ_get", "environ_sizes_get"]);
    const names = WebAssembly.Module.imports(mod).map((i) => i.name);
    expect(names).not.toContain("abort");
    expect(names).not.toContain("seed");
    expect(names).not.toContain("proxy_clear_route_cache");
  });
  it("exports the callbacks it has work for and its own ABI marker, nothing else", () => {
    const names = WebAssembly.Module.exports(mod).map((e) => e.name);
    expect(names.sort()).toEqual([...EXPORTS, ...(extra as string[]), marker].sort());
    expect(names).not.toContain(otherMarker);
  });
});

describe("host modes", () => {
  const req = { ...user("hello"), model: "fast" };
  it("envoy build with allow_on_headers_stop_iteration routes the request", async () => {
    const r = send(await load(ENVOY_WASM, "envoy-allow-stop-iteration"), req);
    expect(r.returns[0]).toMatchObject({ raw: 1, converted: 1 });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.cluster).toBe("groq");
  });
  it("envoy build under default Envoy stalls: StopIteration becomes StopAll and the body never comes", async () => {
    // This is why the Envoy configuration must set allow_on_headers_stop_iteration: true.
    const r = send(await load(ENVOY_WASM, "envoy-default"), req);
    expect(r.returns[0]).toMatchObject({ raw: 1, converted: 4 });
    expect(r.bodyCallbacks).toBe(0);
    expect(r.outcome).toBe("stalled");
  });
  it("envoy build on Higress (0_2_1) stalls the same way", async () => {
    expect(send(await load(ENVOY_WASM, "higress"), req).outcome).toBe("stalled");
  });
  it("higress build is refused by upstream Envoy", async () => {
    await expect(load(HIGRESS_WASM, "envoy-allow-stop-iteration")).rejects.toThrow("Missing or unknown Proxy-Wasm ABI version");
  });
  it("higress build: StopIteration honoured, decoder buffer limit raised to maxBodyBytes + 1 MiB", async () => {
    const h = await load(HIGRESS_WASM, "higress");
    const r = send(h, req);
    expect(r.returns[0]).toMatchObject({ raw: 1, converted: 1 });
    expect(r.outcome).toBe("upstream");
    expect(chosen(r)).toBe("llama-3.1-8b");
    // maxBodyBytes plus 1 MiB of slack: the chunk crossing maxBodyBytes still reaches the plugin
    expect(r.setProperties.set_decoder_buffer_limit).toBe(String(cfg.maxBodyBytes + 1048576));
    // A body over Higress's 32 KiB default passes because the limit was raised.
    const big = send(h, { ...user("x".repeat(100_000)), model: "fast" }, { chunkSize: 16384 });
    expect(big.outcome).toBe("upstream");
    expect(big.bufferLimit).toBe(cfg.maxBodyBytes + 1048576);
  });
  it("higress build sets the buffer limit to a configured maxBodyBytes", async () => {
    const h = await ProxyWasmHost.load({ wasm: HIGRESS_WASM, mode: "higress", configuration: JSON.stringify({ ...cfg, maxBodyBytes: 200000 }), clusters });
    expect(send(h, req).setProperties.set_decoder_buffer_limit).toBe(String(200000 + 1048576));
  });
  it("envoy build does not set set_decoder_buffer_limit", async () => {
    const r = send(await load(ENVOY_WASM, "envoy-allow-stop-iteration"), req);
    expect(r.setProperties.set_decoder_buffer_limit).toBeUndefined();
  });
  it("routes with the foreign function missing (Envoy < 1.33): header edits clear the route cache", async () => {
    const r = send(await load(ENVOY_WASM, "envoy-allow-stop-iteration", { envoyBefore133: true }), { ...req, model: "cheap" }, { headers: { "x-llm-upstream": "groq" } });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.cluster).toBe(r.upstream!.header("x-llm-upstream"));
  });
  it("validate_configuration agrees with configure", async () => {
    const h = await load(ENVOY_WASM, "envoy-allow-stop-iteration");
    expect(h.configured).toBe(true);
    expect(h.validateConfiguration(JSON.stringify(cfg))).toBe(true);
    expect(h.validateConfiguration("{not json")).toBe(false);
  });
  it("answers errors on Higress too", async () => {
    const r = send(await load(HIGRESS_WASM, "higress"), "{bad");
    expect(err(r)).toMatchObject({ status: 400, code: "invalid_json" });
  });
});
