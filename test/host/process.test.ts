// Self-tests of the emulated process: clock, workers, shared data, ticks, metrics, the response
// path, router attempts with an upstream filter. They use the probe module (probes/probe.ts), whose
// behaviour is a script, so each test states exactly which host calls happen. What Envoy itself does
// in the same situations is checked by test/e2e/host-fidelity.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { buildProbe } from "./probes/build.ts";
import { EmulatedClock, EnvoyProcess, ProxyWasmHost, ResponseFlag, SharedData, Status } from "./index.ts";

let wasm: string;
beforeAll(() => {
  wasm = buildProbe();
});

/** The probe's trace lines `<cb>|<text>` (optionally only those of one callback). */
function trace(vm: ProxyWasmHost, cb?: string): string[] {
  return vm.logs
    .map((l) => /^P\|[^|]*\|\d+\|([^|]*)\|(.*)$/s.exec(l.message))
    .filter((m): m is RegExpExecArray => m !== null && (cb === undefined || m[1] === cb))
    .map((m) => `${m[1]}|${m[2]}`);
}

describe("EmulatedClock", () => {
  it("fires timers in due order, each at its own time; step() moves only the wall clock", () => {
    const c = new EmulatedClock(1_000_000_000n);
    const seen: Array<[string, number, bigint]> = [];
    c.schedule(30, () => seen.push(["b", c.elapsedMs(), c.now()]));
    c.schedule(10, () => seen.push(["a", c.elapsedMs(), c.now()]));
    c.advance(50);
    expect(seen).toEqual([
      ["a", 10, 1_010_000_000n],
      ["b", 30, 1_030_000_000n],
    ]);
    c.step(-2000);
    expect(c.now()).toBe(1_050_000_000n - 2_000_000_000n);
    expect(c.elapsedMs()).toBe(50);
    expect(() => c.advance(-1)).toThrow(/step\(\)/);
  });
});

describe("SharedData (cpp-host shared_data.cc)", () => {
  it("one cas counter for the whole process; cas 0 always writes; a stale cas is CAS_MISMATCH", () => {
    const d = new SharedData();
    const v = (s: string) => new TextEncoder().encode(s);
    expect(d.get("vm", "a")).toBeUndefined();
    expect(d.set("vm", "a", v("1"), 0)).toBe(Status.OK);
    expect(d.set("vm", "b", v("1"), 0)).toBe(Status.OK);
    expect(d.get("vm", "a")!.cas).toBe(1);
    expect(d.get("vm", "b")!.cas).toBe(2); // the counter is not per key
    expect(d.set("vm", "a", v("2"), 7)).toBe(Status.CAS_MISMATCH);
    expect(d.set("vm", "a", v("2"), 1)).toBe(Status.OK);
    expect(d.get("vm", "a")!.cas).toBe(3);
    expect(d.set("vm", "new", v("x"), 12345)).toBe(Status.OK); // a missing key is created whatever the cas
    expect(d.get("other-vm-id", "a")).toBeUndefined(); // partitioned by vm_id
  });
});

describe("EnvoyProcess: canary, main thread, workers", () => {
  const script = `configure tick 100
configure sset boot x 0
tick@1 now
tick@2 now
req_headers[w] sset from-request hello 0
req_headers[r] sget from-request`;

  it("start() configures canary + main + each worker; main and workers tick, the canary never does", async () => {
    const proc = new EnvoyProcess();
    const workers = await proc.start({ wasm, workers: 2, vmId: "v", rootId: "r", configuration: script });
    expect(workers).toHaveLength(2);
    expect(proc.vms.map((vm) => `${vm.thread}${vm.canary ? "(canary)" : ""}`)).toEqual(["main", "main(canary)", "worker_0", "worker_1"]);
    // every configure wrote shared data: canary, main, two workers → cas 4
    expect(proc.shared.get("v", "boot")!.cas).toBe(4);
    proc.advance(1000);
    for (const vm of [proc.mainThread!, ...workers]) expect(trace(vm, "tick").filter((l) => l === "tick|")).toHaveLength(10);
    expect(trace(proc.vms[1], "tick")).toEqual([]);
  });

  it("workers share data, not globals: one worker writes in a request, another reads it", async () => {
    const proc = new EnvoyProcess();
    const [w1, w2] = await proc.start({ wasm, workers: 2, vmId: "v", rootId: "r", configuration: script, clusters: ["c"] });
    w1.request({ headers: { "x-llm-upstream": "c", "x-case": "w" } });
    w2.request({ headers: { "x-llm-upstream": "c", "x-case": "r" } });
    expect(trace(w2, "req_headers").at(-1)).toMatch(/^req_headers\|sget from-request -> "hello" cas=\d+$/);
  });

  it("a wall-clock step changes what the plugin reads, not when ticks fire", async () => {
    const proc = new EnvoyProcess();
    const [w] = await proc.start({ wasm, workers: 1, mainThread: false, rootId: "r", configuration: script });
    proc.advance(100);
    proc.step(-60_000);
    proc.advance(100);
    const [t1, t2] = trace(w, "tick").filter((l) => l.startsWith("tick|now")).map((l) => BigInt(l.split("-> ")[1]));
    expect(t2 - t1).toBe(100_000_000n - 60_000_000_000n);
    expect(trace(w, "tick").filter((l) => l === "tick|")).toHaveLength(2);
  });
});

describe("metrics", () => {
  const script = `configure mdef 0 llm.model.m1.requests
configure mdef 1 llm.model.m1.inflight
configure mdef 2 llm.model.m1.ttft_ms
configure minc 0 1
configure minc 1 1
configure mrec 2 120`;
  const tags = [{ tag_name: "llm_model", regex: "^wasmcustom\\.llm\\.model\\.((.+?)\\.)" }];

  it("are process-wide; histograms reach /stats/prometheus at a stats flush", async () => {
    const proc = new EnvoyProcess({ statsTags: tags });
    await proc.start({ wasm, workers: 2, rootId: "r", configuration: script });
    // canary + main + 2 workers ran on_configure
    expect(proc.metrics()).toEqual({
      counters: { "llm.model.m1.requests": 4 },
      gauges: { "llm.model.m1.inflight": 4 },
      histograms: { "llm.model.m1.ttft_ms": [120, 120, 120, 120] },
    });
    expect(proc.prometheus()).toContain('# TYPE llm_model_requests counter\nllm_model_requests{llm_model="m1"} 4\n');
    expect(proc.prometheus()).toContain('llm_model_ttft_ms_count{llm_model="m1"} 0');
    proc.advance(5000); // Envoy's default stats_flush_interval
    expect(proc.prometheus()).toContain('llm_model_ttft_ms_bucket{llm_model="m1",le="250"} 4');
    expect(proc.prometheus()).toContain('llm_model_ttft_ms_count{llm_model="m1"} 4');
  });
});

describe("stats_tags", () => {
  // Measured with Envoy 1.40: every regex runs on the original name, so a regex may depend on a part
  // another one cuts out (here ai_cluster needs the ".upstream." that ai_route's value precedes).
  const script = `configure mdef 0 route.auto.upstream.openai.model.gpt-4o.consumer.none.metric.input_token
configure minc 0 21
configure mdef 2 ttft.upstream.groq.model.llama-3.1-8b
configure mrec 1 350`;
  const tags = [
    { tag_name: "ai_route", regex: "^wasmcustom\\.route\\.((.*?)\\.)upstream\\." },
    { tag_name: "ai_cluster", regex: "^wasmcustom\\.route\\..*?\\.upstream\\.((.*?)\\.)model\\." },
    { tag_name: "ai_model", regex: "^wasmcustom\\.route\\..*?\\.model\\.((.*?)\\.)consumer\\." },
    { tag_name: "ai_consumer", regex: "^wasmcustom\\.route\\..*?\\.consumer\\.((.*?)\\.)metric\\." },
    { tag_name: "ai_cluster", regex: "^wasmcustom\\.ttft(\\.upstream\\.(.*?))\\.model\\." },
    { tag_name: "ai_model", regex: "^wasmcustom\\.ttft\\.upstream\\..*?(\\.model\\.(.*))$" },
  ];

  it("every regex sees the whole name; the name keeps what no first group cut", async () => {
    const proc = new EnvoyProcess({ statsTags: tags });
    await proc.addWorker({ wasm, rootId: "r", configuration: script });
    proc.advance(5000);
    const text = proc.prometheus();
    expect(text).toContain('route_upstream_model_consumer_metric_input_token{ai_route="auto",ai_cluster="openai",ai_model="gpt-4o",ai_consumer="none"} 21\n');
    expect(text).toContain('ttft_count{ai_cluster="groq",ai_model="llama-3.1-8b"} 1\n');
  });
});

describe("response path", () => {
  const script = `resp_body buf 1
resp_body#1[buffer] ret 1
resp_headers hrep 2 x-seen yes
log prop response.code_details`;

  it("delivers chunks at their times; per-chunk body callbacks; header edits reach the client", async () => {
    const vm = await ProxyWasmHost.load({ wasm, rootId: "r", configuration: script, clusters: ["c"] });
    const r = vm.request({
      headers: { "x-llm-upstream": "c" },
      body: "{}",
      response: { status: 200, headers: { "content-type": "text/event-stream" }, body: [{ at: 120, data: "data: a\n\n" }, { at: 300, data: "data: b\n\n" }] },
    });
    expect(r.response).toMatchObject({ status: 200, text: "data: a\n\ndata: b\n\n", complete: true, reset: null });
    expect(r.response!.header("x-seen")).toBe("yes");
    expect(r.response!.chunks.map((c) => c.atMs)).toEqual([120, 300]);
    expect(trace(vm, "resp_body").filter((l) => l.startsWith("resp_body|buf"))).toEqual([
      'resp_body|buf 1 -> status len=9 bytes x:646174613a20610a0a',
      'resp_body|buf 1 -> status len=9 bytes x:646174613a20620a0a',
      'resp_body|buf 1 -> status len=0 bytes ""',
    ]);
    expect(r.exchange!.durationMs).toBe(300);
  });

  it("a buffering filter sees the whole body so far; the client gets it in one piece", async () => {
    const vm = await ProxyWasmHost.load({ wasm, rootId: "r", configuration: script, clusters: ["c"] });
    const r = vm.request({ headers: { "x-llm-upstream": "c", "x-case": "buffer" }, response: { body: [{ at: 0, data: "aa" }, { at: 40, data: "bb" }] } });
    expect(r.response!.chunks.map((c) => [c.atMs, c.text])).toEqual([[40, "aabb"]]);
  });

  it("Envoy's own replies carry Envoy's status, body, details and flags", async () => {
    const vm = await ProxyWasmHost.load({ wasm, rootId: "r", configuration: script, clusters: ["c"], route: { timeoutMs: 1000 } });
    const send = (response: any) => vm.request({ headers: { "x-llm-upstream": "c" }, response }).exchange!;
    expect(send({ envoy: "connect-failure" })).toMatchObject({ responseCode: 503, flags: ResponseFlag.UpstreamConnectionFailure });
    expect(send({ envoy: "reset-before-response" }).client!.text).toBe(
      "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    );
    const slow = send({ status: 200, headersAt: 5000 });
    expect(slow).toMatchObject({ responseCode: 504, details: "response_timeout", flags: ResponseFlag.UpstreamRequestTimeout, durationMs: 1000 });
    const cut = send({ status: 200, body: [{ at: 0, data: "x" }], resetAfterChunks: 1 });
    expect(cut).toMatchObject({ responseCode: 200, details: "upstream_reset_after_response_started{protocol_error}" });
    expect(cut.client!.reset).toBe("upstream");
  });

  it("a client that goes away: downstream_remote_disconnect, DC, on_log sees it", async () => {
    const vm = await ProxyWasmHost.load({ wasm, rootId: "r", configuration: script, clusters: ["c"] });
    const r = vm.request({ headers: { "x-llm-upstream": "c" }, clientAbortAt: 50, response: { body: [{ at: 0, data: "a" }, { at: 100, data: "b" }] } });
    expect(r.response).toMatchObject({ text: "a", complete: false, reset: "client" });
    expect(r.exchange!.flags).toBe(ResponseFlag.DownstreamConnectionTermination);
    expect(trace(vm, "log").at(-1)).toBe('log|prop response.code_details -> "downstream_remote_disconnect"');
  });
});

describe("router attempts with an upstream filter", () => {
  const up = `req_headers hadd 0 x-attempt-seen 1
req_headers prop upstream.request_attempt_count
req_body[rewrite] setbuf 0 0 size {"model":"other"}`;
  const load = () =>
    ProxyWasmHost.load({
      wasm,
      rootId: "down",
      configuration: "req_headers setprop chosen m1",
      upstreamFilter: { rootId: "up", configuration: up + "\nreq_headers prop chosen" },
      upstream: {
        clusters: {
          p1: { hosts: [{ address: "10.0.0.1:443", metadata: { llm: { key: "k1" } } }] },
          p2: { hosts: [{ address: "10.0.0.2:443", metadata: { llm: { key: "k2" } } }] },
          llm: { aggregate: ["p1", "p2"] },
        },
      },
      route: { timeoutMs: 5000, retryPolicy: { retryOn: "5xx,reset,connect-failure,retriable-status-codes", retriableStatusCodes: [429], numRetries: 1, previousPriorities: true } },
    });

  it("retries move to the next provider; each attempt gets the original body; the header map is shared", async () => {
    const vm = await load();
    const r = vm.request({
      headers: { "x-llm-upstream": "llm", "x-case": "rewrite" },
      body: '{"model":"auto"}',
      response: [{ status: 429, headers: { "retry-after": "2" } }, { status: 200, body: "ok" }],
    });
    const [a1, a2] = r.exchange!.attempts;
    expect([a1.cluster, a1.host, a1.result, a1.status]).toEqual(["p1", "10.0.0.1:443", "retried", 429]);
    expect([a2.cluster, a2.host, a2.result]).toEqual(["p2", "10.0.0.2:443", "response"]);
    // each attempt's filter rewrote the ORIGINAL body; the second saw the first one's header edit
    expect(a1.request!.text).toBe('{"model":"other"}');
    expect(a2.request!.headerAll("x-attempt-seen")).toEqual(["1", "1"]);
    expect(a1.request!.header("x-envoy-expected-rq-timeout-ms")).toBe("5000");
    expect(a1.contentLengthMismatch).toBe(true); // the filter kept the client's content-length
    expect(r.response!.text).toBe("ok");
    const up = trace(vm, "req_headers").filter((l) => l.startsWith("req_headers|prop "));
    expect(up).toEqual([
      "req_headers|prop upstream.request_attempt_count -> x:0100000000000000",
      'req_headers|prop chosen -> "m1"',
      "req_headers|prop upstream.request_attempt_count -> x:0200000000000000",
      'req_headers|prop chosen -> "m1"',
    ]);
  });

  it("when every attempt failed, the client gets the last one with URX", async () => {
    const vm = await load();
    const r = vm.request({ headers: { "x-llm-upstream": "llm" }, response: { status: 503 } });
    expect(r.exchange!.attempts.map((a) => a.cluster)).toEqual(["p1", "p2"]);
    expect(r.exchange).toMatchObject({ responseCode: 503, flags: ResponseFlag.UpstreamRetryLimitExceeded });
  });

  it("an upstream filter whose StopIteration is not allowed stalls the attempt: 504 at the route timeout", async () => {
    const vm = await ProxyWasmHost.load({
      wasm,
      rootId: "down",
      upstreamFilter: { rootId: "up", configuration: "req_headers ret 1", allowOnHeadersStopIteration: false },
      clusters: ["c"],
      route: { timeoutMs: 2000 },
    });
    const r = vm.request({ headers: { "x-llm-upstream": "c" }, body: "{}", response: { status: 200 } });
    expect(r.exchange).toMatchObject({ responseCode: 504, details: "response_timeout", durationMs: 2000 });
    const open = vm.request({ headers: { "x-llm-upstream": "c" }, body: "{}", route: { timeoutMs: 0 }, response: { status: 200 }, clientAbortAt: 30_000 });
    expect(open.exchange).toMatchObject({ hung: true, details: "downstream_remote_disconnect", durationMs: 30_000 });
  });

  it("answers can depend on the attempt's cluster", async () => {
    const vm = await load();
    const r = vm.request({
      headers: { "x-llm-upstream": "llm" },
      response: ({ cluster }) => (cluster === "p1" ? { envoy: "connect-failure" } : { status: 200, body: `from ${cluster}` }),
    });
    expect(r.exchange!.attempts.map((a) => `${a.cluster}:${a.result}`)).toEqual(["p1:connect-failure", "p2:response"]);
    expect(r.response!.text).toBe("from p2");
  });

  it("no retry once the response started", async () => {
    const vm = await load();
    const r = vm.request({ headers: { "x-llm-upstream": "llm" }, response: [{ status: 200, body: [{ at: 0, data: "par" }], resetAfterChunks: 1 }, { status: 200 }] });
    expect(r.exchange!.attempts).toHaveLength(1);
    expect(r.response).toMatchObject({ text: "par", reset: "upstream" });
  });
});
