// The test host against real Envoy 1.40: the same probe module (test/host/probes/probe.ts) runs the
// same scripts in both, and every scenario's trace — callbacks in order, their arguments, what each
// host call returned — must be identical after masking values that differ by nature (dates, ids,
// durations). One Envoy (concurrency 1: canary, main thread and one worker VM), local Node upstreams.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProbe } from "../host/probes/build.ts";
import { startProbeEnvoy, type ProbeEnvoy } from "../host/probes/envoy.ts";
import { normalizeClient, runInEnvoy, runInHost, SCENARIOS, SCRIPTS, startHostWorld, STATS_TAGS, type HostWorld } from "../host/probes/fidelity.ts";

let env: ProbeEnvoy;
let world: HostWorld;

beforeAll(async () => {
  const wasm = buildProbe();
  env = await startProbeEnvoy({ wasm, scripts: SCRIPTS, concurrency: 1, vmId: "probe", statsTags: STATS_TAGS, statsFlushIntervalMs: 1000 });
  world = await startHostWorld(wasm, { ...env.upstreams.ports, dead: env.ports.dead } as any);
  // Both sides past the first ticks (tick@1 writes shared data) before any request.
  await new Promise((r) => setTimeout(r, 250));
  world.proc.advance(250);
});

afterAll(async () => {
  await env?.stop();
});

describe("host fidelity: one probe, real Envoy vs the test host", () => {
  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      const real = await runInEnvoy(env, sc);
      const emu = runInHost(world, sc, `127.0.0.1:${sc.listener === "a" ? env.ports.a : env.ports.fo}`);
      expect(emu.traces).toEqual(real.traces);
      expect(normalizeClient(emu.client)).toEqual(normalizeClient(real.client));
      expect(emu.upstreamBodies).toEqual(real.upstreamBodies);
    });
  }
});
