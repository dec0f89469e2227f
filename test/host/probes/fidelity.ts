// One set of probe scenarios, run through real Envoy (envoy.ts) and through the test host, and
// the normalisation that makes their traces comparable. Used by test/e2e/host-fidelity.test.ts.
import type { AttemptAnswer, UpstreamAnswer, RequestOptions, RouteSpec, UpstreamTopology, FilterMetadata } from "../index.ts";
import { EnvoyProcess, type ProxyWasmHost } from "../index.ts";
import { send, type ClientResult, type ProbeEnvoy, type TraceLine, type UpstreamAnswer as MockAnswer } from "./envoy.ts";

// ------------------------------------------------------------------------------------------------
// Probe scripts (plugin configurations) per root id

const PANEL = ["response.code", "response.code_details", "response.flags", "response.grpc_status", "response.size",
  "upstream.address", "upstream.port", "upstream.request_attempt_count", "xds.cluster_name", "xds.route_name",
  "xds.upstream_host_metadata.filter_metadata.llm.name", "request.duration"];
const UP_PANEL = ["upstream.address", "upstream.port", "upstream.request_attempt_count", "xds.cluster_name", "xds.route_name",
  "xds.upstream_host_metadata", "xds.upstream_host_metadata.filter_metadata.llm",
  "xds.upstream_host_metadata/filter_metadata/llm.provider/name", "mykey", "filter_state/wasm.mykey", "wasm/mykey",
  "response.code", "response.code_details", "response.flags"];

const lines = (cb: string, props: string[]) => props.map((p) => `${cb} prop ${p}`).join("\n");

// What an API translation does with a response, as the upstream filter (cases up…) or the router
// filter (Higress, cases d…) would: a stream rewritten chunk by chunk (content-length removed,
// content-type set, each chunk replaced), a JSON answer held whole and replaced (headers held too,
// edited at the end), and an error answer held while the router may still retry.
const TRANSLATING = (side: "up" | "a") => {
  const c = side === "up" ? "up" : "d";
  return `resp_headers[${c}sse] hdel 2 content-length
resp_headers[${c}sse] hrep 2 content-type text/event-stream
resp_body#1[${c}sse] setbuf 1 0 size <one>
resp_body#2[${c}sse] setbuf 1 0 size <two>
resp_body#3[${c}sse] setbuf 1 0 size <three>
resp_body#4[${c}sse] setbuf 1 0 size <end>
resp_headers[${c}whole] hdel 2 content-length
resp_headers[${c}whole] ret 1
resp_body[${c}whole] retne 1
resp_body#4[${c}whole] hrep 2 content-type application/json
resp_body#4[${c}whole] setbuf 1 0 size {"translated":"whole"}
resp_body#4[${c}whole] hdrs 2
resp_headers[${c}errhold] ret 1
resp_body[${c}errhold] retne 1
resp_body[${c}errhold] buf 1`;
};

export const SCRIPTS = {
  a: `configure tick 100
configure sget cnt
configure sset cnt c 0
configure sget cnt
configure sset cnt d 999
configure sset cnt e last
configure mdef 0 llm.model.gpt-4o.requests
configure mdef 0 llm.model.gpt-4o.requests
configure mdef 1 llm.model.gpt-4o.inflight
configure mdef 2 llm.model.gpt-4o.latency_ms
configure mdef 0 plain_counter
configure mdef 0 llm.upstream_rq_429
configure mdef 3 bad
configure minc 0 1
configure minc 1 2
configure minc 0 0
configure minc 0 -1
configure mget 0
configure mget 1
configure minc 2 5
configure minc 2 -2
configure mget 2
configure mrec 2 7
configure mget 2
configure mrec 3 42
configure mrec 3 58
configure mget 3
configure minc 3 1
configure mrec 0 10
configure mget 0
configure minc 5 3
configure minc =99 1
configure mget =99
configure mrec =0 1
configure mget =2
configure mdef 0 route.auto.upstream.outbound|443||llm.dns.model.llama-3.1-8b.consumer.team_a.metric.input_token.outcome.routed
configure minc 6 21
configure mdef 2 ttft.upstream.groq.model.llama-3.1-8b
configure mrec 7 350
configure qreg q1
configure qres - q1
configure qres other q1
tick now
tick@1 sget nothere
tick@1 sset k v 0
tick@1 sget k
tick@1 sset k v2 last+1
tick@1 sset k v3 last
tick@1 sget k
tick@1 sset k v4 12345
tick@1 sset newkey nv 777
tick@1 sget newkey
queue qdeq last
queue qdeq last
req_headers sget cnt
req_headers sset cnt x last
req_headers prop request.time
req_headers hdrs 0
req_headers[edit] hrep 0 x-edit-me replaced
req_headers[edit] hadd 0 x-added 1
req_headers[edit] hdrs 0
req_headers[queue] qenq last hello
req_headers[local1] local 418 teapot my%20details
req_headers[local2] ret 1
req_body buf 0
req_body[local2]#1 ret 1
req_body[local2]#2 local 403 nope
req_body hdrs 0
req_body hget 0 x-probe-key
resp_headers hdrs 2
resp_headers hsize 2
${lines("resp_headers", PANEL)}
resp_headers[edit] hrep 2 x-rep r
resp_headers[edit] hadd 2 x-add a
resp_headers[edit] hadd 2 content-type changed
resp_headers[edit] hdel 2 x-del
resp_headers[edit] hrep 2 x-mid m2
resp_headers[edit] hdrs 2
resp_headers[resphold] ret 1
resp_body buf 1
resp_body hadd 2 x-late 1
resp_body#1[buffer] ret 1
resp_trailers hdrs 3
resp_trailers buf 1
log hdrs 0
log hdrs 2
log hdrs 3
${lines("log", PANEL)}
${TRANSLATING("a")}`,
  down: `req_headers setprop mykey v1
req_headers setprop wasm/mykey v2
req_headers hrep 0 x-down d
resp_headers hdrs 2
resp_headers prop response.code
resp_headers prop upstream.request_attempt_count
resp_body buf 1
log hdrs 0
${lines("log", PANEL)}`,
  up: `req_headers hdrs 0
${lines("req_headers", UP_PANEL)}
req_headers hadd 0 x-up a
req_headers hdel 0 content-length
req_body buf 0
req_body[replace] setbuf 0 0 size new-body
req_headers[uphold] ret 1
req_headers[stall] ret 4
req_body[uphold] retne 1
req_body[uphold] setbuf 0 0 size new-body
req_body[uphold] hrep 0 content-length 8
req_body[uphold] hdrs 0
resp_headers hdrs 2
resp_headers prop response.code
resp_headers prop upstream.request_attempt_count
resp_body buf 1
resp_trailers hdrs 3
done prop response.code_details
${TRANSLATING("up")}`,
};

export const STATS_TAGS = [
  { tag_name: "llm_model", regex: "^wasmcustom\\.llm\\.model\\.((.+?)\\.)" },
  // the plugin's name shapes (cli/lib/envoy.mjs): each regex sees the whole name, also the parts
  // another one cuts out, and a tag name may come from two regexes
  { tag_name: "ai_route", regex: "^wasmcustom\\.route\\.((.*?)\\.)upstream\\." },
  { tag_name: "ai_cluster", regex: "^wasmcustom\\.route\\..*?\\.upstream\\.((.*?)\\.)model\\." },
  { tag_name: "ai_model", regex: "^wasmcustom\\.route\\..*?\\.model\\.((.*?)\\.)consumer\\." },
  { tag_name: "ai_consumer", regex: "^wasmcustom\\.route\\..*?\\.consumer\\.((.*?)\\.)metric\\." },
  { tag_name: "outcome", regex: "^wasmcustom\\.route\\..*?\\.metric\\.[a-z0-9_]+(\\.outcome\\.([a-z0-9_]+))$" },
  { tag_name: "ai_cluster", regex: "^wasmcustom\\.ttft(\\.upstream\\.(.*?))\\.model\\." },
  { tag_name: "ai_model", regex: "^wasmcustom\\.ttft\\.upstream\\..*?(\\.model\\.(.*))$" },
];

// ------------------------------------------------------------------------------------------------
// Scenarios

export interface Scenario {
  name: string;
  listener: "a" | "fo";
  path: string;
  method?: string;
  headers?: Record<string, string>;
  /** Request body as the client writes it (Node sends it, then an empty end-of-stream frame);
   *  null: no body at all (the headers end the request). Default "{}". */
  body?: string | null;
  /** Host-form answers, one per attempt (the Envoy mock gets the same). */
  answers: AttemptAnswer[];
  clientAbortAt?: number;
}

/** Node's http server adds these to every response; chunked when there is no content-length. */
export function nodeHeaders(h: Record<string, string> = {}, trailers = false): Array<[string, string]> {
  const out: Array<[string, string]> = Object.entries(h);
  if (trailers) out.push(["trailer", "x-tr"]);
  out.push(["date", "Thu, 01 Jan 2026 00:00:00 GMT"], ["connection", "keep-alive"], ["keep-alive", "timeout=5"]);
  if (!("content-length" in h)) out.push(["transfer-encoding", "chunked"]);
  return out;
}

const ok = (chunks: Array<[number, string]>, h: Record<string, string> = {}, more: Partial<UpstreamAnswer> = {}): UpstreamAnswer => ({
  status: 200,
  headers: nodeHeaders(h, more.trailers !== undefined),
  body: chunks.map(([at, data]) => ({ at, data })),
  ...more,
});

export const SCENARIOS: Scenario[] = [
  { name: "chunked", listener: "a", path: "/p1", answers: [ok([[0, "hello"], [200, " world"], [400, "!"]], { "content-type": "text/plain" })] },
  { name: "buffered", listener: "a", path: "/p1", headers: { "x-case": "buffer" }, answers: [ok([[0, "aa"], [40, "bb"], [80, "cc"]])] },
  { name: "trailers", listener: "a", path: "/p1", answers: [ok([[0, "aa"], [200, "bb"]], {}, { trailers: { "x-tr": "1" } })] },
  { name: "content-length", listener: "a", path: "/p1", answers: [ok([[0, "abcde"]], { "content-length": "5" })] },
  {
    name: "edits",
    listener: "a",
    path: "/p1",
    headers: { "x-case": "edit", "x-edit-me": "1", "x-after": "2" },
    answers: [ok([[0, "e"]], { "x-del": "gone", "x-mid": "m1", "x-last": "l" })],
  },
  { name: "status-429", listener: "a", path: "/p1", answers: [ok([[0, "slow down"]], { "retry-after": "7" }, { status: 429 })] },
  { name: "connect-failure", listener: "a", path: "/dead", answers: [{ envoy: "connect-failure" }] },
  { name: "no-healthy-upstream", listener: "a", path: "/empty", answers: [{ envoy: "no-healthy-upstream" }] },
  { name: "cluster-not-found", listener: "a", path: "/other", headers: { "x-cluster": "nope" }, answers: [{ envoy: "cluster-not-found" }] },
  { name: "cluster-header-missing", listener: "a", path: "/other", headers: { "x-cluster": "" }, answers: [{ envoy: "cluster-not-found" }] },
  { name: "reset-before-response", listener: "a", path: "/p1", answers: [{ envoy: "reset-before-response" }] },
  { name: "reset-after-response", listener: "a", path: "/p1", answers: [ok([[0, "part"]], {}, { resetAfterChunks: 1 })] },
  { name: "response-timeout", listener: "a", path: "/p1", answers: [ok([[800, "late"]], {}, { headersAt: 800 })] },
  { name: "body-timeout", listener: "a", path: "/p1", answers: [ok([[0, "early"], [700, "late"]])] },
  { name: "client-abort", listener: "a", path: "/p1", answers: [ok([[0, "one"], [300, "two"]])], clientAbortAt: 150 },
  { name: "local-in-headers", listener: "a", path: "/p1", headers: { "x-case": "local1" }, answers: [] },
  { name: "local-in-body", listener: "a", path: "/p1", headers: { "x-case": "local2" }, answers: [] },
  { name: "queue", listener: "a", path: "/p1", headers: { "x-case": "queue" }, answers: [ok([[0, "q"]])] },
  {
    name: "failover-503",
    listener: "fo",
    path: "/agg",
    headers: { "x-case": "replace" },
    body: '{"model":"x"}',
    answers: [ok([[0, "p1 down"]], {}, { status: 503 }), ok([[0, "from p2"]], { "content-type": "application/json" })],
  },
  { name: "failover-429-twice", listener: "fo", path: "/agg", answers: [ok([[0, "rl"]], { "retry-after": "3" }, { status: 429 }), ok([[0, "rl2"]], {}, { status: 429 })] },
  { name: "failover-reset", listener: "fo", path: "/agg", answers: [{ envoy: "reset-before-response" }, ok([[0, "p2 ok"]])] },
  { name: "failover-reset-twice", listener: "fo", path: "/agg", answers: [{ envoy: "reset-before-response" }, { envoy: "reset-before-response" }] },
  { name: "midstream-reset", listener: "fo", path: "/agg", answers: [ok([[0, "start"]], {}, { resetAfterChunks: 1 }), ok([[0, "never"]])] },
  { name: "client-abort-failover", listener: "fo", path: "/agg", answers: [ok([[0, "one"], [300, "two"]])], clientAbortAt: 150 },
  { name: "get-without-body", listener: "fo", path: "/agg", method: "GET", body: null, answers: [ok([[0, "got"]])] },
  { name: "empty-response", listener: "a", path: "/p1", answers: [ok([], { "content-length": "0" })] },
  { name: "hold-response-headers", listener: "a", path: "/p1", headers: { "x-case": "resphold" }, answers: [ok([[0, "x"], [200, "y"]])] },
  {
    name: "upstream-filter-holds-and-rewrites",
    listener: "fo",
    path: "/agg",
    headers: { "x-case": "uphold" },
    body: '{"model":"x"}',
    answers: [ok([[0, "p1 down"]], {}, { status: 503 }), ok([[0, "from p2"]])],
  },
  { name: "upstream-filter-stops-all", listener: "fo", path: "/p1", headers: { "x-case": "stall" }, answers: [ok([[0, "never seen"]])] },
  // Translation (issue 19): the upstream filter rewrites its attempt's answer chunk by chunk, or holds
  // it whole and replaces it; an error it holds while the router may retry; the same in the router
  // filter (the Higress build has no upstream filter).
  { name: "upstream-translates-stream", listener: "fo", path: "/agg", headers: { "x-case": "upsse" }, answers: [ok([[0, "a"], [200, "bb"], [400, "ccc"]], { "content-type": "application/x-ndjson" })] },
  { name: "upstream-translates-stream-content-length", listener: "fo", path: "/agg", headers: { "x-case": "upsse" }, answers: [ok([[0, "a"], [150, "b"], [300, "c"]], { "content-type": "text/plain", "content-length": "3" })] },
  { name: "upstream-translates-whole", listener: "fo", path: "/agg", headers: { "x-case": "upwhole" }, answers: [ok([[0, "aa"], [40, "bb"], [80, "cc"]], { "content-type": "text/plain", "content-length": "6" })] },
  { name: "upstream-holds-retried-error", listener: "fo", path: "/agg", headers: { "x-case": "uperrhold" }, answers: [ok([[0, "{\"type\":\"error\"}"]], { "content-type": "application/json" }, { status: 529 }), ok([[0, "s1"], [100, "s2"]])] },
  { name: "router-translates-stream", listener: "a", path: "/p1", headers: { "x-case": "dsse" }, answers: [ok([[0, "a"], [100, "bb"], [200, "ccc"]], { "content-type": "application/x-ndjson" })] },
  { name: "router-translates-whole", listener: "a", path: "/p1", headers: { "x-case": "dwhole" }, answers: [ok([[0, "aa"], [40, "bb"], [80, "cc"]], { "content-type": "text/plain", "content-length": "6" })] },
  { name: "failover-connect-failure", listener: "fo", path: "/agg2", answers: [{ envoy: "connect-failure" }, ok([[0, "p2 after refusal"]])] },
  {
    name: "failover-wraps-around",
    listener: "fo",
    path: "/agg3",
    answers: [ok([[0, "p1 down"]], {}, { status: 503 }), ok([[0, "p2 down"]], {}, { status: 503 }), ok([[0, "third"]])],
  },
];

// ------------------------------------------------------------------------------------------------
// Running a scenario

export interface Observed {
  traces: string[];
  client: { status: number; headers: Array<[string, string]>; chunks: Array<{ atMs: number; text: string }>; text: string; trailers: Record<string, string>; aborted: boolean };
  /** What the upstreams received, per attempt: "<cluster> <framing> <body>". */
  upstreamBodies: string[];
}

const ROUTES: Record<string, { name: string; cluster?: string; route: RouteSpec }> = {
  "/p1": { name: "r-p1", cluster: "p1", route: { timeoutMs: 400 } },
  "/agg": {
    name: "r-agg",
    cluster: "agg",
    route: {
      timeoutMs: 5000,
      retryPolicy: { retryOn: "5xx,reset,connect-failure,retriable-status-codes", retriableStatusCodes: [429], numRetries: 1, previousPriorities: true, backOffMs: 1 },
    },
  },
  "/agg2": {
    name: "r-agg2",
    cluster: "agg2",
    route: {
      timeoutMs: 5000,
      retryPolicy: { retryOn: "5xx,reset,connect-failure,retriable-status-codes", retriableStatusCodes: [429], numRetries: 1, previousPriorities: true, backOffMs: 1 },
    },
  },
  "/agg3": {
    name: "r-agg3",
    cluster: "agg",
    route: {
      timeoutMs: 5000,
      retryPolicy: { retryOn: "5xx,reset,connect-failure,retriable-status-codes", retriableStatusCodes: [429], numRetries: 2, previousPriorities: true, backOffMs: 1 },
    },
  },
  "/dead": { name: "r-dead", cluster: "dead", route: {} },
  "/empty": { name: "r-empty", cluster: "empty", route: {} },
};

function toMock(a: AttemptAnswer): MockAnswer {
  if ("envoy" in a) {
    if (a.envoy === "reset-before-response") return { resetBeforeHeaders: true };
    return { status: 200 };
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of (a.headers as Array<[string, string]>) ?? []) {
    if (!["date", "connection", "keep-alive", "transfer-encoding", "trailer"].includes(k)) headers[k] = v;
  }
  const chunks: Array<[number, string]> = [];
  let t = a.headersAt ?? 0;
  for (const c of (a.body as Array<{ at: number; data: string }>) ?? []) {
    chunks.push([c.at - t, c.data]);
    t = c.at;
  }
  return { status: a.status, headers, headersDelayMs: a.headersAt, chunks, trailers: a.trailers as Record<string, string>, resetAfterChunks: a.resetAfterChunks };
}

export async function runInEnvoy(env: ProbeEnvoy, sc: Scenario): Promise<Observed> {
  const key = `k-${sc.name}`;
  // Connection refusals never reach a mock: they are not among its answers.
  const reaching = sc.answers.filter((a) => !("envoy" in a) || a.envoy === "reset-before-response");
  env.upstreams.script(key, (reaching.length ? reaching : [{ status: 200 }]).map(toMock));
  const before = env.traces().length;
  const seenBefore = env.upstreams.seen.length;
  const headers: Record<string, string> = { "x-probe-key": key, "x-cluster": ROUTES[sc.path]?.cluster ?? "", ...(sc.headers ?? {}) };
  for (const k of Object.keys(headers)) if (headers[k] === "") delete headers[k];
  const port = sc.listener === "a" ? env.ports.a : env.ports.fo;
  const body = sc.body === null ? undefined : (sc.body ?? "{}");
  const r: ClientResult = await send({ port, path: sc.path, method: sc.method, headers, body, abortAfterMs: sc.clientAbortAt });
  // Wait for the stream's on_delete of the downstream context.
  const root = sc.listener === "a" ? "a" : "down";
  for (let i = 0; i < 150 && !env.traces().slice(before).some((t) => t.root === root && t.cb === "delete"); i++) {
    await new Promise((res) => setTimeout(res, 20));
  }
  await new Promise((res) => setTimeout(res, 30));
  const traces = env.traces().slice(before).filter((t) => t.ctx > 3 || t.cb === "queue");
  return {
    traces: normalizeTraces(traces),
    client: {
      status: r.status,
      headers: r.rawHeaders,
      chunks: r.chunks.map((c) => ({ atMs: c.atMs, text: c.text })),
      text: r.text,
      trailers: r.trailers,
      aborted: r.aborted || r.error !== undefined,
    },
    upstreamBodies: env.upstreams.seen
      .slice(seenBefore)
      .map((s) => `${s.upstream} ${s.headers["content-length"] !== undefined ? `cl=${s.headers["content-length"]}` : s.headers["transfer-encoding"] ?? "none"} ${s.body}`),
  };
}

export interface HostWorld {
  proc: EnvoyProcess;
  worker: ProxyWasmHost;
}

/** The test host configured like the probe Envoy (same ports, so upstream.address matches). */
export async function startHostWorld(wasm: string, ports: { p1: number; p2: number; dead: number }): Promise<HostWorld> {
  const md = (name: string, key?: string): FilterMetadata => {
    const f: Record<string, string> = key ? { name, key } : { name };
    return { "llm.provider": f, llm: f };
  };
  const upstream: UpstreamTopology = {
    clusters: {
      p1: { hosts: [{ address: `127.0.0.1:${ports.p1}`, metadata: md("p1", "k1") }] },
      p2: { hosts: [{ address: `127.0.0.1:${ports.p2}`, metadata: md("p2", "k2") }] },
      dead: { hosts: [{ address: `127.0.0.1:${ports.dead}`, metadata: md("dead") }] },
      empty: { hosts: [] },
      agg: { aggregate: ["p1", "p2"] },
      agg2: { aggregate: ["dead", "p2"] },
    },
  };
  const proc = new EnvoyProcess({ statsTags: STATS_TAGS, statsFlushIntervalMs: 1000 });
  const [worker] = await proc.start({
    wasm,
    workers: 1,
    vmId: "probe",
    rootId: "a",
    pluginName: "probe-a",
    configuration: SCRIPTS.a,
    plugins: [{ rootId: "down", name: "probe-down", configuration: SCRIPTS.down }],
    upstreamFilter: { rootId: "up", name: "probe-up", configuration: SCRIPTS.up, downstream: ["down"] },
    clusterHeader: "x-cluster",
    upstream,
  });
  return { proc, worker };
}

export function runInHost(w: HostWorld, sc: Scenario, authority: string): Observed {
  const key = `k-${sc.name}`;
  const route = ROUTES[sc.path];
  const headers: Record<string, string> = { "x-probe-key": key, "x-cluster": route?.cluster ?? "", ...(sc.headers ?? {}) };
  for (const k of Object.keys(headers)) if (headers[k] === "") delete headers[k];
  const logsBefore = w.worker.logs.length;
  const req: RequestOptions = {
    plugin: sc.listener === "a" ? "a" : "down",
    path: sc.path,
    method: sc.method,
    authority,
    headers,
    ...(sc.body === null ? {} : { chunks: [sc.body ?? "{}", ""] }),
    routeName: route?.name ?? "r-header",
    route: route?.route ?? {},
    response: sc.answers.length ? sc.answers : [{ status: 200 }],
    clientAbortAt: sc.clientAbortAt,
    // Node's client (agent: false) sends connection: close.
    connectionClose: true,
  };
  const r = w.worker.request(req);
  const traces: TraceLine[] = [];
  for (const l of w.worker.logs.slice(logsBefore)) {
    const m = /^P\|([^|]*)\|(\d+)\|([^|]*)\|(.*)$/s.exec(l.message);
    if (m && (Number(m[2]) > 3 || m[3] === "queue")) traces.push({ thread: w.worker.thread, root: m[1], ctx: Number(m[2]), cb: m[3], text: m[4] });
  }
  const c = r.response;
  return {
    traces: normalizeTraces(traces),
    client: {
      status: c?.status ?? 0,
      headers: c?.headers.filter(([k]) => !k.startsWith(":")) ?? [],
      chunks: c?.chunks.map((x) => ({ atMs: x.atMs, text: x.text })) ?? [],
      text: c?.text ?? "",
      trailers: Object.fromEntries(c?.trailers ?? []),
      aborted: c ? c.reset !== null : false,
    },
    upstreamBodies: (r.exchange?.attempts ?? [])
      .filter((a) => a.request && a.result !== "connect-failure")
      .map((a) => `${a.cluster} ${framing(a.request!.header("content-length"), a.request!.body.length)} ${a.request!.text}`),
  };
}

/** How an HTTP/1.1 codec frames a request body: content-length, chunked, or nothing at all. */
function framing(cl: string | undefined, bodyLength: number): string {
  if (cl !== undefined) return `cl=${cl}`;
  return bodyLength > 0 ? "chunked" : "none";
}

// ------------------------------------------------------------------------------------------------
// Normalisation

const VOLATILE_HEADERS = new Set(["date", "x-request-id", ":authority", "x-envoy-upstream-service-time", "x-envoy-expected-rq-timeout-ms"]);
const VOLATILE_PROPS = ["request.time", "request.duration"];

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Envoy Metadata protobuf → canonical text (map order is not defined in protobuf). */
function canonicalMetadata(b: Uint8Array): string {
  const read = (buf: Uint8Array): Array<[number, Uint8Array]> => {
    const out: Array<[number, Uint8Array]> = [];
    let i = 0;
    while (i < buf.length) {
      const tag = buf[i++];
      let len = 0;
      let shift = 0;
      for (;;) {
        const x = buf[i++];
        len |= (x & 0x7f) << shift;
        shift += 7;
        if (!(x & 0x80)) break;
      }
      out.push([tag, buf.subarray(i, i + len)]);
      i += len;
    }
    return out;
  };
  const d = new TextDecoder();
  const entries = (buf: Uint8Array) =>
    read(buf).map(([, e]) => {
      const f = read(e);
      return [d.decode(f.find(([t]) => t === 0x0a)![1]), f.find(([t]) => t === 0x12)?.[1] ?? new Uint8Array()] as const;
    });
  const ns = entries(b).map(([name, st]) => `${name}{${entries(st).map(([k, v]) => `${k}:${Buffer.from(v).toString("hex")}`).sort().join(",")}}`);
  return `metadata(${ns.sort().join(";")})`;
}

function canonicalPairs(b: Uint8Array): string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(0, true);
  let data = 4 + n * 8;
  const pairs: string[] = [];
  const d = new TextDecoder();
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + i * 8, true);
    const vl = dv.getUint32(8 + i * 8, true);
    pairs.push(`${d.decode(b.subarray(data, data + kl))}=${d.decode(b.subarray(data + kl + 1, data + kl + 1 + vl))}`);
    data += kl + vl + 2;
  }
  return `pairs(${pairs.sort().join(",")})`;
}

function normalizeHeaderDump(text: string): string {
  // "[k=v,k=v]" — values may hold commas (dates): split on ",<key>=" boundaries conservatively.
  return text.replace(/\[(.*)\]$/s, (_m, inner: string) => {
    const parts = inner.length ? inner.split(/,(?=[:a-z0-9-]+=)/) : [];
    return `[${parts.map((p) => {
      const i = p.indexOf("=");
      const k = p.slice(0, i);
      return VOLATILE_HEADERS.has(k) ? `${k}=*` : p;
    }).join(",")}]`;
  });
}

export function normalizeTraces(traces: TraceLine[]): string[] {
  const ids = new Map<number, string>();
  // A timing header's value has as many digits as the milliseconds took (9 or 10 ms under load):
  // the size of the map it is in counts them, so the size is compared as if each had one digit.
  const timingDigits = new Map<string, number>();
  const out: string[] = [];
  for (const t of traces) {
    if (t.cb === "tick") continue;
    if (!ids.has(t.ctx)) ids.set(t.ctx, t.cb === "queue" ? `R${t.ctx}` : `S${ids.size + 1}`);
    let text = t.text;
    const dump = /^hdrs (\d+) /.exec(text);
    if (dump) {
      let extra = 0;
      for (const m of text.matchAll(/(?:x-envoy-expected-rq-timeout-ms|x-envoy-upstream-service-time)=(\d+)/g)) extra += m[1].length - 1;
      timingDigits.set(`${t.ctx}:${dump[1]}`, extra);
    }
    const size = /^hsize (\d+) -> (\d+)$/.exec(text);
    if (size) text = `hsize ${size[1]} -> ${Number(size[2]) - (timingDigits.get(`${t.ctx}:${size[1]}`) ?? 0)}`;
    if (/^hdrs \d/.test(text)) text = normalizeHeaderDump(text);
    if (/^(prop (request\.time|request\.duration)|now) /.test(text)) text = text.replace(/-> x:[0-9a-f]+$/, "-> x:*").replace(/-> \d+$/, "-> *");
    const meta = /^prop xds\.upstream_host_metadata -> x:([0-9a-f]+)$/.exec(text);
    if (meta) text = `prop xds.upstream_host_metadata -> ${canonicalMetadata(hexToBytes(meta[1]))}`;
    const pairs = /^(prop xds\.upstream_host_metadata\.filter_metadata\.llm) -> x:([0-9a-f]+)$/.exec(text);
    if (pairs) text = `${pairs[1]} -> ${canonicalPairs(hexToBytes(pairs[2]))}`;
    text = text.replace(/(x-envoy-expected-rq-timeout-ms|x-envoy-upstream-service-time)=\d+/g, "$1=*");
    out.push(`${t.root}|${ids.get(t.ctx)}|${t.cb}|${text}`);
  }
  void VOLATILE_PROPS;
  return out;
}

/** Client view without the values that differ by nature (date, timing). */
export function normalizeClient(c: Observed["client"]): unknown {
  return {
    status: c.status,
    headers: c.headers.filter(([k]) => !["date", "x-envoy-upstream-service-time", "transfer-encoding", "content-length"].includes(k)).map(([k, v]) => `${k}: ${v}`).sort(),
    chunks: c.chunks.map((x) => x.text).join("|"),
    text: c.text,
    trailers: c.trailers,
    aborted: c.aborted,
  };
}
