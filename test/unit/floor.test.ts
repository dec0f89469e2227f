// The benchmark's floor filter (bench/floor-filter.ts) must make exactly the plugin's host calls and
// export exactly the plugin's callbacks, or "plugin / floor" would not measure the plugin's own
// work. Its configuration is written from the plugin's recorded calls (bench/lib/floor.mjs), so it
// follows new features by itself; this fails when a feature makes a call or exports a callback the
// floor cannot make, for every configuration switch the benchmark reports.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ProxyWasmHost } from "../host/index.ts";
import { featureVariants } from "../../bench/lib/configs.mjs";
import { buildFloor, prepareFloor } from "../../bench/lib/floor.mjs";
import { ENVOY_WASM } from "./helpers.ts";

const FLOOR = "build/test-floor.wasm";
const KB = 1024;

beforeAll(() => {
  buildFloor(FLOOR);
}, 60_000);

const exportsOf = (file: string) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(file))).map((e) => e.name).sort();

describe("the floor filter", () => {
  it("exports exactly the callbacks of the plugin's Envoy build", () => {
    expect(exportsOf(FLOOR)).toEqual(exportsOf(ENVOY_WASM));
  });

  it.each(featureVariants().map((v) => [v.name, v.config]))("makes exactly the plugin's host calls (%s)", async (_name, cfg) => {
    const { traces } = await prepareFloor(ProxyWasmHost, { wasm: ENVOY_WASM, cfg, sizes: [1 * KB, 16 * KB, 256 * KB], floorWasm: FLOOR });
    // The comparison is real: a routed request makes calls in every phase.
    for (const t of traces) {
      const phases = new Set(t.calls.map((c: { filter: string; callback: string }) => `${c.filter} ${c.callback}`));
      expect(phases.has("router requestBody")).toBe(true);
    }
  }, 60_000);

  it("writes only the body's prefix where the plugin does, and the whole body below the threshold", async () => {
    const cfg = featureVariants()[0].config;
    const { traces } = await prepareFloor(ProxyWasmHost, { wasm: ENVOY_WASM, cfg, sizes: [1 * KB, 64 * KB], floorWasm: FLOOR });
    const writes = traces.map((t: { lines: string[] }) => t.lines.find((l) => l.includes("proxy_set_buffer_bytes")));
    expect(writes[0]).toMatch(/request-body \[0, \+1024\) ← 10\d\d bytes/);
    expect(writes[1]).toMatch(/request-body \[0, \+\d\d\) ← \d\d bytes/);
  }, 60_000);
});
