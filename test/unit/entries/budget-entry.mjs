// The budget test entry (budget-entry.ts) from plain Node: its build (the plugin's compiler
// settings: minimal runtime, SIMD, the plugin's abort handler), the plugin configuration it reads,
// and an Envoy bootstrap running it in front of a direct 200 with the rate limit service's cluster.
// Shared by the unit tests (test/unit/budget-helpers.ts), the real-Envoy tests
// (test/e2e/budget-envoy.ts) and bench/budget.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { storeCluster } from "../../../cli/lib/shared-store.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BUDGET_WASM = join(ROOT, "build", "test-budget.wasm");
const SOURCES = [join(ROOT, "test", "unit", "entries", "budget-entry.ts"), join(ROOT, "assembly", "budget"), join(ROOT, "assembly", "abi")];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(...readdirSync(path).map((e) => newest(join(path, e))));
}

/** Compiles the entry when build/test-budget.wasm is missing or older than its sources. */
export function buildBudgetEntry() {
  if (existsSync(BUDGET_WASM) && statSync(BUDGET_WASM).mtimeMs >= Math.max(...SOURCES.map(newest))) return BUDGET_WASM;
  mkdirSync(dirname(BUDGET_WASM), { recursive: true });
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), [
    "test/unit/entries/budget-entry.ts", "-O3", "--runtime", "minimal", "--exportStart", "_initialize", "--enable", "simd",
    "--use", "abort=assembly/abi/abort/onAbort", "-o", BUDGET_WASM,
  ], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  return BUDGET_WASM;
}

/**
 * The entry's plugin configuration: one `budget` line per budget ({name, consumer (absent/null:
 * everyone together, "*": each), window, usd, tokens, requests, downgrade: [share, route],
 * shared: "open" | "closed", max, route, model, provider}), after a `store` line when given.
 */
export function budgetConfig(budgets, store) {
  const lines = budgets.map((b) => {
    const words = ["budget", b.name, b.consumer === undefined || b.consumer === null ? "-" : b.consumer, b.window];
    for (const k of ["usd", "tokens", "requests", "shared", "max", "route", "model", "provider"]) {
      if (b[k] !== undefined) words.push(`${k}=${b[k]}`);
    }
    if (b.downgrade) words.push(`downgrade=${b.downgrade[0]}:${b.downgrade[1]}`);
    return words.join(" ");
  });
  if (store) lines.unshift(`store ${store.cluster} ${store.timeoutMs}`);
  return lines.join("\n");
}

/** An Envoy bootstrap: listener on 127.0.0.1:0, the entry as the Wasm filter, a direct 200. */
export function budgetBootstrap({ pluginConfig, store }) {
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
                      vm_config: { vm_id: "budget", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: buildBudgetEntry() } } },
                      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: pluginConfig },
                    },
                  },
                },
                { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
              ],
            },
          }],
        }],
      }],
      clusters: store ? [storeCluster(store.cluster, store.port)] : [],
    },
  };
}
