// What the API translation's wiring relies on, observed on real Envoy 1.40 with the probe module
// (test/host/probes): the facts below, asserted as a client and the probe's trace see them. The test
// host agrees on each (the same scenarios in test/e2e/host-fidelity.test.ts), except the cluster's own
// upstream filters (last test), which it does not model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProbe } from "../host/probes/build.ts";
import { startProbeEnvoy, type ProbeEnvoy } from "../host/probes/envoy.ts";
import { runInEnvoy, SCENARIOS, SCRIPTS, type Scenario } from "../host/probes/fidelity.ts";

let env: ProbeEnvoy;

beforeAll(async () => {
  env = await startProbeEnvoy({ wasm: buildProbe(), scripts: { ...SCRIPTS, cluster: "resp_headers hdrs 2" }, concurrency: 1, vmId: "probe", clusterFilters: true });
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

const scenario = (name: string): Scenario => {
  const sc = SCENARIOS.find((s) => s.name === name);
  if (!sc) throw new Error(`no scenario ${name}`);
  return sc;
};
const header = (headers: Array<[string, string]>, name: string) => headers.find(([k]) => k === name)?.[1];

describe("Envoy 1.40 facts for the translation wiring", () => {
  it("(a) as the router's upstream filter, a Wasm filter rewrites its attempt's response headers and each body chunk, and the client gets them chunk by chunk", async () => {
    const r = await runInEnvoy(env, scenario("upstream-translates-stream-content-length"));
    expect(r.client.status).toBe(200);
    // content-length removed (the provider sent 3, the client gets more), content-type set
    expect(header(r.client.headers, "content-length")).toBeUndefined();
    expect(header(r.client.headers, "transfer-encoding")).toBe("chunked");
    expect(header(r.client.headers, "content-type")).toBe("text/event-stream");
    expect(r.client.text).toBe("<one><two><three><end>");
    // each replaced chunk reached the client when its original arrived (150 ms apart)
    const at = (t: string) => r.client.chunks.find((c) => c.text.includes(t))!.atMs;
    expect(at("<two>") - at("<one>")).toBeGreaterThan(100);
    expect(at("<three>") - at("<two>")).toBeGreaterThan(100);
  });

  it("(b) it can hold the headers, buffer the whole answer (StopIterationAndBuffer) and replace it, editing the held headers at the end", async () => {
    const r = await runInEnvoy(env, scenario("upstream-translates-whole"));
    expect(r.client.status).toBe(200);
    expect(r.client.text).toBe('{"translated":"whole"}');
    expect(header(r.client.headers, "content-type")).toBe("application/json");
    expect(header(r.client.headers, "content-length")).toBeUndefined();
    // the upstream filter saw the body accumulate (2, 4, 6 bytes) before replacing it at the end
    expect(r.traces.filter((t) => t.startsWith("up|") && t.includes("|resp_body|size="))).toEqual([
      "up|S2|resp_body|size=2 eos=0", "up|S2|resp_body|size=4 eos=0", "up|S2|resp_body|size=6 eos=0", "up|S2|resp_body|size=6 eos=1",
    ]);
    // the router adds its headers only once the upstream filter lets the held ones go
    const atEnd = r.traces.find((t) => t.startsWith("up|S2|resp_body|hdrs 2"))!;
    expect(atEnd).not.toContain("x-envoy-upstream-service-time");
  });

  it("(c) retries: an attempt answering 529 reaches its upstream filter's response headers only, unless the filter holds them; then its body goes through the filter and the router retries when the filter lets go — the client never sees attempt 1", async () => {
    const passing = await runInEnvoy(env, { ...scenario("failover-503"), name: "retry-not-held", headers: {} });
    const attempt1 = passing.traces.filter((t) => t.startsWith("up|S2|"));
    expect(attempt1.some((t) => t.includes("|resp_headers|"))).toBe(true);
    expect(attempt1.some((t) => t.includes("|resp_body|"))).toBe(false);

    const held = await runInEnvoy(env, scenario("upstream-holds-retried-error"));
    const first = held.traces.filter((t) => t.startsWith("up|S2|"));
    expect(first.filter((t) => /\|resp_body\|size=/.test(t))).toEqual(["up|S2|resp_body|size=16 eos=0", "up|S2|resp_body|size=16 eos=1"]);
    // the second attempt starts after the first one's filter let its answer go, and is the one delivered
    const order = held.traces.map((t) => t.split("|").slice(0, 3).join("|"));
    expect(order.lastIndexOf("up|S2|resp_body")).toBeLessThan(order.indexOf("up|S3|create"));
    expect(held.client.status).toBe(200);
    expect(held.client.text).toBe("s1s2");
    expect(held.upstreamBodies).toHaveLength(2);
  });

  it("(d) the same in the router filter (the Higress build's only filter): chunk by chunk, and whole with held headers", async () => {
    const stream = await runInEnvoy(env, scenario("router-translates-stream"));
    expect(stream.client.text).toBe("<one><two><three><end>");
    expect(header(stream.client.headers, "content-type")).toBe("text/event-stream");
    expect(stream.client.chunks.length).toBeGreaterThanOrEqual(3);
    const whole = await runInEnvoy(env, scenario("router-translates-whole"));
    expect(whole.client.text).toBe('{"translated":"whole"}');
    expect(header(whole.client.headers, "content-type")).toBe("application/json");
  });

  it("(e) a cluster's own upstream filters replace the router's for every attempt on it: a translating filter can run only on the aggregate clusters whose chains need it", async () => {
    const viaCluster = await runInEnvoy(env, { name: "cluster-filters", listener: "fo", path: "/aggc", body: '{"model":"x"}', answers: [{ status: 503, headers: [], body: [{ at: 0, data: "down" }] }, { status: 200, headers: [], body: [{ at: 0, data: "up" }] }] as any });
    const roots = new Set(viaCluster.traces.map((t) => t.split("|")[0]));
    expect(roots.has("cluster")).toBe(true);
    expect(roots.has("up")).toBe(false);
    // both attempts (p1 then p2, two child clusters of the aggregate) ran the cluster's chain
    expect(viaCluster.traces.filter((t) => /^cluster\|S\d+\|create\|/.test(t))).toHaveLength(2);
    expect(viaCluster.client.text).toBe("up");
    const viaRouter = await runInEnvoy(env, { name: "router-filters", listener: "fo", path: "/agg", body: '{"model":"x"}', answers: [{ status: 200, headers: [], body: [{ at: 0, data: "ok" }] }] as any });
    const routerRoots = new Set(viaRouter.traces.map((t) => t.split("|")[0]));
    expect(routerRoots.has("up")).toBe(true);
    expect(routerRoots.has("cluster")).toBe(false);
  });
});
