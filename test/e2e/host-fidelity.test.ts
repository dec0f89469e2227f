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

// ------------------------------------------------------------------------------------------------
// Process-level behaviour: start-up sequence per thread, ticks, shared data across VMs, metrics.

interface Line {
  thread: string;
  root: string;
  ctx: number;
  cb: string;
  text: string;
}

function hostLines(): Line[] {
  const out: Line[] = [];
  for (const l of world.proc.logs) {
    const m = /^P\|([^|]*)\|(\d+)\|([^|]*)\|(.*)$/s.exec(l.message);
    if (m) out.push({ thread: l.thread === "main" ? "main" : "worker", root: m[1], ctx: Number(m[2]), cb: m[3], text: m[4] });
  }
  return out;
}

function envoyLines(): Line[] {
  const all = env.traces();
  const main = all[0].thread;
  return all.map((t) => ({ ...t, thread: t.thread === main ? "main" : "worker" }));
}

const startup = (ls: Line[]) =>
  ls.filter((l) => l.cb === "vm_start" || l.cb === "configure" || (l.cb === "create" && l.text === "root")).map((l) => `${l.thread}|${l.root}|${l.ctx}|${l.cb}|${l.text}`);
const tickOps = (ls: Line[]) => ls.filter((l) => l.cb === "tick" && l.text !== "" && !l.text.startsWith("now")).map((l) => `${l.thread}|${l.root}|${l.ctx}|${l.text}`);
const tickTimes = (ls: Line[], thread: string) =>
  ls.filter((l) => l.thread === thread && l.cb === "tick" && l.text.startsWith("now")).map((l) => Number(BigInt(l.text.split("-> ")[1]) / 1_000_000n));

describe("host fidelity: the process", () => {
  it("start-up: per plugin a canary VM and the main thread's VM, then the worker's VM; every root runs create, vm_start, configure", () => {
    const real = startup(envoyLines());
    expect(real.length).toBeGreaterThan(0);
    expect(startup(hostLines())).toEqual(real);
  });

  // The plugin picks its kind of root (router filter or upstream filter) by root id in
  // proxy_on_context_create (assembly/exports.ts): the probe reads plugin_root_id there.
  it("plugin_root_id is readable in proxy_on_context_create of every root context, on every thread", () => {
    const created = (ls: Line[]) => ls.filter((l) => l.cb === "create" && l.text === "root");
    const real = created(envoyLines());
    for (const thread of ["main", "worker"]) {
      expect(new Set(real.filter((l) => l.thread === thread).map((l) => l.root)), thread).toEqual(new Set(["a", "down", "up"]));
    }
    expect(created(hostLines()).map((l) => `${l.thread}|${l.root}`)).toEqual(real.map((l) => `${l.thread}|${l.root}`));
  });

  it("ticks: the main thread's and the worker's roots tick; shared data CAS across VMs in the same order", () => {
    expect(tickOps(hostLines())).toEqual(tickOps(envoyLines()));
    for (const thread of ["main", "worker"]) {
      const real = tickTimes(envoyLines(), thread);
      const emu = tickTimes(hostLines(), thread);
      expect(real.length, thread).toBeGreaterThan(5);
      expect(emu.length, thread).toBeGreaterThan(5);
      const gaps = (t: number[]) => t.slice(1).map((x, i) => x - t[i]);
      // Envoy re-arms the timer after each tick: on average the period plus the tick's own run time
      // (single gaps jitter by a few ms around it).
      const mean = gaps(real).reduce((a, b) => a + b, 0) / gaps(real).length;
      expect(mean, `${thread} mean gap`).toBeGreaterThanOrEqual(99);
      expect(mean, `${thread} mean gap`).toBeLessThan(140); // loose: two shared cores
      for (const g of gaps(real)) expect(g, `${thread} real gap`).toBeGreaterThan(80);
      for (const g of gaps(emu)) expect(g, `${thread} emulated gap`).toBe(100);
    }
  });

  it("metrics: /stats/prometheus for the wasm stats, after a flush", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    world.proc.advance(1100);
    const real = (await env.admin("/stats/prometheus?filter=wasmcustom")).trim().split("\n");
    const emu = world.proc.prometheus().trim().split("\n");
    const exact = (ls: string[]) => ls.map((l) => (/_sum\{/.test(l) ? l.replace(/ [\d.]+$/, " <sum>") : l));
    expect(exact(emu)).toEqual(exact(real));
    // _sum is approximate in Envoy (circllhist bins); the emulation is within a few percent.
    const sums = (ls: string[]) => ls.filter((l) => /_sum\{/.test(l)).map((l) => Number(l.split(" ").at(-1)));
    sums(real).forEach((v, i) => expect(Math.abs(sums(emu)[i] - v) / v).toBeLessThan(0.05));
  });
});
