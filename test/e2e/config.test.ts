// The shipped Envoy files are generated from config/router.json (`npm run generate`), stay up to
// date, and Envoy accepts them; an invalid plugin configuration makes Envoy refuse the filter;
// docker-compose.yml is valid against the Compose specification's JSON schema.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Ajv from "ajv";
import { beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { staleFiles } from "../../cli/lib/shipped.mjs";
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
  upstreamWasmConfigOf,
  validateEnvoyConfig,
  wasmPluginConfigOf,
  writeTempConfig,
  type EnvoyProcess,
} from "./harness";

const COMPOSE_ENVOY = join(ROOT, "config", "docker", "envoy.yaml");
const COMPOSE_HIGRESS = join(ROOT, "config", "docker", "higress-envoy.yaml");
const COMPOSE_FILE = join(ROOT, "docker-compose.yml");
const ENDPOINTS = { openai: [1, 2], deepseek: [3], groq: [4] };

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));
const isAggregate = (c: any) => c.cluster_type?.name === "envoy.clusters.aggregate";

describe("generated files", () => {
  it("every shipped file generated from config/router.json is up to date", () => {
    const stale = staleFiles();
    // One line per file, naming the command that fixes it (no deep-equal dump).
    if (stale.length > 0) throw new Error(stale.join("\n"));
  });

  it("config/router.json edited to try something: each stale file says to edit a copy instead, as README invites", () => {
    const root = mkdtempSync(join(tmpdir(), "llm-router-stale-"));
    try {
      mkdirSync(join(root, "config", "higress"), { recursive: true });
      cpSync(join(ROOT, "config", "higress", "match-rules.yaml"), join(root, "config", "higress", "match-rules.yaml"));
      writeFileSync(join(root, "config", "router.json"), JSON.stringify({ ...readRouterConfig(), routes: { mine: { strategy: "price" } } }, null, 2));
      const stale = staleFiles(root);
      expect(stale.length).toBe(5);
      for (const line of stale) expect(line).toMatch(/ is out of date with config\/router\.json: run `npm run generate` \(to try a configuration, edit a copy of config\/router\.json instead: README "Two commands"\)$/);
      expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("To try\nyour own, edit a copy: `cp config/router.json my-router.json && npx llm-router start my-router.json\n--mock`");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("envoy.yaml (real providers)", () => {
  const cfg = readEnvoyYaml();
  const router = readRouterConfig();
  const hcm = hcmOf(cfg);
  const routes = hcm.route_config.virtual_hosts[0].routes;

  it("embeds config/router.json verbatim as the plugin configuration, V8, headers held", () => {
    const plugin = wasmPluginConfigOf(cfg);
    expect(plugin.configuration["@type"]).toBe("type.googleapis.com/google.protobuf.StringValue");
    expect(plugin.configuration.value.trimEnd()).toBe(readRouterConfigText().trimEnd());
    expect(plugin.allow_on_headers_stop_iteration).toBe(true);
    expect(plugin.vm_config.runtime).toBe("envoy.wasm.runtime.v8");
    expect(plugin.vm_config.code.local.filename).toBe("build/envoy.wasm");
  });

  it("decompresses gzip request bodies before the plugin; the router is last", () => {
    const names = hcm.http_filters.map((f: any) => f.name);
    expect(names.indexOf("envoy.filters.http.decompressor")).toBeLessThan(names.indexOf("model-router"));
    expect(names[names.length - 1]).toBe("envoy.filters.http.router");
    const d = hcm.http_filters.find((f: any) => f.name === "envoy.filters.http.decompressor").typed_config;
    expect(d.request_direction_config.common_config.enabled.default_value).toBe(true);
    expect(d.response_direction_config.common_config.enabled.default_value).toBe(false);
  });

  it("one route per provider on the plugin's header, with the provider's path, Host and no routing headers", () => {
    for (const [name, p] of Object.entries<any>(router.providers)) {
      const route = routes.find((r: any) => r.name === `provider.${name}`);
      expect(route, name).toBeDefined();
      expect(route.match.headers).toEqual([{ name: router.upstreamHeader, string_match: { exact: name } }]);
      const url = new URL(p.baseUrl);
      expect(route.route.cluster).toBe(name);
      expect(route.route.host_rewrite_literal).toBe(url.hostname);
      expect(route.route.regex_rewrite.substitution).toBe(`${url.pathname.replace(/\/$/, "")}\\1`);
      expect(route.request_headers_to_remove).toEqual(expect.arrayContaining([router.upstreamHeader, router.modelHeader, "authorization"]));
      expect(route.route.timeout).toBe("0s");
    }
    // nothing else reaches a provider: the last routes answer 404 themselves
    const rest = routes.filter((r: any) => !r.name.startsWith("provider.") && !r.name.startsWith("fallback."));
    expect(rest.map((r: any) => [r.name, r.direct_response?.status])).toEqual([["unrouted.model", 404], ["unrouted.model_id", 404], ["unrouted", 404]]);
  });

  it("retries 5xx, resets, connect failures and 429 on another host", () => {
    const retry = hcm.route_config.virtual_hosts[0].retry_policy;
    expect(retry.retry_on.split(",").sort()).toEqual(["5xx", "connect-failure", "reset", "retriable-status-codes"].sort());
    expect(retry.retriable_status_codes).toEqual([429]);
    expect(retry.num_retries).toBe(2);
    expect(retry.retry_host_predicate.map((p: any) => p.name)).toEqual(["envoy.retry_host_predicates.previous_hosts"]);
  });

  it("limits: request timeout for uploads, no overall cap on streams, bodies buffered above maxBodyBytes from small reads, silent connections closed, overload manager", () => {
    expect(hcm.request_timeout).toBe("60s");
    expect(hcm.stream_idle_timeout).toMatch(/^\d+s$/);
    const buffer = hcm.http_filters.find((f: any) => f.name === "envoy.filters.http.buffer");
    expect(buffer.typed_config.max_request_bytes).toBeGreaterThan(router.maxBodyBytes);
    // small reads bound what one call of the gzip decompressor inflates
    expect(listenerOf(cfg).per_connection_buffer_limit_bytes).toBeLessThanOrEqual(64 * 1024);
    expect(listenerOf(cfg).listener_filters_timeout).toMatch(/^\d+s$/);
    expect(listenerOf(cfg).listener_filters.map((f: any) => f.name)).toEqual(["envoy.filters.listener.http_inspector"]);
    const om = cfg.overload_manager;
    expect(om.resource_monitors.map((m: any) => m.name)).toEqual([
      "envoy.resource_monitors.fixed_heap",
      "envoy.resource_monitors.global_downstream_max_connections",
    ]);
    expect(om.actions.map((a: any) => a.name)).toEqual(
      expect.arrayContaining([
        "envoy.overload_actions.reduce_timeouts",
        "envoy.overload_actions.stop_accepting_requests",
        "envoy.overload_actions.reset_high_memory_stream",
      ]),
    );
  });

  it("one TLS cluster per provider (DNS, SNI, SAN check, system CA bundle), keys only as variable names", () => {
    const clusters = clustersOf(cfg).filter((c: any) => !isAggregate(c));
    expect(clusters.map((c: any) => c.name).sort()).toEqual(Object.keys(router.providers).sort());
    for (const c of clusters) {
      const host = new URL(router.providers[c.name].baseUrl).hostname;
      expect(c.type).toBe("LOGICAL_DNS");
      expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: host, port_value: 443 });
      const tls = c.transport_socket.typed_config;
      expect(tls.sni).toBe(host);
      expect(tls.common_tls_context.validation_context.trusted_ca.filename).toBe("/etc/ssl/certs/ca-certificates.crt");
      expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: "DNS", matcher: { exact: host } }]);
      expect(c.outlier_detection).toBeDefined();
      // an attempt learns its provider from the endpoint (never a key: /config_dump shows metadata)
      expect(c.load_assignment.endpoints[0].lb_endpoints[0].metadata).toEqual({ filter_metadata: { llm_router: { provider: c.name } } });
      // a fallback cluster's first attempts stay on its first provider while it has a healthy endpoint
      expect(c.load_assignment.policy).toEqual({ overprovisioning_factor: 100000 });
    }
    const secrets = cfg.static_resources.secrets.map((s: any) => s.generic_secret.secret);
    expect(secrets).toEqual(Object.values<any>(router.providers).map((p) => ({ environment_variable: p.apiKeyEnv })));
  });

  it("failover: a fallback cluster per ordered pair of providers, a route per chain length on the chain header", () => {
    const providers = Object.keys(router.providers);
    const aggregates = clustersOf(cfg).filter(isAggregate);
    const pairs = providers.flatMap((a) => providers.filter((b) => b !== a).map((b) => [a, b]));
    expect(aggregates.map((c: any) => c.cluster_type.typed_config.clusters)).toEqual(expect.arrayContaining(pairs));
    expect(aggregates).toHaveLength(pairs.length); // config/router.json: one fallback per request
    for (const c of aggregates) {
      expect(c.name).toBe(c.cluster_type.typed_config.clusters.join("+"));
      expect(c.lb_policy).toBe("CLUSTER_PROVIDED");
    }
    const fallback = routes.filter((r: any) => r.name.startsWith("fallback."));
    expect(fallback.map((r: any) => r.name)).toEqual(["fallback.2"]);
    // before the provider routes: a request with a chain goes along it
    expect(routes.indexOf(fallback[0])).toBe(0);
    const route = fallback[0];
    expect(route.match.headers).toEqual([{ name: "x-llm-chain", string_match: { safe_regex: { regex: "^[^+]+(\\+[^+]+){1}$" } } }]);
    expect(route.route.cluster_header).toBe("x-llm-chain");
    expect(route.route.retry_policy.num_retries).toBe(1);
    expect(route.route.retry_policy.retry_on.split(",").sort()).toEqual(["5xx", "connect-failure", "reset", "retriable-status-codes"].sort());
    expect(route.route.retry_policy.retriable_status_codes).toEqual([429]);
    expect(route.route.retry_policy.retry_priority.name).toBe("envoy.retry_priorities.previous_priorities");
    expect(route.request_body_buffer_limit).toBeGreaterThan(router.maxBodyBytes);
    expect(route.request_headers_to_remove).toEqual(expect.arrayContaining(["x-llm-upstream", "x-llm-model", "x-llm-chain", "authorization", "api-key", "x-api-key"]));
    // on a 2xx from the provider only: the chosen model, or the one a later attempt went to when the
    // request moved (checked through Envoy in test/e2e/failover.test.ts)
    expect(route.response_headers_to_add.map((h: any) => h.header.key)).toEqual(["x-llm-served-model", "x-llm-decision"]);
    expect(route.response_headers_to_add[0].header.value).toMatch(/^%CEL\(response\.code_details == 'via_upstream' && response\.code >= 200 && response\.code < 300 \? /);
    expect(hcm.route_config.internal_only_headers).toContain("x-llm-chain");
  });

  it("failover: the plugin as the router's upstream filter, in the router filter's VM, keys by variable name only", () => {
    const plugin = wasmPluginConfigOf(cfg);
    const upstream = upstreamWasmConfigOf(cfg);
    expect(upstream.root_id).toBe("model-router-upstream");
    expect(upstream.vm_config).toEqual(plugin.vm_config);
    expect(upstream.configuration).toEqual(plugin.configuration);
    expect(upstream.allow_on_headers_stop_iteration).toBeUndefined(); // it never holds headers
    const keys = Object.values<any>(router.providers).map((p) => p.apiKeyEnv);
    expect(plugin.vm_config.environment_variables).toEqual({ host_env_keys: keys });
    const filters = hcm.http_filters.at(-1).typed_config.upstream_http_filters.map((f: any) => f.name);
    expect(filters).toEqual(["model-router-upstream", "envoy.filters.http.upstream_codec"]);
  });

  it("`envoy --mode validate -c envoy.yaml` passes with the key variables set", () => {
    assertWasmBuilt();
    const r = validateEnvoyConfig(ENVOY_YAML);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("OK");
  });

  it("and Envoy refuses it when a key variable is missing (never sends `Bearer -`)", () => {
    assertWasmBuilt();
    const r = validateEnvoyConfig(ENVOY_YAML, { GROQ_API_KEY: undefined as unknown as string });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("Environment variable doesn't exist: GROQ_API_KEY");
  });
});

describe("an invalid plugin configuration", () => {
  let envoy: EnvoyProcess | undefined;
  beforeEach((ctx) => printLogOnFailure(ctx, () => envoy));

  it("makes Envoy refuse the filter, with the plugin's log line naming the field", async () => {
    assertWasmBuilt();
    const bad = readRouterConfig();
    bad.models[0].price.input = -1;
    const cfg = deriveEnvoyConfig({ endpoints: ENDPOINTS, pluginConfig: JSON.stringify(bad) });
    envoy = spawnEnvoy(cfg);
    try {
      const code = await Promise.race([envoy.exited, new Promise<"running">((r) => setTimeout(() => r("running"), 30_000))]);
      expect(code, "Envoy kept running with an invalid plugin configuration").not.toBe("running");
      expect(code).not.toBe(0);
      expect(envoy.log()).toMatch(/model-router: invalid configuration: models\[0\]\.price\.input: /);
    } finally {
      await envoy.stop();
    }
  });

  it("also fails `envoy --mode validate`", () => {
    assertWasmBuilt();
    const bad = readRouterConfig();
    bad.models[0].price.input = -1;
    const tmp = writeTempConfig(deriveEnvoyConfig({ endpoints: ENDPOINTS, pluginConfig: JSON.stringify(bad) }));
    try {
      const r = validateEnvoyConfig(tmp.file);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain("models[0].price.input");
    } finally {
      tmp.cleanup();
    }
  });
});

describe("docker-compose Envoy files", () => {
  const compose = YAML.parse(readFileSync(COMPOSE_FILE, "utf8"));
  const variants: [label: string, file: string, holdFlag: boolean][] = [
    ["config/docker/envoy.yaml", COMPOSE_ENVOY, true],
    ["config/docker/higress-envoy.yaml", COMPOSE_HIGRESS, false],
  ];
  for (const [label, file, holdFlag] of variants) {
    describe(label, () => {
      const cfg = readEnvoyYaml(file);

      it(`loads /etc/envoy/plugin.wasm ${holdFlag ? "with" : "without"} allow_on_headers_stop_iteration, binds 0.0.0.0`, () => {
        const plugin = wasmPluginConfigOf(cfg);
        expect(plugin.vm_config.code.local.filename).toBe("/etc/envoy/plugin.wasm");
        expect(plugin.allow_on_headers_stop_iteration).toBe(holdFlag ? true : undefined);
        expect(plugin.configuration.value.trimEnd()).toBe(readRouterConfigText().trimEnd());
        expect(listenerOf(cfg).address.socket_address).toEqual({ address: "0.0.0.0", port_value: 10000 });
      });

      it("addresses every provider's mock service of docker-compose.yml on its port", () => {
        for (const cluster of clustersOf(cfg).filter((c: any) => !isAggregate(c))) {
          for (const ep of cluster.load_assignment.endpoints.flatMap((e: any) => e.lb_endpoints)) {
            const { address, port_value } = ep.endpoint.address.socket_address;
            const svc = compose.services[address];
            expect(svc, `service ${address} for cluster ${cluster.name}`).toBeDefined();
            const cmd: string[] = svc.command;
            expect(cmd).toContain("mock/provider.mjs");
            expect(cmd[cmd.indexOf("--port") + 1]).toBe(String(port_value));
            expect(cmd[cmd.indexOf("--name") + 1]).toBe(cluster.name);
            expect(cmd[cmd.indexOf("--host") + 1]).toBe("0.0.0.0");
          }
        }
      });

      it("is accepted by the local Envoy (`--mode validate`, plugin path pointed at build/envoy.wasm)", () => {
        assertWasmBuilt();
        // The Higress variant is meant for build/higress.wasm (ABI 0_2_100), which upstream Envoy
        // does not load; its configuration shape is validated with the 0.2.1 build instead.
        const local = clone(cfg);
        wasmPluginConfigOf(local).vm_config.code.local.filename = ENVOY_WASM;
        const upstream = upstreamWasmConfigOf(local);
        if (upstream) upstream.vm_config.code.local.filename = ENVOY_WASM;
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
  // The Compose specification's own JSON schema, as shipped in the npm package dclint.
  const dclint = dirname(createRequire(import.meta.url).resolve("dclint/package.json"));
  const schemaFile = join(dclint, "schemas", "compose.schema.json");
  // Draft-07, Ajv's default dialect; the file names it by an https URL Ajv does not know by that name.
  const { $schema, ...schema } = JSON.parse(readFileSync(schemaFile, "utf8"));
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const compose = YAML.parse(readFileSync(COMPOSE_FILE, "utf8"));

  it("is valid against the Compose specification schema", () => {
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("the schema is real: it refuses a broken file", () => {
    const broken = clone(compose);
    broken.services.envoy.ports = "10000:10000"; // must be a list
    broken.services.envoy.restart_policy = "always"; // no such key
    expect(validate(broken)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain("restart_policy");
  });

  it("`dclint` reports no error; every port is published on 127.0.0.1 only (admin endpoints stay private)", () => {
    const run = spawnSync(process.execPath, [join(dclint, "bin", "dclint.cjs"), COMPOSE_FILE, "-f", "json"], { encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const messages = JSON.parse(run.stdout).flatMap((f: any) => f.messages);
    expect(messages.filter((m: any) => m.type === "error")).toEqual([]);
    for (const service of Object.values<any>(compose.services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    expect(readFileSync(COMPOSE_FILE, "utf8")).not.toContain("docker-compose up");
  });

  it("mounts the generated Envoy files and the plugin builds; the Envoy service has a key for every provider", () => {
    const { envoy, higress } = compose.services;
    expect(envoy.image).toMatch(/^envoyproxy\/envoy:v1\.40/);
    expect(envoy.volumes).toEqual(["./config/docker/envoy.yaml:/etc/envoy/envoy.yaml:ro", "./build/envoy.wasm:/etc/envoy/plugin.wasm:ro"]);
    expect(higress.volumes).toEqual(["./config/docker/higress-envoy.yaml:/etc/envoy/envoy.yaml:ro", "./build/higress.wasm:/etc/envoy/plugin.wasm:ro"]);
    expect(higress.profiles).toEqual(["higress"]);
    const vars = Object.values<any>(readRouterConfig().providers).map((p) => p.apiKeyEnv);
    expect(Object.keys(envoy.environment).sort()).toEqual(vars.sort());
  });
});
