// Real Envoy (.venv/bin/envoy) running the budget test entry (test/unit/entries/budget-entry.ts)
// in front of a direct 200, with the rate limit service's cluster (HTTP/2) as the plugin's shared
// store: the end-to-end tests of budgets across gateways and of Envoy's gRPC callouts from Wasm.
import { storeCluster } from "../../cli/lib/shared-store.mjs";
import { buildBudgetEntry } from "../unit/budget-helpers.ts";
import { send, spawnEnvoy, waitForEnvoy, type EnvoyProcess, type Reply } from "./harness.ts";

export interface BudgetEnvoyOptions {
  pluginConfig: string;
  /** The cluster named in the plugin's `store` line: the service's gRPC port (or a dead one). */
  store?: { cluster: string; port: number };
  concurrency?: number;
}

export interface BudgetEnvoy {
  url: string;
  adminUrl: string;
  envoy: EnvoyProcess;
  request(headers: Record<string, string>): Promise<Reply>;
  /** The `budget-entry:` lines of Envoy's log so far. */
  lines(): string[];
  stop(): Promise<void>;
}

export function budgetBootstrap(opts: BudgetEnvoyOptions): any {
  const wasm = buildBudgetEntry();
  return {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: "budget",
        address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
        filter_chains: [{
          filters: [{
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: "budget",
              route_config: {
                virtual_hosts: [{
                  name: "all", domains: ["*"],
                  routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "served" } } }],
                }],
              },
              http_filters: [
                {
                  name: "budget-entry",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                    config: {
                      name: "budget-entry",
                      root_id: "budget-entry",
                      allow_on_headers_stop_iteration: true,
                      vm_config: { vm_id: "budget", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasm } } },
                      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: opts.pluginConfig },
                    },
                  },
                },
                { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
              ],
            },
          }],
        }],
      }],
      clusters: opts.store ? [storeCluster(opts.store.cluster, opts.store.port)] : [],
    },
  };
}

export async function startBudgetEnvoy(opts: BudgetEnvoyOptions): Promise<BudgetEnvoy> {
  const envoy = spawnEnvoy(budgetBootstrap(opts), ["--concurrency", String(opts.concurrency ?? 2)]);
  const { adminPort, port } = await waitForEnvoy(envoy);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    envoy,
    request: (headers) => send(url, { path: "/", headers, timeoutMs: 10_000 }),
    lines: () => envoy.log().split("\n").filter((l) => l.includes("budget-entry:")).map((l) => l.slice(l.indexOf("budget-entry:"))),
    stop: () => envoy.stop(),
  };
}
