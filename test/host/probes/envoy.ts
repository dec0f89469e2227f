// Runs the probe module in real Envoy 1.40 (.venv/bin/envoy) with scripted upstreams in Node, and
// collects the probe's trace lines, so that host-fidelity tests can compare them with the test host.
//
// One Envoy, two listeners sharing ONE Wasm VM (same vm_config):
//   listener "a":    [wasm root_id "a"] → router
//   listener "fo":   [wasm root_id "down"] → router{ upstream_http_filters: [wasm root_id "up", upstream_codec] }
// Routes (both listeners): /p1 → cluster p1 (route timeout 400 ms); /agg → aggregate [p1, p2] and
// /agg2 → aggregate [dead, p2], both with retries (previous_priorities); /dead → a cluster whose port refuses connections; /empty → a cluster
// without endpoints; anything else → cluster_header x-cluster (cluster not found when unknown).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ROOT } from "./build.ts";

export const ENVOY_BIN = join(ROOT, ".venv", "bin", "envoy");

// ------------------------------------------------------------------------------------------------
// Scripted upstream

/** What the upstream does for one attempt. */
export interface UpstreamAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** Body chunks: [delay in ms after the previous step, text]. */
  chunks?: Array<[number, string]>;
  trailers?: Record<string, string>;
  /** Reset the connection before sending headers, or after this many chunks. */
  resetBeforeHeaders?: boolean;
  resetAfterChunks?: number;
  /** Delay before the response headers (ms). */
  headersDelayMs?: number;
}

export interface SeenRequest {
  key: string;
  upstream: string;
  attempt: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ScriptedUpstreams {
  ports: Record<string, number>;
  seen: SeenRequest[];
  /** Answers for requests carrying `x-probe-key: key`, one per attempt (the last repeats). */
  script(key: string, answers: UpstreamAnswer[]): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startUpstreams(names: string[]): Promise<ScriptedUpstreams> {
  const scripts = new Map<string, UpstreamAnswer[]>();
  const attempts = new Map<string, number>();
  const seen: SeenRequest[] = [];
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  for (const name of names) {
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", async () => {
        const key = String(req.headers["x-probe-key"] ?? "");
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        seen.push({ key, upstream: name, attempt: n, headers: req.headers, body: Buffer.concat(parts).toString() });
        const list = scripts.get(key) ?? [{ status: 200, chunks: [[0, "ok"]] }];
        const a = list[Math.min(n, list.length) - 1];
        if (a.headersDelayMs) await sleep(a.headersDelayMs);
        if (a.resetBeforeHeaders) {
          req.socket.destroy();
          return;
        }
        const headers: Record<string, string> = { ...(a.headers ?? {}) };
        if (a.trailers) headers["trailer"] = Object.keys(a.trailers).join(", ");
        res.writeHead(a.status ?? 200, headers);
        res.flushHeaders();
        let i = 0;
        for (const [delay, text] of a.chunks ?? []) {
          if (delay) await sleep(delay);
          res.write(text);
          i++;
          if (a.resetAfterChunks !== undefined && i >= a.resetAfterChunks) {
            await sleep(20);
            req.socket.destroy();
            return;
          }
        }
        if (a.trailers) res.addTrailers(a.trailers);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    ports[name] = (server.address() as { port: number }).port;
  }
  return {
    ports,
    seen,
    script: (key, answers) => {
      scripts.set(key, answers);
      attempts.delete(key);
    },
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

// ------------------------------------------------------------------------------------------------
// Envoy configuration

export interface ProbeEnvoyOptions {
  wasm: string;
  /** Probe scripts (plugin configuration) per root id: a, down, up. */
  scripts: { a?: string; down?: string; up?: string; cluster?: string };
  concurrency?: number;
  vmId?: string;
  statsTags?: Array<{ tag_name: string; regex: string }>;
  statsFlushIntervalMs?: number;
  /** Adds /aggc → aggregate cluster "aggc" [p1, p2] whose own upstream HTTP filters (the cluster's
   *  HttpProtocolOptions.http_filters) are a probe with root id "cluster" and the codec. */
  clusterFilters?: boolean;
  /** Route retry policy of /agg (defaults below). */
  numRetries?: number;
  perTryTimeoutMs?: number;
}

const WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

function wasmFilter(o: ProbeEnvoyOptions, rootId: string, script: string, upstream: boolean): any {
  return {
    name: upstream ? "probe-up" : `probe-${rootId}`,
    typed_config: {
      "@type": WASM_TYPE,
      config: {
        name: `probe-${rootId}`,
        root_id: rootId,
        allow_on_headers_stop_iteration: true,
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: script },
        vm_config: {
          vm_id: o.vmId ?? "probe",
          runtime: "envoy.wasm.runtime.v8",
          code: { local: { filename: o.wasm } },
        },
      },
    },
  };
}

function routes(o: ProbeEnvoyOptions): any[] {
  return [
    { match: { prefix: "/p1" }, name: "r-p1", route: { cluster: "p1", timeout: "0.4s" } },
    { match: { prefix: "/agg2" }, name: "r-agg2", route: { cluster: "agg2", timeout: "5s", retry_policy: aggRetry(o) } },
    ...(o.clusterFilters ? [{ match: { prefix: "/aggc" }, name: "r-aggc", route: { cluster: "aggc", timeout: "5s", retry_policy: aggRetry(o) } }] : []),
    { match: { prefix: "/agg3" }, name: "r-agg3", route: { cluster: "agg", timeout: "5s", retry_policy: { ...aggRetry(o), num_retries: 2 } } },
    { match: { prefix: "/agg" }, name: "r-agg", route: { cluster: "agg", timeout: "5s", retry_policy: aggRetry(o) } },
    { match: { prefix: "/dead" }, name: "r-dead", route: { cluster: "dead" } },
    { match: { prefix: "/empty" }, name: "r-empty", route: { cluster: "empty" } },
    { match: { prefix: "/" }, name: "r-header", route: { cluster_header: "x-cluster" } },
  ];
}

/** Retries across the aggregate's children: each retry on the next priority (provider). */
function aggRetry(o: ProbeEnvoyOptions): any {
  return {
    retry_on: "5xx,reset,connect-failure,retriable-status-codes",
    retriable_status_codes: [429],
    num_retries: o.numRetries ?? 1,
    ...(o.perTryTimeoutMs ? { per_try_timeout: `${o.perTryTimeoutMs / 1000}s` } : {}),
    retry_back_off: { base_interval: "0.001s", max_interval: "0.002s" },
    retry_priority: {
      name: "envoy.retry_priorities.previous_priorities",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
        update_frequency: 1,
      },
    },
    retry_host_predicate: [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
      },
    ],
    host_selection_retry_max_attempts: 3,
  };
}

function listener(o: ProbeEnvoyOptions, name: string, filters: any[], upstreamFilters: any[] | null): any {
  const router: any = { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" };
  if (upstreamFilters) {
    router.upstream_http_filters = [
      ...upstreamFilters,
      {
        name: "envoy.filters.http.upstream_codec",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec" },
      },
    ];
  }
  return {
    name,
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: name,
              http_protocol_options: { enable_trailers: true },
              route_config: { name: `rc-${name}`, virtual_hosts: [{ name: "all", domains: ["*"], routes: routes(o) }] },
              http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: router }],
            },
          },
        ],
      },
    ],
  };
}

function staticCluster(name: string, port: number | null, md: Record<string, string>): any {
  return {
    name,
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http_protocol_options: { enable_trailers: true } },
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints:
        port === null
          ? []
          : [
              {
                lb_endpoints: [
                  {
                    endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } },
                    metadata: { filter_metadata: { "llm.provider": md, llm: md } },
                  },
                ],
              },
            ],
    },
  };
}

export function probeEnvoyConfig(o: ProbeEnvoyOptions, ports: { p1: number; p2: number; dead: number }): any {
  const cfg: any = {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        listener(o, "a", [wasmFilter(o, "a", o.scripts.a ?? "", false)], null),
        listener(o, "fo", [wasmFilter(o, "down", o.scripts.down ?? "", false)], [wasmFilter(o, "up", o.scripts.up ?? "", true)]),
      ],
      clusters: [
        staticCluster("p1", ports.p1, { name: "p1", key: "k1" }),
        staticCluster("p2", ports.p2, { name: "p2", key: "k2" }),
        staticCluster("dead", ports.dead, { name: "dead" }),
        staticCluster("empty", null, {}),
        aggregate("agg", ["p1", "p2"]),
        aggregate("agg2", ["dead", "p2"]),
        ...(o.clusterFilters ? [{ ...aggregate("aggc", ["p1", "p2"]), typed_extension_protocol_options: clusterHttpFilters(o) }] : []),
      ],
    },
  };
  if (o.statsFlushIntervalMs) cfg.stats_flush_interval = `${o.statsFlushIntervalMs / 1000}s`;
  if (o.statsTags) cfg.stats_config = { stats_tags: o.statsTags.map((t) => ({ tag_name: t.tag_name, regex: t.regex })) };
  return cfg;
}

/** A cluster's own upstream HTTP filters (they replace the router's upstream_http_filters for it). */
function clusterHttpFilters(o: ProbeEnvoyOptions): any {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      explicit_http_config: { http_protocol_options: { enable_trailers: true } },
      http_filters: [
        { ...wasmFilter(o, "cluster", o.scripts.cluster ?? "", true), name: "probe-cluster" },
        { name: "envoy.filters.http.upstream_codec", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec" } },
      ],
    },
  };
}

function aggregate(name: string, clusters: string[]): any {
  return {
    name,
    connect_timeout: "1s",
    lb_policy: "CLUSTER_PROVIDED",
    cluster_type: {
      name: "envoy.clusters.aggregate",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig", clusters },
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Envoy process

export interface TraceLine {
  thread: string;
  root: string;
  ctx: number;
  cb: string;
  text: string;
}

export interface ProbeEnvoy {
  ports: { a: number; fo: number; admin: number; dead: number };
  upstreams: ScriptedUpstreams;
  log(): string;
  /** Probe trace lines so far (all threads). */
  traces(): TraceLine[];
  /** Waits until the trace has at least `n` lines matching `pred` (bounded). */
  waitFor(pred: (t: TraceLine) => boolean, n?: number, timeoutMs?: number): Promise<TraceLine[]>;
  admin(path: string): Promise<string>;
  stop(): Promise<void>;
}

const TRACE_RE = /^\[(\d+)\]\[[a-z]+\]\[wasm\] .*?: P\|([^|]*)\|(\d+)\|([^|]*)\|(.*)$/;

export function parseTraces(text: string): TraceLine[] {
  const out: TraceLine[] = [];
  for (const line of text.split("\n")) {
    const m = TRACE_RE.exec(line);
    if (m) out.push({ thread: m[1], root: m[2], ctx: Number(m[3]), cb: m[4], text: m[5] });
  }
  return out;
}

export async function startProbeEnvoy(o: ProbeEnvoyOptions): Promise<ProbeEnvoy> {
  const upstreams = await startUpstreams(["p1", "p2"]);
  const dead = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), "probe-envoy-"));
  const cfgFile = join(dir, "envoy.yaml");
  writeFileSync(cfgFile, YAML.stringify(probeEnvoyConfig(o, { p1: upstreams.ports.p1, p2: upstreams.ports.p2, dead })));
  const baseId = 40_000 + Math.floor(Math.random() * 20_000);
  const args = [
    "-c", cfgFile, "--disable-hot-restart", "--base-id", String(baseId),
    "--concurrency", String(o.concurrency ?? 1),
    "--admin-address-path", join(dir, "admin"),
    "--log-format", "[%t][%l][%n] %v",
    "--component-log-level", "wasm:info",
  ];
  const child: ChildProcess = spawn(ENVOY_BIN, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
  let exited = false;
  const exit = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));

  const get = (port: number, path: string): Promise<{ status: number; text: string }> =>
    new Promise((res, rej) => {
      const rq = httpRequest({ host: "127.0.0.1", port, path, method: "GET", timeout: 3000 }, (r) => {
        const parts: Buffer[] = [];
        r.on("data", (d: Buffer) => parts.push(d));
        r.on("end", () => res({ status: r.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
      });
      rq.on("error", rej);
      rq.on("timeout", () => rq.destroy(new Error("timeout")));
      rq.end();
    });

  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(t);
    }
    await upstreams.close();
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  let admin = 0;
  for (;;) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`Envoy did not start:\n${text}`);
    }
    try {
      admin = Number(/:(\d+)$/.exec(readFileSync(join(dir, "admin"), "utf8").trim())?.[1] ?? 0);
    } catch {
      /* not yet */
    }
    if (admin) {
      try {
        const ready = await get(admin, "/ready");
        if (ready.status === 200) {
          const l = JSON.parse((await get(admin, "/listeners?format=json")).text).listener_statuses;
          const port = (n: string) => l.find((x: any) => x.name === n)?.local_address?.socket_address?.port_value;
          if (port("a") && port("fo")) {
            const traces = () => parseTraces(text);
            return {
              ports: { a: port("a"), fo: port("fo"), admin, dead },
              upstreams,
              log: () => text,
              traces,
              waitFor: async (pred, n = 1, timeoutMs = 5000) => {
                const end = Date.now() + timeoutMs;
                for (;;) {
                  const got = traces().filter(pred);
                  if (got.length >= n || Date.now() > end) return got;
                  await sleep(20);
                }
              },
              admin: async (path) => (await get(admin, path)).text,
              stop,
            };
          }
        }
      } catch {
        /* not up yet */
      }
    }
    await sleep(100);
  }
}

// ------------------------------------------------------------------------------------------------
// Client

export interface ClientChunk {
  atMs: number;
  text: string;
}

export interface ClientResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header pairs as received, names lower-cased, repeats kept. */
  rawHeaders: Array<[string, string]>;
  chunks: ClientChunk[];
  text: string;
  trailers: Record<string, string>;
  aborted: boolean;
  error?: string;
}

export interface ClientRequest {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Destroy the connection this many ms after the response headers arrived. */
  abortAfterMs?: number;
}

export function send(r: ClientRequest): Promise<ClientResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.body !== undefined) headers["content-length"] = String(Buffer.byteLength(r.body));
    const out: ClientResult = { status: 0, headers: {}, rawHeaders: [], chunks: [], text: "", trailers: {}, aborted: false };
    const rq = httpRequest(
      { host: "127.0.0.1", port: r.port, path: r.path, method: r.method ?? "POST", headers, agent: false },
      (res) => {
        out.status = res.statusCode ?? 0;
        out.headers = res.headers;
        for (let i = 0; i < res.rawHeaders.length; i += 2) out.rawHeaders.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        if (r.abortAfterMs !== undefined) {
          setTimeout(() => {
            out.aborted = true;
            rq.destroy();
            resolve(out);
          }, r.abortAfterMs);
        }
        res.on("data", (d: Buffer) => {
          out.chunks.push({ atMs: Date.now() - t0, text: d.toString() });
          out.text += d.toString();
        });
        res.on("end", () => {
          out.trailers = res.trailers as Record<string, string>;
          resolve(out);
        });
        res.on("error", (e) => {
          out.error = e.message;
          resolve(out);
        });
      },
    );
    rq.on("error", (e) => {
      out.error = e.message;
      resolve(out);
    });
    if (r.body !== undefined) rq.write(r.body);
    rq.end();
  });
}
