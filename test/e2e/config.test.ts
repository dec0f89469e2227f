// envoy.yaml, the docker-compose variants and the plugin configuration stay consistent; Envoy
// accepts them; an invalid plugin configuration makes Envoy refuse the filter.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  ENVOY_WASM,
  ENVOY_YAML,
  ROOT,
  assertWasmBuilt,
  clustersOf,
  deriveEnvoyConfig,
  hcmOf,
  listenerOf,
  printLogOnFailure,
  readEnvoyYaml,
  readRouterConfig,
  readRouterConfigText,
  spawnEnvoy,
  validateEnvoyConfig,
  wasmPluginConfigOf,
  writeTempConfig,
  type EnvoyProcess,
} from "./harness";

const COMPOSE_ENVOY = join(ROOT, "config", "docker", "envoy.yaml");
const COMPOSE_HIGRESS = join(ROOT, "config", "docker", "higress-envoy.yaml");
const COMPOSE_FILE = join(ROOT, "docker-compose.yml");

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe("envoy.yaml", () => {
  const cfg = readEnvoyYaml();
  const router = readRouterConfig();

  it("embeds config/router.json verbatim as the plugin configuration", () => {
    const configuration = wasmPluginConfigOf(cfg).configuration;
    expect(configuration["@type"]).toBe("type.googleapis.com/google.protobuf.StringValue");
    expect(JSON.parse(configuration.value)).toEqual(router);
    expect(configuration.value.trimEnd()).toBe(readRouterConfigText().trimEnd());
  });

  it("loads build/envoy.wasm with V8 and holds headers (allow_on_headers_stop_iteration)", () => {
    const plugin = wasmPluginConfigOf(cfg);
    expect(plugin.allow_on_headers_stop_iteration).toBe(true);
    expect(plugin.vm_config.runtime).toBe("envoy.wasm.runtime.v8");
    expect(plugin.vm_config.code.local.filename).toBe("build/envoy.wasm");
    const names = hcmOf(cfg).http_filters.map((f: any) => f.name);
    expect(names[names.length - 1]).toBe("envoy.filters.http.router");
  });

  it("binds loopback 10000 (listener) and 9901 (admin)", () => {
    expect(listenerOf(cfg).address.socket_address).toEqual({ address: "127.0.0.1", port_value: 10000 });
    expect(cfg.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 9901 });
  });

  it("lets the plugin, not Envoy, enforce maxBodyBytes", () => {
    expect(listenerOf(cfg).per_connection_buffer_limit_bytes).toBeGreaterThanOrEqual(router.maxBodyBytes);
  });

  it("routes by x-llm-upstream first, everything else to openai; no overall timeout", () => {
    const vhosts = hcmOf(cfg).route_config.virtual_hosts;
    expect(vhosts).toHaveLength(1);
    const [byHeader, fallback] = vhosts[0].routes;
    expect(vhosts[0].routes).toHaveLength(2);
    expect(byHeader.match.headers).toEqual([{ name: router.upstreamHeader, present_match: true }]);
    expect(byHeader.route.cluster_header).toBe(router.upstreamHeader);
    expect(fallback.match).toEqual({ prefix: "/" });
    expect(fallback.route.cluster).toBe("openai");
    for (const r of [byHeader, fallback]) {
      expect(r.route.timeout).toBe("0s");
      expect(r.route.idle_timeout).toMatch(/^\d+s$/);
    }
    expect(hcmOf(cfg).stream_idle_timeout).toMatch(/^\d+s$/);
    // clients cannot choose the cluster themselves
    expect(hcmOf(cfg).route_config.internal_only_headers).toEqual([router.upstreamHeader, router.modelHeader]);
  });

  it("retries 5xx, resets, connect failures and 429 on another host", () => {
    const retry = hcmOf(cfg).route_config.virtual_hosts[0].retry_policy;
    expect(retry.retry_on.split(",").sort()).toEqual(["5xx", "connect-failure", "reset", "retriable-status-codes"].sort());
    expect(retry.retriable_status_codes).toEqual([429]);
    expect(retry.num_retries).toBe(2);
    expect(retry.retry_host_predicate.map((p: any) => p.name)).toEqual(["envoy.retry_host_predicates.previous_hosts"]);
    expect(retry.host_selection_retry_max_attempts).toBeGreaterThan(1);
  });

  it("has a cluster for every upstream of the plugin configuration, with the local mock ports", () => {
    const clusters = clustersOf(cfg);
    const ports = Object.fromEntries(
      clusters.map((c: any) => [
        c.name,
        c.load_assignment.endpoints.flatMap((e: any) => e.lb_endpoints.map((l: any) => l.endpoint.address.socket_address.port_value)),
      ]),
    );
    expect(ports).toEqual({ openai: [18001, 18002], deepseek: [18003], groq: [18004] });
    for (const m of router.models) expect(Object.keys(ports)).toContain(m.upstream);
    for (const c of clusters) expect(c.outlier_detection).toBeDefined();
  });

  it("`envoy --mode validate -c envoy.yaml` passes", () => {
    assertWasmBuilt();
    const r = validateEnvoyConfig(ENVOY_YAML);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("OK");
  });

  it("the commented-out real-provider blocks are valid cluster configuration", () => {
    assertWasmBuilt();
    const lines = readFileSync(ENVOY_YAML, "utf8").split("\n");
    const real = deriveEnvoyConfig({ endpoints: { openai: [1], deepseek: [1], groq: [1] } });
    real.admin.address.socket_address.port_value = 0;
    for (const cluster of clustersOf(real)) {
      // the block after "# Real provider" under this cluster: lines "    #   <yaml>"
      const start = lines.findIndex((l) => l === `  - name: ${cluster.name}`);
      const from = lines.findIndex((l, i) => i > start && l.startsWith("    # Real provider"));
      const block: string[] = [];
      for (let i = from + 1; i < lines.length && lines[i].startsWith("    #"); i++) {
        if (lines[i].startsWith("    #   ")) block.push(lines[i].slice("    #   ".length));
      }
      const parsed = YAML.parse(block.join("\n"));
      expect(parsed.type).toBe("LOGICAL_DNS");
      expect(parsed.transport_socket.typed_config.sni).toMatch(/^api\./);
      Object.assign(cluster, parsed);
    }
    const tmp = writeTempConfig(real);
    try {
      const r = validateEnvoyConfig(tmp.file);
      expect(r.status, r.output).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

describe("an invalid plugin configuration", () => {
  let envoy: EnvoyProcess | undefined;
  beforeEach((ctx) => printLogOnFailure(ctx, () => envoy));

  it("makes Envoy refuse the filter, with the plugin's log line naming the field", async () => {
    assertWasmBuilt();
    const bad = readRouterConfig();
    bad.models[0].price.input = -1;
    const cfg = deriveEnvoyConfig({ endpoints: { openai: [1, 2], deepseek: [3], groq: [4] }, pluginConfig: bad });
    envoy = spawnEnvoy(cfg);
    try {
      const code = await Promise.race([envoy.exited, new Promise<"running">((r) => setTimeout(() => r("running"), 30_000))]);
      expect(code, "Envoy kept running with an invalid plugin configuration").not.toBe("running");
      expect(code).not.toBe(0);
      const log = envoy.log();
      expect(log).toMatch(/model-router: invalid configuration: models\[0\]\.price\.input: /);
      expect(log).toContain("models[0].price.input");
    } finally {
      await envoy.stop();
    }
  });

  it("also fails `envoy --mode validate`", () => {
    assertWasmBuilt();
    const bad = readRouterConfig();
    bad.models[0].price.input = -1;
    const tmp = writeTempConfig(deriveEnvoyConfig({ endpoints: { openai: [1, 2], deepseek: [3], groq: [4] }, pluginConfig: bad }));
    try {
      const r = validateEnvoyConfig(tmp.file);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain("models[0].price.input");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("docker-compose variants stay in sync with envoy.yaml", () => {
  const main = readEnvoyYaml();
  const variants: [label: string, file: string, wasm: string, holdFlag: boolean][] = [
    ["config/docker/envoy.yaml", COMPOSE_ENVOY, "/etc/envoy/plugin.wasm", true],
    ["config/docker/higress-envoy.yaml", COMPOSE_HIGRESS, "/etc/envoy/plugin.wasm", false],
  ];

  /** HCM with the Wasm code path and the hold flag taken out (they differ on purpose). */
  function comparableHcm(cfg: any): any {
    const c = clone(cfg);
    const plugin = wasmPluginConfigOf(c);
    delete plugin.allow_on_headers_stop_iteration;
    plugin.vm_config.code.local.filename = "<wasm>";
    return hcmOf(c);
  }

  function clusterShape(cfg: any): any {
    return clustersOf(cfg).map((c: any) => ({
      name: c.name,
      endpoints: c.load_assignment.endpoints.flatMap((e: any) => e.lb_endpoints).length,
      connect_timeout: c.connect_timeout,
      lb_policy: c.lb_policy,
      outlier_detection: c.outlier_detection,
    }));
  }

  for (const [label, file, wasm, holdFlag] of variants) {
    describe(label, () => {
      const cfg = readEnvoyYaml(file);

      it("has the same plugin configuration (config/router.json)", () => {
        expect(wasmPluginConfigOf(cfg).configuration).toEqual(wasmPluginConfigOf(main).configuration);
        expect(JSON.parse(wasmPluginConfigOf(cfg).configuration.value)).toEqual(readRouterConfig());
      });

      it("has the same routes, retry policy, timeouts and filters", () => {
        expect(comparableHcm(cfg)).toEqual(comparableHcm(main));
        expect(listenerOf(cfg).per_connection_buffer_limit_bytes).toBe(listenerOf(main).per_connection_buffer_limit_bytes);
      });

      it(`loads ${wasm} ${holdFlag ? "with" : "without"} allow_on_headers_stop_iteration`, () => {
        const plugin = wasmPluginConfigOf(cfg);
        expect(plugin.vm_config.code.local.filename).toBe(wasm);
        if (holdFlag) expect(plugin.allow_on_headers_stop_iteration).toBe(true);
        else expect(plugin.allow_on_headers_stop_iteration).toBeUndefined();
      });

      it("has the same clusters, addressed by compose service name", () => {
        expect(clusterShape(cfg)).toEqual(clusterShape(main));
        expect(listenerOf(cfg).address.socket_address).toEqual({ address: "0.0.0.0", port_value: 10000 });
      });

      it("is accepted by the local Envoy (`--mode validate`, wasm path pointed at build/envoy.wasm)", () => {
        assertWasmBuilt();
        // The Higress variant is meant for build/higress.wasm (ABI 0_2_100), which upstream Envoy
        // does not load; the configuration shape is validated with the 0.2.1 build instead.
        const local = clone(cfg);
        wasmPluginConfigOf(local).vm_config.code.local.filename = ENVOY_WASM;
        local.admin.address.socket_address = { address: "127.0.0.1", port_value: 0 };
        listenerOf(local).address.socket_address = { address: "127.0.0.1", port_value: 0 };
        const tmp = writeTempConfig(local);
        try {
          const r = validateEnvoyConfig(tmp.file);
          expect(r.status, r.output).toBe(0);
        } finally {
          tmp.cleanup();
        }
      });
    });
  }
});

describe("docker-compose.yml", () => {
  function compose(args: string[]) {
    const r = spawnSync("docker-compose", ["-f", COMPOSE_FILE, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("docker-compose is not installed: run `node scripts/setup.mjs` (installs Debian's docker-compose)");
    }
    return r;
  }

  it("`docker-compose -f docker-compose.yml config` succeeds", () => {
    const r = compose(["config"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it("the higress profile is valid too and every cluster endpoint is a mock service on port 8000", () => {
    const r = compose(["--profile", "higress", "config"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const resolved = YAML.parse(r.stdout);
    const services = resolved.services;
    expect(services.envoy.image).toMatch(/^envoyproxy\/envoy:v1\.40/);
    expect(services.higress.image).toMatch(/higress\/gateway:/);
    expect([services.higress.entrypoint].flat().join(" ")).toBe("/usr/local/bin/envoy");
    const mounts = (svc: any) => svc.volumes.map((v: any) => (typeof v === "string" ? v : `${v.source}:${v.target}`)).join("\n");
    expect(mounts(services.envoy)).toMatch(/build\/envoy\.wasm:\/etc\/envoy\/plugin\.wasm/);
    expect(mounts(services.envoy)).toMatch(/config\/docker\/envoy\.yaml:\/etc\/envoy\/envoy\.yaml/);
    expect(mounts(services.higress)).toMatch(/build\/higress\.wasm:\/etc\/envoy\/plugin\.wasm/);
    expect(mounts(services.higress)).toMatch(/config\/docker\/higress-envoy\.yaml:\/etc\/envoy\/envoy\.yaml/);
    for (const file of [COMPOSE_ENVOY, COMPOSE_HIGRESS]) {
      for (const cluster of clustersOf(readEnvoyYaml(file))) {
        for (const ep of cluster.load_assignment.endpoints.flatMap((e: any) => e.lb_endpoints)) {
          const { address, port_value } = ep.endpoint.address.socket_address;
          const svc = services[address];
          expect(svc, `service ${address} for cluster ${cluster.name}`).toBeDefined();
          const cmd: string[] = svc.command;
          expect(cmd).toContain("mock/provider.mjs");
          expect(cmd[cmd.indexOf("--port") + 1]).toBe(String(port_value));
          expect(cmd[cmd.indexOf("--name") + 1]).toBe(address);
          expect(cmd[cmd.indexOf("--host") + 1]).toBe("0.0.0.0");
        }
      }
    }
  });
});
