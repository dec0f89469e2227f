// Self-tests of the emulated Envoy host, using hand-assembled modules (fixtures.ts) so that a
// wrong emulation fails here regardless of the plugin under test.
import { describe, expect, it } from "vitest";
import { ProxyWasmHost, WasmLoadError } from "./host.ts";
import { buildImports, type VmCore } from "./imports.ts";
import { GuestMemory } from "./memory.ts";
import { decodePairs, encodePairs } from "./pairs.ts";
import { BodyBuffer } from "./stream.ts";
import { op } from "./wasm-builder.ts";
import * as fx from "./fixtures.ts";

const load = (wasm: Uint8Array, extra: Partial<Parameters<typeof ProxyWasmHost.load>[0]> = {}) =>
  ProxyWasmHost.load({ wasm, mode: "envoy-allow-stop-iteration", clusters: ["a", "b"], ...extra });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("pairs codec (pairs_util.cc)", () => {
  it("serializes the worked example {a:1} to 16 bytes", () => {
    expect(hex(encodePairs([["a", "1"]]))).toBe("01000000" + "01000000" + "01000000" + "61003100");
  });
  it("round-trips several pairs, empty values and UTF-8", () => {
    const pairs: Array<[string, string]> = [[":path", "/x"], ["empty", ""], ["ünï", "çødé ✓"], ["a", "1"], ["a", "2"]];
    const b = encodePairs(pairs);
    expect(b.length).toBe(4 + pairs.reduce((n, [k, v]) => n + 10 + Buffer.byteLength(k) + Buffer.byteLength(v), 0));
    expect(decodePairs(b)).toEqual(pairs);
  });
  it("decodes malformed or over-limit input as an empty map", () => {
    const good = encodePairs([["a", "1"]]);
    const noNul = good.slice();
    noNul[13] = 0x41;
    expect(decodePairs(noNul)).toEqual([]);
    expect(decodePairs(good.subarray(0, 15))).toEqual([]);
    const many = new Uint8Array(8);
    new DataView(many.buffer).setUint32(0, 1025, true);
    expect(decodePairs(many)).toEqual([]);
    expect(decodePairs(new Uint8Array(1024 * 1024 + 1))).toEqual([]);
    expect(decodePairs(new Uint8Array(0))).toEqual([]);
    // trailing bytes are ignored
    expect(decodePairs(new Uint8Array([...good, 9, 9]))).toEqual([["a", "1"]]);
  });
});

describe("loading like cpp-host", () => {
  it("refuses a module without an ABI marker", async () => {
    await expect(load(fx.plugin({ marker: null }))).rejects.toThrow("Missing or unknown Proxy-Wasm ABI version");
  });
  it("refuses an unknown marker, and 0_2_100 outside higress mode", async () => {
    await expect(load(fx.plugin({ marker: "proxy_abi_version_0_3_0" }))).rejects.toThrow(WasmLoadError);
    await expect(load(fx.plugin({ marker: "proxy_abi_version_0_2_100" }))).rejects.toThrow("Missing or unknown Proxy-Wasm ABI version");
    const h = await load(fx.plugin({ marker: "proxy_abi_version_0_2_100" }), { mode: "higress" });
    expect(h.abi).toBe("0_2_100");
  });
  it("refuses an unknown import with cpp-host's message", async () => {
    const wasm = fx.plugin({ extraImports: [{ module: "env", name: "abort", sig: "iiii:" }] });
    await expect(load(wasm)).rejects.toThrow("Failed to load Wasm module due to a missing import: env.abort");
  });
  it("refuses proxy_clear_route_cache (0.1.0 only) for a 0.2.1 module", async () => {
    const wasm = fx.plugin({ extraImports: [{ module: "env", name: "proxy_clear_route_cache", sig: ":i" }] });
    await expect(load(wasm)).rejects.toThrow("missing import: env.proxy_clear_route_cache");
  });
  it("links Higress extras only in higress mode", async () => {
    const wasm = fx.plugin({ extraImports: [{ module: "env", name: "proxy_get_upstream_hosts", sig: "ii:i" }] });
    await expect(load(wasm)).rejects.toThrow("missing import: env.proxy_get_upstream_hosts");
    await expect(load(wasm, { mode: "higress" })).resolves.toBeInstanceOf(ProxyWasmHost);
  });
  it("accepts WASI under both module names and refuses unknown WASI functions", async () => {
    const ok = fx.plugin({
      extraImports: [
        { module: "wasi_snapshot_preview1", name: "fd_write", sig: "iiii:i" },
        { module: "wasi_unstable", name: "random_get", sig: "ii:i" },
      ],
    });
    await expect(load(ok)).resolves.toBeInstanceOf(ProxyWasmHost);
    const bad = fx.plugin({ extraImports: [{ module: "wasi_snapshot_preview1", name: "sock_accept", sig: "iii:i" }] });
    await expect(load(bad)).rejects.toThrow("missing import: wasi_snapshot_preview1.sock_accept");
  });
  it("refuses a registered function imported with the wrong signature", async () => {
    const wasm = fx.plugin({ extraImports: [{ module: "env", name: "proxy_get_log_level", sig: "ii:i" }] });
    await expect(load(wasm)).rejects.toThrow("import type mismatch for function env.proxy_get_log_level");
  });
  it("needs malloc or proxy_on_memory_allocate", async () => {
    await expect(load(fx.plugin({ allocator: null }))).rejects.toThrow("Wasm module is missing malloc function.");
    await expect(load(fx.plugin({ allocator: "proxy_on_memory_allocate" }))).resolves.toBeInstanceOf(ProxyWasmHost);
  });
  it("allows proxy_log during start but traps on other host calls", async () => {
    const h = await load(fx.plugin());
    expect(h.logs[0].message).toBe("start");
    const bad = fx.plugin({ start: [op.i32(fx.at("routeProp")), op.i32(fx.len("routeProp")), op.i32(64), op.i32(68), op.call(fx.F.getProp), op.drop] });
    await expect(load(bad)).rejects.toThrow(/_initialize failed: .*restricted_callback/);
  });
  it("creates contexts in Envoy's order: root (1,0), vm_start, configure, then (n,1) per stream", async () => {
    const h = await load(fx.plugin(), { logLevel: 0 });
    h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    const seq = h.logs.map((l) => `${l.contextId}:${l.message}`);
    expect(seq).toEqual([
      "1:start", "1:create:0", "1:vm_start", "1:configure",
      "2:create:1", "2:headers", "2:body", "2:done", "2:delete",
      "3:create:1", "3:headers", "3:body", "3:done", "3:delete",
    ]);
    expect(h.configured).toBe(true);
  });
  it("reports configured=false when proxy_on_configure returns 0", async () => {
    const h = await load(fx.plugin({ configure: [op.i32(0)] }));
    expect(h.configured).toBe(false);
    expect(h.request({ body: "{}" }).outcome).toBe("vm-failed");
  });
});

describe("headers StopIteration conversion", () => {
  const wasm = fx.plugin();
  const req = { headers: { "x-llm-upstream": "a" }, body: '{"x":1}', chunkSize: 3 };
  it("envoy-default turns StopIteration into StopAll: no body callback, the request stalls", async () => {
    const r = (await load(wasm, { mode: "envoy-default" })).request(req);
    expect(r.returns[0]).toMatchObject({ raw: 1, converted: 4 });
    expect(r.bodyCallbacks).toBe(0);
    expect(r.outcome).toBe("stalled");
  });
  it("envoy-allow-stop-iteration passes it through and delivers the body", async () => {
    const r = (await load(wasm)).request(req);
    expect(r.returns[0]).toMatchObject({ raw: 1, converted: 1 });
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.text).toBe('{"x":1}');
    expect(r.returns.slice(1).map((x) => x.converted)).toEqual([1, 1, 0]);
  });
  it("higress passes it through only for 0_2_100", async () => {
    expect((await load(wasm, { mode: "higress" })).request(req).outcome).toBe("stalled");
    const h = await load(fx.plugin({ marker: "proxy_abi_version_0_2_100" }), { mode: "higress" });
    expect(h.request(req).outcome).toBe("upstream");
  });
  it("clamps out-of-range returns", async () => {
    const r = (await load(fx.plugin({ headers: [op.i32(9)] }))).request(req);
    expect(r.returns[0]).toMatchObject({ raw: 9, converted: 4 });
    expect(r.outcome).toBe("stalled");
    const r2 = (await load(fx.plugin({ body: [op.i32(7)] }))).request(req);
    expect(r2.returns[1]).toMatchObject({ raw: 7, converted: 3 });
  });
});

describe("request headers, route cache and router", () => {
  it("rejects header mutations after a Continue from headers with BAD_ARGUMENT", async () => {
    const h = await load(fx.plugin({ headers: [op.i32(0)], body: fx.setUpstreamB }));
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.returns[1].raw).toBe(2);
    expect(r.rejectedHeaderMutations).toBe(1);
    expect(r.routeCacheClears).toBe(0);
  });
  it("re-selects the route after a mutation while held (ABI 0.2.1 auto-clear)", async () => {
    const h = await load(fx.plugin({ body: [...fx.setUpstreamB, op.drop, op.i32(0)] }));
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.routeCacheClears).toBe(1);
    expect(r.outcome).toBe("upstream");
    expect(r.upstream!.cluster).toBe("b");
  });
  it("keeps the cached route when nothing clears it (Higress clear_route_cache=off)", async () => {
    const wasm = fx.plugin({ marker: "proxy_abi_version_0_2_100", body: [...fx.disableReroute, ...fx.setUpstreamB, op.drop, op.i32(0)] });
    const r = (await load(wasm, { mode: "higress" })).request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.routeCacheClears).toBe(0);
    expect(r.setProperties.clear_route_cache).toBe("off");
    expect(r.upstream!.header("x-llm-upstream")).toBe("b");
    expect(r.upstream!.cluster).toBe("a"); // the route chosen before the filter ran
    const on = fx.plugin({ marker: "proxy_abi_version_0_2_100", body: [...fx.setUpstreamB, op.drop, op.i32(0)] });
    expect((await load(on, { mode: "higress" })).request({ headers: { "x-llm-upstream": "a" }, body: "{}" }).upstream!.cluster).toBe("b");
  });
  it("records clear_route_cache via the foreign function; NOT_FOUND before Envoy 1.33", async () => {
    const h = await load(fx.plugin({ body: [...fx.clearRouteCache] }));
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.returns[1].raw).toBe(0);
    expect(r.routeCacheClears).toBe(1);
    const old = await load(fx.plugin({ body: [...fx.clearRouteCache] }), { envoyBefore133: true });
    const r2 = old.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r2.returns[1].raw).toBe(1); // NOT_FOUND
    expect(r2.routeCacheClears).toBe(0);
  });
  it("answers 503 cluster_not_found for a missing or unknown cluster and uses the first of repeated values", async () => {
    // Measured on Envoy 1.40 (host-fidelity scenarios cluster-not-found, cluster-header-missing).
    const h = await load(fx.plugin({ headers: [op.i32(0)], body: [op.i32(0)] }));
    expect(h.request({ body: "{}" }).outcome).toBe("no-cluster");
    const unknown = h.request({ headers: { "x-llm-upstream": "zzz" }, body: "{}" });
    expect(unknown.localResponse).toMatchObject({ status: 503, details: "cluster_not_found", text: "" });
    const r = h.request({ headers: [["x-llm-upstream", "b"], ["x-llm-upstream", "a"]], body: "{}" });
    expect(r.upstream?.cluster).toBe("b");
  });
  it("answers properties by NUL-joined path", async () => {
    const h = await load(fx.plugin({ body: [...fx.routeToHeader, op.i32(0)] }), { routeName: "r1" });
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.upstream!.header("x-route")).toBe("r1");
    expect(h.getProperty("route_name")).toBeUndefined(); // upstream Envoy ≥ 1.33 has only xds.*
    expect(h.getProperty("xds\0route_name")).toEqual(new TextEncoder().encode("r1"));
    expect(h.getProperty("plugin_name")).toBeDefined();
    expect(h.getProperty("nope")).toBeUndefined();
  });
});

describe("recorded host calls (LoadOptions.recordHostCalls)", () => {
  it("lists each call of a request with its filter, callback, name and what it named", async () => {
    const h = await load(fx.plugin({ body: [...fx.removeContentLength, ...fx.setUpstreamB, op.drop, op.i32(0)] }), { recordHostCalls: true });
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    // (the fixture logs each callback: proxy_log calls left out)
    expect(r.hostCalls!.filter((c) => c.name !== "proxy_log").map((c) => `${c.filter} ${c.callback} ${c.name} ${c.detail}`)).toEqual([
      "router requestBody proxy_remove_header_map_value request content-length",
      "router requestBody proxy_replace_header_map_value request x-llm-upstream (1 bytes)",
    ]);
    expect(Buffer.from(r.hostCalls!.find((c) => c.name === "proxy_replace_header_map_value")!.value!).toString()).toBe("b");
    expect(h.hostCallLog.length).toBeGreaterThanOrEqual(2);
    const quiet = await load(fx.plugin({ body: [...fx.removeContentLength, op.i32(0)] }));
    expect(quiet.request({ headers: { "x-llm-upstream": "a" }, body: "{}" }).hostCalls).toBeUndefined();
  });
});

describe("the route's response headers (response_headers_to_add)", () => {
  it("adds filter state a filter set, replacing the upstream's header; an absent value adds nothing", async () => {
    const wasm = fx.plugin({ body: [op.i32(fx.at("foreign")), op.i32(fx.len("foreign")), op.i32(fx.at("off")), op.i32(fx.len("off")), op.call(fx.F.setProp), op.drop, op.i32(0)] });
    const route = { responseHeadersToAdd: [
      { key: "x-state", value: "%FILTER_STATE(wasm.clear_route_cache:PLAIN)%" },
      { key: "x-none", value: "%FILTER_STATE(wasm.absent:PLAIN)%" },
    ] };
    const h = await load(wasm, { route });
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}", response: { status: 200, headers: { "x-state": "upstream's", "x-none": "kept" }, body: "ok" } });
    expect(r.response!.headers.filter(([k]) => k === "x-state")).toEqual([["x-state", "off"]]);
    expect(r.response!.header("x-none")).toBe("kept");
    expect(() => h.request({ headers: { "x-llm-upstream": "a" }, body: "{}", route: { responseHeadersToAdd: [{ key: "x", value: "%REQ(x)%" }] }, response: { status: 200 } })).toThrow("not emulated");
  });
});

describe("body buffering, set_buffer_bytes, limits, local replies", () => {
  const doubling = fx.plugin({ body: [op.get(2), op.eqz, op.if(op.i32(1), op.ret), ...fx.doubleBody, op.i32(0)] });
  it("passes the cumulative body size and the whole buffer at end of stream", async () => {
    const h = await load(doubling);
    for (const chunkSize of [1, 2, 5, 100]) {
      const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "abcdefghij", chunkSize });
      expect(r.upstream!.text).toBe("abcdefghijabcdefghij");
      // Content-length from the client no longer matches: the host flags it.
      expect(r.contentLengthMismatch).toBe(true);
    }
    const empty = h.request({ headers: { "x-llm-upstream": "a" }, body: "" });
    expect(empty.upstream!.text).toBe("");
    expect(empty.contentLengthMismatch).toBe(false);
  });
  it("answers 413 once the buffered body exceeds the limit", async () => {
    const h = await load(fx.plugin(), { bufferLimit: 10 });
    expect(h.request({ headers: { "x-llm-upstream": "a" }, body: "0123456789" , chunkSize: 3 }).outcome).toBe("upstream");
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "0123456789A", chunkSize: 3 });
    expect(r.outcome).toBe("too-large");
    expect(r.localResponse!.status).toBe(413);
    const hg = await load(fx.plugin({ marker: "proxy_abi_version_0_2_100" }), { mode: "higress" });
    expect(hg.request({ headers: { "x-llm-upstream": "a" }, body: "x".repeat(32 * 1024 + 1), chunkSize: 4096 }).outcome).toBe("too-large");
  });
  it("defers send_local_response and overrides the callback's return", async () => {
    const h = await load(fx.plugin({ headers: [...fx.localReply403, op.i32(0)] }));
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.outcome).toBe("local");
    expect(r.returns[0]).toMatchObject({ raw: 0, converted: 4, localReply: true });
    expect(r.localResponse).toMatchObject({ status: 403, text: "denied" });
    expect(r.localResponse!.header("x-why")).toBe("test");
    expect(r.upstream).toBeUndefined();
    const rb = (await load(fx.plugin({ body: [...fx.localReply403, op.i32(0)] }))).request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(rb.returns[1]).toMatchObject({ raw: 0, converted: 3 });
  });
  it("marks the VM failed after a trap; later requests fail too", async () => {
    const h = await load(fx.plugin({ body: [op.unreachable] }));
    const r = h.request({ headers: { "x-llm-upstream": "a" }, body: "{}" });
    expect(r.outcome).toBe("vm-failed");
    expect(h.vmFailed).toBe(true);
    expect(h.request({ headers: { "x-llm-upstream": "a" } }).outcome).toBe("vm-failed");
  });
});

describe("host functions in isolation", () => {
  function fakeVm() {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const body = new BodyBuffer();
    body.append(new TextEncoder().encode("hello"));
    const logs: Array<[number, string]> = [];
    let heap = 1024;
    const vm: Partial<VmCore> = {
      mem: new GuestMemory(memory),
      starting: false,
      logLevel: 0,
      stream: null,
      log: (l, m) => void logs.push([l, m]),
      alloc: (n) => ((heap += n), heap - n),
      getBuffer: (t) => (t === 0 ? { bytes: () => body.bytes(), mutable: body } : t === 7 ? { bytes: () => new Uint8Array(0), mutable: null } : null),
      getMap: () => null,
    };
    const env = buildImports(vm as VmCore).env as Record<string, Function>;
    const wasi = buildImports(vm as VmCore).wasi_snapshot_preview1 as Record<string, Function>;
    const u8 = new Uint8Array(memory.buffer);
    const dv = new DataView(memory.buffer);
    const put = (off: number, s: string) => u8.set(new TextEncoder().encode(s), off);
    return { env, wasi, u8, dv, put, body, logs };
  }
  it("set_buffer_bytes follows Buffer::copyFrom", () => {
    const t = fakeVm();
    t.put(100, "XY");
    expect(t.env.proxy_set_buffer_bytes(0, 2, 1, 100, 2)).toBe(2); // middle: BAD_ARGUMENT
    expect(t.env.proxy_set_buffer_bytes(0, 0, 2, 100, 2)).toBe(0); // drain 2, prepend
    expect(Buffer.from(t.body.bytes()).toString()).toBe("XYllo");
    expect(t.env.proxy_set_buffer_bytes(0, 5, 0, 100, 1)).toBe(0); // start>=size appends
    expect(Buffer.from(t.body.bytes()).toString()).toBe("XYlloX");
    expect(t.env.proxy_set_buffer_bytes(0, 0, 0xffffffff, 100, 2)).toBe(0); // replace all
    expect(Buffer.from(t.body.bytes()).toString()).toBe("XY");
    expect(t.env.proxy_set_buffer_bytes(7, 0, 0, 100, 2)).toBe(2); // plugin config is const
    expect(t.env.proxy_set_buffer_bytes(1, 0, 0, 100, 2)).toBe(1); // no response body: NOT_FOUND
    expect(t.env.proxy_set_buffer_bytes(9, 0, 0, 100, 2)).toBe(2); // type out of range
  });
  it.each([["a buffered body", 0], ["one chunk in a buffer of its own size", 100_000]])("replacing %s's first bytes by a longer prefix copies the prefix, not the body (as Envoy's prepend)", (_what, capacity) => {
    const b = new BodyBuffer(capacity);
    b.append(new Uint8Array(100_000).fill(0x61));
    const before = b.bytes().buffer;
    b.drain(15);
    b.prepend(new Uint8Array(40).fill(0x62));
    expect(b.length).toBe(100_025);
    expect(b.bytes().buffer).toBe(before); // no new allocation: the prefix went into the headroom
    expect(Buffer.from(b.bytes().subarray(38, 42)).toString()).toBe("bbaa");
  });
  it("get_buffer_bytes clamps and returns ptr 0 / size 0 for an empty read", () => {
    const t = fakeVm();
    t.dv.setUint32(64, 77, true);
    t.dv.setUint32(68, 77, true);
    expect(t.env.proxy_get_buffer_bytes(0, 5, 10, 64, 68)).toBe(0);
    expect([t.dv.getUint32(64, true), t.dv.getUint32(68, true)]).toEqual([0, 0]);
    expect(t.env.proxy_get_buffer_bytes(0, 1, 100, 64, 68)).toBe(0);
    const p = t.dv.getUint32(64, true);
    expect(Buffer.from(t.u8.subarray(p, p + t.dv.getUint32(68, true))).toString()).toBe("ello");
    expect(t.env.proxy_get_buffer_bytes(7, 0, 10, 64, 68)).toBe(0);
    expect(t.dv.getUint32(64, true)).toBe(0);
  });
  it("proxy_log rejects levels above 5; fd_write maps fd1→info, fd2→error, others→BADF", () => {
    const t = fakeVm();
    t.put(100, "hi\n");
    expect(t.env.proxy_log(6, 100, 2)).toBe(2);
    expect(t.env.proxy_log(5, 100, 2)).toBe(0);
    t.dv.setUint32(200, 100, true);
    t.dv.setUint32(204, 3, true);
    expect(t.wasi.fd_write(1, 200, 1, 300)).toBe(0);
    expect(t.dv.getUint32(300, true)).toBe(3);
    expect(t.wasi.fd_write(2, 200, 1, 300)).toBe(0);
    expect(t.wasi.fd_write(3, 200, 1, 300)).toBe(8);
    expect(t.logs).toEqual([[5, "hi"], [2, "hi"], [4, "hi"]]);
  });
  it("writes to a released map return BAD_ARGUMENT; reading its pairs gives an empty map", () => {
    // Envoy's getHeaderMapPairs serialises a null map as empty, with OK (measured: host-fidelity).
    const t = fakeVm();
    t.put(100, "x");
    expect(t.env.proxy_replace_header_map_value(0, 100, 1, 100, 1)).toBe(2);
    t.dv.setUint32(64, 77, true);
    t.dv.setUint32(68, 77, true);
    expect(t.env.proxy_get_header_map_pairs(0, 64, 68)).toBe(0);
    expect([t.dv.getUint32(64, true), t.dv.getUint32(68, true)]).toEqual([0, 0]);
    expect(t.env.proxy_get_header_map_pairs(8, 64, 68)).toBe(2); // map type out of range
  });
});
